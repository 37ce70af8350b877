/**
 * Likely duplicates: two contacts with the same name (case and accents ignored, as `find`
 * compares names) that share a phone number (compared by its digits) or an email address
 * (case ignored). Used by `import` (reported, never merged silently), by `add` (a warning)
 * and by the menu's Add (which offers to merge). Pure functions only.
 *
 * Phones are compared in the canonical form search uses (`canonicalPhone` in `phones.ts`, the
 * E.164 digits, under the process's phone region): two numbers that both have one match when
 * it is the same (`+44 20 7946 0958` and, under region GB, `020 7946 0958`; never
 * `+1 202 555 0123` and `+44 20 555 0123`). A number without one (no country code and no
 * region, or too short) is compared by its digits, leading zeros dropped: equal, or the
 * shorter has at least 7 digits and ends the longer (`555-0123` is `(555) 012-3`, and without
 * a region `020 7946 0958` is `+44 20 7946 0958`; `0123` is not `555-0123`).
 *
 * @module
 */

import { CONTACT_LIMITS, type ContactFields, type Email, type Phone, type Url } from "./contact.ts";
import { fold } from "./search_terms.ts";
import { canonicalPhone } from "./phones.ts";

/** What duplicate detection looks at. */
export type Comparable = Pick<ContactFields, "name" | "phones" | "emails">;

/** Shortest digit run that may match the end of a longer number. */
const MIN_SUFFIX_DIGITS = 7;

/**
 * The digits a phone number is compared by: its digits, leading zeros dropped.
 *
 * @example
 * ```ts
 * import { phoneKey } from "./duplicates.ts";
 * if (phoneKey("020 7946 0958") !== "2079460958") throw new Error();
 * ```
 */
export function phoneKey(number: string): string {
  return number.replace(/\D+/g, "").replace(/^0+/, "");
}

/**
 * Whether two phone numbers are the same number, written differently.
 *
 * @example
 * ```ts
 * import { samePhone } from "./duplicates.ts";
 * if (!samePhone("+44 20 7946 0958", "020 7946 0958")) throw new Error();
 * if (!samePhone("555-0123", "(555) 012-3") || samePhone("0123", "555-0123")) throw new Error();
 * if (samePhone("+1 202 555 0123", "+44 20 555 0123")) throw new Error("two countries");
 * ```
 */
export function samePhone(a: string, b: string): boolean {
  const ca = canonicalPhone(a), cb = canonicalPhone(b);
  if (ca !== null && cb !== null) return ca === cb;
  const x = phoneKey(a), y = phoneKey(b);
  if (x === "" || y === "") return false;
  if (x === y) return true;
  const [short, long] = x.length < y.length ? [x, y] : [y, x];
  return short.length >= MIN_SUFFIX_DIGITS && long.endsWith(short);
}

/**
 * The form an email address is compared by: trimmed, NFC, lower case.
 *
 * @example
 * ```ts
 * import { emailKey } from "./duplicates.ts";
 * if (emailKey(" Bob@Example.COM ") !== "bob@example.com") throw new Error();
 * ```
 */
export function emailKey(address: string): string {
  return address.trim().normalize("NFC").toLowerCase();
}

/**
 * Why `a` and `b` look like the same person (`same name and phone "555-0123"`), or null
 * when they do not: the names must match (case and accents ignored) and a phone or an
 * email must be shared.
 *
 * @example
 * ```ts
 * import { duplicateReason } from "./duplicates.ts";
 * const a = { name: "José Núñez", phones: [{ label: "", number: "555-0123" }], emails: [] };
 * const b = { name: "jose nunez", phones: [{ label: "work", number: "(555) 012-3" }], emails: [] };
 * if (duplicateReason(a, b) !== 'same name and phone "555-0123"') throw new Error();
 * if (duplicateReason(a, { ...b, name: "José" }) !== null) throw new Error();
 * ```
 */
