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

/** The fields a user sets. Every field is present once validated. */
export interface ContactFields {
  name: string;
  house: string;
  street: string;
  town: string;
  postcode: string;
  phones: Phone[];
  emails: Email[];
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
 * `label`) count characters (code points) after trimming and NFC; `phones` and `emails`
 * count entries; `extraBytes` and `contactBytes` count UTF-8 bytes of compact JSON
 * (`JSON.stringify`): `extra` alone, and the ten user fields together with every field
 * present (an absent one as its empty value), server fields not counted. The rest follow
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
    notes: "",
    uid: "",
    extra: {},
  };
}

/** Fields that the server sets; ignored when a client sends them back. */
export const SERVER_FIELDS: ReadonlySet<string> = new Set(["id", "version", "created", "updated"]);

/** The fields a user sets, as {@link ContactFields} (and so {@link blankContact}) has them. */
export const USER_FIELDS: ReadonlySet<string> = new Set(Object.keys(blankContact()));

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

const TEXT_FIELDS = ["house", "street", "town", "postcode", "uid"] as const;

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
  const stored = storedBytes(contact);
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
