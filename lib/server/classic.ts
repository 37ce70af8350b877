/**
 * The classic protocol of the tutorial this product descends from: `add:name,details`,
 * `rem:name`, `fnd:name`, one message per read, plain-text replies. Old clients keep
 * working against this server.
 *
 * @module
 */

import { type ContactFields, validateContact, ValidationError } from "../model/contact.ts";
import type { Contact } from "../model/contact.ts";
import { AmbiguousError, type ContactStore, MAX_PAGE, NotFoundError } from "../store/store.ts";

/**
 * Whether the first bytes of a connection choose the classic protocol: a command word and a
 * colon (`add:`, `rem:`, `fnd:`, or an unknown one, which then gets the tutorial's error).
 * JSON-RPC lines start with `{` or `[`, so the two never clash.
 *
 * @example
 * ```ts
 * import { isClassicStart } from "./classic.ts";
 * if (!isClassicStart("fnd:Bob") || isClassicStart('{"jsonrpc":"2.0"}')) throw new Error();
 * ```
 */
export function isClassicStart(text: string): boolean {
  return /^[A-Za-z]{1,16}:/.test(text);
}

/** Whether `text` could still become a classic start once more bytes arrive. */
export function couldBeClassicStart(text: string): boolean {
  return /^[A-Za-z]{0,16}$/.test(text);
}

/** A parsed classic command. */
export type ClassicCommand =
  | { op: "add"; name: string; details: string }
  | { op: "rem" | "fnd"; name: string }
  | { op: "unknown"; command: string };

/**
 * Parses one classic message, splitting on the first `:` and (for `add`) the first `,`.
 *
 * @example
 * ```ts
 * import { parseClassic } from "./classic.ts";
 * const c = parseClassic("add:Bob,12 High Street, Springfield, 555-0123");
 * if (c.op !== "add" || c.name !== "Bob" || c.details !== "12 High Street, Springfield, 555-0123") {
 *   throw new Error();
 * }
 * ```
 */
export function parseClassic(message: string): ClassicCommand {
  const colon = message.indexOf(":");
  const op = colon < 0 ? message : message.slice(0, colon);
  const data = colon < 0 ? "" : message.slice(colon + 1);
  if (colon >= 0 && op === "add") {
    const comma = data.indexOf(",");
    return comma < 0
      ? { op, name: data.trim(), details: "" }
      : { op, name: data.slice(0, comma).trim(), details: data.slice(comma + 1).trim() };
  }
  if (colon >= 0 && (op === "rem" || op === "fnd")) return { op, name: data.trim() };
  return { op: "unknown", command: op };
}

/**
 * Reads the tutorial's details shape, `house street, town, phone`, into contact fields;
 * anything else is kept whole in `notes`.
 *
 * @example
 * ```ts
 * import { parseDetails } from "./classic.ts";
 * const d = parseDetails("12 High Street, Springfield, 555-0123");
 * if (d.house !== "12" || d.street !== "High Street" || d.town !== "Springfield") throw new Error();
 * ```
 */
export function parseDetails(details: string): Partial<ContactFields> {
  const parts = details.split(",").map((part) => part.trim());
  if (parts.length === 3 && /\d/.test(parts[2]!)) {
    const [address, town, phone] = parts as [string, string, string];
    const match = /^(\d\S*)\s+(.+)$/.exec(address);
    return {
      house: match ? match[1]! : "",
      street: match ? match[2]! : address,
      town,
      phones: [{ label: "", number: phone }],
    };
  }
  return details === "" ? {} : { notes: details };
}

/**
 * Formats a contact as the tutorial's `fnd:` reply line.
 *
 * @example
 * ```ts
 * import { formatClassicEntry } from "./classic.ts";
 * const line = formatClassicEntry({ name: "Bob", house: "12", street: "High Street",
 *   town: "Springfield", phones: [{ label: "", number: "555-0123" }], notes: "" });
 * if (line !== "Bob: 12 High Street, Springfield, 555-0123") throw new Error();
 * ```
 */
export function formatClassicEntry(
  contact: Pick<Contact, "name" | "house" | "street" | "town" | "phones" | "notes">,
): string {
  const address = [contact.house, contact.street].filter(Boolean).join(" ");
  const parts = [address, contact.town, contact.phones[0]?.number ?? ""].filter(Boolean);
  if (contact.notes) parts.push(contact.notes);
  return `${contact.name}: ${parts.join(", ")}`;
}

/**
 * Runs one classic message against the store and returns the plain-text reply.
 * Never throws for bad input: every case has its reply. With `readOnly` (the classic
 * protocol served off loopback by `--classic-lan`), only `fnd:` runs.
 */
export async function runClassic(
  message: string,
  store: ContactStore,
  options: { readOnly?: boolean } = {},
): Promise<string> {
  const command = parseClassic(message);
  if (options.readOnly && (command.op === "add" || command.op === "rem")) {
    return `ERROR: Read-only: only fnd: is served on this address, not ${command.op}:`;
  }
  switch (command.op) {
    case "unknown":
      return `ERROR: Unrecognised command: ${command.command}`;
    case "add":
      return await classicAdd(command.name, command.details, store);
    case "fnd": {
      if (command.name === "") return "ERROR: The name is empty";
      const page = await store.find(command.name, { limit: MAX_PAGE });
      if (page.contacts.length === 0) return `Sorry, no entry for ${command.name}`;
      return page.contacts.map(formatClassicEntry).join("\n");
    }
    case "rem": {
      if (command.name === "") return "ERROR: The name is empty";
      try {
        await store.removeByName(command.name);
        return `Removed entry for ${command.name}`;
      } catch (error) {
        if (error instanceof NotFoundError) return `Sorry, no entry for ${command.name}`;
        if (error instanceof AmbiguousError) {
          return `ERROR: ${error.candidates.length} entries are named ${command.name}; ` +
            "remove one with the client";
        }
        throw error;
      }
    }
  }
}

async function classicAdd(name: string, details: string, store: ContactStore): Promise<string> {
  let fields: ContactFields;
  try {
    fields = validateContact({ name, ...parseDetails(details) });
  } catch (error) {
    if (error instanceof ValidationError) {
      // One sentence like the others: "ERROR: The name is 300 characters long, more than 200".
      const text = error.message.replace(/^contact\./, "the ");
      return `ERROR: ${text.charAt(0).toUpperCase()}${text.slice(1)}`;
    }
    throw error;
  }
  const same = (await store.find(fields.name, { limit: MAX_PAGE })).contacts
    .filter((contact) => contact.name === fields.name);
  const [existing, second] = same;
  if (existing === undefined) {
    await store.add(fields);
    return `Added entry for ${fields.name}`;
  }
  if (second !== undefined) {
    return `ERROR: ${same.length} entries are named ${fields.name}; edit one with the client`;
  }
  const { id, version, created: _c, updated: _u, ...kept } = existing;
  await store.update(id, version, {
    ...kept,
    house: fields.house,
    street: fields.street,
    town: fields.town,
    phones: fields.phones.length ? [...fields.phones, ...kept.phones.slice(1)] : kept.phones,
    notes: fields.notes,
  });
  return `Updated entry for ${fields.name}`;
}
