/**
 * What vCard and CSV import and export share: the result shape (contacts, skipped records,
 * warnings), decoding input bytes, format detection, the UID every export writes, the house
 * number rule for addresses, and turning a draft into a validated contact while leaving out
 * (and reporting) whatever breaks the contact caps. Pure functions only.
 *
 * Extra keys written by importers (all optional, all plain JSON):
 * - `extra.vcard`: unknown vCard properties as unfolded content lines, written back on export
 * - `extra.vcardN`: `{name, value}`, the structured N value seen with that name
 * - `extra.address`: `{label, pobox, extended, region, country}`, the address parts without
 *   a field of their own
 * - `extra.vcardOrg`: `{org, value}`, the structured ORG value (with its departments) seen
 *   with that organisation
 *
 * @module
 */

import {
  CONTACT_LIMITS,
  type ContactFields,
  validateContact,
  ValidationError,
} from "../model/contact.ts";
import { isId } from "../model/ids.ts";

/**
 * Something an import left out, or a whole record it skipped: the record's 0-based `index`
 * in the file and its first `line` (both absent for a problem with the file as a whole),
 * its `name` when known, and the `reason`, a sentence a person can act on.
 */
export interface ImportIssue {
  index?: number;
  line?: number;
  name?: string;
  reason: string;
}

/** What an import produced: validated contacts, records skipped whole, and warnings. */
export interface ImportResult {
  contacts: ContactFields[];
  skipped: ImportIssue[];
  warnings: ImportIssue[];
}

/** A contact to export: its fields, and its `id` when it is stored (for a stable UID). */
export type ExportContact = ContactFields & { id?: string };

/** The import formats {@link detectFormat} tells apart. */
export type ImportFormat = "vcard" | "csv" | "json";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes input bytes to text: a UTF-8 or UTF-16 byte order mark is honoured (and dropped),
 * UTF-8 is the default, and bytes that are not valid UTF-8 are read as Windows-1252 (what
 * Outlook writes), with `fallback` set so the caller can warn.
 *
 * @example UTF-8 with a byte order mark, and Windows-1252
 * ```ts
 * import { decodeText } from "./interop.ts";
 * const a = decodeText(new Uint8Array([0xef, 0xbb, 0xbf, 0x4a, 0xc3, 0xa9]));
 * if (a.text !== "Jé" || a.fallback) throw new Error();
 * const b = decodeText(new Uint8Array([0x4a, 0xe9]));
 * if (b.text !== "Jé" || !b.fallback) throw new Error();
 * ```
 */
export function decodeText(bytes: Uint8Array): { text: string; fallback: boolean } {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) {
    return { text: new TextDecoder("utf-16le").decode(bytes.subarray(2)), fallback: false };
  }
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    return { text: new TextDecoder("utf-16be").decode(bytes.subarray(2)), fallback: false };
  }
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? bytes.subarray(3)
    : bytes;
  try {
    return { text: utf8.decode(body), fallback: false };
  } catch {
    return { text: new TextDecoder("windows-1252").decode(body), fallback: true };
  }
}

/**
 * Guesses the format of import text from its first non-blank characters: `BEGIN:VCARD`
 * is vCard, `{` or `[` is JSON (JSON Lines), anything else is CSV.
 *
 * @example
 * ```ts
 * import { detectFormat } from "./interop.ts";
 * if (detectFormat("\uFEFF\r\nbegin:vcard\r\n") !== "vcard") throw new Error();
 * if (detectFormat('{"name":"Bob"}\n') !== "json") throw new Error();
 * if (detectFormat("name,phones\r\nBob,555\r\n") !== "csv") throw new Error();
 * ```
 */
export function detectFormat(text: string): ImportFormat {
  const start = text.replace(/^[\uFEFF\s]+/, "").slice(0, 11);
  if (/^begin:vcard$/i.test(start)) return "vcard";
  if (start.startsWith("{") || start.startsWith("[")) return "json";
  return "csv";
}

