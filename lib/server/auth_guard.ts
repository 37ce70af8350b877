/**
 * Failed `auth` attempts counted per peer address, across its connections and batches: an
 * address that has failed recently gets its attempts checked one at a time, a second apart
 * (ten seconds apart after many failures), whatever number of connections it opens; and the
 * log gets one line for its first failure and then one summary line a minute, not a line per
 * guess.
 *
 * @module
 */

/** How long a peer's failures are remembered after its last one (milliseconds). */
export const FAILURE_MEMORY_MS = 10 * 60_000;

/** Time between checks for a peer that has failed recently (milliseconds). */
export const ATTEMPT_SPACING_MS = 1000;

/** Failures after which a peer's checks are spaced {@link SLOW_SPACING_MS} apart. */
export const SLOW_AFTER_FAILURES = 20;

/** Time between checks for a peer past {@link SLOW_AFTER_FAILURES} (milliseconds). */
export const SLOW_SPACING_MS = 10_000;

/** Checks one address may have running at once before its attempts are spaced out too. */
export const MAX_CONCURRENT_CHECKS = 4;

/** How often a peer's failures are summed up in the log (milliseconds). */
export const SUMMARY_MS = 60_000;

/** Peers remembered at most; the one whose last failure is oldest is forgotten first. */
const MAX_PEERS = 4096;

/** What the guard knows of one address. */
interface Peer {
  /** Failures within the memory. */
  failures: number;
  /** When its last failure was (the clock's time). */
  lastFailure: number;
  /** The earliest time its next spaced check may run. */
  nextTurn: number;
  /** Failures not yet in the log, and when their summary is due (0: none logged yet). */
  unlogged: number;
  summaryDue: number;
  /** Checks begun and not yet ended. */
  checking: number;
}

/** The clock and the log line writer. */
export interface GuardOptions {
  /**
   * The clock (ms), for tests; with one given, summaries are written only by
   * {@link AuthGuard.flushSummaries}, not on a timer.
   */
  now?: () => number;
  warn: (line: string) => void;
}

/** Why an attempt was not checked: the peer would have to wait longer than it may. */
export class TooManyAttempts extends Error {
  /** Seconds until the peer's next check could run. */
  readonly retryAfter: number;
  constructor(retryAfter: number) {
    super(`Too many failed auth attempts from this address; try again in ${retryAfter} s`);
    this.retryAfter = retryAfter;
  }
}

/**
 * Counts failed attempts per address and spaces out the checks of those that failed.
 *
 * @example An address that failed waits a second for its next check
 * ```ts
 * import { AuthGuard } from "./auth_guard.ts";
 * let now = 0;
 * const lines: string[] = [];
 * const guard = new AuthGuard({ now: () => now, warn: (line) => lines.push(line) });
 * if (guard.begin("192.0.2.7", 10_000) !== 0) throw new Error("a first attempt waits");
 * guard.end("192.0.2.7", { ok: false, line: "Connection 1: failed auth attempt 1 of 5" });
 * if (guard.begin("192.0.2.7", 10_000) !== 1000) throw new Error();
 * if (lines.length !== 1) throw new Error();
 * ```
 */
