/**
 * Change events and the in-process feed that hands them to subscribers (`watch`). The feed
 * holds no key layout and reads no KV: the store publishes each committed change to it, in
 * sequence order, and a subscriber that wants older events reads them from the store's log.
 *
 * Publishing costs the writer the same however many subscribe: it appends the event to one
 * shared queue of recent events and visits no subscription (a subscription's query is
 * applied when it takes its events, on its own connection's time). Subscribers waiting for
 * news are woken together by one timer (later the more of them wait, up to 50 ms), so a
 * burst of writes reaches each of them as one batch. Each subscription reads the shared queue from its own
 * position; one more than `cap` events behind is dropped (it is told so, and may resume from
 * the log). Finding the subscriptions to drop costs nothing while none is behind: they are
 * kept ordered by the point at which each would be dropped.
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

/** Events a subscription may fall behind by before it is dropped. */
export const DEFAULT_WATCH_CAP = 1000;

/**
 * How long after a publish the waiting subscribers are woken, at least (milliseconds): the
 * wake-up runs on a timer of its own, not in the writer's commit, so the writes of one turn
 * reach each subscriber together.
 */
export const WAKE_DELAY_MS = 0;

/**
 * The longest wait before waking subscribers (milliseconds): with many of them, each is
 * woken less often and takes more events at once, so delivering a change costs fewer writes.
 */
export const MAX_WAKE_DELAY_MS = 50;

/** Subscribers woken in one turn of the event loop. */
const WAKE_GROUP = 50;

/** How long to wait before waking `waiting` subscribers: 1 ms per 10 of them, 50 ms at most. */
function wakeDelay(waiting: number): number {
  return Math.min(MAX_WAKE_DELAY_MS, WAKE_DELAY_MS + Math.floor(waiting / 10));
}

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

/** What a subscription needs of its feed (the feed's own state stays private to it). */
interface FeedCore {
  /** The index of the next event to be published (events are numbered 0, 1, 2, ...). */
  published(): number;
  /** The event with this index; only for indexes the feed still holds. */
  at(index: number): ChangeEvent;
  /** The subscription's position moved on: it will be dropped later. */
  moved(subscription: Subscription): void;
  /** The subscription waits for the next publish. */
  wait(subscription: Subscription): void;
  /** The subscription ended. */
  remove(subscription: Subscription): void;
}

/**
 * The live changes of one store, shared by its subscriptions.
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
  /** The recent events, oldest first from `#head`; `#events[#head]` has index `#first`. */
  #events: ChangeEvent[] = [];
  #head = 0;
  #first = 0;
  /** Events held for subscribers: the largest cap a subscription has had. */
  #retain = 0;
  /** Open subscriptions as a min-heap on {@link Subscription.dropAt}. */
  readonly #heap: Subscription[] = [];
  /** Subscriptions waiting for the next publish, and the timer that wakes them. */
  readonly #waiting = new Set<Subscription>();
  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #core: FeedCore;

  /** `position`: the seq of the last change already made before this feed started. */
  constructor(position: number) {
    this.#position = position;
    this.#core = {
      published: () => this.#first + this.#events.length - this.#head,
      at: (index) => this.#events[this.#head + index - this.#first]!,
      moved: (subscription) => this.#siftDown(subscription.heapIndex),
      wait: (subscription) => this.#waiting.add(subscription),
      remove: (subscription) => this.#remove(subscription),
    };
  }

  /** The seq of the last event published (or known when the feed started). */
  get position(): number {
    return this.#position;
  }

  /** Subscriptions open now. */
  get size(): number {
    return this.#subscriptions.size;
  }

  /** Events the feed holds now for subscribers that have not taken them. */
  get held(): number {
    return this.#events.length - this.#head;
  }

  /**
   * Appends an event to the shared queue; subscribers take it on their own time. Events
   * must come in seq order; one at or before {@link position} is ignored. Never waits, and
   * visits no subscription (except one it drops for being more than its cap behind).
   */
  publish(event: ChangeEvent): void {
    if (event.seq <= this.#position) return;
    this.#position = event.seq;
    if (this.#subscriptions.size === 0) {
      // Nobody to hold it for: later subscriptions start after it.
      this.#first += this.#events.length - this.#head + 1;
      this.#events = [];
      this.#head = 0;
      return;
    }
    this.#events.push(event);
    const published = this.#first + this.#events.length - this.#head;
    // Drop every subscription now more than its cap behind: only those are visited.
    for (
      let top = this.#heap[0];
      top !== undefined && top.dropAt < published;
      top = this.#heap[0]
    ) {
      top.drop();
    }
    while (this.#events.length - this.#head > this.#retain) {
      this.#head++;
      this.#first++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#events.length) {
      this.#events = this.#events.slice(this.#head);
      this.#head = 0;
    }
    if (this.#waiting.size > 0 && this.#wakeTimer === undefined) {
      this.#wakeTimer = setTimeout(() => this.#wake(), wakeDelay(this.#waiting.size));
    }
  }

  /**
   * A new subscription to the events after {@link position}. `onDrop` runs (inside
   * {@link publish}, so it must be quick) when the subscription is dropped for falling more
   * than `cap` events behind.
   */
  subscribe(options: { query?: Query; cap?: number; onDrop?: () => void }): Subscription {
    const cap = Math.max(1, options.cap ?? DEFAULT_WATCH_CAP);
    const subscription = new Subscription(
      this.#core,
      this.#position,
      this.#core.published(),
      options.query,
      cap,
      options.onDrop,
    );
    this.#retain = Math.max(this.#retain, cap);
    this.#subscriptions.add(subscription);
    subscription.heapIndex = this.#heap.push(subscription) - 1;
    this.#siftUp(subscription.heapIndex);
    return subscription;
  }

  /** Ends every subscription (the store is closing). */
  close(): void {
    for (const subscription of [...this.#subscriptions]) subscription.close();
    clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
  }

  /**
   * Wakes the waiting subscribers, {@link WAKE_GROUP} at a time with a turn of the event
   * loop between groups, so a writer's requests are not held behind all of their sends.
   */
  #wake(): void {
    this.#wakeTimer = undefined;
    let woken = 0;
    for (const subscription of this.#waiting) {
      if (woken++ === WAKE_GROUP) {
        this.#wakeTimer = setTimeout(() => this.#wake(), 0);
        return;
      }
      this.#waiting.delete(subscription);
      subscription.wake();
    }
  }

  #remove(subscription: Subscription): void {
    this.#subscriptions.delete(subscription);
    this.#waiting.delete(subscription);
    const index = subscription.heapIndex;
    const last = this.#heap.pop()!;
    if (last !== subscription) {
      this.#heap[index] = last;
      last.heapIndex = index;
      this.#siftDown(index);
      this.#siftUp(last.heapIndex);
    }
    subscription.heapIndex = -1;
    if (this.#subscriptions.size === 0) {
      this.#first += this.#events.length - this.#head;
      this.#events = [];
      this.#head = 0;
    }
  }

  #siftUp(index: number): void {
    const heap = this.#heap;
    const item = heap[index]!;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.dropAt <= item.dropAt) break;
      heap[index] = heap[parent]!;
      heap[index]!.heapIndex = index;
      index = parent;
    }
    heap[index] = item;
    item.heapIndex = index;
  }

  #siftDown(index: number): void {
    const heap = this.#heap;
    const item = heap[index];
    if (item === undefined) return;
    while (true) {
      let child = 2 * index + 1;
      if (child >= heap.length) break;
      if (child + 1 < heap.length && heap[child + 1]!.dropAt < heap[child]!.dropAt) child++;
      if (heap[child]!.dropAt >= item.dropAt) break;
      heap[index] = heap[child]!;
      heap[index]!.heapIndex = index;
      index = child;
    }
    heap[index] = item;
    item.heapIndex = index;
  }
}

