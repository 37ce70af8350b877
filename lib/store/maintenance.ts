/**
 * Keeping a store's KV sound: the layout check and migrations at open, the consistency check
 * of the records, the count, the change log and the in-memory view, and the repair of what
 * KV holds besides the records (the records are the truth). See `keys.ts` for the layouts.
 *
 * **Migrations** are an ordered chain of steps, {@link MIGRATIONS}: the step from layout N
 * brings a store to layout N + 1 and ends by setting the layout key to N + 1, only once its
 * work is done. Opening a store of layout N runs every step from N on, in order. Each step
 * must be safe to run again from the start when it was cut short (a crash, `kill -9`): the
 * layout key still says N then, and the next open runs the step again. A step writes what
 * the layouts after it keep, not what only its own target layout held: 1 -> 2 sets the count
 * but builds none of layout 2's index rows, which 3 -> 4 would delete again (so a store cut
 * short part way through the chain is finished by this code only; an older server must not
 * open it). A later layout adds its step at the end of the list, as 4 -> 5 does: it rewrites
 * the records that need it one by one, each in a way a second run recognises as done (and
 * skips), and sets the layout key to 5 after the last one.
 *
 * @module
 */

import { fillMissingFields, type StoredContact, validateContact } from "../model/contact.ts";
import { contactTerms } from "../model/search_terms.ts";
import { liftExtraFields } from "../model/vcard_fields.ts";
import { logged, unionTerms } from "./change_log.ts";
import { isId } from "../model/ids.ts";
import type { CheckReport } from "../protocol/api.ts";
import type { ContactView } from "./contact_view.ts";
import { LayoutError } from "./errors.ts";
import {
  changeKey,
  CHANGES,
  contactKey,
  CONTACTS,
  COUNT_KEY,
  HEAD_KEY,
  LAYOUT_KEY,
  LAYOUT_VERSION,
  LEGACY_INDEXES,
  REBUILD_KEY,
  seqOf,
} from "./keys.ts";

/** What {@link prepareLayout} may say while it repairs a store. */
export interface PrepareOptions {
  /** Told (once) when the last repair was interrupted and is being finished. */
  warn?: (message: string) => void;
}

/** One step of the migration chain: brings a store of layout `from` to layout `from + 1`. */
export interface Migration {
  from: number;
  /** Does the step's work, then sets the layout key to `from + 1`. Safe to run again. */
  run(kv: Deno.Kv): Promise<void>;
}

/**
 * The migration chain, in order: the step from layout 1, 2, 3, ... (see the module's text).
 *
 * @example Every step leads to the next, up to this code's layout
 * ```ts
 * import { MIGRATIONS } from "./maintenance.ts";
 * import { LAYOUT_VERSION } from "./keys.ts";
 * if (MIGRATIONS.some((step, i) => step.from !== i + 1)) throw new Error();
 * if (MIGRATIONS.length !== LAYOUT_VERSION - 1) throw new Error();
 * ```
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    // Layout 1 had only records: count them. (Layout 2 also built index rows; 3 -> 4 drops them.)
    from: 1,
    async run(kv) {
      const count = await countRecords(kv);
      await commitOrThrow(
        kv.atomic().set(COUNT_KEY, new Deno.KvU64(BigInt(count))).set(LAYOUT_KEY, 2),
      );
    },
  },
  {
    // Layout 3 added the change log: start it empty (head 0), unless one is there already.
    from: 2,
    async run(kv) {
      const head = await kv.get(HEAD_KEY);
      const op = kv.atomic().check(head).set(LAYOUT_KEY, 3);
      if (head.versionstamp === null) op.set(HEAD_KEY, 0);
      await commitOrThrow(op);
    },
  },
  {
    // Layout 4 keeps no index rows (the view answers every read): delete them, then say 4.
    from: 3,
    async run(kv) {
      for (const prefix of LEGACY_INDEXES) await deleteAll(kv, prefix);
      await commitOrThrow(kv.atomic().set(LAYOUT_KEY, 4));
    },
  },
  {
    // Layout 5: contacts have org, title, nickname, birthday, anniversary, urls and groups.
    // A record stored before reads with them empty (the store fills them as it reads); one
    // whose extra.vcard kept those properties (a vCard import before layout 5) is rewritten
    // with them as fields, and the rewrite is logged as an update, so watchers and CardDAV
    // sync see it. A rewritten record has nothing left to lift: a second run skips it.
    from: 4,
    async run(kv) {
      await liftOldRecords(kv);
      await commitOrThrow(kv.atomic().set(LAYOUT_KEY, 5));
    },
  },
];

/**
 * Rewrites each record whose `extra.vcard` holds properties that are fields now, one atomic
 * write per record (checked against the record as read, with its change-log entry).
 * Returns the number rewritten.
 */
