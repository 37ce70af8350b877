/**
 * Keeping a store's KV sound: the layout check and migrations at open, the consistency check
 * of the indexes and the count against the records, and the rebuild of both from the records
 * (the records are the truth). See `keys.ts` for the layouts.
 *
 * @module
 */

import type { StoredContact } from "../model/contact.ts";
import type { CheckReport } from "../protocol/api.ts";
import { contactTerms, fold } from "../model/search_terms.ts";
import { LayoutError } from "./errors.ts";
import {
  contactKey,
  CONTACTS,
  COUNT_KEY,
  HEAD_KEY,
  indexedId,
  INDEXES,
  indexSets,
  LAYOUT_KEY,
  LAYOUT_VERSION,
  REBUILD_KEY,
  recordIndexEntries,
} from "./keys.ts";

/** What {@link prepareLayout} may say while it repairs a store. */
export interface PrepareOptions {
  /** Told (once) when the last index rebuild was interrupted and is being finished. */
  warn?: (message: string) => void;
}

/**
 * Reads the layout of the store in `kv` (at `path`, for the message) and brings an older one
 * up to date; returns the layout as it was. Throws {@link LayoutError} for a layout newer
 * than this code understands. An index rebuild that was interrupted (its mark is still
 * there: a crash or `kill -9` part way) is finished first, with a warning, so the indexes
 * are never left half built.
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
  if (layout < LAYOUT_VERSION) await migrate(kv, layout);
  const mark = await kv.get<{ started?: string }>(REBUILD_KEY);
  if (mark.value !== null) {
    options.warn?.(
      `The last index rebuild (started ${mark.value.started ?? "at an unknown time"}) was ` +
        "interrupted, so the indexes may be half built; finishing it before opening the store",
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

/**
 * Brings an older layout up to date. Layout 1 -> 2 builds the indexes and the count from the
 * records; 2 -> 3 starts an empty change log (head 0, unless one is there already). Each
 * step can be interrupted and run again safely.
 */
async function migrate(kv: Deno.Kv, from: number): Promise<void> {
  if (from !== 1 && from !== 2) {
    throw new LayoutError(`Cannot migrate a store from layout ${from}`);
  }
  if (from === 1) await rebuildIndexes(kv);
  await kv.atomic().check({ key: HEAD_KEY, versionstamp: null }).set(HEAD_KEY, 0).commit();
  await kv.set(LAYOUT_KEY, LAYOUT_VERSION);
}

/**
 * Deletes every index entry, then sets them and the count again from the records. For a
 * store no other process is writing. A mark (`REBUILD_KEY`) is set before anything is
 * deleted and cleared in the write that sets the count, so a rebuild cut short is found
 * and finished by the next {@link prepareLayout}.
 */
export async function rebuildIndexes(kv: Deno.Kv): Promise<void> {
  await commitOrThrow(kv.atomic().set(REBUILD_KEY, { started: new Date().toISOString() }));
  for (const index of INDEXES) {
    let op = kv.atomic();
    let inBatch = 0;
    for await (const entry of kv.list({ prefix: index })) {
      op.delete(entry.key);
      if (++inBatch === 500) {
        await commitOrThrow(op);
        op = kv.atomic();
        inBatch = 0;
      }
    }
    await commitOrThrow(op);
  }
  let count = 0n;
  let op = kv.atomic();
  let inBatch = 0;
  for await (const entry of kv.list<StoredContact>({ prefix: CONTACTS })) {
    op.mutate(...indexSets(entry.value.id, fold(entry.value.name), contactTerms(entry.value)));
    count++;
    if (++inBatch === 4) {
      await commitOrThrow(op);
      op = kv.atomic();
      inBatch = 0;
    }
  }
  await commitOrThrow(op);
  // The count and the end of the mark together: one is never there without the other.
  await commitOrThrow(
    kv.atomic().set(COUNT_KEY, new Deno.KvU64(count)).delete(REBUILD_KEY),
  );
}

