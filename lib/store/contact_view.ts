/**
 * The in-memory view of the contacts, which answers every read of the store: each contact by
 * id, all of them in name order (`list`, and `find` by folded name; see `name_order.ts`), and
 * by word and phone-digit prefixes (`search`; see `prefix_index.ts`). Each contact is kept as
 * its JSON text only (its version included), from which a reply is assembled as it is; a
 * caller that wants the contact as an object gets one parsed from that text, frozen, with the
 * text attached as its {@link JSON_TEXT} (a page parses its contacts only if they are read).
 * An object per contact, with its strings and arrays, cost about twice the text it came from.
 *
 * The view holds no key layout and reads no KV: the store fills it from the records at start
 * (in one pass: {@link ContactView.startLoad} ... {@link ContactView.endLoad} sorts the name
 * order once), calls {@link ContactView.put} / {@link ContactView.delete} as each of its own
 * writes commits, in commit order, and, for a store that other processes write too, as it
 * reads their changes from the change log.
 *
 * @module
 */

import { type Contact, fillMissingFields, type StoredContact } from "../model/contact.ts";
import { SortedBlocks } from "./name_order.ts";
import { PrefixIndex } from "./prefix_index.ts";
import { JSON_TEXT, withJsonText } from "../protocol/jsonrpc.ts";
import { contactTerms, fold, type Query, type Terms } from "../model/search_terms.ts";

/** Most first `find` pages a view keeps (see `ContactView.keepFirstPage`). */
const MAX_FIRST_PAGES = 10_000;

/** A contact as the view holds it: frozen, with its JSON text attached. */
export type ViewContact = Readonly<Contact> & { readonly [JSON_TEXT]: string };

/** A page of contacts from the view, and the sort key `[foldedName, id]` of its last. */
export interface ViewPage {
  /** The JSON text of each contact, in order. */
  texts: string[];
  /** The contacts as objects, parsed from their texts (again at each call). */
  contacts(): ViewContact[];
  /** The last contact's sort key (for the cursor), null for an empty page. */
  last: [string, string] | null;
  /** Whether more follow. */
  more: boolean;
}

/**
 * The contacts of one store, in memory: by id, in name order (`[foldedName, id]` by code
 * points, KV's key order, which the cursors carry), and by word and phone-digit prefixes.
 *
 * @example Put, find by name, and delete
 * ```ts
 * import { ContactView } from "./contact_view.ts";
 * import { blankContact } from "../model/contact.ts";
 * import { JSON_TEXT } from "../protocol/jsonrpc.ts";
 * const view = new ContactView();
 * const bob = { id: "01J0000000000000000000000B", ...blankContact("Bob"),
 *   created: "2024-01-01T00:00:00.000Z", updated: "2024-01-01T00:00:00.000Z" };
 * const stored = view.put(bob, "00000000000000010000");
 * if (stored[JSON_TEXT] !== JSON.stringify(stored)) throw new Error();
 * if (view.find("bob", null, 10).contacts()[0]?.id !== bob.id) throw new Error();
 * view.delete(bob.id);
 * if (view.get(bob.id) !== undefined || view.size !== 0) throw new Error();
 * ```
 */
export class ContactView {
  readonly #byId = new Map<string, Entry>();
  /** Every entry, in name order. */
  readonly #order = new SortedBlocks<NameKey>(compareNames);
  /** While loading (see {@link startLoad}), the name order is built at the end, in one sort. */
  #loading = false;
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

  /** The contact with this id (parsed from its JSON text: a new frozen object), or undefined. */
  get(id: string): ViewContact | undefined {
    const entry = this.#byId.get(id);
    return entry === undefined ? undefined : parseHeld(entry.text);
  }

  /** The version of the contact with this id, or undefined (nothing is parsed). */
  version(id: string): string | undefined {
    const entry = this.#byId.get(id);
    return entry === undefined ? undefined : versionOf(entry.text);
  }

  /**
   * Starts a bulk load: the puts until {@link endLoad} skip the name order, which `endLoad`
   * then builds with one sort of every entry.
   */
  startLoad(): void {
    this.#loading = true;
    this.#words.startLoad();
    this.#phones.startLoad();
  }