async function liftOldRecords(kv: Deno.Kv): Promise<number> {
  let rewritten = 0;
  for await (const entry of kv.list<StoredContact>({ prefix: CONTACTS }, { batchSize: 500 })) {
    const record = fillMissingFields(entry.value);
    const { id: _id, created: _created, updated: _updated, ...fields } = record;
    const { fields: after, lifted } = liftExtraFields(fields);
    if (lifted.length === 0) continue;
    const at = new Date().toISOString();
    const stored: StoredContact = { id: record.id, ...after, created: record.created, updated: at };
    const head = await kv.get<number>(HEAD_KEY);
    const seq = (head.value ?? 0) + 1;
    const terms = unionTerms(contactTerms(record), contactTerms(stored));
    await commitOrThrow(
      kv.atomic().check(entry).check(head)
        .set(contactKey(record.id), stored)
        .set(changeKey(seq), logged("updated", stored, at, terms))
        .set(HEAD_KEY, seq),
    );
    rewritten++;
  }
  return rewritten;
}

/**
 * Reads the layout of the store in `kv` (at `path`, for the message) and brings an older one
 * up to date, step by step ({@link MIGRATIONS}); returns the layout as it was. Throws
 * {@link LayoutError} for a layout newer than this code understands. A repair that was
 * interrupted (its mark is still there) is finished first, with a warning.
 *
 * @example A new store gets the current layout
 * ```ts
 * import { prepareLayout } from "./maintenance.ts";
 * import { LAYOUT_VERSION } from "./keys.ts";
 * using kv = await Deno.openKv(":memory:");
 * if (await prepareLayout(kv, ":memory:") !== LAYOUT_VERSION) throw new Error();
 * ```
 */
export async function prepareLayout(
  kv: Deno.Kv,
  path: string,
  options: PrepareOptions = {},
): Promise<number> {
  const layout = await readLayout(kv);
  if (layout > LAYOUT_VERSION) {
    throw new LayoutError(
      `The store ${JSON.stringify(path)} has layout ${layout}, newer than this server ` +
        `understands (${LAYOUT_VERSION}): upgrade addressbook to open it`,
    );
  }
  for (let at = layout; at < LAYOUT_VERSION; at++) {
    const step = MIGRATIONS.find((m) => m.from === at);
    if (step === undefined) throw new LayoutError(`Cannot migrate a store from layout ${at}`);
    await step.run(kv);
  }
  const mark = await kv.get<{ started?: string }>(REBUILD_KEY);
  if (mark.value !== null) {
    options.warn?.(
      "The last repair of the store (the rebuild of its count and indexes, started " +
        `${mark.value.started ?? "at an unknown time"}) was interrupted, so its count may be ` +
        "wrong; finishing it before opening the store",
    );
    await rebuildIndexes(kv);
  }
  return layout;
}

async function readLayout(kv: Deno.Kv): Promise<number> {
  const entry = await kv.get<number>(LAYOUT_KEY);
  if (entry.value !== null) return entry.value;
  // No layout key: a new store, or one written by layout 1 before it recorded its layout.
  for await (const _ of kv.list({ prefix: CONTACTS }, { limit: 1 })) return 1;
  await kv.set(LAYOUT_KEY, LAYOUT_VERSION);
  return LAYOUT_VERSION;
}

/** Rows deleted per atomic, and the most bytes of keys in one (KV allows 81,920). */
const DELETE_ROWS = 500;
const DELETE_KEY_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/**
 * Deletes every row under `prefix`, in atomics of at most {@link DELETE_ROWS} rows and
 * {@link DELETE_KEY_BYTES} of keys. Returns how many it deleted. Idempotent: cut short, the
 * rows left are deleted by the next run.
 */
async function deleteAll(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let deleted = 0;
  let op = kv.atomic(), rows = 0, bytes = 0;
  for await (const entry of kv.list({ prefix }, { batchSize: DELETE_ROWS })) {
    const size = keyBytes(entry.key);
    if (rows === DELETE_ROWS || bytes + size > DELETE_KEY_BYTES) {
      await commitOrThrow(op);
      op = kv.atomic();
      rows = 0;
      bytes = 0;
    }
    op.delete(entry.key);
    rows++;
    bytes += size;
    deleted++;
  }
  if (rows > 0) await commitOrThrow(op);
  return deleted;
}

