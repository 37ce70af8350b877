/**
 * The contact: its shape, its caps, and the validation that turns untrusted input into a
 * clean contact (trimmed, Unicode NFC, every field checked, the culprit named).
 *
 * @module
 */

import { serialize } from "node:v8";
import { fold } from "./search_terms.ts";

/** A labelled phone number. */
export interface Phone {
  label: string;
  number: string;
}

/** A labelled email address. */
export interface Email {
  label: string;
  address: string;
}

/** A labelled web address (`http:`, `https:` or `mailto:`). */
export interface Url {
  label: string;
  url: string;
}

/** The fields a user sets. Every field is present once validated. */
export interface ContactFields {
  name: string;
  house: string;
  street: string;
  town: string;
  postcode: string;
  phones: Phone[];
  emails: Email[];
  urls: Url[];
  /** The organisation (vCard ORG's first component) and the job title (TITLE). */
  org: string;
  title: string;
  nickname: string;
  /**
   * ISO 8601 dates, the year optional as vCard allows: `1980-04-12` or `--04-12`; `""` for
   * none. Always a real date (February 29 only in a leap year, or without a year).
   */
  birthday: string;
  anniversary: string;
  /** Group names (vCard CATEGORIES): trimmed, without commas, no two alike once folded. */
  groups: string[];
  notes: string;
  uid: string;
  extra: Record<string, unknown>;
}

/** A contact as stored: the user's fields plus the server-set `id`, `created`, `updated`. */
export interface StoredContact extends ContactFields {
  id: string;
  created: string;
  updated: string;
}

/** A contact as sent on the wire: a stored contact plus its `version`. */
export interface Contact extends StoredContact {
  version: string;
}

/**
 * The caps on a contact, each checked on what is stored. Text fields (`name`, `field`,
 * `label`, `group`) count characters (code points) after trimming and NFC; `phones`,
 * `emails`, `urls` and `groups` count entries; `extraBytes` and `contactBytes` count UTF-8
 * bytes of compact JSON (`JSON.stringify`): `extra` alone, and the seventeen user fields
 * together with every field present (an absent one as its empty value), server fields not
 * counted. The rest follow
 * from Deno KV, which files a contact under its folded name in a key (2,048 bytes at most)
 * and keeps it as one value (65,536 bytes at most, in V8's encoding):
 * `foldedNameBytes` caps the name as {@link fold} gives it, in UTF-8 bytes (the key adds 39);
 * `storedBytes` caps the record as the store keeps it (with `id`, `created`, `updated`);
 * `extraDepth` caps how deep objects and arrays nest in `extra`, `extra` itself counting 1.
 */
export const CONTACT_LIMITS = {
  name: 200,
  field: 1000,
  label: 50,
  phones: 20,
  emails: 20,
  urls: 20,
  groups: 50,
  group: 100,
  extraBytes: 16 * 1024,
  extraDepth: 32,
  contactBytes: 32 * 1024,
  foldedNameBytes: 2000,
  storedBytes: 64 * 1024,
} as const;

/**
 * A blank contact with this name.
 *
 * @example
 * ```ts
 * import { blankContact } from "./contact.ts";
 * const ann = blankContact("Ann");
 * if (ann.name !== "Ann" || ann.phones.length !== 0 || ann.town !== "") throw new Error();
 * ```
 */
export function blankContact(name = ""): ContactFields {
  return {
    name,
    house: "",
    street: "",
    town: "",
    postcode: "",
    phones: [],
    emails: [],
    urls: [],
    org: "",
    title: "",
    nickname: "",
    birthday: "",
    anniversary: "",
    groups: [],
    notes: "",
    uid: "",
    extra: {},
  };
}

/** Fields that the server sets; ignored when a client sends them back. */
export const SERVER_FIELDS: ReadonlySet<string> = new Set(["id", "version", "created", "updated"]);

/** The fields a user sets, as {@link ContactFields} (and so {@link blankContact}) has them. */
export const USER_FIELDS: ReadonlySet<string> = new Set(Object.keys(blankContact()));

const USER_FIELD_NAMES = [...USER_FIELDS] as Array<keyof ContactFields>;