/**
 * The UID an export writes for a contact: its own `uid`, else one derived from its `id`
 * (a ULID id becomes the `urn:uuid:` of the same 128 bits, so it never changes), else a
 * fresh random `urn:uuid:`. A re-import carries it back in `uid`, so the importer can
 * match it against `uid` or against `uidForContact` of stored contacts.
 *
 * @example Stable for an id, kept for a uid
 * ```ts
 * import { uidForContact } from "./interop.ts";
 * const id = "01HZY0Q4J8V3M6T0W9X2B5C7D1";
 * const uid = uidForContact({ id, uid: "" });
 * if (uid !== uidForContact({ id, uid: "" }) || !uid.startsWith("urn:uuid:")) throw new Error();
 * if (uidForContact({ id, uid: "abc" }) !== "abc") throw new Error();
 * ```
 */
export function uidForContact(contact: { uid?: string; id?: string }): string {
  if (contact.uid) return contact.uid;
  const id = contact.id;
  if (id && isId(id)) {
    const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let bits = 0n;
    for (const char of id) bits = (bits << 5n) | BigInt(alphabet.indexOf(char));
    const hex = (bits & ((1n << 128n) - 1n)).toString(16).padStart(32, "0");
    return `urn:uuid:${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${
      hex.slice(16, 20)
    }-${hex.slice(20)}`;
  }
  if (id) return id;
  return `urn:uuid:${crypto.randomUUID()}`;
}

