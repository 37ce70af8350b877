/**
 * Group commit: concurrent writes coalesced into one `kv.atomic()`, so that a file-backed
 * KV, which flushes to disk once per commit, serves many writers per flush.
 *
 * The rules that keep it correct:
 * - A batch stays within KV's limits for one atomic (checks, mutations, bytes of mutations,
 *   bytes of keys); a write too big to share a batch is committed on its own.
 * - At most one write per contact (`group`) in a batch: two checks of one key at one version
 *   would both pass and the second write would silently win. A later write to the same
 *   contact waits for the next batch, so writes to one contact commit in submission order.
 * - One batch is in flight at a time; each writer's promise settles only after the batch
 *   that holds its write has committed (or failed), and `onCommit` runs first, in commit
 *   order, so an in-memory view can follow KV exactly.
 * - When a batch's commit fails a check (KV does not say which), each of its writes is
 *   committed again on its own: only the offending write is reported `{ ok: false }`. A
 *   batch that throws (a limit, I/O) is split the same way, so each write gets its own error.
 * - With a sequenced log ({@link SequenceLog}), each write's `logEntry` is set at the next
 *   number of a dense sequence, in the same atomic as the write, and the head key (the last
 *   number used) is checked and advanced there too. Numbers are given in commit order, with
 *   no gaps, even with several processes writing one store: a batch whose head check fails
 *   because another process advanced the head is committed again on top of the new head.
 *
 * @module
 */

/** One writer's atomic unit: checks and mutations that must commit together. */
export interface Write {
  /** Writes with the same group (a contact id) never share a batch. */
  group: string;
  checks: Deno.AtomicCheck[];
  mutations: Deno.KvMutation[];
  /** Added to a shared KvU64 counter (see {@link GroupCommitOptions.counterKey}); may be < 0. */
  countDelta?: number;
  /** A value for the sequenced log (see {@link GroupCommitOptions.log}), set with this write. */
  logEntry?: unknown;
  /**
   * Runs synchronously when the write has committed, before its promise resolves; `seq` is
   * the number its `logEntry` got (undefined without one).
   */
  onCommit?: (versionstamp: string, seq: number | undefined) => void;
}

/** The outcome of one write: committed at `versionstamp`, or a failed check. */
export type WriteResult = { ok: true; versionstamp: string; seq?: number } | { ok: false };

/** Where the sequenced log lives: a head key (the last number used) and one key per entry. */
export interface SequenceLog {
  /** Holds the last sequence number used, a number (absent: 0). */
  headKey: Deno.KvKey;
  /** The key of the entry numbered `seq`. */
  entryKey(seq: number): Deno.KvKey;
  /**
   * Whether other processes may write the store: then the head is read before every batch;
   * otherwise it is read once and kept.
   */
  shared: boolean;
}

/** Limits and keys of a {@link GroupCommitter}. */
export interface GroupCommitOptions {
  /** The KvU64 key that `countDelta`s are summed into, once per batch. */
  counterKey?: Deno.KvKey;
  /**
   * Most writes in one batch (default and most {@link MAX_WRITES}); a batch also stays within
   * KV's 100 checks, so writes without checks (a new contact under a fresh id) fill it most.
   */
  maxWrites?: number;
  /** Commits one atomic (default `op.commit()`); a store may retry a locked database here. */
  commit?: (op: Deno.AtomicOperation) => Promise<Deno.KvCommitResult | Deno.KvCommitError>;
  /** A sequenced log that writes with a `logEntry` append to. */
  log?: SequenceLog;
}

/** The head of a sequenced log as last read or written. */
interface Head {
  seq: number;
  versionstamp: string | null;
}

/** Tries of one batch while other processes keep advancing the log's head. */
const MAX_HEAD_RACES = 50;

/** KV's limits for one atomic, with headroom for the estimate of a value's encoded size. */
const MAX_CHECKS = 100;
const MAX_MUTATIONS = 1000;
const MAX_MUTATION_BYTES = 800 * 1024;
const MAX_KEY_BYTES = 80 * 1024;
/**
 * Most writes in one batch: a logged write takes at least 2 of KV's 1,000 mutations (its own
 * and its log entry). Fewer, larger batches mean fewer flushes to disk.
 */
export const MAX_WRITES = 400;
const U64 = 1n << 64n;

const encoder = new TextEncoder();