/**
 * A record as the current code reads it: every user field present, those a record stored
 * before they existed lacks (`org`, `title`, `nickname`, `birthday`, `anniversary`, `urls`,
 * `groups`, added in issue 15) filled with their empty values. A record that has them all is
 * returned as it is (no copy); otherwise a copy with the keys in the order a new record has
 * (`id` first when there is one, then the user fields, then the rest: `created`,
 * `updated`, `version`). Used wherever stored records are read (the store, the client on
 * what a server sends), so an older record reads like a new one.
 *
 * @example An older record gains the new fields, empty
 * ```ts
 * import { blankContact, fillMissingFields } from "./contact.ts";
 * const { org: _o, title: _t, nickname: _n, birthday: _b, anniversary: _a, urls: _u,
 *   groups: _g, ...old } = { id: "01J0000000000000000000000A", ...blankContact("Ann"),
 *   created: "", updated: "" };
 * const now = fillMissingFields(old);
 * if (now.org !== "" || now.urls.length !== 0 || now.groups.length !== 0) throw new Error();
 * if (Object.keys(now)[0] !== "id" || Object.keys(now).at(-1) !== "updated") throw new Error();
 * const full = { ...blankContact("Bo") };
 * if (fillMissingFields(full) !== full) throw new Error("a complete record is not copied");
 * ```
 */
export function fillMissingFields<T extends object>(record: T): Filled<T> {
  const object = record as Record<string, unknown>;
  let complete = true;
  for (const key of USER_FIELD_NAMES) {
    if (object[key] === undefined) {
      complete = false;
      break;
    }
  }
  if (complete) return record as unknown as Filled<T>;
  const out: Record<string, unknown> = "id" in object ? { id: object.id } : {};
  Object.assign(out, blankContact(), object);
  const blank = blankContact() as unknown as Record<string, unknown>;
  for (const key of USER_FIELD_NAMES) if (out[key] === undefined) out[key] = blank[key];
  return out as Filled<T>;
}

/** What {@link fillMissingFields} returns: `T` with every user field of its type. */
export type Filled<T> = Omit<T, keyof ContactFields> & ContactFields;

/**
 * Input that is not a valid contact: `field` is the path of the first wrong field
 * (`contact.phones[0].number`), `limit` the cap it passed, when there is one. The message
 * names the field and the value.
 *
 * @example
 * ```ts
 * import { validateContact, ValidationError } from "./contact.ts";
 * try {
 *   validateContact({ name: "" });
 *   throw new Error("accepted");
 * } catch (error) {
 *   if (!(error instanceof ValidationError) || error.field !== "contact.name") throw error;
 * }
 * ```
 */
export class ValidationError extends Error {
  readonly field: string;
  readonly limit: number | undefined;
  constructor(message: string, details: { field: string; limit?: number }) {
    super(message);
    this.name = "ValidationError";
    this.field = details.field;
    this.limit = details.limit;
  }
}

const TEXT_FIELDS = [
  "house",
  "street",
  "town",
  "postcode",
  "org",
  "title",
  "nickname",
  "uid",
] as const;

const encoder = new TextEncoder();

/**
 * Validates untrusted input as a contact's user fields. Throws a {@link ValidationError}
 * naming the first field that is wrong (the methods answer it as BAD_REQUEST).
 *
 * @example A contact with a phone
 * ```ts
 * import { validateContact } from "./contact.ts";
 * const c = validateContact({ name: " Bob ", phones: [{ number: "555-0123" }] });
 * if (c.name !== "Bob" || c.phones[0]!.label !== "" || c.town !== "") throw new Error();
 * ```
 */
