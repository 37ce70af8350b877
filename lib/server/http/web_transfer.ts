/**
 * The web page's download and upload (issue 13): `GET /export.vcf` and `GET /export.csv`
 * write the book in vCard 3.0 or CSV (the formats of `lib/formats`, as the client's export
 * writes them), read through the methods module's `export` pages, produced as the browser
 * reads; `POST /import` takes a vCard or CSV file (the door's 4 MiB body cap) and adds or
 * updates its contacts through the methods module (`add`, `update`: a card whose UID is a
 * stored contact's, or the UID an export gave it, updates that contact; one equal to it is
 * left unchanged), answering a JSON summary of added, updated, unchanged and skipped cards
 * with reasons.
 *
 * A protected server wants the token in `Authorization: Bearer TOKEN` (the page sends the
 * one in its session storage; never in a URL or a cookie), checked by the server's
 * Authenticator under the doors' shared guard; import needs the read-write token. An
 * `Origin` other than the page's own is refused, so another site cannot post a file.
 *
 * @module
 */

import type { Access } from "../auth.ts";
import { TooManyAttempts } from "../auth_guard.ts";
import { dispatch, dispatchNow, type MethodContext } from "../methods.ts";
import type { Contact, ContactFields } from "../../model/contact.ts";
import { USER_FIELDS } from "../../model/contact.ts";
import { formatVCard, parseVCards } from "../../formats/vcard.ts";
import { formatCsv, parseCsv } from "../../formats/csv.ts";
import {
  decodeText,
  detectFormat,
  type ImportResult,
  uidForContact,
} from "../../formats/interop.ts";
import { BodyTimeoutError, BodyTooLargeError, type RequestInfo } from "./server.ts";
import type { Authenticator } from "../auth.ts";
import type { AuthGuard } from "../auth_guard.ts";
import type { Logger } from "../log.ts";
import type { ContactStore } from "../../store/mod.ts";

/** What the download and upload need from the server (a part of the page's options). */
export interface TransferOptions {
  store: ContactStore;
  log: Logger;
  /** The server's tokens; absent: an open server (every socket may write). */
  auth?: Authenticator;
  /** The failure guard shared with the other doors. */
  authGuard?: AuthGuard;
  /** The longest message read, in bytes (`--max-line`). */
  maxLine: number;
  /**
   * How long a client may leave sent data unread, and a failed-auth guard wait may be
   * (milliseconds; `--write-timeout`).
   */
  timeoutMs: number;
  /** Tokens are refused (plain HTTP off loopback without `--http-plain-auth`). */
  refusePlainAuth: boolean;
  serverStats: MethodContext["serverStats"];
}

/** The paths this module answers. */
export const TRANSFER_PATHS = ["/export.vcf", "/export.csv", "/import"] as const;

/** Contacts per `export` page read. */
const PAGE = 100;
/** The pause before a wrong token is answered (milliseconds). */
const FAILURE_DELAY_MS = 1000;

/** What `POST /import` answers. */
export interface ImportSummary {
  format: "vcard" | "csv";
  added: number;
  updated: number;
  unchanged: number;
  /** Cards not imported, each with its name (when known) and why. */
  skipped: { name?: string; reason: string }[];
  /** Parts of cards left out (the card itself was imported). */
  warnings: { name?: string; reason: string }[];
}