/** A generous estimate of a key's encoded size. */
function keyBytes(key: Deno.KvKey): number {
  let size = 0;
  for (const part of key) size += 4 + (typeof part === "string" ? encoder.encode(part).length : 16);
  return size;
}

async function countRecords(kv: Deno.Kv): Promise<number> {
  let count = 0;
  // Keys only would do; KV lists values too, so read big batches.
  for await (const _ of kv.list({ prefix: CONTACTS }, { batchSize: 1000 })) count++;
  return count;
}

/**
 * Repairs what KV holds besides the records, from the records: deletes any index rows (a
 * layout-4 store has none; any found are strays) and sets the count to the number of
 * records. For a store no other process is writing. A mark (`REBUILD_KEY`) is set before
 * anything is deleted and cleared in the write that sets the count, so a repair cut short is
 * found and finished by the next {@link prepareLayout}. (Named for what it did up to layout
 * 3, when it rebuilt the index rows.)
 */
export async function rebuildIndexes(kv: Deno.Kv): Promise<void> {
  await commitOrThrow(kv.atomic().set(REBUILD_KEY, { started: new Date().toISOString() }));
  for (const prefix of LEGACY_INDEXES) await deleteAll(kv, prefix);
  const count = await countRecords(kv);
  // The count and the end of the mark together: one is never there without the other.
  await commitOrThrow(
    kv.atomic().set(COUNT_KEY, new Deno.KvU64(BigInt(count))).delete(REBUILD_KEY),
  );
}

async function commitOrThrow(op: Deno.AtomicOperation): Promise<void> {
  const result = await op.commit();
  if (!result.ok) throw new Error("A store maintenance write failed its check");
}

/** The count as stored in KV (`["meta", "count"]`), 0 when there is none. */
export async function storedCount(kv: Deno.Kv): Promise<number> {
  const entry = await kv.get<Deno.KvU64>(COUNT_KEY);
  return entry.value === null ? 0 : Number(entry.value.value);
}

/** What {@link check} may be told. */
export interface CheckOptions {
  /** Once aborted, the check stops (throwing the signal's reason): nobody wants its report. */
  signal?: AbortSignal;
}

/** The store's live view, as {@link check} compares it with the records. */
export interface LiveView {
  view: ContactView;
  /**
   * Resolves once the view has applied every change committed before the call (at once for
   * a view that this process's own commits keep; after reading the log for a shared store).
   */
  caughtUp(): Promise<void>;
}

/** At most this many problems are reported. */
const MAX_PROBLEMS = 100;

/** At most this many suspected disagreements are confirmed. */
const MAX_SUSPECTS = 1000;

/**
 * Verifies the store: every record parses and validates; the live view equals the view the
 * records imply (the same ids, versions, folded names, terms and JSON text; its name order
 * and term indexes hold each entry exactly under its keys); the stored count equals the
 * records; the change log's head is a seq no older than its last entry; no index rows of
 * older layouts remain. A disagreement between a record and the view is confirmed, after
 * the view has caught up, by reading the record again (twice), so a write racing the check
 * is not mistaken for damage. `indexEntries` counts the view's entries compared (one in the
 * name order per contact, one per term). Once `options.signal` is aborted it stops.
 *
 * @example An empty store is sound
 * ```ts
 * import { check } from "./maintenance.ts";
 * import { ContactView } from "./contact_view.ts";
 * using kv = await Deno.openKv(":memory:");
 * const report = await check(kv, { view: new ContactView(), caughtUp: async () => {} });
 * if (!report.ok || report.contacts !== 0) throw new Error();
 * ```
 */
