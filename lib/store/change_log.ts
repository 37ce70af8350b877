/**
 * The change log in KV (`["changes", seq]` entries and the `["changes_head"]` key, see
 * `keys.ts`): its entries, its limits, reading it, trimming it, and tailing it.
 *
 * Every add, update and remove sets `["changes", seq]` in the same atomic as the write, so a
 * change is logged if and only if it was stored. `seq` is a dense counter: each atomic checks
 * `["changes_head"]` at the versionstamp it read and sets it to the last seq it used, so
 * numbers follow commit order with no gaps even when several processes share a KV Connect
 * store (a process whose check fails because another one moved the head reads it again and
 * retries; see `group_commit.ts`). An entry's versionstamp is its commit's, so it is also the
 * contact's new `version`. The log keeps at most {@link CHANGE_LOG_LIMITS} `maxEvents`
 * entries, none older than `maxAgeMs`: trimmed from the oldest end at open and after every
 * `trimEvery` changes, at most `trimBatch` entries per trim.
 *
 * A store that other servers may write (a KV Connect URL) learns of their changes with a
 * {@link LogTail}: it watches `["changes_head"]` with `kv.watch` (which only wakes it: it
 * merges rapid writes) and publishes the log's entries after the last one it published, so
 * every server sees every server's changes, in seq order.
 *
 * @module
 */

import type { ChangeEvent, ChangeFeed, ChangeType } from "./change_feed.ts";
import type { StoredContact } from "../model/contact.ts";
import type { Terms } from "../model/search_terms.ts";
import { changeKey, CHANGES, HEAD_KEY, seqOf } from "./keys.ts";

/**
 * How much of the change log is kept: at most `maxEvents` entries, none older than
 * `maxAgeMs` (7 days). Trimming runs at open and after every `trimEvery` changes, deleting
 * at most `trimBatch` entries each time (one atomic).
 *
 * @example
 * ```ts
 * import { CHANGE_LOG_LIMITS } from "./change_log.ts";
 * if (CHANGE_LOG_LIMITS.maxEvents !== 10_000) throw new Error();
 * ```
 */
export const CHANGE_LOG_LIMITS: Readonly<ChangeLogLimits> = {
  maxEvents: 10_000,
  maxAgeMs: 7 * 24 * 3600 * 1000,
  trimEvery: 100,
  trimBatch: 500,
};

/** Limits of the change log (see {@link CHANGE_LOG_LIMITS}). */
export interface ChangeLogLimits {
  maxEvents: number;
  maxAgeMs: number;
  trimEvery: number;
  trimBatch: number;
}

/** A change-log entry as stored; its seq is in its key and its version is its versionstamp. */
export interface LoggedChange {
  type: ChangeType;
  id: string;
  name: string;
  /** When the change was made (ISO 8601). */
  at: string;
  /** The contact's search terms before and after the change, for `watch` queries. */
  terms: Terms;
}

/** The log entry of a change. */
export function logged(
  type: ChangeType,
  contact: StoredContact,
  at: string,
  terms: Terms,
): LoggedChange {
  return { type, id: contact.id, name: contact.name, at, terms };
}

/**
 * The terms of a contact before and after a change, together.
 *
 * @example
 * ```ts
 * import { unionTerms } from "./change_log.ts";
 * const before = { words: ["bob"], phones: ["1"] };
 * const both = unionTerms(before, { words: ["bob", "robert"], phones: [] });
 * if (both.words.join() !== "bob,robert" || both.phones.join() !== "1") throw new Error();
 * ```
 */
export function unionTerms(a: Terms, b: Terms): Terms {
  return {
    words: [...new Set([...a.words, ...b.words])],
    phones: [...new Set([...a.phones, ...b.phones])],
  };
}

/** The seq of the last change logged, as stored in KV (0 for an empty log). */
export async function readHead(kv: Deno.Kv): Promise<number> {
  const entry = await kv.get<number>(HEAD_KEY);
  return entry.value ?? 0;
}

/**
 * The seq just before the log's first entry, or undefined when the log is empty (then the
 * oldest `since` it can serve is the head).
 */
export async function logStart(kv: Deno.Kv): Promise<number | undefined> {
  for await (const entry of kv.list({ prefix: CHANGES }, { limit: 1 })) {
    return seqOf(entry.key) - 1;
  }
  return undefined;
}

/**
 * At most `limit` logged changes after seq `after`, in seq order. The first has seq
 * `after + 1` unless the log no longer holds it (trimmed): check before relying on it.
 */
export async function changesAfter(
  kv: Deno.Kv,
  after: number,
  limit: number,
): Promise<ChangeEvent[]> {
  const selector = { prefix: CHANGES, start: changeKey(after + 1) };
  const events: ChangeEvent[] = [];
  for await (const entry of kv.list<LoggedChange>(selector, { limit })) {
    const { type, id, name, terms } = entry.value;
    events.push({
      type,
      id,
      name,
      terms,
      version: entry.versionstamp,
      seq: seqOf(entry.key),
    });
  }
  return events;
}

