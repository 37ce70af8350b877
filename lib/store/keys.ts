/**
 * The store's key layout on Deno KV. This is the only file that spells a key. Layout 4 keeps
 * only what the in-memory view (`contact_view.ts`) cannot rebuild: the records, the count,
 * the change log. Every read (`get`, `find`, `search`, `list`, `count`) is answered by the
 * view, built from the records at open.
 *
 * | key | value | what |
 * |---|---|---|
 * | `["meta", "layout"]` | number | the layout version ({@link LAYOUT_VERSION}) |
 * | `["meta", "count"]` | `Deno.KvU64` | the number of contacts (kept with every write; `check` compares it with the records) |
 * | `["meta", "epoch"]` | string | a random id made with the store; sync tokens name it, so a token of another store is never read against this one |
 * | `["meta", "rebuild"]` | `{ started: string }` | present only while a repair (`rebuildIndexes`, `maintenance.ts`) is under way |
 * | `["contacts", id]` | `StoredContact` (`../model/contact.ts`) | the record; its versionstamp is the contact's `version` |
 * | `["changes_head"]` | number | the seq of the last change logged (absent: 0) |
 * | `["changes", seq]` | `LoggedChange` (`change_log.ts`) | the change log: one entry per write, seq 1, 2, 3, ... |
 *
 * A write sets or deletes one record, sums the count and appends one log entry: 3 rows per
 * change (layout 3 also wrote a name row, a row per word and a row per phone: about 10).
 *
 * Every key stays within Deno KV's 2,048 bytes: a record's key is `contacts` and a
 * 26-character id; the log's, a number. Values: a record is capped by
 * `CONTACT_LIMITS.storedBytes` (KV's 65,536); a log entry holds a name (200 characters at
 * most) and at most 100 + 20 terms of 32 characters, well under it.
 *
 * Layout history: 1 held only `["contacts", id]` records; 2 added the indexes (the
 * {@link LEGACY_INDEXES} rows `["by_name", foldedName, id]`, `["by_word", word, id]`,
 * `["by_phone", digits, id]`) and the count; 3 added the change log; 4 dropped the indexes
 * (the view answers every read); 5 gave contacts org, title, nickname, birthday,
 * anniversary, urls and groups (records written before read with them empty; those whose
 * `extra.vcard` held them were rewritten with them as fields). Opening an older store migrates it, one step per layout
 * (`maintenance.ts`); a newer layout is refused (an older server would write rows this code
 * does not keep, or skip ones it needs).
 *
 * @module
 */

/** The key layout this code reads and writes. */
export const LAYOUT_VERSION = 5;

/** Holds the store's layout version, a number. */
export const LAYOUT_KEY: Deno.KvKey = ["meta", "layout"];
/** Holds the number of contacts, a `Deno.KvU64`. */
export const COUNT_KEY: Deno.KvKey = ["meta", "count"];
/** Holds the store's epoch, a random id made when the store is first opened. */
export const EPOCH_KEY: Deno.KvKey = ["meta", "epoch"];
/**
 * Present only while a repair (`rebuildIndexes`) is under way: set alone before it deletes
 * anything, deleted in the same atomic write as the count it ends with. Found at open, it
 * means a repair was interrupted: the count may be wrong and stray index rows may remain.
 */
export const REBUILD_KEY: Deno.KvKey = ["meta", "rebuild"];
/** Holds the seq of the last change logged, a number (absent: 0). */
export const HEAD_KEY: Deno.KvKey = ["changes_head"];
/** The prefix of the change log's entries, `["changes", seq]`. */
export const CHANGES: Deno.KvKey = ["changes"];
/** The prefix of the records, `["contacts", id]`. */
export const CONTACTS: Deno.KvKey = ["contacts"];

/**
 * The key prefixes of layout 2 and 3's index rows. Layout 4 writes none: the step from layout
 * 3 deletes them, and `check` reports any found as stray.
 */
export const LEGACY_INDEXES: readonly Deno.KvKey[] = [["by_name"], ["by_word"], ["by_phone"]];

/**
 * The key of the record of the contact with this id.
 *
 * @example
 * ```ts
 * import { contactKey } from "./keys.ts";
 * if (contactKey("01J0000000000000000000000B").join() !== "contacts,01J0000000000000000000000B") {
 *   throw new Error();
 * }
 * ```
 */
export function contactKey(id: string): Deno.KvKey {
  return ["contacts", id];
}

/** The key of the change-log entry numbered `seq`. */
export function changeKey(seq: number): Deno.KvKey {
  return ["changes", seq];
}

/** The seq of a change-log entry, from its key. */
export function seqOf(key: Deno.KvKey): number {
  return key[1] as number;
}