export async function check(
  kv: Deno.Kv,
  live: LiveView,
  options: CheckOptions = {},
): Promise<CheckReport> {
  const { signal } = options;
  const { view } = live;
  signal?.throwIfAborted();
  const problems: string[] = [];
  const report = (problem: string) => {
    if (problems.length < MAX_PROBLEMS && !problems.includes(problem)) problems.push(problem);
  };
  const seen = new Set<string>();
  const suspects: string[] = [];
  let contacts = 0;
  for await (const entry of kv.list<StoredContact>({ prefix: CONTACTS }, { batchSize: 500 })) {
    if (++contacts % 500 === 0) signal?.throwIfAborted();
    const id = entry.key[1];
    if (typeof id === "string") seen.add(id);
    const invalid = recordProblem(entry.key, entry.value);
    if (invalid !== null) {
      report(invalid);
      continue;
    }
    if (view.audit(entry.value, entry.versionstamp) !== null && suspects.length < MAX_SUSPECTS) {
      suspects.push(entry.value.id);
    }
  }
  // Held by the view, not met in the scan: removed since (or never stored).
  for (const id of view.ids()) {
    if (suspects.length >= MAX_SUSPECTS) break;
    if (!seen.has(id)) suspects.push(id);
  }
  seen.clear();
  for (let round = 0; round < 2 && suspects.length > 0; round++) {
    signal?.throwIfAborted();
    await live.caughtUp();
    const still: string[] = [];
    for (const id of suspects) {
      const problem = await confirmProblem(kv, view, id);
      if (problem === null) continue;
      if (round === 0) still.push(id);
      else report(problem);
    }
    suspects.splice(0, suspects.length, ...still);
  }
  const structure = view.verify(MAX_PROBLEMS);
  for (const problem of structure.problems) report(problem);
  signal?.throwIfAborted();
  for (const prefix of LEGACY_INDEXES) {
    for await (const entry of kv.list({ prefix }, { limit: MAX_PROBLEMS })) {
      report(`Stray index entry ${JSON.stringify(entry.key)}`);
    }
  }
  const log = await logProblem(kv);
  if (log !== null) report(log);
  // The count key itself, not the store's `count()`: that is the view's size.
  const stored = await storedCount(kv);
  if (stored !== contacts && await storedCount(kv) !== contacts) {
    report(`The stored count is ${stored} but there are ${contacts} contacts`);
  }
  return { ok: problems.length === 0, contacts, indexEntries: structure.entries, problems };
}

/** What is wrong with a record as read, or null: it must be a valid contact under its id. */
function recordProblem(key: Deno.KvKey, value: unknown): string | null {
  const where = `The record ${JSON.stringify(key)}`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `${where} is not a contact`;
  }
  const record = value as Partial<StoredContact>;
  if (typeof record.id !== "string" || !isId(record.id) || key[1] !== record.id) {
    return `${where} holds the id ${JSON.stringify(record.id)}, not its key's`;
  }
  for (const field of ["created", "updated"] as const) {
    if (typeof record[field] !== "string" || Number.isNaN(Date.parse(record[field]))) {
      return `${where} has no valid ${field} time`;
    }
  }
  try {
    validateContact(record);
  } catch (error) {
    return `${where} does not validate: ${error instanceof Error ? error.message : error}`;
  }
  return null;
}

/** Reads a contact's record again and compares the view with it; the damage, if real. */
async function confirmProblem(kv: Deno.Kv, view: ContactView, id: string): Promise<string | null> {
  const record = await kv.get<StoredContact>(contactKey(id));
  const held = view.get(id);
  if (record.value === null || record.versionstamp === null) {
    return held === undefined
      ? null
      : `The view holds contact ${JSON.stringify(id)}, which has no record`;
  }
  // A write that committed since the read: the view is ahead, not wrong.
  if (held !== undefined && held.version > record.versionstamp) return null;
  if (recordProblem(contactKey(id), record.value) !== null) return null; // reported by the scan
  return view.audit(record.value, record.versionstamp);
}

/** What is wrong with the change log's head, or null: a seq, at least its last entry's. */
async function logProblem(kv: Deno.Kv): Promise<string | null> {
  let last: number | undefined;
  // The last entry first, then the head: writes only move both forward.
  for await (const entry of kv.list({ prefix: CHANGES }, { reverse: true, limit: 1 })) {
    last = seqOf(entry.key);
    const value = entry.value as { type?: unknown; id?: unknown } | null;
    if (
      !Number.isSafeInteger(last) || typeof value?.id !== "string" ||
      !["added", "updated", "removed"].includes(value.type as string)
    ) {
      return `The change log's last entry ${JSON.stringify(changeKey(last))} is not a change`;
    }
  }
  const head = (await kv.get(HEAD_KEY)).value ?? 0;
  if (typeof head !== "number" || !Number.isSafeInteger(head) || head < 0) {
    return `The change log's head is ${JSON.stringify(head)}, not a seq`;
  }
  if (last !== undefined && last > head) {
    return `The change log's head is ${head} but its last entry is ${last}`;
  }
  return null;
}
