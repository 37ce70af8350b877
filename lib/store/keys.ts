/**
 * The store's key layout on Deno KV. This is the only file that spells a key:
 *
 * | key | value | what |
 * |---|---|---|
 * | `["meta", "layout"]` | number | the layout version ({@link LAYOUT_VERSION}) |
 * | `["meta", "count"]` | `Deno.KvU64` | the number of contacts |
 * | `["meta", "rebuild"]` | `{ started: string }` | present only while an index rebuild is under way (`maintenance.ts`) |
 * | `["contacts", id]` | {@link StoredContact} | the record; its versionstamp is the contact's `version` |
 * | `["by_name", foldedName, id]` | null | find by exact name (folded), list sorted by name |
 * | `["by_word", word, id]` | foldedName | word-prefix search over name, town, street, emails |
 * | `["by_phone", digits, id]` | foldedName | phone search by digits |
 * | `["changes_head"]` | number | the seq of the last change logged (absent: 0) |
 * | `["changes", seq]` | `LoggedChange` (`change_log.ts`) | the change log: one entry per write, seq 1, 2, 3, ... |
 *
 * Every key stays within Deno KV's 2,048 bytes for any contact `validateContact` accepts: a
 * folded name is at most `CONTACT_LIMITS.foldedNameBytes` (2,000) bytes of UTF-8 and its key
 * adds 39 (a tag and a terminator per part, `by_name`, a 26-character id); a word is at most
 * `MAX_TERM_LENGTH` (32) characters, 128 bytes; phone digits 32. `keys_test.ts` writes the
 * largest. Values: a record is capped by `CONTACT_LIMITS.storedBytes` (KV's 65,536).
 *
 * Layout history: 1 held only `["contacts", id]` records; 2 added the indexes and the
 * count; 3 added the change log. Opening a layout-1 or layout-2 store migrates it; a newer
 * layout is refused (a layout-2 server would write without logging, so it must not open a
 * layout-3 store). See `maintenance.ts`.
 *
 * @module
 */

import type { StoredContact } from "../model/contact.ts";
import { contactTerms, fold, type Terms } from "../model/search_terms.ts";

/** The key layout this code reads and writes. */
export const LAYOUT_VERSION = 3;

/** Holds the store's layout version, a number. */
export const LAYOUT_KEY: Deno.KvKey = ["meta", "layout"];
/** Holds the number of contacts, a `Deno.KvU64`. */
export const COUNT_KEY: Deno.KvKey = ["meta", "count"];
/**
 * Present only while an index rebuild is under way: set alone before the rebuild deletes
 * anything, deleted in the same atomic write as the count it ends with. Found at open, it
 * means a rebuild was interrupted and the indexes may be half built.
 */
export const REBUILD_KEY: Deno.KvKey = ["meta", "rebuild"];
/** Holds the seq of the last change logged, a number (absent: 0). */
export const HEAD_KEY: Deno.KvKey = ["changes_head"];
/** The prefix of the change log's entries, `["changes", seq]`. */
export const CHANGES: Deno.KvKey = ["changes"];
/** The prefix of the records, `["contacts", id]`. */
export const CONTACTS: Deno.KvKey = ["contacts"];

/** The key prefix of each index: every index entry's key starts with one of these. */
export const INDEXES: readonly Deno.KvKey[] = [["by_name"], ["by_word"], ["by_phone"]];

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

/** The prefix of the name index: all of it, or the entries of one folded name. */
export function namePrefix(folded?: string): Deno.KvKey {
  return folded === undefined ? ["by_name"] : ["by_name", folded];
}

/** The name index's key for a sort key `[foldedName, id]`. */
export function nameKey(folded: string, id: string): Deno.KvKey {
  return ["by_name", folded, id];
}

/** The sort key `[foldedName, id]` of a name index entry, from its key. */
export function nameSortKey(key: Deno.KvKey): [string, string] {
  return [key[1] as string, key[2] as string];
}

/** The range of the word index entries whose word starts with `prefix`. */
export function wordRange(prefix: string): { start: Deno.KvKey; end: Deno.KvKey } {
  return termRange("by_word", prefix);
}

/** The range of the phone index entries whose digits start with `prefix`. */
export function phoneRange(prefix: string): { start: Deno.KvKey; end: Deno.KvKey } {
  return termRange("by_phone", prefix);
}

function termRange(
  index: "by_word" | "by_phone",
  prefix: string,
): { start: Deno.KvKey; end: Deno.KvKey } {
  return { start: [index, prefix], end: [index, prefix + "\u{10FFFF}"] };
}

/** The contact id an index entry is filed for: its key's last part. */
export function indexedId(key: Deno.KvKey): string {
  return key[key.length - 1] as string;
}

/**
 * Every index entry of a contact (`name` folded), with its value.
 *
 * @example
 * ```ts
 * import { indexEntries } from "./keys.ts";
 * const entries = indexEntries("01J0000000000000000000000B", "bob", {
 *   words: ["bob"],
 *   phones: ["555"],
 * });
 * if (entries.length !== 3 || entries[0]?.[1] !== null || entries[2]?.[1] !== "bob") {
 *   throw new Error();
 * }
 * ```
 */
export function indexEntries(
  id: string,
  name: string,
  terms: Terms,
): Array<[Deno.KvKey, string | null]> {
  return [
    [["by_name", name, id], null],
    ...terms.words.map((w): [Deno.KvKey, string] => [["by_word", w, id], name]),
    ...terms.phones.map((p): [Deno.KvKey, string] => [["by_phone", p, id], name]),
  ];
}

/** Every index entry a record implies, with its value. */
export function recordIndexEntries(contact: StoredContact): Array<[Deno.KvKey, string | null]> {
  return indexEntries(contact.id, fold(contact.name), contactTerms(contact));
}

/** The mutations that set a contact's index entries. */
export function indexSets(id: string, name: string, terms: Terms): Deno.KvMutation[] {
  return indexEntries(id, name, terms).map(([key, value]) => ({ type: "set", key, value }));
}

/** Deletes a contact's index entries; with `keep`, only those that `keep` will not set again. */
export function indexDeletes(
  id: string,
  name: string,
  terms: Terms,
  keep?: { name: string; terms: Terms },
): Deno.KvMutation[] {
  const out: Deno.KvMutation[] = [];
  if (keep?.name !== name) out.push({ type: "delete", key: ["by_name", name, id] });
  const keepWords = new Set(keep?.terms.words), keepPhones = new Set(keep?.terms.phones);
  for (const word of terms.words) {
    if (!keepWords.has(word)) out.push({ type: "delete", key: ["by_word", word, id] });
  }
  for (const phone of terms.phones) {
    if (!keepPhones.has(phone)) out.push({ type: "delete", key: ["by_phone", phone, id] });
  }
  return out;
}
