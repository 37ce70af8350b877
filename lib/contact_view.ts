/**
 * A write-through in-memory view of the contacts: every contact by id, and the ids under
 * each folded name, so that `get` and `find` are answered without a KV round trip. Each
 * contact is kept frozen, with its serialized JSON (and so its version) attached as its
 * {@link JSON_TEXT}, so a reply is assembled from stored text, not re-stringified.
 *
 * The view holds no key layout and reads no KV: the store fills it from KV at start and
 * calls {@link ContactView.put} / {@link ContactView.delete} as each of its writes commits,
 * in commit order. That keeps it exact only while this process is the only writer of the
 * store, which holds for a KV file or `:memory:` (one server process owns a file); for a
 * KV Connect URL, which other servers may write, the store does not use a view.
 *
 * @module
 */

import type { Contact, StoredContact } from "./contact.ts";
import { PrefixIndex } from "./prefix_index.ts";
import { JSON_TEXT, withJsonText } from "./protocol.ts";
import { contactTerms, fold, type Query, type Terms } from "./search_terms.ts";

/** A contact as the view holds it: frozen, with its JSON text attached. */
export type ViewContact = Readonly<Contact> & { readonly [JSON_TEXT]: string };

/**
 * The contacts of one store, in memory, with the same lookups as the store's KV indexes:
 * by folded name, and by word and phone-digit prefixes (for `search`).
 *
 * @example Put, find by name, and delete
 * ```ts
 * import { ContactView } from "./contact_view.ts";
 * import { JSON_TEXT } from "./protocol.ts";
 * const view = new ContactView();
 * const bob = { id: "01J0000000000000000000000B", name: "Bob", house: "", street: "", town: "",
 *   postcode: "", phones: [], emails: [], notes: "", uid: "", extra: {},
 *   created: "2024-01-01T00:00:00.000Z", updated: "2024-01-01T00:00:00.000Z" };
 * const stored = view.put(bob, "00000000000000010000");
 * if (stored[JSON_TEXT] !== JSON.stringify(stored)) throw new Error();
 * if (view.find("bob", null, 10).ids[0] !== bob.id) throw new Error();
 * view.delete(bob.id);
 * if (view.get(bob.id) !== undefined || view.size !== 0) throw new Error();
 * ```
 */
export class ContactView {
  readonly #byId = new Map<string, Entry>();
  /** Folded name -> ids, sorted. */
  readonly #byName = new Map<string, string[]>();
  /** Each contact's index words (`contactTerms`) and phone digits -> ids. */
  readonly #words = new PrefixIndex();
  readonly #phones = new PrefixIndex();

  /** Number of contacts held. */
  get size(): number {
    return this.#byId.size;
  }

  /** The contact with this id, or undefined. */
  get(id: string): ViewContact | undefined {
    return this.#byId.get(id)?.contact;
  }