export class AuthGuard {
  readonly #peers = new Map<string, Peer>();
  readonly #now: () => number;
  readonly #warn: (line: string) => void;
  readonly #timers: boolean;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: GuardOptions) {
    this.#now = options.now ?? (() => performance.now());
    this.#warn = options.warn;
    this.#timers = options.now === undefined;
  }

  /** Addresses remembered now. */
  get size(): number {
    return this.#peers.size;
  }

  /**
   * Books a check for `address` and returns how long it must wait first (ms): 0 for an
   * address with no recent failure and fewer than {@link MAX_CONCURRENT_CHECKS} checks
   * running. Call {@link end} after the check. Throws {@link TooManyAttempts}, booking
   * nothing, when the wait would pass `maxWaitMs` (a connection should not wait longer than
   * it may stay unauthenticated).
   */
  begin(address: string, maxWaitMs: number): number {
    const now = this.#now();
    const peer = this.#current(address, now) ?? this.#add(address, now);
    let wait = 0;
    if (peer.failures > 0 || peer.checking >= MAX_CONCURRENT_CHECKS) {
      const turn = Math.max(now, peer.nextTurn);
      wait = turn - now;
      if (wait > maxWaitMs) {
        this.#dropIfClean(address, peer);
        throw new TooManyAttempts(Math.ceil(wait / 1000));
      }
      peer.nextTurn = turn +
        (peer.failures >= SLOW_AFTER_FAILURES ? SLOW_SPACING_MS : ATTEMPT_SPACING_MS);
    }
    peer.checking++;
    return wait;
  }

  /**
   * Ends a check begun with {@link begin}: a success, or a failure with its log line. The
   * first failure of an address is logged at once; later ones are summed up once a minute.
   */
  end(address: string, outcome: { ok: true } | { ok: false; line: string }): void {
    const now = this.#now();
    const peer = this.#peers.get(address) ?? this.#add(address, now);
    peer.checking = Math.max(0, peer.checking - 1);
    if (outcome.ok) {
      this.#dropIfClean(address, peer);
      return;
    }
    peer.failures++;
    peer.lastFailure = now;
    peer.nextTurn = Math.max(peer.nextTurn, now + ATTEMPT_SPACING_MS);
    if (peer.summaryDue === 0) {
      this.#warn(
        `${outcome.line}; further attempts from ${address} are checked ` +
          `${ATTEMPT_SPACING_MS / 1000} s apart, and summed up here once a minute`,
      );
      peer.summaryDue = now + SUMMARY_MS;
      return;
    }
    peer.unlogged++;
    this.#summarize(address, peer, now);
    if (peer.unlogged > 0) this.#schedule(peer.summaryDue - now);
  }

  /** Writes the summary lines that are due (a timer calls it when one is). */
  flushSummaries(): void {
    const now = this.#now();
    let next = Infinity;
    for (const [address, peer] of this.#peers) {
      this.#summarize(address, peer, now);
      if (peer.unlogged > 0) next = Math.min(next, peer.summaryDue - now);
    }
    if (next < Infinity) this.#schedule(next);
  }

  /** Stops the summary timer (the server is closing). */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #summarize(address: string, peer: Peer, now: number): void {
    if (peer.unlogged === 0 || now < peer.summaryDue) return;
    this.#warn(
      `${peer.unlogged} more failed auth attempts from ${address} in the last minute ` +
        `(${peer.failures} in all)`,
    );
    peer.unlogged = 0;
    peer.summaryDue = now + SUMMARY_MS;
  }

  /** Runs {@link flushSummaries} in `ms` unless a run is already set; never holds the process. */
  #schedule(ms: number): void {
    if (this.#timer !== undefined || !this.#timers) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flushSummaries();
    }, Math.max(0, ms));
    Deno.unrefTimer(this.#timer);
  }

  /**
   * The peer's record, unless its last failure is older than the memory and no check is
   * running (then its summary is written and it is forgotten).
   */
  #current(address: string, now: number): Peer | undefined {
    const peer = this.#peers.get(address);
    if (peer === undefined) return undefined;
    if (now - peer.lastFailure <= FAILURE_MEMORY_MS) return peer;
    this.#summarize(address, peer, Infinity);
    peer.failures = 0;
    peer.summaryDue = 0;
    if (peer.checking > 0) return peer;
    this.#peers.delete(address);
    return undefined;
  }

  #add(address: string, now: number): Peer {
    if (this.#peers.size >= MAX_PEERS) this.#forgetOldest();
    const peer: Peer = {
      failures: 0,
      lastFailure: -Infinity,
      nextTurn: now,
      unlogged: 0,
      summaryDue: 0,
      checking: 0,
    };
    this.#peers.set(address, peer);
    return peer;
  }

  /** Forgets a peer with no failure and no check running. */
  #dropIfClean(address: string, peer: Peer): void {
    if (peer.failures === 0 && peer.checking === 0) this.#peers.delete(address);
  }

  #forgetOldest(): void {
    let oldest: string | undefined;
    let at = Infinity;
    for (const [address, peer] of this.#peers) {
      if (peer.checking === 0 && peer.lastFailure < at) [oldest, at] = [address, peer.lastFailure];
    }
    if (oldest !== undefined) this.#peers.delete(oldest);
  }
}
