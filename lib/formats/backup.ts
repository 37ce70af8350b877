/**
 * Backups as JSON Lines: one contact per line, the server's contact objects as they are
 * (`id`, `version`, `created`, `updated` and the user's fields). Reading also accepts a JSON
 * array of contacts and the `{contacts, cursor}` pages that `list --json` prints, so any of
 * the client's own JSON output can be imported. Pure functions only.
 *
 * @module
 */

import {
  type Contact,
  type ContactFields,
  SERVER_FIELDS,
  USER_FIELDS,
  validateContact,
  ValidationError,
} from "../model/contact.ts";
import { isId } from "../model/ids.ts";
import { type ImportIssue, importReason } from "./interop.ts";

/** A contact read from a backup: its fields, and its `id` when the backup had a valid one. */
export type BackupContact = ContactFields & { id?: string };

/** What reading a backup produced, in the shape of the vCard and CSV importers' result. */
export interface BackupResult {
  contacts: BackupContact[];
  skipped: ImportIssue[];
  warnings: ImportIssue[];
}

/**
 * One contact as a JSON Lines line, with its `\n`.
 *
 * @example
 * ```ts
 * import { formatJsonLine } from "./backup.ts";
 * const line = formatJsonLine({ id: "01J0000000000000000000000A", name: "Bob" });
 * if (line !== '{"id":"01J0000000000000000000000A","name":"Bob"}\n') throw new Error(line);
 * ```
 */
export function formatJsonLine(contact: Partial<Contact>): string {
  return JSON.stringify(contact) + "\n";
}

/**
 * Reads a JSON Lines backup (or a JSON array of contacts, or `{contacts, cursor}` pages).
 * Each contact is checked with the server's own validation: one that fails is skipped with
 * the reason; a field that is not a contact field is left out with a warning; an `id` that
 * is not a contact id is dropped with a warning (the contact is then added with a new id).
 * `index` counts records from 0 across the whole input; `line` is 1-based.
 *
 * @example A backup line, a page line, and a bad line
 * ```ts
 * import { parseJsonLines } from "./backup.ts";
 * const text = '{"id":"01J0000000000000000000000A","name":"Bob","version":"7"}\n' +
 *   '{"contacts":[{"name":"Ann"}],"cursor":null}\n' + "not json\n";
 * const { contacts, skipped } = parseJsonLines(text);
 * if (contacts.length !== 2 || contacts[0]!.id !== "01J0000000000000000000000A") throw new Error();
 * if (contacts[1]!.name !== "Ann" || skipped[0]!.line !== 3) throw new Error();
 * ```
 */
export function parseJsonLines(text: string): BackupResult {
  const result: BackupResult = { contacts: [], skipped: [], warnings: [] };
  let index = 0;
  const take = (value: unknown, line: number) => {
    for (const item of records(value)) readRecord(item, index++, line, result);
  };
  const body = text.replace(/^\uFEFF/, "");
  const whole = tryParse(body.trim());
  if (whole.ok) {
    // One JSON text (an array, a page, a contact, even pretty-printed); JSON Lines with
    // more than one record never parses as one text.
    take(whole.value, 1);
    return result;
  }
  const lines = body.split("\n");
  lines.forEach((raw, at) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") return;
    const parsed = tryParse(line);
    if (!parsed.ok) {
      result.skipped.push({
        index: index++,
        line: at + 1,
        reason: `Line ${at + 1} is not JSON: ${parsed.message}`,
      });
      return;
    }
    take(parsed.value, at + 1);
  });
  return result;
}

function tryParse(text: string): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/** The records a JSON value holds: an array's items, a page's contacts, or the value. */
function records(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (
    typeof value === "object" && value !== null && "contacts" in value &&
    Array.isArray((value as { contacts: unknown }).contacts) && !("name" in value)
  ) {
    return (value as { contacts: unknown[] }).contacts;
  }
  return [value];
}

function readRecord(item: unknown, index: number, line: number, result: BackupResult): void {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    result.skipped.push({ index, line, reason: "The record is not a JSON object" });
    return;
  }
  const object = item as Record<string, unknown>;
  const name = typeof object.name === "string" && object.name.trim() !== ""
    ? object.name.trim()
    : undefined;
  const where = { index, line, ...(name ? { name } : {}) };
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (USER_FIELDS.has(key)) fields[key] = value;
    else if (!SERVER_FIELDS.has(key)) {
      result.warnings.push({
        ...where,
        reason: `${JSON.stringify(key.slice(0, 40))} is not a contact field: left out`,
      });
    }
  }
  let contact: ContactFields;
  try {
    contact = validateContact(fields);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    result.skipped.push({ ...where, reason: importReason(error.message) });
    return;
  }
  const id = object.id;
  if (typeof id === "string" && isId(id)) {
    result.contacts.push({ ...contact, id });
    return;
  }
  if (id !== undefined) {
    result.warnings.push({
      ...where,
      reason: `${JSON.stringify(String(id).slice(0, 40))} is not a contact id: added with a new id`,
    });
  }
  result.contacts.push(contact);
}