  /**
   * Sets a contact as committed at `version` (replacing any earlier one with its id) and
   * returns it as held: a frozen copy with its JSON text. `folded` and `terms`, when given,
   * must be `fold(stored.name)` and `contactTerms(stored)` (the store has them already).
   */
  put(stored: StoredContact, version: string, folded?: string, terms?: Terms): ViewContact {
    const contact: Contact = { ...stored, version };
    const held = deepFreeze(withJsonText(contact, JSON.stringify(contact))) as ViewContact;
    folded ??= fold(stored.name);
    terms ??= contactTerms(stored);
    const id = stored.id;
    const old = this.#byId.get(id);
    this.#byId.set(id, { contact: held, folded, words: terms.words, phones: terms.phones });
    if (old?.folded !== folded) {
      if (old) this.#unlink(old.folded, id);
      const ids = this.#byName.get(folded);
      if (ids === undefined) this.#byName.set(folded, [id]);
      else ids.splice(insertionPoint(ids, id), 0, id);
    }
    refile(this.#words, id, old?.words ?? [], terms.words);
    refile(this.#phones, id, old?.phones ?? [], terms.phones);
    return held;
  }

  /** Removes a contact; returns what was held, if anything. */
  delete(id: string): ViewContact | undefined {
    const old = this.#byId.get(id);
    if (old === undefined) return undefined;
    this.#byId.delete(id);
    this.#unlink(old.folded, id);
    refile(this.#words, id, old.words, []);
    refile(this.#phones, id, old.phones, []);
    return old.contact;
  }

  /**
   * A page of `search` results, exactly as the store's KV indexes give them: contacts of
   * which every query word prefix-matches one of their words, together with (for a
   * phone-like query) those whose phone digits start with the query's digits; sorted by
   * `[foldedName, id]` in UTF-8 byte order (KV's key order), after the key `after`
   * (exclusive), at most `limit`; `more` tells whether others follow. Returns the sort key
   * of each contact given.
   */
  search(
    query: Query,
    after: readonly [string, string] | null,
    limit: number,
  ): { keys: Array<[string, string]>; more: boolean } {
    const top = new TopKeys(limit + 1, after);
    if (query.words.length > 0) {
      // Candidates come from the query word with the fewest ids; the others are checked
      // against each candidate's own words.
      let best: string[][] | undefined, bestWord = "", bestSize = Infinity;
      for (const word of query.words) {
        const lists = this.#words.lists(word);
        let size = 0;
        for (const ids of lists) size += ids.length;
        if (size < bestSize) {
          best = lists;
          bestWord = word;
          bestSize = size;
        }
        if (size === 0) break;
      }
      const others = query.words.filter((word) => word !== bestWord);
      for (const ids of best ?? []) {
        for (const id of ids) {
          const entry = this.#byId.get(id)!;
          if (others.length === 0 || others.every((word) => hasPrefix(entry.words, word))) {
            top.offer(entry);
          }
        }
      }
    }
    if (query.phone) {
      for (const ids of this.#phones.lists(query.phone)) {
        for (const id of ids) top.offer(this.#byId.get(id)!);
      }
    }
    const entries = top.entries;
    const more = entries.length > limit;
    if (more) entries.length = limit;
    return { keys: entries.map((e): [string, string] => [e.folded, e.contact.id]), more };
  }

  /**
   * Ids of contacts whose folded name is `folded`, sorted, after `afterId` (exclusive), at
   * most `limit`; `more` tells whether others follow.
   */
  find(folded: string, afterId: string | null, limit: number): { ids: string[]; more: boolean } {
    const ids = this.#byName.get(folded);
    if (ids === undefined) return { ids: [], more: false };
    let start = 0;
    if (afterId !== null) {
      start = insertionPoint(ids, afterId);
      if (ids[start] === afterId) start++;
    }
    return { ids: ids.slice(start, start + limit), more: start + limit < ids.length };
  }

  #unlink(folded: string, id: string): void {
    const ids = this.#byName.get(folded);
    if (ids === undefined) return;
    const at = insertionPoint(ids, id);
    if (ids[at] === id) ids.splice(at, 1);
    if (ids.length === 0) this.#byName.delete(folded);
  }
}

interface Entry {
  contact: ViewContact;
  folded: string;
  words: string[];
  phones: string[];
}

/** Moves `id` in `index` from the terms `before` to the terms `after`. */
function refile(index: PrefixIndex, id: string, before: string[], after: string[]): void {
  if (before.length === 0) {
    for (const term of after) index.add(term, id);
    return;
  }
  const keep = new Set(after);
  for (const term of before) if (!keep.delete(term)) index.remove(term, id);
  for (const term of keep) index.add(term, id);
}

function hasPrefix(terms: string[], prefix: string): boolean {
  for (const term of terms) if (term.startsWith(prefix)) return true;
  return false;
}

/**
 * The `size` least entries offered, by `[folded, id]`, each once, only those after `after`.
 * Offering n entries costs O(n) comparisons with the current largest, plus an insertion for
 * the few that beat it.
 */
class TopKeys {
  readonly entries: Entry[] = [];
  readonly #size: number;
  readonly #after: readonly [string, string] | null;

  constructor(size: number, after: readonly [string, string] | null) {
    this.#size = size;
    this.#after = after;
  }

  offer(entry: Entry): void {
    const entries = this.entries;
    const last = entries[entries.length - 1];
    if (entries.length === this.#size && compareEntries(entry, last!) >= 0) return;
    const after = this.#after;
    if (
      after !== null &&
      (compareCodePoints(entry.folded, after[0]) ||
          compareCodePoints(entry.contact.id, after[1])) <=
        0
    ) return;
    let low = 0, high = entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareEntries(entries[mid]!, entry) < 0) low = mid + 1;
      else high = mid;
    }
    if (entries[low] === entry) return; // offered before, through another term
    entries.splice(low, 0, entry);
    if (entries.length > this.#size) entries.pop();
  }
}

function compareEntries(a: Entry, b: Entry): number {
  return (a.folded === b.folded ? 0 : compareCodePoints(a.folded, b.folded)) ||
    compareCodePoints(a.contact.id, b.contact.id);
}

/**
 * Compares strings in the order of their UTF-8 bytes (KV's key order, and the store's
 * `compareKeys`), which differs from `<` (UTF-16 code units) only for characters above
 * U+FFFF; strings with unpaired surrogates are compared by their `TextEncoder` bytes.
 *
 * @example
 * ```ts
 * import { compareCodePoints } from "./contact_view.ts";
 * if (!(compareCodePoints("a", "b") < 0)) throw new Error();
 * // U+1F600 is above U+FFFD in code point order, below it in UTF-16 units
 * if (!(compareCodePoints("\u{1F600}", "\uFFFD") > 0)) throw new Error();
 * ```
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    if (x < 0xd800 || y < 0xd800) return x - y;
    return compareBytes(a, b);
  }
  return a.length - b.length;
}

const encoder = new TextEncoder();

function compareBytes(a: string, b: string): number {
  const x = encoder.encode(a), y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** Where `id` is, or would go, in the sorted `ids` (ids are ASCII: `<` is byte order). */
function insertionPoint(ids: string[], id: string): number {
  let low = 0, high = ids.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (ids[mid]! < id) low = mid + 1;
    else high = mid;
  }
  return low;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