export function duplicateReason(a: Comparable, b: Comparable): string | null {
  if (fold(a.name) === "" || fold(a.name) !== fold(b.name)) return null;
  for (const phone of a.phones) {
    if (b.phones.some((other) => samePhone(phone.number, other.number))) {
      return `same name and phone ${JSON.stringify(phone.number)}`;
    }
  }
  for (const email of a.emails) {
    const key = emailKey(email.address);
    if (b.emails.some((other) => emailKey(other.address) === key)) {
      return `same name and email ${JSON.stringify(email.address)}`;
    }
  }
  return null;
}

/**
 * Contacts indexed by folded name, to find the likely duplicates of many candidates
 * quickly (an import of thousands against a book of thousands).
 *
 * @example
 * ```ts
 * import { DuplicateIndex } from "./duplicates.ts";
 * const index = new DuplicateIndex<{ id: string; name: string; phones: []; emails: { label: string; address: string }[] }>();
 * index.add({ id: "a", name: "Ann Lee", phones: [], emails: [{ label: "", address: "ann@example.com" }] });
 * const found = index.find({ name: "ANN LEE", phones: [], emails: [{ label: "work", address: "Ann@Example.com" }] });
 * if (found.length !== 1 || found[0]!.contact.id !== "a") throw new Error();
 * ```
 */
export class DuplicateIndex<T extends Comparable> {
  readonly #byName = new Map<string, T[]>();

  /** Adds a contact that later candidates are compared with. */
  add(contact: T): void {
    const key = fold(contact.name);
    const list = this.#byName.get(key);
    if (list) list.push(contact);
    else this.#byName.set(key, [contact]);
  }

  /** Removes a contact added before (compared by identity); true if it was there. */
  delete(contact: T): boolean {
    const key = fold(contact.name);
    const list = this.#byName.get(key);
    const at = list?.indexOf(contact) ?? -1;
    if (list === undefined || at < 0) return false;
    list.splice(at, 1);
    if (list.length === 0) this.#byName.delete(key);
    return true;
  }

  /** The contacts that `candidate` likely duplicates, each with the reason, in added order. */
  find(candidate: Comparable): Array<{ contact: T; reason: string }> {
    const found: Array<{ contact: T; reason: string }> = [];
    for (const contact of this.#byName.get(fold(candidate.name)) ?? []) {
      const reason = duplicateReason(candidate, contact);
      if (reason !== null) found.push({ contact, reason });
    }
    return found;
  }
}

/** What {@link mergeInto} added to the existing contact, and what did not fit. */
export interface MergeResult {
  /** The existing contact's fields with the new details added. */
  fields: ContactFields;
  phones: Phone[];
  emails: Email[];
  urls: Url[];
  groups: string[];
  /** Whether the new notes were appended. */
  notes: boolean;
  /** Address fields filled in (only when the existing contact had no address at all). */
  address: Array<"house" | "street" | "town" | "postcode">;
  /** One-value fields the existing contact had empty and the new entry filled. */
  filled: Array<(typeof SINGLE)[number]>;
  /** Details that did not fit the contact caps, each a sentence. */
  leftOut: string[];
}

const ADDRESS = ["house", "street", "town", "postcode"] as const;
const SINGLE = ["org", "title", "nickname", "birthday", "anniversary"] as const;

/**
 * Merges a new entry into an existing contact: the existing contact is kept, with the new
 * entry's phones, emails and web addresses that it lacks added (up to 20 each), its groups
 * added (up to 50), its notes appended when they are not already there, its address used
 * when the existing contact has none, and its organisation, title, nickname, birthday and
 * anniversary used where the existing contact has none. The name, uid and extra of the
 * existing contact are kept.
 *
 * @example
 * ```ts
 * import { mergeInto } from "./duplicates.ts";
 * import { blankContact } from "./contact.ts";
 * const existing = { ...blankContact("Bob"), town: "Springfield", notes: "Neighbour",
 *   phones: [{ label: "", number: "555-0123" }], groups: ["Chess"] };
 * const incoming = { ...blankContact("bob"), town: "Shelbyville", notes: "Plays chess",
 *   phones: [{ label: "work", number: "(555) 012-3" }, { label: "mobile", number: "555-0199" }],
 *   emails: [{ label: "", address: "bob@example.com" }], org: "Acme", groups: ["chess", "Work"] };
 * const merged = mergeInto(existing, incoming);
 * if (merged.fields.phones.length !== 2 || merged.fields.emails.length !== 1) throw new Error();
 * if (merged.fields.notes !== "Neighbour\nPlays chess" || merged.fields.town !== "Springfield") {
 *   throw new Error();
 * }
 * if (merged.fields.org !== "Acme" || merged.fields.groups.join() !== "Chess,Work") throw new Error();
 * ```
 */