function text(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(message + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** Answers `/export.vcf`, `/export.csv` and `/import`; the request's Origin is checked already. */
export async function handleTransfer(
  request: Request,
  info: RequestInfo,
  options: TransferOptions,
  headers: Readonly<Record<string, string>>,
): Promise<Response> {
  const path = new URL(request.url).pathname;
  const wanted = path === "/import" ? "POST" : "GET";
  if (request.method !== wanted && !(wanted === "GET" && request.method === "HEAD")) {
    await request.body?.cancel().catch(() => {});
    return text(405, `${path} takes ${wanted}`, { allow: wanted });
  }
  const access = await authorize(request, info, options);
  if (access instanceof Response) {
    await request.body?.cancel().catch(() => {});
    return access;
  }
  const context: MethodContext = {
    store: options.store,
    connection: info.number,
    requests: 0,
    maxLine: options.maxLine,
    serverStats: options.serverStats,
    log: options.log,
    session: {
      required: options.auth !== undefined,
      access,
      authenticate: () => Promise.reject(new Error("HTTP requests send their token in a header")),
    },
  };
  if (path === "/import") {
    if (access !== "write") {
      await request.body?.cancel().catch(() => {});
      return text(403, "Unauthorized: this token is read-only; importing needs the read-write one");
    }
    let body: Uint8Array;
    try {
      body = await info.body();
    } catch (error) {
      if (error instanceof BodyTooLargeError) return text(413, error.message);
      if (error instanceof BodyTimeoutError) return text(408, error.message);
      throw error;
    }
    const summary = await importFile(body, context);
    if (typeof summary === "string") return text(400, summary);
    options.log.info(
      `Web ${info.number} from ${info.peer}: imported ${summary.added} added, ` +
        `${summary.updated} updated, ${summary.unchanged} unchanged, ` +
        `${summary.skipped.length} skipped`,
    );
    return new Response(JSON.stringify(summary), {
      headers: { "content-type": "application/json; charset=utf-8", ...headers },
    });
  }
  const csv = path === "/export.csv";
  const name = csv ? "addressbook.csv" : "addressbook.vcf";
  const replyHeaders = {
    ...headers,
    "content-type": csv ? "text/csv; charset=utf-8" : "text/vcard; charset=utf-8",
    "content-disposition": `attachment; filename="${name}"`,
  };
  if (request.method === "HEAD") return new Response(null, { headers: replyHeaders });
  return new Response(info.stream(exportPieces(context, csv)), { headers: replyHeaders });
}

/** The token's access, or the reply refusing it. */
async function authorize(
  request: Request,
  info: RequestInfo,
  options: TransferOptions,
): Promise<Exclude<Access, "none"> | Response> {
  const { auth, authGuard, refusePlainAuth, log } = options;
  if (!auth) return "write";
  if (refusePlainAuth) {
    return text(
      403,
      "This server takes no token over plain HTTP off loopback: give it a TLS certificate, " +
        "or start it with --http-plain-auth",
    );
  }
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) return text(401, "Unauthorized: send the token as Authorization: Bearer TOKEN");
  if (authGuard) {
    let wait: number;
    try {
      wait = authGuard.begin(info.host, options.timeoutMs);
    } catch (error) {
      if (!(error instanceof TooManyAttempts)) throw error;
      return text(429, `Unauthorized: ${error.message}`, {
        "retry-after": String(error.retryAfter),
      });
    }
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  let access: Access;
  try {
    access = await auth.check(match[1]!);
  } catch (error) {
    authGuard?.end(info.host, { ok: true });
    throw error;
  }
  if (access !== "none") {
    authGuard?.end(info.host, { ok: true });
    return access;
  }
  const line = `Web ${info.number} from ${info.peer}: ${new URL(request.url).pathname} with a ` +
    "wrong token";
  if (authGuard) authGuard.end(info.host, { ok: false, line });
  else log.warn(line);
  await new Promise((resolve) => setTimeout(resolve, FAILURE_DELAY_MS));
  return text(401, "Unauthorized: the token is not valid");
}

/** Runs one method through the methods module; its error as a thrown Error. */
async function run(
  context: MethodContext,
  method: string,
  params: Record<string, unknown>,
): Promise<{ result?: unknown; error?: { message: string; data: Record<string, unknown> } }> {
  context.requests++;
  const request = { id: context.requests, method, params };
  const reply = dispatchNow(request, context) || await dispatch(request, context);
  if (reply === undefined) throw new Error("no reply to a request with an id");
  if ("result" in reply) return { result: reply.result };
  return { error: reply.error as { message: string; data: Record<string, unknown> } };
}

/** Every contact, a page of `export` at a time. */
async function* allContacts(context: MethodContext): AsyncGenerator<Contact> {
  let cursor: string | null = null;
  // Bounded: each page moves the cursor on; the last one has none.
  do {
    const reply = await run(context, "export", { limit: PAGE, ...(cursor ? { cursor } : {}) });
    if (reply.error) throw new Error(`export failed: ${reply.error.message}`);
    const page = reply.result as { contacts: Contact[]; cursor: string | null };
    yield* page.contacts;
    cursor = page.contacts.length > 0 ? page.cursor : null;
  } while (cursor !== null);
}

/** The export file's text, a page of contacts at a time. */
async function* exportPieces(context: MethodContext, csv: boolean): AsyncGenerator<string> {
  let first = true;
  let page: Contact[] = [];
  for await (const contact of allContacts(context)) {
    page.push(contact);
    if (page.length < PAGE) continue;
    yield piece(page, csv, first);
    first = false;
    page = [];
  }
  if (page.length > 0 || first) yield piece(page, csv, first);
}

function piece(contacts: Contact[], csv: boolean, first: boolean): string {
  if (!csv) return contacts.map((contact) => formatVCard(contact, "3.0")).join("");
  const table = formatCsv(contacts);
  // formatCsv writes a header row each time: only the first piece keeps it.
  return first ? table : table.slice(table.indexOf("\n") + 1);
}

function userFields(contact: ContactFields | Contact): string {
  const fields: Record<string, unknown> = {};
  for (const key of [...USER_FIELDS].sort()) {
    fields[key] = (contact as unknown as Record<string, unknown>)[key];
  }
  return JSON.stringify(fields);
}

/** Imports a file's cards; a sentence when the file cannot be read at all. */
async function importFile(
  body: Uint8Array,
  context: MethodContext,
): Promise<ImportSummary | string> {
  const { text: content } = decodeText(body);
  const format = detectFormat(content);
  if (format === "json") {
    return "This upload takes vCard (.vcf) or CSV files; restore a JSON backup with the client";
  }
  let parsed: ImportResult;
  try {
    parsed = format === "vcard" ? parseVCards(content) : parseCsv(content);
  } catch (error) {
    return `The file cannot be read as ${format === "vcard" ? "vCard" : "CSV"}: ${
      error instanceof Error ? error.message : String(error)
    }`;
  }
  const summary: ImportSummary = {
    format,
    added: 0,
    updated: 0,
    unchanged: 0,
    skipped: parsed.skipped.map(({ name, reason }) => ({ ...(name ? { name } : {}), reason })),
    warnings: parsed.warnings.map(({ name, reason }) => ({ ...(name ? { name } : {}), reason })),
  };
  // The stored contacts by the UID they have, or the one an export gives them.
  const byUid = new Map<string, Contact>();
  if (parsed.contacts.some((contact) => contact.uid !== "")) {
    for await (const stored of allContacts(context)) byUid.set(uidForContact(stored), stored);
  }
  for (const contact of parsed.contacts) {
    const stored = contact.uid !== "" ? byUid.get(contact.uid) : undefined;
    // What a stored contact keeps of its own: its UID, and what its extra holds (a CardDAV
    // card's text) that the file does not set.
    const merged = stored
      ? { ...contact, uid: stored.uid || contact.uid, extra: { ...stored.extra, ...contact.extra } }
      : contact;
    if (stored && userFields({ ...merged, uid: stored.uid }) === userFields(stored)) {
      summary.unchanged++;
      continue;
    }
    const reply = stored
      ? await run(context, "update", { id: stored.id, version: stored.version, contact: merged })
      : await run(context, "add", { contact });
    if (reply.error) {
      summary.skipped.push({ name: contact.name, reason: reply.error.message });
    } else if (stored) {
      summary.updated++;
    } else {
      summary.added++;
      const added = reply.result as Contact;
      if (contact.uid !== "") byUid.set(contact.uid, added);
    }
  }
  return summary;
}
