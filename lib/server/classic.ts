/**
 * The classic protocol of the tutorial this product descends from: `add:name,details`,
 * `rem:name`, `fnd:name`, one message per read, plain-text replies. Old clients keep
 * working against this server.
 *
 * @module
 */

import { type ContactFields, validateContact, ValidationError } from "../model/contact.ts";
import type { Contact } from "../model/contact.ts";
import { MAX_PAGE, type Page } from "../protocol/api.ts";
import type { RpcErrorObject } from "../protocol/jsonrpc.ts";
import { dispatch, type MethodContext } from "./methods.ts";

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
 * Runs one classic message through the methods (as every front door does, so access checks
 * and limits are the same) and returns the plain-text reply. Never throws for bad input:
 * every case has its reply. A read-only session (the classic protocol served off loopback
 * by `--classic-lan`) can only `fnd:`.
 *
 * @example
 * ```ts
 * import { runClassic } from "./classic.ts";
 * import { standaloneContext } from "./methods.ts";
 * import { ContactStore } from "../store/mod.ts";
 * await using store = await ContactStore.open(":memory:");
 * const context = standaloneContext(store);
 * if (await runClassic("add:Bob,12 High Street, Springfield", context) !== "Added entry for Bob") {
 *   throw new Error();
 * }
 * if (await runClassic("fnd:Bob", context) !== "Bob: 12 High Street, Springfield") throw new Error();
 * ```
 */
export async function runClassic(message: string, context: MethodContext): Promise<string> {
  const command = parseClassic(message);
  try {
    switch (command.op) {
      case "unknown":
        return `ERROR: Unrecognised command: ${command.command}`;
      case "add":
        return await classicAdd(command.name, command.details, context);
      case "fnd": {
        if (command.name === "") return "ERROR: The name is empty";
        const { contacts } = await named(context, command.name);
        if (contacts.length === 0) return `Sorry, no entry for ${command.name}`;
        return contacts.map(formatClassicEntry).join("\n");
      }
      case "rem": {
        if (command.name === "") return "ERROR: The name is empty";
        await call(context, "remove", { name: command.name });
        return `Removed entry for ${command.name}`;
      }
    }
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    const { reason, message, data } = error;
    const name = command.op === "unknown" ? "" : command.name;
    if (reason === "UNAUTHORIZED") {
      return `ERROR: Read-only: only fnd: is served on this address, not ${command.op}:`;
    }
    if (reason === "NOT_FOUND") return `Sorry, no entry for ${name}`;
    if (reason === "AMBIGUOUS" && Array.isArray(data.candidates)) {
      const { contacts, more } = await named(context, name);
      return `ERROR: ${more ? "Over " : ""}${contacts.length} entries are named ${name}; ` +
        "remove one with the client";
    }
    if (reason === "INTERNAL") return "ERROR: Internal error; the server logged the details";
    return `ERROR: ${message}`;
  }
}

/** A method's error answer, as classic replies branch on it. */
class Refused extends Error {
  readonly reason: string;
  readonly data: Record<string, unknown>;
  constructor(error: RpcErrorObject) {
    super(error.message);
    this.reason = String(error.data?.reason ?? "");
    this.data = error.data ?? {};
  }
}

/** Calls one method as a request of this connection; its error answer is thrown as Refused. */
async function call<T = unknown>(
  context: MethodContext,
  method: string,
  params: Record<string, unknown>,
): Promise<T> {
  const response = await dispatch({ id: 0, method, params }, context);
  if (response === undefined) throw new Error(`${method} gave no response`);
  if ("error" in response) throw new Refused(response.error);
  return response.result as T;
}

/** Pages of `find` read for one classic message at most: 10,000 contacts. */
const MAX_NAMED_PAGES = 100;

/**
 * Every contact `find` gives for `name` (case- and accent-insensitive), page by page; `more`
 * when there were more than {@link MAX_NAMED_PAGES} pages.
 */
async function named(
  context: MethodContext,
  name: string,
): Promise<{ contacts: Contact[]; more: boolean }> {
  const contacts: Contact[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_NAMED_PAGES; page++) {
    const result: Page = await call<Page>(context, "find", {
      name,
      limit: MAX_PAGE,
      ...(cursor === null ? {} : { cursor }),
    });
    contacts.push(...result.contacts);
    cursor = result.cursor;
    if (cursor === null) return { contacts, more: false };
  }
  return { contacts, more: true };
}

async function classicAdd(name: string, details: string, context: MethodContext): Promise<string> {
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
  const found = await named(context, fields.name);
  const same = found.contacts.filter((contact) => contact.name === fields.name);
  const [existing, second] = same;
  if (existing === undefined && !found.more) {
    await call(context, "add", { contact: fields });
    return `Added entry for ${fields.name}`;
  }
  if (existing === undefined || second !== undefined) {
    return `ERROR: ${found.more ? "Over " : ""}${same.length} entries are named ${fields.name}; ` +
      "edit one with the client";
  }
  const { id, version, created: _c, updated: _u, ...kept } = existing;
  await call(context, "update", {
    id,
    version,
    contact: {
      ...kept,
      house: fields.house,
      street: fields.street,
      town: fields.town,
      phones: fields.phones.length ? [...fields.phones, ...kept.phones.slice(1)] : kept.phones,
      notes: fields.notes,
    },
  });
  return `Updated entry for ${fields.name}`;
}