async function commitOrThrow(op: Deno.AtomicOperation): Promise<void> {
  const result = await op.commit();
  if (!result.ok) throw new Error("An index rebuild write failed its check");
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

/** The index entries one record implies, kept small while a check runs. */
interface Expected {
  /** Each entry's {@link signature}, one per line, with a newline before and after each. */
  signatures: string;
  /** How many entries that is. */
  count: number;
  /** How many of them were found. */
  seen: number;
}

/** At most this many problems are reported. */
const MAX_PROBLEMS = 100;

/**
 * Verifies that every index entry agrees with its record and the stored count with the
 * records. Each problem found is confirmed with one consistent read before it is reported,
 * so a write racing the check is not mistaken for damage. It holds, per contact, one short
 * string of the entries its record implies (not one map entry per index entry), and stops
 * when `options.signal` is aborted.
 *
 * @example An empty store is sound
 * ```ts
 * import { check } from "./maintenance.ts";
 * using kv = await Deno.openKv(":memory:");
 * const report = await check(kv);
 * if (!report.ok || report.contacts !== 0) throw new Error();
 * ```
 */
export async function check(kv: Deno.Kv, options: CheckOptions = {}): Promise<CheckReport> {
  const { signal } = options;
  signal?.throwIfAborted();
  const expected = new Map<string, Expected>();
  let contacts = 0;
  for await (const entry of kv.list<StoredContact>({ prefix: CONTACTS }, { batchSize: 500 })) {
    if (++contacts % 500 === 0) signal?.throwIfAborted();
    const signatures = new Set(
      recordIndexEntries(entry.value).map(([key, value]) => signature(key, value)),
    );
    expected.set(entry.value.id, {
      signatures: `\n${[...signatures].join("\n")}\n`,
      count: signatures.size,
      seen: 0,
    });
  }
  const problems: string[] = [];
  const confirm = async (key: Deno.KvKey) => {
    if (problems.length >= MAX_PROBLEMS) return;
    const problem = await confirmProblem(kv, key);
    // An entry holding the wrong value is met twice: in the scan, and as its record's missing one.
    if (problem && !problems.includes(problem)) problems.push(problem);
  };
  let indexEntriesSeen = 0;
  for (const index of INDEXES) {
    for await (const entry of kv.list<string | null>({ prefix: index }, { batchSize: 500 })) {
      if (++indexEntriesSeen % 500 === 0) signal?.throwIfAborted();
      const want = expected.get(indexedId(entry.key));
      if (want?.signatures.includes(`\n${signature(entry.key, entry.value)}\n`)) want.seen++;
      else await confirm(entry.key);
    }
  }
  // A record with fewer entries found than it implies: look for the missing ones.
  for (const [id, want] of expected) {
    if (want.seen === want.count) continue;
    if (problems.length >= MAX_PROBLEMS) break;
    signal?.throwIfAborted();
    const record = await kv.get<StoredContact>(contactKey(id));
    if (record.value === null) continue; // removed meanwhile: its entries went with it
    for (const [key] of recordIndexEntries(record.value)) await confirm(key);
  }
  // The count key itself, not the store's `count()`: with a view, that is the view's size.
  const stored = await storedCount(kv);
  if (stored !== contacts && await storedCount(kv) !== contacts) {
    problems.push(`The stored count is ${stored} but there are ${contacts} contacts`);
  }
  return { ok: problems.length === 0, contacts, indexEntries: indexEntriesSeen, problems };
}

/**
 * An index entry without its id (the key's last part), with its value: one line of text
 * (JSON escapes newlines), the same for the entry a record implies and the entry found.
 */
function signature(key: Deno.KvKey, value: string | null): string {
  return JSON.stringify([key.slice(0, -1), value], (_, v) => typeof v === "bigint" ? `${v}n` : v);
}

/** Re-reads an index entry and its record together; describes the damage, if real. */
async function confirmProblem(kv: Deno.Kv, key: Deno.KvKey): Promise<string | null> {
  const id = indexedId(key);
  const [index, record] = await kv.getMany<[string | null, StoredContact]>([
    key,
    contactKey(id),
  ]);
  const want = record.value === null ? undefined : new Map(
    recordIndexEntries(record.value).map(([k, v]) => [JSON.stringify(k), v]),
  ).get(JSON.stringify(key));
  const present = index.versionstamp !== null;
  if (want === undefined && present) return `Stray index entry ${JSON.stringify(key)}`;
  if (want !== undefined && !present) return `Missing index entry ${JSON.stringify(key)}`;
  if (want !== undefined && index.value !== want) {
    return `Index entry ${JSON.stringify(key)} holds ${JSON.stringify(index.value)}, ` +
      `not ${JSON.stringify(want)}`;
  }
  return null;
}