export function validateContact(input: unknown, path = "contact"): ContactFields {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ValidationError(`${path} must be an object`, { field: path });
  }
  const object = input as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!USER_FIELDS.has(key) && !SERVER_FIELDS.has(key)) {
      throw new ValidationError(`unknown contact field ${JSON.stringify(key)}`, {
        field: `${path}.${key}`,
      });
    }
  }
  const name = text(object.name, `${path}.name`, CONTACT_LIMITS.name, false);
  if (name === "") {
    throw new ValidationError("the contact's name is empty", {
      field: `${path}.name`,
    });
  }
  // Names are found (and removed) by their folded form: one that folds to nothing could
  // never be found again.
  if (fold(name) === "") {
    throw new ValidationError(
      `the contact's name ${JSON.stringify(name)} is only accents (combining marks) and ` +
        "spaces, which names are compared without, so it could never be found by name; " +
        "a name needs a letter or digit",
      { field: `${path}.name` },
    );
  }
  const folded = encoder.encode(fold(name)).length;
  if (folded > CONTACT_LIMITS.foldedNameBytes) {
    throw new ValidationError(
      `the contact's name is ${folded} bytes of UTF-8 once folded for the name index (lower ` +
        "case, accents removed, compatibility characters such as U+FDFA spelled out), more " +
        `than ${CONTACT_LIMITS.foldedNameBytes}; shorten it`,
      { field: `${path}.name`, limit: CONTACT_LIMITS.foldedNameBytes },
    );
  }
  const contact = blankContact(name);
  contact.notes = text(object.notes, `${path}.notes`, CONTACT_LIMITS.field, true);
  for (const field of TEXT_FIELDS) {
    contact[field] = text(object[field], `${path}.${field}`, CONTACT_LIMITS.field, false);
  }
  contact.phones = list(object.phones, `${path}.phones`, CONTACT_LIMITS.phones, (item, at) => {
    const entry = record(item, at, ["label", "number"]);
    const number = text(entry.number, `${at}.number`, CONTACT_LIMITS.field, false);
    if (!/\d/.test(number)) {
      throw new ValidationError(`phone number ${JSON.stringify(number)} has no digits`, {
        field: `${at}.number`,
      });
    }
    return { label: text(entry.label, `${at}.label`, CONTACT_LIMITS.label, false), number };
  });
  contact.emails = list(object.emails, `${path}.emails`, CONTACT_LIMITS.emails, (item, at) => {
    const entry = record(item, at, ["label", "address"]);
    const address = text(entry.address, `${at}.address`, CONTACT_LIMITS.field, false);
    if (!/^[^\s@]+@[^\s@]+$/.test(address)) {
      throw new ValidationError(`email address ${JSON.stringify(address)} is not valid`, {
        field: `${at}.address`,
      });
    }
    return { label: text(entry.label, `${at}.label`, CONTACT_LIMITS.label, false), address };
  });
  contact.urls = list(object.urls, `${path}.urls`, CONTACT_LIMITS.urls, (item, at) => {
    const entry = record(item, at, ["label", "url"]);
    const url = webAddress(text(entry.url, `${at}.url`, CONTACT_LIMITS.field, false), `${at}.url`);
    return { label: text(entry.label, `${at}.label`, CONTACT_LIMITS.label, false), url };
  });
  contact.birthday = date(object.birthday, `${path}.birthday`);
  contact.anniversary = date(object.anniversary, `${path}.anniversary`);
  contact.groups = groupNames(object.groups, `${path}.groups`);
  if (object.extra !== undefined) {
    const extra = object.extra;
    if (typeof extra !== "object" || extra === null || Array.isArray(extra)) {
      throw new ValidationError("extra must be an object", {
        field: `${path}.extra`,
      });
    }
    // First (it walks with its own stack): JSON.stringify and KV recurse, and a value nested
    // a few thousand deep would overflow their stacks.
    checkExtra(extra, `${path}.extra`);
    const bytes = encoder.encode(JSON.stringify(extra)).length;
    if (bytes > CONTACT_LIMITS.extraBytes) {
      throw new ValidationError(
        `extra is ${bytes} bytes of JSON, more than ${CONTACT_LIMITS.extraBytes}`,
        { field: `${path}.extra`, limit: CONTACT_LIMITS.extraBytes },
      );
    }
    contact.extra = extra as Record<string, unknown>;
  }
  const bytes = encoder.encode(JSON.stringify(contact)).length;
  if (bytes > CONTACT_LIMITS.contactBytes) {
    throw new ValidationError(
      `the contact is ${bytes} bytes of JSON, more than ${CONTACT_LIMITS.contactBytes}`,
      { field: path, limit: CONTACT_LIMITS.contactBytes },
    );
  }
  // V8's form takes at most 10 bytes per byte of JSON (a digit and its comma become a
  // 9-byte double at worst; text at most 2 bytes a character), plus the server fields: most
  // contacts are far below the cap, and measuring one costs about 60 µs.
  const stored = bytes * 10 + 256 <= CONTACT_LIMITS.storedBytes ? 0 : storedBytes(contact);
  if (stored > CONTACT_LIMITS.storedBytes) {
    throw new ValidationError(
      `the contact would take ${stored} bytes as the store keeps it, more than the ` +
        `${CONTACT_LIMITS.storedBytes} Deno KV holds in one value (there, text with a ` +
        "character past U+00FF takes 2 bytes a character, and a number with a fraction 9); " +
        "shorten it",
      { field: path, limit: CONTACT_LIMITS.storedBytes },
    );
  }
  return contact;
}