/**
 * Coalesces concurrent writes into shared atomics.
 *
 * @example Two concurrent writes share one commit
 * ```ts
 * import { GroupCommitter } from "./group_commit.ts";
 * using kv = await Deno.openKv(":memory:");
 * const committer = new GroupCommitter(kv, { counterKey: ["count"] });
 * const write = (id: string) =>
 *   committer.submit({
 *     group: id,
 *     checks: [{ key: ["c", id], versionstamp: null }],
 *     mutations: [{ type: "set", key: ["c", id], value: id }],
 *     countDelta: 1,
 *   });
 * const [a, b] = await Promise.all([write("a"), write("b")]);
 * if (!a.ok || !b.ok || a.versionstamp !== b.versionstamp) throw new Error();
 * if ((await kv.get<Deno.KvU64>(["count"])).value?.value !== 2n) throw new Error();
 * ```
 */
export class GroupCommitter {
  readonly #kv: Deno.Kv;
  readonly #counterKey: Deno.KvKey | undefined;
  readonly #maxWrites: number;
  readonly #commitOp: NonNullable<GroupCommitOptions["commit"]>;
  readonly #log: SequenceLog | undefined;
  #head: Head | undefined;
  #queue: Array<Queued> = [];
  #running = false;
  /** Batches committed and writes in them, for tests and stats. */
  readonly stats = { batches: 0, writes: 0, retried: 0 };

  constructor(kv: Deno.Kv, options: GroupCommitOptions = {}) {
    this.#kv = kv;
    this.#counterKey = options.counterKey;
    this.#maxWrites = Math.max(1, Math.min(MAX_WRITES, options.maxWrites ?? MAX_WRITES));
    this.#commitOp = options.commit ?? ((op) => op.commit());
    this.#log = options.log;
  }

  /**
   * The last sequence number committed by this committer (or read from KV), 0 for an empty
   * log; undefined before the first read. Exact when the log is not shared.
   */
  get head(): number | undefined {
    return this.#head?.seq;
  }

