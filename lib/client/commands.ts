/**
 * The one-shot subcommands, for scripts: each connects once (but `ping`, which connects
 * once per greeting), runs, prints human text or JSON, and returns its exit code.
 *
 * @module
 */

import type { ClientCommand, ClientConfig } from "./config.ts";
import type { Page } from "../protocol/api.ts";
import type { Contact, ContactFields } from "../model/contact.ts";
import { applyPatch, blankContact, cleanMessage, userFields } from "./contact_edit.ts";
import { duplicateReason } from "../model/duplicates.ts";
import { formatCard, formatSummary, formatTable } from "./format.ts";
import { plural } from "../model/text.ts";
import { isId } from "../model/ids.ts";
import { ErrorCode } from "../protocol/jsonrpc.ts";
import { ConnectionError, type ConnectOptions, RemoteError, RpcClient } from "./rpc_client.ts";
import { loadCa, TransportError } from "./transport.ts";

/**
 * The exit codes, as `--help` documents them.
 *
 * @example
 * ```ts
 * import { ExitCode } from "./commands.ts";
 * if (ExitCode.UNREACHABLE !== 3) throw new Error();
 * ```
 */
export const ExitCode = {
  OK: 0,
  NOTHING_FOUND: 1,
  USAGE: 2,
  UNREACHABLE: 3,
  REFUSED: 4,
} as const;

/** Where a command prints: `out` for results, `err` for messages; each takes one line. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
  /**
   * Said after "cannot reach the server" when the client looked for one on the LAN first and
   * none answered (see `discover.ts`).
   */
  lanNote?: string;
}

/**
 * A command that talks to a server (not help, version or the menu; `export` and `import`
 * run in `transfer.ts`, `watch` in `watch.ts`).
 */
export type ServerCommand = Exclude<
  ClientCommand,
  { kind: "help" | "version" | "menu" | "export" | "import" | "watch" | "servers" }
>;

/**
 * The connect options of a configuration: where, how long, TLS and the token.
 *
 * @example
 * ```ts
 * import { connectOptions } from "./commands.ts";
 * const options = connectOptions({ host: "::1", port: 2007, timeoutMs: 5000, json: true });
 * if (options.host !== "::1" || "json" in options || "token" in options) throw new Error();
 * const secure = connectOptions({
 *   host: "book.lan", port: 2007, timeoutMs: 5000, json: false, tls: true, token: "t0ken",
 * });
 * if (!secure.tls || secure.token !== "t0ken") throw new Error();
 * ```
 */
export function connectOptions(config: ClientConfig): ConnectOptions {
  const options: ConnectOptions = {
    host: config.host,
    port: config.port,
    timeoutMs: config.timeoutMs,
  };
  if (config.tls) options.tls = true;
  if (config.caFile !== undefined) options.caFile = config.caFile;
  if (config.token !== undefined) options.token = config.token;
  return options;
}

/**
 * Reads the CA file a configuration names (`--ca`, `ADDRESSBOOK_CA`) before any connection,
 * so that a missing file or one without a certificate is a usage mistake (exit 2) naming
 * the file, not an unreachable server. Returns that sentence, or undefined when the file is
 * fine, is PEM text, or may not be read (the connection then says why, exit 3).
 *
 * @example A file that does not exist
 * ```ts
 * import { caFileProblem } from "./commands.ts";
 * const config = { host: "::1", port: 2007, timeoutMs: 5000, json: false, caFile: "/no/ca.pem" };
 * const problem = await caFileProblem(config);
 * if (!problem?.includes('"/no/ca.pem"')) throw new Error(problem);
 * ```
 */
export async function caFileProblem(config: ClientConfig): Promise<string | undefined> {
  if (config.caFile === undefined) return undefined;
  try {
    await loadCa(config.caFile);
    return undefined;
  } catch (error) {
    if (error instanceof TransportError && error.reason === "ca-file") return error.message;
    return undefined;
  }
}

