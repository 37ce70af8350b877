/**
 * A connection's `watch` subscription: it subscribes the connection to the store's change
 * feed, replays the logged changes after a `since`, and pushes `changed` notifications, then
 * `watch_dropped` when the subscription falls behind or fails.
 *
 * It writes nothing itself: every line goes into the connection's one queue of whole lines
 * ({@link WatchOutput}), between replies, so a notification never lands inside one. While the
 * socket is busy a subscription's events wait in the store's shared change feed (see
 * `change_feed.ts`), and they are taken a slice at a time as the socket drains; one that
 * falls more than the cap behind is dropped with a `watch_dropped` notification, and so is
 * one whose connection reads nothing for the write timeout ({@link WatchStream.stall}).
 *
 * @module
 */

import {
  changedParams,
  type ChangeEvent,
  type ContactStore,
  DEFAULT_WATCH_CAP,
  type Subscription,
} from "../store/mod.ts";
import type { Logger } from "./log.ts";
import type { WatchControl } from "./methods.ts";
import { formatNotification, RpcError } from "../protocol/jsonrpc.ts";
import type { Query } from "../model/search_terms.ts";
import { isConnectionGone } from "./socket_errors.ts";

/** Log entries read per page when a `watch` replays changes after its `since`. */
const REPLAY_PAGE = 100;

/**
 * Live events queued per write: a subscriber's lines go to the socket in slices of this many,
 * so what the server holds for one is bounded (the rest wait in the shared change feed).
 */
const TAKE_SLICE = 64;

/** The `changed` line of each event, made once for all of its subscribers. */
const changedLines = new WeakMap<ChangeEvent, string>();

function changedLine(event: ChangeEvent): string {
  let line = changedLines.get(event);
  if (line === undefined) {
    line = formatNotification("changed", changedParams(event));
    changedLines.set(event, line);
  }
  return line;
}

/** What a watch stream needs of its connection: the queue of whole lines to the socket. */
export interface WatchOutput {
  /** Queues whole lines for the socket, after everything queued before. */
  enqueue(text: string): void;
  /** Writes everything queued, in order; resolves once the queue is empty. */
  flush(): Promise<void>;
  /** Whether the connection is closed: nothing more is sent. */
  isClosed(): boolean;
  /** Closes the connection (a `watch_dropped` notice could not be written). */
  close(): void;
}

/** What a connection hands its {@link WatchStream}. */
export interface WatchStreamOptions {
  store: ContactStore;
  log: Logger;
  /** The connection's number, for the log. */
  connection: number;
  /**
   * Change events a subscription may hold while the client is not reading; past it, the
   * subscription is dropped. Default {@link DEFAULT_WATCH_CAP}.
   */
  cap?: number;
  output: WatchOutput;
}

/** A connection's subscription to changes. */
interface Watch {
  subscription: Subscription;
  /** Replaced, ended or dropped: send nothing more. */
  stopped: boolean;
  /** The seq of the last event handled (sent, or filtered out). */
  last: number;
  /** Settles when the replay from the log is done (or given up). */
  replayed: Promise<void>;
}

/**
 * The `watch` side of one connection: at most one subscription at a time, whose events it
 * queues on the connection's {@link WatchOutput}. The connection hands it to the methods as
 * their {@link WatchControl}, calls {@link replyQueued} after each reply it queues,
 * {@link catchUp} before each request it runs, and {@link stop} when it closes.
 */
export class WatchStream implements WatchControl {
  readonly #store: ContactStore;
  readonly #log: Logger;
  readonly #connection: number;
  /** Events a subscription may hold while the client is not reading. */
  readonly #cap: number;
  readonly #out: WatchOutput;
  #watch: Watch | undefined;
  /** Runs once the reply of the request being handled is queued (a watch starts sending). */
  #afterReply: Array<() => void> = [];

  constructor(options: WatchStreamOptions) {
    this.#store = options.store;
    this.#log = options.log;
    this.#connection = options.connection;
    this.#cap = options.cap ?? DEFAULT_WATCH_CAP;
    this.#out = options.output;
  }

  /** Whether the connection is subscribed now (a subscribed connection is never idle). */
  get active(): boolean {
    return this.#watch !== undefined;
  }

  /**
   * Subscribes this connection to changes (replacing an earlier subscription). Events after
   * `since` come from the log first; the reply is queued before any of them (they start at
   * the next {@link replyQueued}).
   */
  async start(options: { since?: number; query?: Query }): Promise<{ seq: number }> {
    this.stop();
    const store = this.#store;
    const subscription: Subscription = store.changes.subscribe({
      ...(options.query ? { query: options.query } : {}),
      cap: this.#cap,
      // At once, not when the socket drains: say so and free the subscriber's memory.
      onDrop: () => {
        const watch = this.#watch;
        if (watch?.subscription === subscription) this.#dropped(watch);
      },
    });
    let from = subscription.start;
    try {
      const since = options.since;
      if (since !== undefined && since > subscription.start) {
        const head = await store.changeHead();
        if (since > head) {
          throw RpcError.badParams(
            `Invalid params: since ${since} is ahead of the change log, which ends at ${head}; ` +
              "reload the contacts (list or export) and watch again without since",
            { field: "since", seq: head },
          );
        }
      } else if (since !== undefined && since < subscription.start) {
        const start = await store.changeLogStart();
        if (since < start) {
          throw RpcError.badParams(
            `Invalid params: since ${since} is older than the change log, which now starts ` +
              `after ${start}; reload the contacts (list or export) and watch again without since`,
            { field: "since", oldest: start, seq: subscription.start },
          );
        }
      }
      if (since !== undefined) from = since;
    } catch (error) {
      subscription.close();
      throw error;
    }
    let replayDone = () => {};
    const watch: Watch = {
      subscription,
      stopped: false,
      last: from,
      replayed: new Promise((resolve) => replayDone = resolve),
    };
    this.#watch = watch;
    this.#afterReply.push(() => void this.#pump(watch, replayDone));
    return { seq: subscription.start };
  }

