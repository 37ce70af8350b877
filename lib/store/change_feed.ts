/**
 * Change events and the in-process feed that hands them to subscribers (`watch`). The feed
 * holds no key layout and reads no KV: the store publishes each committed change to it, in
 * sequence order, and a subscriber that wants older events reads them from the store's log.
 *
 * Publishing never waits for a subscriber: each subscription queues at most `cap` events;
 * one that falls further behind is dropped (it is told so, and may resume from the log).
 *
 * @module
 */

import type { ChangedParams } from "../protocol/api.ts";
import { matchesQuery, type Query, type Terms } from "../model/search_terms.ts";

/** What happened to a contact. */
export type ChangeType = "added" | "updated" | "removed";

/**
 * One change, as the log holds it and `changed` notifications carry it (`terms` stays on
 * the server: it is what `query` filters on).
 */
export interface ChangeEvent {
  type: ChangeType;
  id: string;
  name: string;
  /** The versionstamp of the commit that made the change (the contact's new version). */
  version: string;
  /** The change's place in the log: 1, 2, 3, ... with no gaps. */
  seq: number;
  /** The contact's search terms before and after the change, together. */
  terms: Terms;
}

/** Events a subscription may hold before it is dropped. */
export const DEFAULT_WATCH_CAP = 1000;

/**
 * The params of a `changed` notification: the event without its terms.
 *
 * @example
 * ```ts
 * import { changedParams } from "./change_feed.ts";
 * const params = changedParams({ type: "added", id: "01J0000000000000000000000B", name: "Bob",
 *   version: "00000000000000010000", seq: 1, terms: { words: ["bob"], phones: [] } });
 * if ("terms" in params || params.seq !== 1) throw new Error();
 * ```
 */
export function changedParams(event: ChangeEvent): ChangedParams {
  const { type, id, name, version, seq } = event;
  return { type, id, name, version, seq };
}

/**
 * The live changes of one store, fanned out to subscriptions.
 *
 * @example A subscriber gets the events published after it subscribed
 * ```ts
 * import { ChangeFeed } from "./change_feed.ts";
 * const feed = new ChangeFeed(0);
 * const subscription = feed.subscribe({});
 * feed.publish({ type: "added", id: "01J0000000000000000000000B", name: "Bob",
 *   version: "00000000000000010000", seq: 1, terms: { words: ["bob"], phones: [] } });
 * const [event] = subscription.take();
 * if (event?.seq !== 1 || feed.position !== 1) throw new Error();
 * subscription.close();
 * ```
 */
export class ChangeFeed {
  #position: number;
  readonly #subscriptions = new Set<Subscription>();

  /** `position`: the seq of the last change already made before this feed started. */
  constructor(position: number) {
    this.#position = position;
  }

  /** The seq of the last event published (or known when the feed started). */
  get position(): number {
    return this.#position;
  }

  /** Subscriptions open now. */
  get size(): number {
    return this.#subscriptions.size;
  }

  /**
   * Hands an event to every subscription whose query it matches. Events must come in seq
   * order; one at or before {@link position} is ignored. Never waits.
   */
  publish(event: ChangeEvent): void {
    if (event.seq <= this.#position) return;
    this.#position = event.seq;
    for (const subscription of this.#subscriptions) subscription.offer(event);
  }

  /**
   * A new subscription to the events after {@link position}. `onDrop` runs (inside
   * {@link publish}, so it must be quick) when the subscription is dropped for falling behind.
   */
  subscribe(options: { query?: Query; cap?: number; onDrop?: () => void }): Subscription {
    const subscription = new Subscription(
      this.#position,
      options.query,
      options.cap ?? DEFAULT_WATCH_CAP,
      (s) => this.#subscriptions.delete(s),
      options.onDrop,
    );
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /** Ends every subscription (the store is closing). */
  close(): void {
    for (const subscription of [...this.#subscriptions]) subscription.close();
  }
}

/**
 * One subscriber's queue of events: at most `cap` wait; one more drops the subscription.
 *
 * @example A subscriber that does not take its events is dropped
 * ```ts
 * import { ChangeFeed } from "./change_feed.ts";
 * const feed = new ChangeFeed(0);
 * let dropped = false;
 * const subscription = feed.subscribe({ cap: 2, onDrop: () => dropped = true });
 * for (let seq = 1; seq <= 3; seq++) {
 *   feed.publish({ type: "added", id: "01J0000000000000000000000B", name: "Bob",
 *     version: "00000000000000010000", seq, terms: { words: ["bob"], phones: [] } });
 * }
 * if (!dropped || subscription.state !== "dropped" || feed.size !== 0) throw new Error();
 * if (subscription.take().length !== 0) throw new Error("its queue was freed");
 * ```
 */
export class Subscription {
  /** The feed's position when this subscription started: later events come live. */
  readonly start: number;
  readonly #query: Query | undefined;
  readonly #cap: number;
  readonly #onClose: (subscription: Subscription) => void;
  readonly #onDrop: (() => void) | undefined;
  #pending: ChangeEvent[] = [];
  #wake: (() => void) | undefined;
  #state: "open" | "dropped" | "closed" = "open";

  constructor(
    start: number,
    query: Query | undefined,
    cap: number,
    onClose: (subscription: Subscription) => void,
    onDrop?: () => void,
  ) {
    this.start = start;
    this.#query = query;
    this.#cap = cap;
    this.#onClose = onClose;
    this.#onDrop = onDrop;
  }

  /** `open`; `dropped` after more than `cap` events were waiting; `closed`. */
  get state(): "open" | "dropped" | "closed" {
    return this.#state;
  }

  /** Whether an event passes this subscription's query (all do without one). */
  matches(event: ChangeEvent): boolean {
    return this.#query === undefined || matchesQuery(this.#query, event.terms);
  }

  /** Queues an event that matches; drops the subscription once `cap` are waiting. */
  offer(event: ChangeEvent): void {
    if (this.#state !== "open" || !this.matches(event)) return;
    if (this.#pending.length >= this.#cap) {
      this.#pending = [];
      this.#end("dropped");
      try {
        this.#onDrop?.();
      } catch {
        // a subscriber's trouble never reaches the writer
      }
      return;
    }
    this.#pending.push(event);
    this.#notify();
  }

  /** Takes every queued event. */
  take(): ChangeEvent[] {
    const events = this.#pending;
    this.#pending = [];
    return events;
  }

  /** Resolves once an event is queued, or the subscription is dropped or closed. */
  ready(): Promise<void> {
    if (this.#pending.length > 0 || this.#state !== "open") return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  /** Stops the subscription; a pending {@link ready} resolves. */
  close(): void {
    if (this.#state === "open") this.#end("closed");
  }

  #end(state: "dropped" | "closed"): void {
    this.#state = state;
    this.#onClose(this);
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