/**
 * One sentence for a connection failure: the address, the reason, and what to do.
 *
 * @example
 * ```ts
 * import { connectionAdvice } from "./commands.ts";
 * import { ConnectionError } from "./rpc_client.ts";
 * const text = connectionAdvice(new ConnectionError("refused", "127.0.0.1:2007", "connection refused"));
 * if (!text.startsWith('Cannot reach the server at "127.0.0.1:2007": connection refused; start')) {
 *   throw new Error(text);
 * }
 * if (!text.includes("deno task serve")) throw new Error(text);
 * ```
 */
export function connectionAdvice(error: ConnectionError): string {
  const elsewhere = "or point to a running one with --host and --port (or " +
    "ADDRESSBOOK_SERVER=host:port)";
  switch (error.problem) {
    case "refused":
    case "failed":
      return `${error.message}; start a server with "deno task serve", ${elsewhere}`;
    case "unresolved":
      return `${error.message}; check the name, or give the server's IP address with --host`;
    case "timeout":
      return `${error.message}; check that the address is right and a server runs there ` +
        `("deno task serve"), or wait longer with --timeout`;
    case "protocol":
      return `${error.message}; check that --port is the addressbook server's port (2007 ` +
        "unless it was started with another)";
    case "closed":
      // Closed before the greeting: the detail already says what to try (--tls).
      if (!error.connected && error.detail.includes("--tls")) return error.message;
      return `${error.message}; try again, and see the server's log if it keeps happening`;
    case "denied":
    case "tls":
      return error.message;
  }
}

/**
 * Prints an error the way the exit codes promise and returns the code: 3 for a connection
 * failure, 1 for NOT_FOUND, 4 for any other server refusal (with `--json`, the error object
 * is also printed on standard output). Other errors are rethrown.
 *
 * @example A conflict, for a script
 * ```ts
 * import { reportError } from "./commands.ts";
 * import { RemoteError } from "./rpc_client.ts";
 * const out: string[] = [], err: string[] = [];
 * const io = { out: (line: string) => out.push(line), err: (line: string) => err.push(line) };
 * const error = new RemoteError({ code: -32002, message: "Changed", data: { reason: "CONFLICT" } });
 * if (reportError(error, true, io) !== 4) throw new Error();
 * if (JSON.parse(out[0]!).error.data.reason !== "CONFLICT") throw new Error();
 * if (err[0] !== "addressbook: Changed (CONFLICT)") throw new Error(err[0]);
 * ```
 */
export function reportError(error: unknown, json: boolean, io: Output): number {
  if (error instanceof ConnectionError) {
    io.err(`addressbook: ${connectionAdvice(error)}${io.lanNote ? `; ${io.lanNote}` : ""}`);
    return ExitCode.UNREACHABLE;
  }
  if (!(error instanceof RemoteError)) throw error;
  if (json) io.out(JSON.stringify({ error: error.toObject() }));
  io.err(`addressbook: ${cleanMessage(error.message)} (${error.reason})`);
  const candidates = error.data.candidates;
  if (error.reason === "AMBIGUOUS" && Array.isArray(candidates)) {
    for (const candidate of candidates as Array<{ id: string; name: string; town: string }>) {
      io.err(`  ${candidate.id}  ${[candidate.name, candidate.town].filter(Boolean).join(" · ")}`);
    }
  }
  return error.reason === "NOT_FOUND" ? ExitCode.NOTHING_FOUND : ExitCode.REFUSED;
}

/**
 * Connects for a command, or prints why it cannot (as {@link reportError} does) and returns
 * that exit code instead of a client.
 *
 * @example Nothing listens: exit code 3 and one sentence
 * ```ts
 * import { connectOrReport } from "./commands.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close();
 * const err: string[] = [];
 * const io = { out: () => {}, err: (line: string) => err.push(line) };
 * const client = await connectOrReport({ host: "127.0.0.1", port, timeoutMs: 5000 }, false, io);
 * if (client !== 3 || err.length !== 1) throw new Error(String(client));
 * ```
 */
export async function connectOrReport(
  options: ConnectOptions,
  json: boolean,
  io: Output,
): Promise<RpcClient | number> {
  try {
    return await RpcClient.connect(options);
  } catch (error) {
    return reportError(error, json, io);
  }
}