/** A house number: digits, an optional letter, an optional range (`12`, `221B`, `12-14`). */
const HOUSE_NUMBER = /^\d+[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?$/;
const LEADING_NUMBER = /^(\d+[A-Za-z]?(?:[-/]\d+[A-Za-z]?)?) +(\S.*)$/s;

/**
 * Splits an address's street line into house and street: a leading house number is split
 * off (`12 High Street` -> `12`, `High Street`); otherwise a non-empty extended address
 * (a house name such as `Rose Cottage`) becomes the house. What is not used is returned as
 * `extended`.
 *
 * @example
 * ```ts
 * import { splitStreet } from "./interop.ts";
 * const a = splitStreet("221B Baker Street", "");
 * if (a.house !== "221B" || a.street !== "Baker Street") throw new Error();
 * const b = splitStreet("Hauptstraße 5", "");
 * if (b.house !== "" || b.street !== "Hauptstraße 5") throw new Error();
 * const c = splitStreet("Lane End", "Rose Cottage");
 * if (c.house !== "Rose Cottage" || c.extended !== "") throw new Error();
 * ```
 */
export function splitStreet(
  street: string,
  extended: string,
): { house: string; street: string; extended: string } {
  street = street.trim();
  extended = extended.trim();
  if (HOUSE_NUMBER.test(street)) return { house: street, street: "", extended };
  const match = LEADING_NUMBER.exec(street);
  if (match) return { house: match[1]!, street: match[2]!, extended };
  // A house name travels in the extended address; one that looks like a number stays there,
  // since joinStreet() would put such a house at the head of the street line instead.
  if (extended && !HOUSE_NUMBER.test(extended)) return { house: extended, street, extended: "" };
  return { house: "", street, extended };
}

/**
 * The inverse of {@link splitStreet}: a house number leads the street line; any other
 * house (a name) goes to the extended address, so a round trip gives it back.
 *
 * @example
 * ```ts
 * import { joinStreet } from "./interop.ts";
 * if (joinStreet("12", "High Street", "").street !== "12 High Street") throw new Error();
 * if (joinStreet("Rose Cottage", "Lane End", "").extended !== "Rose Cottage") throw new Error();
 * ```
 */
export function joinStreet(
  house: string,
  street: string,
  extended: string,
): { street: string; extended: string } {
  if (house === "") return { street, extended };
  if (HOUSE_NUMBER.test(house)) {
    return { street: street ? `${house} ${street}` : house, extended };
  }
  return { street, extended: house };
}

const EXTRA_ADDRESS_KEYS = ["label", "pobox", "extended", "region", "country"] as const;

/** The address parts kept in `extra.address` (all optional). */
export interface ExtraAddress {
  label?: string;
  pobox?: string;
  extended?: string;
  region?: string;
  country?: string;
}

/**
 * Reads `extra.address` defensively (a client may have stored anything in `extra`).
 *
 * @example
 * ```ts
 * import { extraAddress } from "./interop.ts";
 * const a = extraAddress({ address: { region: "IL", country: 7 } });
 * if (a.region !== "IL" || a.country !== undefined) throw new Error();
 * ```
 */
export function extraAddress(extra: Record<string, unknown>): ExtraAddress {
  const value = extra.address;
  const out: ExtraAddress = {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) return out;
  const object = value as Record<string, unknown>;
  for (const key of EXTRA_ADDRESS_KEYS) {
    const part = object[key];
    if (typeof part === "string" && part !== "") out[key] = oneLine(part);
  }
  return out;
}

/**
 * Sets `extra.address` to the parts that are not empty (and leaves it unset when all are):
 * what an importer found for the address parts without a field of their own.
 *
 * @example
 * ```ts
 * import { setExtraAddress } from "./interop.ts";
 * const extra: Record<string, unknown> = {};
 * setExtraAddress(extra, { region: "IL", pobox: "", label: "home", country: undefined });
 * if (JSON.stringify(extra) !== '{"address":{"label":"home","region":"IL"}}') throw new Error();
 * setExtraAddress(extra, { pobox: "" });
 * if (JSON.stringify(extra) !== '{"address":{"label":"home","region":"IL"}}') throw new Error();
 * ```
 */
export function setExtraAddress(extra: Record<string, unknown>, parts: ExtraAddress): void {
  const address: ExtraAddress = {};
  for (const key of EXTRA_ADDRESS_KEYS) if (parts[key]) address[key] = parts[key];
  if (Object.keys(address).length > 0) extra.address = address;
}

/**
 * Makes text fit a one-line field: ends are trimmed, line breaks inside become `", "`,
 * other control characters become spaces.
 *
 * @example
 * ```ts
 * import { oneLine } from "./interop.ts";
 * if (oneLine(" 12 High St\r\nFlat 2\t") !== "12 High St, Flat 2") throw new Error();
 * ```
 */
export function oneLine(text: string): string {
  return text.trim().replace(/\s*(?:\r\n|\r|\n)+\s*/g, ", ")
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, " ")
    .trim();
}

/**
 * Makes text fit the notes field: line breaks become `\n`, other control characters except
 * tab are removed, ends are trimmed.
 *
 * @example
 * ```ts
 * import { multiLine } from "./interop.ts";
 * if (multiLine("a\r\nb\u0000 ") !== "a\nb") throw new Error();
 * ```
 */
export function multiLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\r\n|\r/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "")
    .trim();
}

/** A draft contact: fields as an importer found them, before validation. */
export type Draft = ContactFields;

/**
 * Picks a contact's name: the first candidate that is not empty and fits the name cap.
 * Candidates that are too long are reported through `warn`.
 *
 * @example
 * ```ts
 * import { pickName } from "./interop.ts";
 * const notes: string[] = [];
 * const name = pickName([["FN", ""], ["ORG", "Acme"]], (r) => notes.push(r));
 * if (name !== "Acme" || notes.length !== 0) throw new Error();
 * ```
 */
export function pickName(
  candidates: Array<[source: string, value: string]>,
  warn: (reason: string) => void,
): string {
  for (const [source, raw] of candidates) {
    const value = oneLine(raw).normalize("NFC");
    if (value === "") continue;
    const length = [...value].length;
    if (length > CONTACT_LIMITS.name) {
      warn(
        `${source} ${
          quote(value)
        } is ${length} characters long, more than ${CONTACT_LIMITS.name}: not used as the name`,
      );
      continue;
    }
    return value;
  }
  return "";
}