/**
 * Deletes the oldest log entries beyond the limits, given the log's `head`: at most
 * `trimBatch`, in one atomic. Returns how many it deleted.
 */
export async function trimLog(kv: Deno.Kv, limits: ChangeLogLimits, head: number): Promise<number> {
  const { maxEvents, maxAgeMs, trimBatch } = limits;
  const oldest = new Date(Date.now() - maxAgeMs).toISOString();
  const op = kv.atomic();
  let deleted = 0;
  const selector = { prefix: CHANGES };
  for await (const entry of kv.list<LoggedChange>(selector, { limit: trimBatch })) {
    const seq = seqOf(entry.key);
    if (seq > head - maxEvents && entry.value.at >= oldest) break;
    op.delete(entry.key);
    deleted++;
  }
  if (deleted > 0) await op.commit();
  return deleted;
}

/** What a {@link LogTail} does besides publishing, and how often it looks. */
export interface TailOptions {
  /**
   * Called with each batch of entries read (at most 100, in seq order) before they are
   * published, and awaited: the store brings its view up to date with them here.
   */
  apply?: (events: ChangeEvent[]) => Promise<void>;
  /**
   * Called (and awaited) when the log no longer holds every entry after the last one
   * applied (trimmed meanwhile): the store rebuilds its view from the records here.
   */
  resync?: () => Promise<void>;
  /**
   * Also reads the log every this many milliseconds (0: never): `kv.watch` wakes the tail
   * for the writes of this process and of KV Connect's other clients, not for another
   * process writing the same file.
   */
  pollMs?: number;
}

/**
 * For a store others may write: wakes on every move of the log's head (and every `pollMs`),
 * reads the entries after the last one it applied, hands them to `apply` and publishes them
 * to the feed, one reader at a time, in seq order.
 */
export class LogTail {
  readonly #kv: Deno.Kv;
  readonly #feed: ChangeFeed;
  readonly #options: TailOptions;
  readonly #reader: ReadableStreamDefaultReader<unknown>;
  readonly #done: Promise<void>;
  readonly #poll: ReturnType<typeof setInterval> | undefined;
  /** The seq of the last entry applied and published. */
  #applied: number;
  #closed = false;
  #tailing: Promise<void> | undefined;
  #tailAgain = false;

  /**
   * Starts watching the head of the log in `kv`, from the entry after seq `applied` (the
   * head when the store's view was built), publishing to `feed`.
   */
  constructor(kv: Deno.Kv, feed: ChangeFeed, applied: number, options: TailOptions = {}) {
    this.#kv = kv;
    this.#feed = feed;
    this.#options = options;
    this.#applied = applied;
    const reader = kv.watch([HEAD_KEY]).getReader();
    this.#reader = reader;
    this.#done = (async () => {
      try {
        while (!this.#closed) {
          const { done } = await reader.read();
          if (done) return;
          this.#readTail();
        }
      } catch {
        // closed
      }
    })();
    if (options.pollMs) {
      const poll = setInterval(() => this.#readTail(), options.pollMs);
      Deno.unrefTimer(poll);
      this.#poll = poll;
    }
  }

  /** The seq of the last entry applied and published. */
  get applied(): number {
    return this.#applied;
  }

  /** Stops watching and polling; a read under way goes on to its end (see {@link settled}). */
  cancel(): void {
    clearInterval(this.#poll);
    this.#reader.cancel().catch(() => {});
  }

  /** Waits for the watch to end and for a read under way. */
  async settled(): Promise<void> {
    await this.#done;
    await this.#tailing;
  }

  /** Stops watching and reading (the store is closing). */
  close(): void {
    this.#closed = true;
    this.cancel();
  }

  /**
   * Resolves once every entry logged before the call has been applied and published (or the
   * tail is closed).
   */
  async catchUp(): Promise<void> {
    const head = await readHead(this.#kv);
    for (let round = 0; round < 100 && this.#applied < head && !this.#closed; round++) {
      this.#readTail();
      await this.#tailing;
    }
  }

  /** Applies and publishes the log's entries after the last applied; one reader at a time. */
  #readTail(): void {
    if (this.#tailing) {
      this.#tailAgain = true;
      return;
    }
    this.#tailing = (async () => {
      try {
        do {
          this.#tailAgain = false;
          while (!this.#closed) {
            const after = this.#applied;
            const events = await changesAfter(this.#kv, after, 100);
            const first = events[0];
            if (first === undefined) {
              // Nothing after it: the head may still be ahead, every entry trimmed by age.
              const head = await readHead(this.#kv);
              if (head > after && (await changesAfter(this.#kv, after, 1)).length === 0) {
                await this.#options.resync?.();
                this.#applied = Math.max(this.#applied, head);
              }
              break;
            }
            if (first.seq !== after + 1) await this.#options.resync?.();
            await this.#options.apply?.(events);
            for (const event of events) this.#feed.publish(event);
            this.#applied = events.at(-1)!.seq;
            if (events.length < 100) break;
          }
        } while (this.#tailAgain && !this.#closed);
      } catch {
        // closed meanwhile
      } finally {
        this.#tailing = undefined;
      }
    })();
  }
}