/**
 * Runs a subcommand and returns its exit code. Never throws for a server's refusal or an
 * unreachable server.
 *
 * @example Nothing listens: exit code 3 and one sentence
 * ```ts
 * import { runCommand } from "./commands.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close();
 * const err: string[] = [];
 * const code = await runCommand(
 *   { kind: "count", config: { host: "127.0.0.1", port, timeoutMs: 5000, json: false } },
 *   { out: () => {}, err: (line) => err.push(line) },
 * );
 * if (code !== 3 || !err[0]!.includes("deno task serve")) throw new Error(err[0]);
 * ```
 */
export async function runCommand(command: ServerCommand, io: Output): Promise<number> {
  const { json } = command.config;
  if (command.kind === "ping") return await ping(command, io);
  const client = await connectOrReport(connectOptions(command.config), json, io);
  if (typeof client === "number") return client;
  try {
    return await run(command, client, io);
  } catch (error) {
    return reportError(error, json, io);
  } finally {
    await client.dispose();
  }
}

async function run(
  command: Exclude<ServerCommand, { kind: "ping" }>,
  client: RpcClient,
  io: Output,
): Promise<number> {
  const { json } = command.config;
  const print = (value: unknown, human: () => string) => {
    io.out(json ? JSON.stringify(value) : human());
  };
  switch (command.kind) {
    case "add": {
      const contact = applyPatch(blankContact(""), command.fields);
      const existing = isId(contact.name.trim())
        ? await getOrNull(client, contact.name.trim())
        : null;
      if (existing !== null) {
        // `add ID --town X`: the id of a contact in the book, not a new name.
        io.err(
          `addressbook: ${JSON.stringify(existing.id)} is the id of ${existing.name}, who is ` +
            `already in the book; add takes a new contact's name; to change this one: edit ` +
            `${existing.id} --town ...`,
        );
        return ExitCode.USAGE;
      }
      const likely = await likelyDuplicates(client, contact);
      const added = await client.call<Contact>("add", { contact });
      print(added, () => `Added ${added.name} (id ${added.id})`);
      if (likely.length > 0) {
        io.err(
          `addressbook: ${added.name} may already have been in the book (added all the same):`,
        );
        for (const { contact: other, reason } of likely) {
          io.err(`  ${other.id}  ${formatSummary(other)} (${reason})`);
        }
      }
      return ExitCode.OK;
    }
    case "get": {
      const contact = await resolve(client, command.target);
      print(contact, () => formatCard(contact, { id: true }));
      return ExitCode.OK;
    }
    case "edit": {
      const contact = await resolve(client, command.target);
      const saved = await client.call<Contact>("update", {
        id: contact.id,
        version: contact.version,
        contact: applyPatch(userFields(contact), command.fields),
      });
      print(saved, () => `Updated ${saved.name} (id ${saved.id})`);
      return ExitCode.OK;
    }
    case "rm": {
      const params = isId(command.target) ? { id: command.target } : { name: command.target };
      const result = await client.call<{ removed: Contact }>("remove", params);
      print(result, () => `Deleted ${result.removed.name} (id ${result.removed.id})`);
      return ExitCode.OK;
    }
    case "find":
    case "search":
    case "list": {
      const params: Record<string, unknown> = { ...command.page };
      if (command.kind === "find") params.name = command.name;
      if (command.kind === "search") params.query = command.query;
      const group = command.kind === "find" ? undefined : command.group;
      if (group !== undefined) params.group = group;
      if (command.all) return await streamAll(client, command.kind, params, json, io, group);
      let page = await client.call<Page>(command.kind, params);
      // A group's page may come back empty with a cursor (the server looks at a bounded
      // number of candidates a call): go on until something is found or the end.
      for (let round = 0; round < 1000 && page.contacts.length === 0 && page.cursor; round++) {
        page = await client.call<Page>(command.kind, { ...params, cursor: page.cursor });
      }
      if (json) io.out(JSON.stringify(page));
      else printPage(page, io);
      const inGroup = group === undefined ? "" : ` in the group ${JSON.stringify(group)}`;
      if (page.contacts.length === 0 && command.kind === "list" && group === undefined) {
        if (!json && !command.page.cursor) io.err("addressbook: The address book is empty");
      } else if (page.contacts.length === 0 && command.kind === "list") {
        if (!json) io.err(`addressbook: No contact is${inGroup}`);
        return ExitCode.NOTHING_FOUND;
      } else if (page.contacts.length === 0) {
        if (!json) {
          io.err(
            command.kind === "find"
              ? `addressbook: No contact is named ${JSON.stringify(command.name)}`
              : `addressbook: Nothing matches ${
                JSON.stringify(command.kind === "search" ? command.query : "")
              }${inGroup}`,
          );
        }
        return ExitCode.NOTHING_FOUND;
      }
      return ExitCode.OK;
    }
    case "count": {
      const result = await client.call<{ count: number }>("count");
      print(result, () => plural(result.count, "contact"));
      return ExitCode.OK;
    }
    case "stats": {
      const stats = await client.call<Stats>("stats");
      print(stats, () => formatStats(stats));
      return ExitCode.OK;
    }
  }
}