  /** The reply of the request being handled is queued: a subscription it started sends now. */
  replyQueued(): void {
    if (this.#afterReply.length > 0) {
      for (const start of this.#afterReply.splice(0)) start();
    }
  }

  /**
   * Waits for the subscription's replay, then queues the events waiting for it (writing
   * each slice before taking the next): changes committed before a request was read are sent
   * before its reply. Call only while {@link active}.
   */
  async catchUp(): Promise<void> {
    const watch = this.#watch;
    if (watch === undefined) return;
    await watch.replayed;
    // Those waiting now, not those that come meanwhile: a busy writer cannot hold it here.
    for (let slices = Math.ceil(watch.subscription.behind / TAKE_SLICE); slices > 0; slices--) {
      if (!this.#queueEvents(watch)) return;
      if (slices > 1) await this.#out.flush();
    }
  }

  /**
   * The connection's write has waited longer than the write timeout: a subscriber that
   * stopped reading is dropped, its `watch_dropped` notice queued after what it was sent,
   * rather than cut off mid-line. False when there was no subscription to drop.
   */
  stall(seconds: number): boolean {
    const watch = this.#watch;
    if (watch === undefined) return false;
    this.#dropWatch(
      watch,
      `This connection read nothing for ${seconds} s, so its changes stopped; watch again ` +
        `with since ${watch.last} to resume`,
    );
    return true;
  }

  /** Ends the subscription, if any, without a notice (replaced, or the connection closes). */
  stop(): void {
    const watch = this.#watch;
    if (watch === undefined) return;
    this.#watch = undefined;
    watch.stopped = true;
    watch.subscription.close();
  }

  /**
   * Sends a subscription's events: those after its `since` up to its start from the log, a
   * page at a time, then the live ones as they come; a dropped subscription gets its notice.
   */
  async #pump(watch: Watch, replayDone: () => void): Promise<void> {
    const { subscription } = watch;
    try {
      try {
        await this.#replay(watch);
      } finally {
        replayDone();
      }
      while (!watch.stopped && !this.#out.isClosed()) {
        await subscription.ready();
        if (!this.#queueEvents(watch)) return;
        await this.#out.flush();
      }
    } catch (error) {
      if (!isConnectionGone(error) && !this.#out.isClosed()) {
        this.#log.error(
          `Connection ${this.#connection}: watch failed: ${
            error instanceof Error ? error.stack : error
          }`,
        );
        this.#dropWatch(watch, "The subscription failed; watch again with since to resume");
      }
    }
  }

  /** Sends the logged events after `watch.last` up to the subscription's start. */
  async #replay(watch: Watch): Promise<void> {
    const { subscription } = watch;
    const store = this.#store;
    while (watch.last < subscription.start && !watch.stopped && !this.#out.isClosed()) {
      const events = await store.changesAfter(
        watch.last,
        Math.min(REPLAY_PAGE, subscription.start - watch.last),
      );
      if (watch.stopped) return;
      if (events[0]?.seq !== watch.last + 1) {
        // Trimmed between the check and this read: the client must reload.
        this.#dropWatch(
          watch,
          `The change log no longer holds the changes after seq ${watch.last}; reload the ` +
            "contacts (list or export) and watch again without since",
        );
        return;
      }
      for (const event of events) {
        if (subscription.matches(event)) this.#out.enqueue(changedLine(event));
        watch.last = event.seq;
      }
      await this.#out.flush();
    }
  }

  /**
   * Queues the next slice of live events waiting in a subscription (not before its replay is
   * done). False when the subscription has ended (a dropped one gets its notice here).
   */
  #queueEvents(watch: Watch): boolean {
    if (watch.stopped) return false;
    const { subscription } = watch;
    for (const event of subscription.take(TAKE_SLICE)) {
      if (event.seq <= watch.last) continue;
      this.#out.enqueue(changedLine(event));
      watch.last = event.seq;
    }
    if (subscription.state === "dropped") {
      this.#dropped(watch);
      return false;
    }
    return subscription.state === "open";
  }

  /** A subscription fell behind: it ends after the events already queued. */
  #dropped(watch: Watch): void {
    if (watch.stopped) return;
    this.#dropWatch(
      watch,
      `Over ${this.#cap} changes were waiting while this connection was not reading; watch ` +
        `again with since ${watch.last} to resume`,
    );
  }

  /** Ends a subscription with a `watch_dropped` notification saying where it stopped. */
  #dropWatch(watch: Watch, message: string): void {
    if (this.#watch === watch) this.#watch = undefined;
    watch.stopped = true;
    watch.subscription.close();
    const seq = watch.last;
    this.#log.info(`Connection ${this.#connection}: watch dropped at seq ${seq}`);
    this.#out.enqueue(formatNotification("watch_dropped", { seq, message }));
    this.#out.flush().catch(() => this.#out.close());
  }
}
