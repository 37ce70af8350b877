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

import type { Contact, StoredContact } from "../model/contact.ts";
import { lowerBound, PrefixIndex } from "./prefix_index.ts";
import { JSON_TEXT, withJsonText } from "../protocol/jsonrpc.ts";
import { contactTerms, fold, type Query, type Terms } from "../model/search_terms.ts";

/** Most first `find` pages a view keeps (see `ContactView.keepFirstPage`). */
const MAX_FIRST_PAGES = 10_000;

/** A contact as the view holds it: frozen, with its JSON text attached. */
export type ViewContact = Readonly<Contact> & { readonly [JSON_TEXT]: string };

/**
 * The contacts of one store, in memory, with the same lookups as the store's KV indexes:
 * by folded name, and by word and phone-digit prefixes (for `search`).
 *
 * @example Put, find by name, and delete
 * ```ts
 * import { ContactView } from "./contact_view.ts";
 * import { JSON_TEXT } from "../protocol/jsonrpc.ts";
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
  /** Folded name -> ids, sorted (ids are ASCII: `<` is byte order, as in KV). */
  readonly #byName = new Map<string, string[]>();
  /**
   * Each entry has a slot, a small integer: the word and phone indexes file slots (arrays of
   * small integers, which a search walks without touching the entries).
   */
  readonly #slots: Array<Entry | undefined> = [];
  readonly #freeSlots: number[] = [];
  /** Each contact's index words (`contactTerms`) and phone digits -> its slot. */
  readonly #words = new PrefixIndex<number>();
  readonly #phones = new PrefixIndex<number>();
  /** Per slot, how many query words it has matched so far (all zero between searches). */
  #matched = new Uint32Array(1024);
  /**
   * The first `find` page of a folded name, as the store last built it (see
   * {@link firstPage}); dropped whenever a contact is put under, or leaves, that name.
   */
  readonly #firstPages = new Map<string, { limit: number; page: object }>();

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
    this.#firstPages.delete(folded);
    let entry = this.#byId.get(id);
    if (entry === undefined) {
      const slot = this.#freeSlots.pop() ?? this.#slots.length;
      entry = new Entry(slot, held, folded, terms);
      this.#slots[slot] = entry;
      this.#byId.set(id, entry);
      this.#link(folded, id);
      for (const word of terms.words) this.#words.add(word, slot);
      for (const phone of terms.phones) this.#phones.add(phone, slot);
      return held;
    }
    // The same entry object stays filed under the terms it keeps.
    if (entry.folded !== folded) {
      this.#firstPages.delete(entry.folded);
      this.#unlink(entry.folded, id);
      this.#link(folded, id);
    }
    refile(this.#words, entry.slot, entry.words, terms.words);
    refile(this.#phones, entry.slot, entry.phones, terms.phones);
    entry.set(held, folded, terms);
    return held;
  }

  /** Removes a contact; returns what was held, if anything. */
  delete(id: string): ViewContact | undefined {
    const old = this.#byId.get(id);
    if (old === undefined) return undefined;
    this.#byId.delete(id);
    this.#firstPages.delete(old.folded);
    this.#unlink(old.folded, id);
    refile(this.#words, old.slot, old.words, []);
    refile(this.#phones, old.slot, old.phones, []);
    this.#slots[old.slot] = undefined;
    this.#freeSlots.push(old.slot);
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
    const slots = this.#slots;
    if (query.words.length > 0) {
      for (const slot of this.#matchAll(query.words)) {
        const entry = slots[slot]!;
        if (top.wants(entry)) top.add(entry);
      }
    }
    if (query.phone) {
      for (const list of this.#phones.lists(query.phone)) {
        for (const slot of list) {
          const entry = slots[slot]!;
          if (top.wants(entry)) top.add(entry);
        }
      }
    }
    const entries = top.entries;
    const more = entries.length > limit;
    if (more) entries.length = limit;
    return { keys: entries.map((e): [string, string] => [e.folded, e.contact.id]), more };
  }

  /**
   * The first page of `find` for `folded` with this `limit`, if one was kept with
   * {@link keepFirstPage} and no contact under that name changed since: every `put` and
   * `delete` drops the pages of the names the contact had and has.
   */
  firstPage(folded: string, limit: number): object | undefined {
    const kept = this.#firstPages.get(folded);
    return kept !== undefined && kept.limit === limit ? kept.page : undefined;
  }

  /**
   * Keeps `page` (frozen by the caller: it is handed out again) as the first `find` page of
   * `folded` with this `limit`. At most `MAX_FIRST_PAGES` are kept; past that, all are
   * dropped and the cache fills again.
   */
  keepFirstPage(folded: string, limit: number, page: object): void {
    if (this.#firstPages.size >= MAX_FIRST_PAGES) this.#firstPages.clear();
    this.#firstPages.set(folded, { limit, page });
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
      start = lowerBound(ids, afterId);
      if (ids[start] === afterId) start++;
    }
    return { ids: ids.slice(start, start + limit), more: start + limit < ids.length };
  }

  /**
   * The slots of contacts of which every word in `words` prefix-matches one of their words.
   * Each word's slots are counted in `#matched`, from the word with the fewest slots: a slot
   * counts for word j only if it counted for the j words before, so it is counted once per
   * word even when it is under several terms with the prefix. The counts are zeroed again
   * before returning.
   */
  #matchAll(words: string[]): number[] {
    const lists = words.map((word) => this.#words.lists(word));
    const sizes = lists.map((l) => l.reduce((n, slots) => n + slots.length, 0));
    const order = lists.map((_, i) => i).sort((a, b) => sizes[a]! - sizes[b]!);
    if (sizes[order[0]!] === 0) return [];
    if (this.#matched.length < this.#slots.length) {
      this.#matched = new Uint32Array(Math.max(this.#slots.length, this.#matched.length * 2));
    }
    const matched = this.#matched;
    const found: number[] = [];
    const last = order.length - 1;
    for (let j = 0; j <= last; j++) {
      for (const slots of lists[order[j]!]!) {
        for (const slot of slots) {
          if (matched[slot] !== j) continue;
          matched[slot] = j + 1;
          if (j === last) found.push(slot);
        }
      }
    }
    for (const slots of lists[order[0]!]!) for (const slot of slots) matched[slot] = 0;
    return found;
  }

  #link(folded: string, id: string): void {
    const ids = this.#byName.get(folded);
    if (ids === undefined) this.#byName.set(folded, [id]);
    else ids.splice(lowerBound(ids, id), 0, id);
  }

  #unlink(folded: string, id: string): void {
    const ids = this.#byName.get(folded);
    if (ids === undefined) return;
    const at = lowerBound(ids, id);
    if (ids[at] === id) ids.splice(at, 1);
    if (ids.length === 0) this.#byName.delete(folded);
  }
}