/**
 * The stored contacts that `fields` likely duplicates: same name (as `find` compares names)
 * and a shared phone or email. Reads at most the first 100 contacts with that name, through
 * `client` (an {@link RpcClient}, or the menu's reconnecting call).
 *
 * @example The stored Ann shares the phone
 * ```ts
 * import { likelyDuplicates } from "./commands.ts";
 * import { blankContact } from "./contact_edit.ts";
 * const phones = [{ label: "", number: "555-0123" }];
 * const ann = { ...blankContact("Ann"), phones, id: "01J0000000000000000000000A", version: "1",
 *   created: "", updated: "" };
 * const client = { call: <T>() => Promise.resolve({ contacts: [ann], cursor: null } as T) };
 * const likely = await likelyDuplicates(client, { ...blankContact("ann"), phones });
 * if (likely[0]?.contact !== ann || likely[0].reason !== 'same name and phone "555-0123"') {
 *   throw new Error(JSON.stringify(likely));
 * }
 * ```
 */
export async function likelyDuplicates(
  client: Pick<RpcClient, "call">,
  fields: ContactFields,
): Promise<Array<{ contact: Contact; reason: string }>> {
  if (fields.phones.length + fields.emails.length === 0 || fields.name.trim() === "") return [];
  const page = await client.call<Page>("find", { name: fields.name, limit: 100 });
  return page.contacts.flatMap((contact) => {
    const reason = duplicateReason(fields, contact);
    return reason === null ? [] : [{ contact, reason }];
  });
}

/** The most pages `--all` reads: 100,000 of up to 100 contacts, far past any book. */
const MAX_PAGES = 100_000;

/**
 * `--all`: every match, page after page as the server sends them: JSON Lines (one contact a
 * line) with `--json`, else a table numbered on from page to page with its header once.
 */
async function streamAll(
  client: RpcClient,
  kind: "find" | "search" | "list",
  params: Record<string, unknown>,
  json: boolean,
  io: Output,
  group: string | undefined,
): Promise<number> {
  let shown = 0;
  let cursor = params.cursor as string | undefined;
  for (let round = 0; round < MAX_PAGES; round++) {
    const page = await client.call<Page>(
      kind,
      cursor === undefined ? params : { ...params, cursor },
    );
    if (json) {
      for (const contact of page.contacts) io.out(JSON.stringify(contact));
    } else if (page.contacts.length > 0) {
      const table = formatTable(page.contacts, { first: shown + 1 });
      io.out(shown === 0 ? table : table.split("\n").slice(1).join("\n"));
    }
    shown += page.contacts.length;
    if (!page.cursor) break;
    cursor = page.cursor;
  }
  if (shown > 0) return ExitCode.OK;
  if (kind === "list" && group === undefined) {
    if (!json && !params.cursor) io.err("addressbook: The address book is empty");
    return ExitCode.OK;
  }
  if (!json) io.err("addressbook: Nothing matches");
  return ExitCode.NOTHING_FOUND;
}