const encoder = new TextEncoder();

/**
 * UTF-8 bytes of the JSON text of a value.
 *
 * @example
 * ```ts
 * import { jsonBytes } from "./interop.ts";
 * if (jsonBytes("é") !== 4) throw new Error();
 * ```
 */
export function jsonBytes(value: unknown): number {
  return encoder.encode(JSON.stringify(value)).length;
}

/**
 * Validates a draft, leaving out what breaks the caps: an over-long field, a phone without
 * digits, an invalid email or web address, a date that is not one, entries past 20 (groups
 * past 50), the largest `extra.vcard` lines when `extra` or the whole contact is too large. Each thing left out is reported through `warn` (with
 * the `extra.vcard` line itself when it is one).
 * Returns the contact, or a reason string when it cannot be saved (no usable name).
 *
 * @example A phone without digits is left out, the contact kept
 * ```ts
 * import { finishDraft } from "./interop.ts";
 * import { blankContact } from "../model/contact.ts";
 * const notes: string[] = [];
 * const contact = finishDraft({
 *   ...blankContact("Bob"),
 *   phones: [{ label: "", number: "none" }, { label: "home", number: "555" }],
 * }, (r) => notes.push(r));
 * if (typeof contact === "string" || contact.phones.length !== 1) throw new Error();
 * if (!/no digits/.test(notes[0]!)) throw new Error();
 * ```
 */
export function finishDraft(
  draft: Draft,
  warn: (reason: string, extraLine?: string) => void,
): ContactFields | string {
  // A copy deep enough for what the repairs change: fields, lists, extra's keys and lines.
  const candidate: Draft = {
    ...draft,
    phones: [...draft.phones],
    emails: [...draft.emails],
    urls: [...draft.urls],
    groups: [...draft.groups],
    extra: { ...draft.extra },
  };
  if (Array.isArray(candidate.extra.vcard)) candidate.extra.vcard = [...candidate.extra.vcard];
  // Entries that are wrong on their own go first, so that the count cap keeps good ones.
  candidate.phones = candidate.phones.filter((phone) => entryOk({ phones: [phone] }, warn));
  candidate.emails = candidate.emails.filter((email) => entryOk({ emails: [email] }, warn));
  candidate.urls = candidate.urls.filter((url) => entryOk({ urls: [url] }, warn));
  candidate.groups = candidate.groups.filter((group) => entryOk({ groups: [group] }, warn));
  fitExtraLines(candidate, CONTACT_LIMITS.extraBytes, warn);
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      return validateContact(candidate);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      const field = error.field;
      const message = importReason(error.message);
      if (!repair(candidate, field, warn, message)) return message;
    }
  }
  return "The contact could not be made valid";
}

function entryOk(fields: Partial<ContactFields>, warn: (reason: string) => void): boolean {
  try {
    validateContact({ name: "x", ...fields });
    return true;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    warn(`${importReason(error.message)}: left out`);
    return false;
  }
}

/**
 * A validation message as an import reports it: without the `contact.` of field paths, the
 * first letter capitalised.
 *
 * @example
 * ```ts
 * import { importReason } from "./interop.ts";
 * const reason = importReason("contact.phones[0].number is 101 characters long");
 * if (reason !== "Phones[0].number is 101 characters long") throw new Error(reason);
 * ```
 */