/** One contact as the view holds it, with what `search` needs precomputed. */
class Entry {
  readonly slot: number;
  contact!: ViewContact;
  folded!: string;
  words!: string[];
  phones!: string[];
  /** `folded \0 id`, whose `<` order is KV's `[folded, id]` order when `plain`. */
  sortKey!: string;
  plain!: boolean;

  constructor(slot: number, contact: ViewContact, folded: string, terms: Terms) {
    this.slot = slot;
    this.set(contact, folded, terms);
  }

  set(contact: ViewContact, folded: string, terms: Terms): void {
    this.contact = contact;
    this.folded = folded;
    this.words = terms.words;
    this.phones = terms.phones;
    this.sortKey = folded + "\0" + contact.id;
    this.plain = isPlain(this.sortKey);
  }
}

/**
 * Whether `<` on `name \0 id` orders like KV's `[name, id]`: no NUL inside (it would break
 * the separator's order) and no surrogates (UTF-16 order differs from UTF-8 order only
 * for characters above U+FFFF).
 */
function isPlain(key: string): boolean {
  return key.indexOf("\0") === key.lastIndexOf("\0") && !/[\uD800-\uDFFF]/.test(key);
}

/** Moves `slot` in `index` from the terms `before` to the terms `after`. */
function refile(index: PrefixIndex<number>, slot: number, before: string[], after: string[]): void {
  const keep = new Set(after);
  for (const term of before) if (!keep.delete(term)) index.remove(term, slot);
  for (const term of keep) index.add(term, slot);
}

/**
 * The `size` least entries added, by `[folded, id]`, each once, only those after `after`.
 * {@link TopKeys.wants} tells in one comparison (usually) whether an entry could enter, so
 * that a caller can skip checking most candidates.
 */
class TopKeys {
  readonly entries: Entry[] = [];
  readonly #size: number;
  readonly #after: readonly [string, string] | null;
  readonly #afterKey: string | null;

  constructor(size: number, after: readonly [string, string] | null) {
    this.#size = size;
    this.#after = after;
    const key = after === null ? null : after[0] + "\0" + after[1];
    this.#afterKey = key !== null && isPlain(key) ? key : null;
  }

  /** Whether `entry` sorts after the cursor and before the current last of a full page. */
  wants(entry: Entry): boolean {
    const entries = this.entries;
    if (entries.length === this.#size && !less(entry, entries[entries.length - 1]!)) {
      return false;
    }
    const after = this.#after;
    if (after === null) return true;
    if (this.#afterKey !== null && entry.plain) return entry.sortKey > this.#afterKey;
    return (compareCodePoints(entry.folded, after[0]) ||
      compareCodePoints(entry.contact.id, after[1])) > 0;
  }

  /** Adds an entry that {@link TopKeys.wants} accepted (a second add of it does nothing). */
  add(entry: Entry): void {
    const entries = this.entries;
    let low = 0, high = entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (less(entries[mid]!, entry)) low = mid + 1;
      else high = mid;
    }
    if (entries[low] === entry) return; // found before, through another term
    entries.splice(low, 0, entry);
    if (entries.length > this.#size) entries.pop();
  }
}

function less(a: Entry, b: Entry): boolean {
  if (a.plain && b.plain) return a.sortKey < b.sortKey;
  return ((a.folded === b.folded ? 0 : compareCodePoints(a.folded, b.folded)) ||
    compareCodePoints(a.contact.id, b.contact.id)) < 0;
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

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}