function printPage(page: Page, io: Output): void {
  if (page.contacts.length === 0) return;
  if (page.contacts.length <= 3 && page.cursor === null) {
    io.out(page.contacts.map((contact) => formatCard(contact, { id: true })).join("\n\n"));
  } else {
    io.out(formatTable(page.contacts));
  }
  if (page.cursor !== null) {
    io.err(`More results: run it again with --cursor ${page.cursor}`);
  }
}

/** The contact with this id, or null when there is none. */
async function getOrNull(client: RpcClient, id: string): Promise<Contact | null> {
  try {
    return await client.call<Contact>("get", { id });
  } catch (error) {
    if (error instanceof RemoteError && error.reason === "NOT_FOUND") return null;
    throw error;
  }
}

/**
 * The contact a command names: by id, or by a name that exactly one contact has. Throws a
 * {@link RemoteError}: NOT_FOUND, or AMBIGUOUS with the candidates.
 */
async function resolve(client: RpcClient, target: string): Promise<Contact> {
  if (isId(target)) return await client.call<Contact>("get", { id: target });
  const page = await client.call<Page>("find", { name: target, limit: 100 });
  const [only, second] = page.contacts;
  if (only === undefined) {
    throw new RemoteError({
      code: ErrorCode.NOT_FOUND,
      message: `No contact is named ${JSON.stringify(target)}`,
      data: { reason: "NOT_FOUND" },
    });
  }
  if (second !== undefined) {
    throw new RemoteError({
      code: ErrorCode.AMBIGUOUS,
      message: `${page.contacts.length}${page.cursor ? "+" : ""} contacts are named ` +
        `${JSON.stringify(target)}; give one's id instead`,
      data: {
        reason: "AMBIGUOUS",
        candidates: page.contacts.map(({ id, name, town }) => ({ id, name, town })),
      },
    });
  }
  return only;
}

interface Stats {
  connections: { open: number; total: number };
  requests: number;
  contacts: number;
  uptime: number;
}

function formatStats(stats: Stats): string {
  return [
    `contacts     ${stats.contacts}`,
    `connections  ${stats.connections.open} open, ${stats.connections.total} since the server started`,
    `requests     ${stats.requests}`,
    `uptime       ${formatDuration(stats.uptime)}`,
  ].join("\n");
}

/**
 * Seconds as a short duration.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./commands.ts";
 * if (formatDuration(3725) !== "1 h 2 min 5 s" || formatDuration(0) !== "0 s") throw new Error();
 * ```
 */
export function formatDuration(seconds: number): string {
  const parts: string[] = [];
  const days = Math.floor(seconds / 86400);
  const hours = Math.floor(seconds / 3600) % 24;
  const minutes = Math.floor(seconds / 60) % 60;
  const rest = Math.floor(seconds) % 60;
  if (days) parts.push(`${days} d`);
  if (hours) parts.push(`${hours} h`);
  if (minutes) parts.push(`${minutes} min`);
  if (rest || parts.length === 0) parts.push(`${rest} s`);
  return parts.join(" ");
}

interface PingResult {
  message: string;
  connection: number;
  requests: number;
}

/** `ping`: the tutorial's first client, one new connection per greeting. */
async function ping(
  command: Extract<ServerCommand, { kind: "ping" }>,
  io: Output,
): Promise<number> {
  const { json } = command.config;
  let code: number = ExitCode.OK;
  for (let seq = 1; seq <= command.count; seq++) {
    if (seq > 1) await new Promise((resolve) => setTimeout(resolve, command.intervalMs));
    const started = performance.now();
    let client: RpcClient | undefined;
    try {
      client = await RpcClient.connect(connectOptions(command.config));
      const result = await client.call<PingResult>("ping");
      const ms = Math.round((performance.now() - started) * 10) / 10;
      io.out(
        json ? JSON.stringify({ seq, ...result, ms }) : `${result.message} (${ms} ms)`,
      );
    } catch (error) {
      if (json && error instanceof ConnectionError) {
        io.out(JSON.stringify({ seq, error: { problem: error.problem, message: error.message } }));
      } else if (json && error instanceof RemoteError) {
        io.out(JSON.stringify({ seq, error: error.toObject() }));
      }
      code = reportError(error, false, io);
    } finally {
      await client?.dispose();
    }
  }
  return code;
}