  /** Ends a bulk load: sorts every entry into the name order. */
  endLoad(): void {
    if (!this.#loading) return;
    this.#loading = false;
    this.#order.build([...this.#byId.values()]);
    this.#words.endLoad();
    this.#phones.endLoad();
  }

  /**
   * Sets a contact as committed at `version` (replacing any earlier one with its id) and
   * returns it as a caller sees it: a frozen copy with its JSON text. `folded` and `terms`,
   * when given, must be `fold(stored.name)` and `contactTerms(stored)` (the store has them).
   */
  put(stored: StoredContact, version: string, folded?: string, terms?: Terms): ViewContact {
    const contact: Contact = { ...stored, version };
    const text = this.load(stored, version, folded, terms);
    return deepFreeze(withJsonText(contact, text)) as ViewContact;
  }

  /**
   * {@link put} without making the caller's copy (`stored` is not kept either): for filling
   * the view from records. Returns the contact's JSON text.
   */
  load(stored: StoredContact, version: string, folded?: string, terms?: Terms): string {
    const text = jsonWithVersion(stored, version);
    folded ??= fold(stored.name);
    terms ??= contactTerms(stored);
    const id = stored.id;
    this.#firstPages.delete(folded);
    let entry = this.#byId.get(id);
    if (entry === undefined) {
      const slot = this.#freeSlots.pop() ?? this.#slots.length;
      entry = new Entry(slot, id, text, folded, terms);
      this.#slots[slot] = entry;
      this.#byId.set(id, entry);
      if (!this.#loading) this.#order.insert(entry);
      for (const word of terms.words) this.#words.add(word, slot);
      for (const phone of terms.phones) this.#phones.add(phone, slot);
      return text;
    }
    // The same entry object stays filed under the terms it keeps.
    const before = entry.terms();
    refile(this.#words, entry.slot, before.words, terms.words);
    refile(this.#phones, entry.slot, before.phones, terms.phones);
    if (entry.folded !== folded) {
      this.#firstPages.delete(entry.folded);
      // Out of the name order under its old key, back in under its new one.
      if (!this.#loading) this.#order.delete(entry);
      entry.set(text, folded, terms);
      if (!this.#loading) this.#order.insert(entry);
    } else {
      entry.set(text, folded, terms);
    }
    return text;
  }

  /** Removes a contact; returns whether it was there. */
  delete(id: string): boolean {
    const old = this.#byId.get(id);
    if (old === undefined) return false;
    this.#byId.delete(id);
    this.#firstPages.delete(old.folded);
    if (!this.#loading) this.#order.delete(old);
    const before = old.terms();
    refile(this.#words, old.slot, before.words, []);
    refile(this.#phones, old.slot, before.phones, []);
    this.#slots[old.slot] = undefined;
    this.#freeSlots.push(old.slot);
    return true;
  }

  /**
   * A page of `search` results: contacts of which every query word prefix-matches one of
   * their words, together with (for a phone-like query) those whose phone digits start with
   * the query's digits; sorted by `[foldedName, id]` in code point order (UTF-8 byte order,
   * KV's key order, as layout 3's index rows gave them), after the key `after` (exclusive),
   * at most `limit`; `more` tells whether others follow.
   */
  search(
    query: Query,
    after: readonly [string, string] | null,
    limit: number,
  ): ViewPage {
    const top = new TopKeys(limit + 1, after);
    const slots = this.#slots;
    if (query.words.length > 0) {
      for (const slot of this.#matchAll(query.words)) {
        const entry = slots[slot]!;
        if (top.wants(entry)) top.add(entry);
      }
    }
    if (query.phone) {
      // Each of the query's phone terms (its digits, their canonical form, the digits
      // reversed for a match at the end of a number or a group) is a prefix to look up; a
      // contact filed under several of them is taken once (TopKeys.add).
      const terms = query.phoneTerms.length > 0 ? query.phoneTerms : [query.phone];
      for (const term of terms) {
        for (const list of this.#phones.lists(term)) {
          for (const slot of list) {
            const entry = slots[slot]!;
            if (top.wants(entry)) top.add(entry);
          }
        }
      }
    }
    return toPage(top.entries, limit);
  }

  /**
   * A page of every contact in name order (`list`): after the sort key `after` (exclusive;
   * null: from the first), at most `limit`.
   */
  list(after: readonly [string, string] | null, limit: number): ViewPage {
    const entries = after === null
      ? this.#order.first(limit + 1)
      : this.#order.after(probe(after[0], after[1]), limit + 1);
    return toPage(entries as Entry[], limit);
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
   * Contacts whose folded name is `folded`, sorted by id, after `afterId` (exclusive), at
   * most `limit`; `more` tells whether others follow.
   */
  find(folded: string, afterId: string | null, limit: number): ViewPage {
    const entries = afterId === null
      ? this.#order.from(probe(folded, ""), limit + 1)
      : this.#order.after(probe(folded, afterId), limit + 1);
    let n = 0;
    while (n < entries.length && entries[n]!.folded === folded) n++;
    entries.length = n;
    return toPage(entries as Entry[], limit);
  }

  /**
   * How the entry for `record` differs from what the record implies (as a fresh view would
   * hold it: its version, folded name, terms, and its place in the name order), or null
   * when it agrees. For `check`.
   */
  audit(stored: StoredContact, version: string): string | null {
    // As the store reads it: a record written before layout 5 with the newer fields empty.
    const record = fillMissingFields(stored);
    const id = JSON.stringify(record.id);
    const entry = this.#byId.get(record.id);
    if (entry === undefined) return `The view lacks contact ${id}, which has a record`;
    const held = versionOf(entry.text);
    if (held !== version) {
      return `The view holds contact ${id} at version ${held}, its record is at ${version}`;
    }
    const folded = fold(record.name), terms = contactTerms(record);
    if (entry.folded !== folded) {
      return `The view files contact ${id} under the name ${JSON.stringify(entry.folded)}, ` +
        `its record under ${JSON.stringify(folded)}`;
    }
    const filed = entry.terms();
    if (!sameTerms(filed.words, terms.words) || !sameTerms(filed.phones, terms.phones)) {
      return `The view's search terms of contact ${id} differ from its record's`;
    }
    if (entry.text !== JSON.stringify({ ...record, version })) {
      return `The view's copy of contact ${id} differs from its record`;
    }
    if (!this.#loading && this.#order.from(entry, 1)[0] !== entry) {
      return `The view's name order has lost contact ${id}`;
    }
    return null;
  }

  /** The ids of every contact held (for `check`: those without a record are damage). */
  ids(): IterableIterator<string> {
    return this.#byId.keys();
  }

  /**
   * Checks the view's own structures against its entries: the name order sorted and holding
   * every entry once, each term index holding every entry under exactly its terms. Returns a
   * description of each disagreement (at most `max`) and how many index entries it compared.
   */
  verify(max: number): { problems: string[]; entries: number } {
    const problems: string[] = [];
    const order = this.#order;
    if (!this.#loading && (!order.sound() || order.size !== this.#byId.size)) {
      problems.push(
        `The view's name order holds ${order.size} contacts, not the ${this.#byId.size} it has, ` +
          "or is out of order",
      );
    }
    let entries = order.size;
    const termsOf = this.#slots.map((entry) => entry?.terms());
    for (const [index, terms] of [[this.#words, "words"], [this.#phones, "phones"]] as const) {
      const filed = new Uint32Array(this.#slots.length);
      index.forEach((term, slot) => {
        entries++;
        if (termsOf[slot]?.[terms].includes(term)) filed[slot]!++;
        else if (problems.length < max) {
          problems.push(
            `The view's ${terms} index files ${JSON.stringify(term)} for no contact that has it`,
          );
        }
      });
      for (const entry of this.#byId.values()) {
        if (filed[entry.slot] !== termsOf[entry.slot]![terms].length && problems.length < max) {
          problems.push(
            `The view's ${terms} index misses terms of contact ${JSON.stringify(entry.id)}`,
          );
        }
      }
    }
    return { problems, entries };
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
}

/** A sort key of the name order: a folded name, then an id. */
interface NameKey {
  readonly folded: string;
  readonly id: string;
  /** True when `folded` has no surrogates: then `<` on it is code point order. */
  readonly plain: boolean;
}

/** One contact as the view holds it, with what `search` needs precomputed. */
class Entry implements NameKey {
  readonly slot: number;
  readonly id: string;
  /** The contact's JSON text, its version last (see `jsonWithVersion`). */
  text!: string;
  folded!: string;
  /**
   * The terms the contact is filed under, in one string (the words, a tab, the phone terms;
   * each list joined by newlines, which no term holds): one string instead of two arrays of
   * strings per contact, split again only when the contact changes or is checked.
   */
  #terms!: string;
  plain!: boolean;

  constructor(slot: number, id: string, text: string, folded: string, terms: Terms) {
    this.slot = slot;
    this.id = id;
    this.set(text, folded, terms);
  }

  /** The terms it is filed under. */
  terms(): Terms {
    const tab = this.#terms.indexOf("\t");
    const words = this.#terms.slice(0, tab), phones = this.#terms.slice(tab + 1);
    return {
      words: words === "" ? [] : words.split("\n"),
      phones: phones === "" ? [] : phones.split("\n"),
    };
  }

  set(text: string, folded: string, terms: Terms): void {
    this.text = text;
    this.folded = folded;
    this.#terms = terms.words.join("\n") + "\t" + terms.phones.join("\n");
    this.plain = !SURROGATE.test(folded);
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** A sort key to look up in the name order. */
function probe(folded: string, id: string): NameKey {
  return { folded, id, plain: !SURROGATE.test(folded) };
}

/**
 * Orders sort keys by folded name, then id, each by code points (UTF-8 bytes): `<` on plain
 * names, which is the same order and quicker.
 */
function compareNames(a: NameKey, b: NameKey): number {
  if (a.folded !== b.folded) {
    if (a.plain && b.plain) return a.folded < b.folded ? -1 : 1;
    return compareCodePoints(a.folded, b.folded);
  }
  return compareCodePoints(a.id, b.id);
}

/** The first `limit` of `entries` as a page; `more` if there were more. */
function toPage(entries: Entry[], limit: number): ViewPage {
  const more = entries.length > limit;
  const n = Math.min(limit, entries.length);
  const texts: string[] = new Array(n);
  for (let i = 0; i < n; i++) texts[i] = entries[i]!.text;
  const last = entries[n - 1];
  return {
    texts,
    contacts: () => texts.map(parseHeld),
    last: last === undefined ? null : [last.folded, last.id],
    more,
  };
}

/**
 * `JSON.stringify({ ...stored, version })` with the version last (where a record without one,
 * as every record is, puts it), so that {@link versionOf} finds it from the end.
 */
function jsonWithVersion(stored: StoredContact, version: string): string {
  if ("version" in stored) {
    const copy: Record<string, unknown> = { ...stored };
    delete copy.version;
    return jsonWithVersion(copy as unknown as StoredContact, version);
  }
  const text = JSON.stringify(stored);
  return `${text.slice(0, -1)}${text.length > 2 ? "," : ""}"version":${JSON.stringify(version)}}`;
}

const VERSION_AT = '"version":"';

/** The version in a contact's JSON text as the view keeps it (its last member). */
function versionOf(text: string): string {
  const at = text.lastIndexOf(VERSION_AT) + VERSION_AT.length;
  return text.slice(at, text.indexOf('"', at));
}

/** A contact parsed from its JSON text, frozen, with the text attached. */
function parseHeld(text: string): ViewContact {
  return deepFreeze(withJsonText(JSON.parse(text), text)) as ViewContact;
}

/** Whether two lists of terms hold the same terms. */
function sameTerms(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((term) => set.has(term));
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
  readonly #after: NameKey | null;

  constructor(size: number, after: readonly [string, string] | null) {
    this.#size = size;
    this.#after = after === null ? null : probe(after[0], after[1]);
  }

  /** Whether `entry` sorts after the cursor and before the current last of a full page. */
  wants(entry: Entry): boolean {
    const entries = this.entries;
    if (entries.length === this.#size && compareNames(entry, entries[entries.length - 1]!) >= 0) {
      return false;
    }
    return this.#after === null || compareNames(entry, this.#after) > 0;
  }

  /** Adds an entry that {@link TopKeys.wants} accepted (a second add of it does nothing). */
  add(entry: Entry): void {
    const entries = this.entries;
    let low = 0, high = entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (compareNames(entries[mid]!, entry) < 0) low = mid + 1;
      else high = mid;
    }
    if (entries[low] === entry) return; // found before, through another term
    entries.splice(low, 0, entry);
    if (entries.length > this.#size) entries.pop();
  }
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