/**
 * Whether `value` is a date as a contact holds one: `YYYY-MM-DD` or `--MM-DD` (no year), a
 * real day of that month (February 29 only in a leap year, or without a year).
 *
 * @example
 * ```ts
 * import { isContactDate } from "./contact.ts";
 * if (!isContactDate("1980-04-12") || !isContactDate("--02-29") || !isContactDate("2024-02-29")) {
 *   throw new Error();
 * }
 * if (isContactDate("2023-02-29") || isContactDate("1980-13-01") || isContactDate("12/04/1980")) {
 *   throw new Error();
 * }
 * ```
 */
export function isContactDate(value: string): boolean {
  const match = /^(?:(\d{4})|-)-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const year = match[1] === undefined ? undefined : Number(match[1]);
  const month = Number(match[2]), day = Number(match[3]);
  return month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(month, year);
}

/**
 * The days of a month (1 to 12); February has 29 without a year (a birthday with no year
 * may be the 29th) and in a leap year of the Gregorian calendar.
 */
function daysInMonth(month: number, year: number | undefined): number {
  if (month === 2) {
    const leap = year === undefined || (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
    return leap ? 29 : 28;
  }
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function date(value: unknown, field: string): string {
  const clean = text(value, field, CONTACT_LIMITS.field, false);
  if (clean === "" || isContactDate(clean)) return clean;
  throw new ValidationError(
    `${field} ${JSON.stringify(clean)} is not a date: write YYYY-MM-DD (1980-04-12), or ` +
      "--MM-DD without a year (--04-12)",
    { field },
  );
}

/** A host name with at least one dot (`example.com`, `www.bücher.de`), an optional port. */
const BARE_HOST =
  /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)+\.?(?::\d{1,5})?(?:[/?#]\S*)?$/u;

/**
 * A contact's web address: `http://` or `https://` with a host, or `mailto:` with an
 * address, as written (scheme in any case); a bare host (`example.com`, `www.example.com/a`)
 * is given `https://`. Anything else (`ftp:`, `javascript:`, a relative path, spaces) is
 * refused naming the field.
 *
 * @example
 * ```ts
 * import { webAddress } from "./contact.ts";
 * if (webAddress("example.com/about") !== "https://example.com/about") throw new Error();
 * if (webAddress("HTTP://Example.com") !== "HTTP://Example.com") throw new Error();
 * if (webAddress("mailto:ann@example.com") !== "mailto:ann@example.com") throw new Error();
 * try {
 *   webAddress("javascript:alert(1)");
 *   throw new Error("accepted");
 * } catch (error) {
 *   if (!/not a web address/.test((error as Error).message)) throw error;
 * }
 * ```
 */
export function webAddress(value: string, field = "url"): string {
  if (value === "") {
    throw new ValidationError(`${field} is empty`, { field });
  }
  if (!/\s/.test(value)) {
    if (/^(?:http|https):\/\/[^/?#]+/i.test(value)) return value;
    if (/^mailto:[^\s]+$/i.test(value)) return value;
    if (BARE_HOST.test(value)) return `https://${value}`;
  }
  throw new ValidationError(
    `${field} ${JSON.stringify(value.slice(0, 80))} is not a web address: write one starting ` +
      "with http://, https:// or mailto: (a bare host such as example.com is given https://)",
    { field },
  );
}

/**
 * Group names: each trimmed and NFC, not empty, without a comma (vCard CATEGORIES and the
 * client's `--group a,b` separate names with commas), at most `CONTACT_LIMITS.group`
 * characters; the list at most `CONTACT_LIMITS.groups` long. Names that fold alike
 * (`Family`, `family`) are one group: the first spelling is kept.
 */
function groupNames(value: unknown, field: string): string[] {
  const names = list(value, field, CONTACT_LIMITS.groups, (item, at) => {
    const name = text(item, at, CONTACT_LIMITS.group, false);
    if (name === "") throw new ValidationError(`${at} is empty`, { field: at });
    if (name.includes(",")) {
      throw new ValidationError(
        `${at} ${JSON.stringify(name.slice(0, 80))} holds a comma, which separates group ` +
          "names (vCard CATEGORIES); use another character",
        { field: at },
      );
    }
    return name;
  });
  const seen = new Set<string>();
  return names.filter((name) => {
    const key = fold(name);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The size of the record the store keeps for these fields (a {@link StoredContact}: the
 * fields with `id`, `created` and `updated`) in the encoding Deno KV gives a value, V8's
 * serialization, whose size does not depend on the order of the keys.
 *
 * @example
 * ```ts
 * import { blankContact, storedBytes } from "./contact.ts";
 * const small = storedBytes(blankContact("Ann"));
 * if (small > 300 || storedBytes(blankContact("Ann Smith")) !== small + 6) throw new Error();
 * ```
 */
export function storedBytes(fields: ContactFields): number {
  // The server fields are ASCII of fixed length: a 26-character id, ISO 8601 UTC times.
  const record: StoredContact = { id: ID, ...fields, created: TIME, updated: TIME };
  return serialize(record).length;
}

const ID = "0".repeat(26);
const TIME = new Date(0).toISOString();

/** Checks an optional text field: a string, trimmed, NFC, within `max`, no control chars. */
function text(value: unknown, field: string, max: number, multiline: boolean): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") {
    throw new ValidationError(`${field} must be a string`, { field });
  }
  wellFormed(value, field);
  const clean = value.normalize("NFC").trim();
  const length = [...clean].length;
  if (length > max) {
    throw new ValidationError(`${field} is ${length} characters long, more than ${max}`, {
      field,
      limit: max,
    });
  }
  // deno-lint-ignore no-control-regex
  const control = multiline ? /[\u0000-\u0008\u000b-\u001f\u007f]/ : /[\u0000-\u001f\u007f]/;
  if (control.test(clean)) {
    throw new ValidationError(`${field} contains a control character`, { field });
  }
  return clean;
}

/**
 * Refuses text holding a lone surrogate (half of a UTF-16 pair): it is not Unicode, JSON
 * carries it only as a `\\uD800` escape, and Deno KV would turn it into U+FFFD in a key.
 */
function wellFormed(value: string, field: string, what = field): void {
  if (value.isWellFormed()) return;
  let at = 0;
  while (at < value.length) {
    const unit = value.charCodeAt(at);
    const pair = unit >= 0xd800 && unit <= 0xdbff && at + 1 < value.length &&
      value.charCodeAt(at + 1) >= 0xdc00 && value.charCodeAt(at + 1) <= 0xdfff;
    if (!pair && unit >= 0xd800 && unit <= 0xdfff) break;
    at += pair ? 2 : 1;
  }
  const hex = value.charCodeAt(at).toString(16);
  throw new ValidationError(
    `${what} holds a lone surrogate (\\u${hex} at position ${at}), which is not Unicode ` +
      "text; send well-formed UTF-8 (a character outside the BMP as a pair of \\u escapes)",
    { field },
  );
}

/**
 * Checks every value inside `extra`: no lone surrogate in a key or string (naming its path,
 * `contact.extra.vcard[2]`), no nesting deeper than `CONTACT_LIMITS.extraDepth`. Walks with
 * its own stack, so a deeply nested value cannot overflow the call stack here; a leaf's
 * path is spelled only when it is refused.
 */
function checkExtra(extra: object, path: string): void {
  const max = CONTACT_LIMITS.extraDepth;
  const stack: Array<[value: unknown, parent: string, key: string | number, depth: number]> = [
    [extra, path, "", 1],
  ];
  // Bounded by the values in `extra` itself: each is pushed once.
  while (stack.length > 0) {
    const [value, parent, key, depth] = stack.pop()!;
    if (typeof value === "string") {
      if (!value.isWellFormed()) wellFormed(value, childPath(parent, key));
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (depth > max) {
      throw new ValidationError(
        `extra nests objects and arrays more than ${max} deep (extra itself is 1)`,
        { field: path, limit: max },
      );
    }
    const at = childPath(parent, key);
    if (Array.isArray(value)) {
      value.forEach((item, index) => stack.push([item, at, index, depth + 1]));
    } else {
      for (const [name, item] of Object.entries(value)) {
        wellFormed(name, at, `a key of ${at}`);
        stack.push([item, at, name, depth + 1]);
      }
    }
  }
}

/** `parent.key`, `parent[3]` or `parent["a key"]`; `parent` itself for the key "". */
function childPath(parent: string, key: string | number): string {
  if (typeof key === "number") return `${parent}[${key}]`;
  if (key === "") return parent;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

function list<T>(
  value: unknown,
  field: string,
  max: number,
  each: (item: unknown, at: string) => T,
): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    throw new ValidationError(`${field} must be an array`, { field });
  }
  if (value.length > max) {
    throw new ValidationError(`${field} has ${value.length} entries, more than ${max}`, {
      field,
      limit: max,
    });
  }
  return value.map((item, index) => each(item, `${field}[${index}]`));
}

function record(value: unknown, field: string, keys: string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError(`${field} must be an object`, { field });
  }
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) {
      throw new ValidationError(`unknown field ${JSON.stringify(key)} in ${field}`, {
        field: `${field}.${key}`,
      });
    }
  }
  return value as Record<string, unknown>;
}