  /** Reads the log's head from KV (and keeps it). */
  async readHead(): Promise<number> {
    if (this.#log === undefined) return 0;
    const entry = await this.#kv.get<number>(this.#log.headKey);
    this.#head = { seq: entry.value ?? 0, versionstamp: entry.versionstamp };
    return this.#head.seq;
  }

  /** Queues a write; resolves once the batch holding it has committed (or rejects). */
  submit(write: Write): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, resolve, reject, size: measure(write) });
      if (!this.#running) {
        this.#running = true;
        // Let the writers that are ready in this turn join the first batch too.
        queueMicrotask(() => this.#drain());
      }
    });
  }

  /** Commits batches until the queue is empty. Never throws. */
  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        await this.#commit(batch);
      }
    } finally {
      this.#running = false;
    }
  }

  /** Takes the next batch off the queue: in order, within limits, one write per group. */
  #takeBatch(): Queued[] {
    const batch: Queued[] = [];
    const rest: Queued[] = [];
    const groups = new Set<string>();
    const counter = this.#counterKey ? 1 : 0;
    const log = this.#log ? 1 : 0;
    let checks = log, mutations = counter + log, mutationBytes = 0, keyBytes = 0;
    for (const queued of this.#queue) {
      const { write, size } = queued;
      const logged = write.logEntry === undefined ? 0 : 1;
      const fits = batch.length < this.#maxWrites &&
        checks + write.checks.length <= MAX_CHECKS &&
        mutations + write.mutations.length + logged <= MAX_MUTATIONS &&
        mutationBytes + size.mutationBytes <= MAX_MUTATION_BYTES &&
        keyBytes + size.keyBytes <= MAX_KEY_BYTES;
      if (batch.length === 0 || (fits && !groups.has(write.group))) {
        batch.push(queued);
        groups.add(write.group);
        checks += write.checks.length;
        mutations += write.mutations.length + logged;
        mutationBytes += size.mutationBytes;
        keyBytes += size.keyBytes;
      } else {
        rest.push(queued);
      }
    }
    this.#queue = rest;
    return batch;
  }

  async #commit(batch: Queued[]): Promise<void> {
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    let head: Head | undefined;
    for (let race = 0;; race++) {
      try {
        head = await this.#currentHead();
        result = await this.#commitOp(this.#atomic(batch, head));
      } catch (error) {
        if (batch.length === 1) {
          batch[0]!.reject(error);
          return;
        }
        result = { ok: false };
      }
      if (result.ok || head === undefined || race >= MAX_HEAD_RACES) break;
      // Did the head move (another process appended)? Then try again on top of it.
      const before = head.versionstamp;
      try {
        await this.readHead();
      } catch {
        break;
      }
      if (this.#head?.versionstamp === before) break;
    }
    if (result.ok) {
      this.stats.batches++;
      this.stats.writes += batch.length;
      let seq = head?.seq ?? 0;
      for (const queued of batch) {
        settle(
          queued,
          result.versionstamp,
          queued.write.logEntry === undefined ? undefined : ++seq,
        );
      }
      if (head !== undefined && seq !== head.seq) {
        this.#head = { seq, versionstamp: result.versionstamp };
      }
      return;
    }
    if (batch.length === 1) {
      batch[0]!.resolve({ ok: false });
      return;
    }
    // A check failed (or a limit was hit): find the culprit by committing each on its own.
    this.stats.retried += batch.length;
    for (const queued of batch) await this.#commit([queued]);
  }

  /** The head to build the next batch on: kept, or read again when the log is shared. */
  async #currentHead(): Promise<Head | undefined> {
    if (this.#log === undefined) return undefined;
    if (this.#head === undefined || this.#log.shared) await this.readHead();
    return this.#head;
  }

  #atomic(batch: Queued[], head: Head | undefined): Deno.AtomicOperation {
    const op = this.#kv.atomic();
    let delta = 0;
    let seq = head?.seq ?? 0;
    for (const { write } of batch) {
      if (write.checks.length) op.check(...write.checks);
      if (write.mutations.length) op.mutate(...write.mutations);
      if (this.#log && write.logEntry !== undefined) {
        op.set(this.#log.entryKey(++seq), write.logEntry);
      }
      delta += write.countDelta ?? 0;
    }
    if (this.#log && head !== undefined && seq !== head.seq) {
      op.check({ key: this.#log.headKey, versionstamp: head.versionstamp });
      op.set(this.#log.headKey, seq);
    }
    if (this.#counterKey && delta !== 0) {
      // KvU64 sums wrap around: adding 2^64 - n subtracts n.
      op.sum(this.#counterKey, delta > 0 ? BigInt(delta) : U64 + BigInt(delta));
    }
    return op;
  }
}

interface Queued {
  write: Write;
  size: { mutationBytes: number; keyBytes: number };
  resolve(result: WriteResult): void;
  reject(error: unknown): void;
}

function settle(queued: Queued, versionstamp: string, seq: number | undefined): void {
  try {
    queued.write.onCommit?.(versionstamp, seq);
  } catch (error) {
    queued.reject(error);
    return;
  }
  queued.resolve(seq === undefined ? { ok: true, versionstamp } : { ok: true, versionstamp, seq });
}

/**
 * A generous estimate of a write's encoded size: keys as UTF-8 plus a few bytes per part,
 * values as twice their JSON (KV's encoding of strings and numbers is never larger).
 */
function measure(write: Write): { mutationBytes: number; keyBytes: number } {
  let keyBytes = 0, mutationBytes = 0;
  for (const check of write.checks) keyBytes += keySize(check.key);
  for (const mutation of write.mutations) {
    const size = keySize(mutation.key);
    keyBytes += size;
    mutationBytes += size;
    if (mutation.type === "set") mutationBytes += valueSize(mutation.value);
    else if (mutation.type !== "delete") mutationBytes += 16;
  }
  if (write.logEntry !== undefined) {
    // The entry's key (a prefix and a number) and value.
    keyBytes += 64;
    mutationBytes += 64 + valueSize(write.logEntry);
  }
  return { mutationBytes, keyBytes };
}

function keySize(key: Deno.KvKey): number {
  let size = 0;
  for (const part of key) {
    size += 4 + (typeof part === "string" ? encoder.encode(part).length : 16);
  }
  return size;
}

function valueSize(value: unknown): number {
  if (value === null || value === undefined) return 8;
  if (typeof value === "string") return 8 + 3 * value.length;
  try {
    return 64 + 2 * encoder.encode(JSON.stringify(value) ?? "").length;
  } catch {
    return MAX_MUTATION_BYTES; // not JSON (a KvU64, a cycle): commit it on its own
  }
}