export function importReason(message: string): string {
  const text = message.replace(/contact\./g, "");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Admits `extra.vcard` lines smallest first while `extra` stays within `limit` bytes. */
function fitExtraLines(
  draft: Draft,
  limit: number,
  warn: (reason: string, extraLine?: string) => void,
): void {
  const lines = draft.extra.vcard;
  if (!Array.isArray(lines) || lines.length === 0) return;
  const rest = { ...draft.extra, vcard: [] };
  let used = jsonBytes(rest);
  const order = lines.map((line, at) => ({ line: String(line), at, cost: jsonBytes(line) + 1 }))
    .sort((a, b) => a.cost - b.cost || a.at - b.at);
  const keep = new Set<number>();
  for (const entry of order) {
    if (used + entry.cost <= limit) {
      keep.add(entry.at);
      used += entry.cost;
    } else {
      warn(
        `${propertyName(entry.line)} is ${
          encoder.encode(entry.line).length
        } bytes, too large to keep: left out`,
        entry.line,
      );
    }
  }
  const kept = lines.filter((_, at) => keep.has(at));
  if (kept.length > 0) draft.extra.vcard = kept;
  else delete draft.extra.vcard;
}

/** The property name of a content line, for messages (`PHOTO`, `item1.URL`). */
function propertyName(line: string): string {
  return /^[^;:]*/.exec(line)?.[0] || "A property";
}

/** Removes the culprit named by `field`; false when nothing can be removed. */
function repair(
  draft: Draft,
  field: string,
  warn: (reason: string, extraLine?: string) => void,
  message: string,
): boolean {
  const entry = /^contact\.(phones|emails|urls|groups)\[(\d+)\]/.exec(field);
  if (entry) {
    const list: unknown[] = draft[entry[1] as "phones" | "emails" | "urls" | "groups"];
    list.splice(Number(entry[2]), 1);
    warn(`${message}: left out`);
    return true;
  }
  switch (field) {
    case "contact.phones":
    case "contact.emails":
    case "contact.urls":
    case "contact.groups": {
      const key = field.slice(8) as "phones" | "emails" | "urls" | "groups";
      const dropped = (draft[key] as unknown[]).splice(CONTACT_LIMITS[key]);
      warn(`${message}: left out ${dropped.length}`);
      return true;
    }
    case "contact.house":
    case "contact.street":
    case "contact.town":
    case "contact.postcode":
    case "contact.org":
    case "contact.title":
    case "contact.nickname":
    case "contact.birthday":
    case "contact.anniversary":
    case "contact.notes":
    case "contact.uid":
      draft[field.slice(8) as "house"] = "";
      warn(`${message}: left out`);
      return true;
    case "contact.extra":
    case "contact": {
      if (dropLargestExtra(draft, warn)) return true;
      if (field === "contact" && draft.notes !== "") {
        draft.notes = "";
        warn(`${message}: notes left out`);
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

function dropLargestExtra(
  draft: Draft,
  warn: (reason: string, extraLine?: string) => void,
): boolean {
  const lines = draft.extra.vcard;
  if (Array.isArray(lines) && lines.length > 0) {
    let largest = 0;
    for (let i = 1; i < lines.length; i++) {
      if (jsonBytes(lines[i]) > jsonBytes(lines[largest])) largest = i;
    }
    const [line] = lines.splice(largest, 1);
    warn(`${propertyName(String(line))} does not fit in the contact: left out`, String(line));
    if (lines.length === 0) delete draft.extra.vcard;
    return true;
  }
  const keys = Object.keys(draft.extra);
  if (keys.length === 0) return false;
  keys.sort((a, b) => jsonBytes(draft.extra[b]) - jsonBytes(draft.extra[a]));
  delete draft.extra[keys[0]!];
  warn(`extra.${keys[0]} does not fit in the contact: left out`);
  return true;
}

/**
 * Quotes a value for a message, shortened when long.
 *
 * @example
 * ```ts
 * import { quote } from "./interop.ts";
 * if (quote("Bob") !== '"Bob"' || quote("x".repeat(100)).length !== 62) throw new Error();
 * ```
 */
export function quote(value: string): string {
  const short = [...value].length > 60 ? [...value].slice(0, 57).join("") + "..." : value;
  return JSON.stringify(short);
}