/**
 * One subscriber's place in its feed's queue of events: the events after it wait for it
 * there; more than `cap` waiting drops the subscription.
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
 * if (subscription.take().length !== 0 || feed.held !== 0) throw new Error("its events were freed");
 * ```
 */
export class Subscription {
  /** The feed's position (a seq) when this subscription started: later events come live. */
  readonly start: number;
  /** Its place in the feed's heap (-1 once ended). */
  heapIndex = -1;
  readonly #core: FeedCore;
  readonly #query: Query | undefined;
  readonly #cap: number;
  readonly #onDrop: (() => void) | undefined;
  /** The index of the next event to take. */
  #next: number;
  #wake: (() => void) | undefined;
  #state: "open" | "dropped" | "closed" = "open";

  constructor(
    core: FeedCore,
    start: number,
    next: number,
    query: Query | undefined,
    cap: number,
    onDrop?: () => void,
  ) {
    this.#core = core;
    this.start = start;
    this.#next = next;
    this.#query = query;
    this.#cap = cap;
    this.#onDrop = onDrop;
  }

  /** `open`; `dropped` after falling more than `cap` events behind; `closed`. */
  get state(): "open" | "dropped" | "closed" {
    return this.#state;
  }

  /** Events published that this subscription has not taken (matching its query or not). */
  get behind(): number {
    return this.#state === "open" ? this.#core.published() - this.#next : 0;
  }

  /** The index of the publish that drops this subscription unless it takes events first. */
  get dropAt(): number {
    return this.#next + this.#cap;
  }

  /** Whether an event passes this subscription's query (all do without one). */
  matches(event: ChangeEvent): boolean {
    return this.#query === undefined || matchesQuery(this.#query, event.terms);
  }

  /**
   * Takes the waiting events that match its query, oldest first, at most `max` of them
   * (the ones left wait for the next call).
   */
  take(max = Infinity): ChangeEvent[] {
    const events: ChangeEvent[] = [];
    if (this.#state !== "open") return events;
    const end = this.#core.published();
    let next = this.#next;
    while (next < end && events.length < max) {
      const event = this.#core.at(next++);
      if (this.matches(event)) events.push(event);
    }
    if (next !== this.#next) {
      this.#next = next;
      this.#core.moved(this);
    }
    return events;
  }

  /** Resolves once an event waits (woken with others after a publish), or it has ended. */
  ready(): Promise<void> {
    if (this.#state !== "open" || this.#next < this.#core.published()) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#wake;
      this.#wake = previous ? () => (previous(), resolve()) : resolve;
      this.#core.wait(this);
    });
  }

  /** Stops the subscription; a pending {@link ready} resolves. */
  close(): void {
    if (this.#state === "open") this.#end("closed");
  }

  /** Called by the feed: it fell more than `cap` events behind. */
  drop(): void {
    if (this.#state !== "open") return;
    this.#end("dropped");
    try {
      this.#onDrop?.();
    } catch {
      // a subscriber's trouble never reaches the writer
    }
  }

  /** Called by the feed: events were published while it waited. */
  wake(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #end(state: "dropped" | "closed"): void {
    this.#state = state;
    this.#core.remove(this);
    this.wake();
  }
}