export function mergeInto(existing: ContactFields, incoming: ContactFields): MergeResult {
  const fields: ContactFields = {
    ...existing,
    phones: [...existing.phones],
    emails: [...existing.emails],
    urls: [...existing.urls],
    groups: [...existing.groups],
  };
  const result: MergeResult = {
    fields,
    phones: [],
    emails: [],
    urls: [],
    groups: [],
    notes: false,
    address: [],
    filled: [],
    leftOut: [],
  };
  for (const phone of incoming.phones) {
    if (fields.phones.some((p) => samePhone(p.number, phone.number))) continue;
    if (fields.phones.length >= CONTACT_LIMITS.phones) {
      result.leftOut.push(
        `Phone ${JSON.stringify(phone.number)} left out: a contact has at most ` +
          `${CONTACT_LIMITS.phones} phones`,
      );
      continue;
    }
    fields.phones.push(phone);
    result.phones.push(phone);
  }
  for (const email of incoming.emails) {
    const key = emailKey(email.address);
    if (fields.emails.some((e) => emailKey(e.address) === key)) continue;
    if (fields.emails.length >= CONTACT_LIMITS.emails) {
      result.leftOut.push(
        `Email ${JSON.stringify(email.address)} left out: a contact has at most ` +
          `${CONTACT_LIMITS.emails} emails`,
      );
      continue;
    }
    fields.emails.push(email);
    result.emails.push(email);
  }
  for (const url of incoming.urls) {
    if (fields.urls.some((u) => u.url.toLowerCase() === url.url.toLowerCase())) continue;
    if (fields.urls.length >= CONTACT_LIMITS.urls) {
      result.leftOut.push(
        `Web address ${JSON.stringify(url.url)} left out: a contact has at most ` +
          `${CONTACT_LIMITS.urls} web addresses`,
      );
      continue;
    }
    fields.urls.push(url);
    result.urls.push(url);
  }
  for (const group of incoming.groups) {
    const key = fold(group);
    if (fields.groups.some((g) => fold(g) === key)) continue;
    if (fields.groups.length >= CONTACT_LIMITS.groups) {
      result.leftOut.push(
        `Group ${JSON.stringify(group)} left out: a contact is in at most ` +
          `${CONTACT_LIMITS.groups} groups`,
      );
      continue;
    }
    fields.groups.push(group);
    result.groups.push(group);
  }
  for (const field of SINGLE) {
    if (fields[field] === "" && incoming[field] !== "") {
      fields[field] = incoming[field];
      result.filled.push(field);
    }
  }
  const notes = incoming.notes.trim();
  if (notes !== "" && !fold(fields.notes).includes(fold(notes))) {
    const joined = fields.notes === "" ? notes : `${fields.notes}\n${notes}`;
    if ([...joined].length > CONTACT_LIMITS.field) {
      result.leftOut.push(
        `Notes ${JSON.stringify(notes.slice(0, 40))} left out: notes hold at most ` +
          `${CONTACT_LIMITS.field} characters`,
      );
    } else {
      fields.notes = joined;
      result.notes = true;
    }
  }
  if (ADDRESS.every((field) => existing[field] === "")) {
    for (const field of ADDRESS) {
      if (incoming[field] !== "") {
        fields[field] = incoming[field];
        result.address.push(field);
      }
    }
  }
  return result;
}
