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
import { JSON_TEXT, withJsonText } from "./protocol.ts";
import { fold } from "./search_terms.ts";

/** A contact as the view holds it: frozen, with its JSON text attached. */
export type ViewContact = Readonly<Contact> & { readonly [JSON_TEXT]: string };

/**
 * The contacts of one store, in memory.
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
  readonly #byId = new Map<string, { contact: ViewContact; folded: string }>();
  /** Folded name -> ids, sorted. */
  readonly #byName = new Map<string, string[]>();

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
   * returns it as held: a frozen copy with its JSON text.
   */
  put(stored: StoredContact, version: string): ViewContact {
    const contact: Contact = { ...stored, version };
    const held = deepFreeze(withJsonText(contact, JSON.stringify(contact))) as ViewContact;
    const folded = fold(stored.name);
    const old = this.#byId.get(stored.id);
    this.#byId.set(stored.id, { contact: held, folded });
    if (old?.folded !== folded) {
      if (old) this.#unlink(old.folded, stored.id);
      const ids = this.#byName.get(folded);
      if (ids === undefined) this.#byName.set(folded, [stored.id]);
      else ids.splice(insertionPoint(ids, stored.id), 0, stored.id);
    }
    return held;
  }

  /** Removes a contact; returns what was held, if anything. */
  delete(id: string): ViewContact | undefined {
    const old = this.#byId.get(id);
    if (old === undefined) return undefined;
    this.#byId.delete(id);
    this.#unlink(old.folded, id);
    return old.contact;
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
