/**
 * The client's command line: options (each with its environment variable and default), the
 * subcommands with their arguments and contact-field flags, and the `--help` text.
 *
 * @module
 */

import { argsErrorMessage } from "../model/args.ts";
import { parseArgs } from "node:util";
import type { ContactFields, Email, Phone, Url } from "../model/contact.ts";
import { CLIENT_TRANSPORT_OPTIONS, clientTransportConfig } from "./transport.ts";
import type { VCardVersion } from "../formats/vcard.ts";

/** The default server port: the tutorial's. */
export const DEFAULT_PORT = 2007;
/** The default server host. */
export const DEFAULT_HOST = "127.0.0.1";
/** The default seconds to wait to connect, and then for each reply. */
export const DEFAULT_TIMEOUT = 5;

/** Where the server is, how to talk to it (TLS, token) and how long to wait for it. */
export interface ClientConfig {
  host: string;
  port: number;
  /** Milliseconds to wait to connect, and then for each reply. */
  timeoutMs: number;
  /** Machine output: JSON (JSON Lines for commands that stream). */
  json: boolean;
  /** Speak TLS (`--tls`, `ADDRESSBOOK_TLS`; implied by a CA). */
  tls?: boolean;
  /** The certificate to trust: a PEM file's path or its text (`--ca`, `ADDRESSBOOK_CA`). */
  caFile?: string;
  /** The token for a server that requires one (`--token`, `ADDRESSBOOK_TOKEN`). */
  token?: string;
  /**
   * Look for the server on the LAN first (DNS-SD): no `--host`, `--port` or
   * `ADDRESSBOOK_SERVER` was given, or `--server NAME` was (see `discover.ts`).
   */
  discover?: boolean;
  /** `--server NAME`: the server found on the LAN to use, by its advertised name. */
  serverName?: string;
}

/** Contact fields given on the command line; only the flags given are present. */
export type FieldFlags = Partial<Omit<ContactFields, "uid" | "extra">>;

/** Paging flags for find, search and list. */
export interface PageFlags {
  limit?: number;
  cursor?: string;
}

/** `--all` on find, search and list: every match, streamed (JSON Lines with `--json`). */
export interface AllFlag {
  all: boolean;
}

/** What the command line asks for. */
export type ClientCommand =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "menu"; config: ClientConfig }
  | { kind: "add"; config: ClientConfig; fields: FieldFlags }
  | { kind: "get"; config: ClientConfig; target: string }
  | { kind: "find"; config: ClientConfig; name: string; page: PageFlags } & AllFlag
  | { kind: "search"; config: ClientConfig; query: string; page: PageFlags; group?: string }
    & AllFlag
  | { kind: "list"; config: ClientConfig; page: PageFlags; group?: string } & AllFlag
  | { kind: "edit"; config: ClientConfig; target: string; fields: FieldFlags }
  | { kind: "rm"; config: ClientConfig; target: string }
  | { kind: "count"; config: ClientConfig }
  | { kind: "stats"; config: ClientConfig }
  | { kind: "ping"; config: ClientConfig; count: number; intervalMs: number }
  | { kind: "export"; config: ClientConfig; format: ExportFormat; vcardVersion: VCardVersion }
  | { kind: "import"; config: ClientConfig; format: ImportFormatOption }
  | { kind: "watch"; config: ClientConfig; query?: string; since?: number }
  | { kind: "servers"; config: ClientConfig; watch: boolean };

/** What `export --format` writes: JSON Lines, vCard or CSV. */
export type ExportFormat = "json" | "vcard" | "csv";
/** What `import --format` reads; `auto` tells vCard, JSON and CSV apart by their start. */
export type ImportFormatOption = "auto" | ExportFormat;

/** The subcommand names, in help order. */
export const SUBCOMMANDS = [
  "add",
  "get",
  "find",
  "search",
  "list",
  "edit",
  "rm",
  "count",
  "stats",
  "ping",
  "export",
  "import",
  "watch",
  "servers",
] as const;

/**
 * A mistake on the command line (exit code 2); the message says what is wrong.
 *
 * @example
 * ```ts
 * import { parseClientCommand, UsageError } from "./config.ts";
 * try {
 *   parseClientCommand(["frobnicate"], () => undefined);
 *   throw new Error("no usage error");
 * } catch (error) {
 *   if (!(error instanceof UsageError)) throw error;
 * }
 * ```
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

interface Option {
  flag: string;
  value: string;
  env: string;
  default: string;
  help: string;
}

/** What `--help` shows after a transport option's flag. */
const TRANSPORT_VALUES: Record<string, string> = { token: "TOKEN", ca: "FILE|PEM" };

/**
 * Every connection option: its flag, its environment variable, its default. The transport
 * and auth options (`--token`, `--tls`, `--ca`) come from `lib/transport.ts`.
 *
 * @example Every documented variable
 * ```ts
 * import { CLIENT_OPTIONS } from "./config.ts";
 * const names = CLIENT_OPTIONS.flatMap((o) => o.env.match(/ADDRESSBOOK_\w+/g) ?? []);
 * if (!names.includes("ADDRESSBOOK_TOKEN") || !names.includes("ADDRESSBOOK_SERVER")) {
 *   throw new Error(names.join());
 * }
 * ```
 */
export const CLIENT_OPTIONS: readonly Option[] = [
  {
    flag: "host",
    value: "HOST",
    env: "ADDRESSBOOK_SERVER (host:port)",
    default: DEFAULT_HOST,
    help: "server host name or address (names resolve: bookserver.local), or\n" +
      `${"".padEnd(23)}HOST:PORT, [v6]:PORT (then without --port)`,
  },
  {
    flag: "port",
    value: "PORT",
    env: "ADDRESSBOOK_SERVER (host:port)",
    default: String(DEFAULT_PORT),
    help: "server TCP port",
  },
  {
    flag: "server",
    value: "NAME",
    env: "none",
    default: "the one found",
    help: "the server found on the LAN (DNS-SD) with this name; servers lists them",
  },
  {
    flag: "timeout",
    value: "SECONDS",
    env: "none",
    default: String(DEFAULT_TIMEOUT),
    help: "seconds to wait to connect, and then for each reply",
  },
  ...CLIENT_TRANSPORT_OPTIONS.map((o) => ({
    flag: o.flag,
    value: o.boolean ? "" : TRANSPORT_VALUES[o.flag] ?? o.flag.toUpperCase(),
    env: o.env,
    default: o.default,
    help: o.help,
  })),
];

/** The options every command takes (where and how to connect). */
const CONNECTION_FLAGS: readonly string[] = CLIENT_OPTIONS.map((o) => o.flag);

const FIELD_FLAGS = [
  "name",
  "house",
  "street",
  "town",
  "postcode",
  "notes",
  "org",
  "title",
  "nickname",
  "birthday",
  "anniversary",
] as const;
const LIST_FLAGS = ["phone", "email", "url", "group"] as const;

/** Which flags each subcommand takes, beyond the connection options and --json. */
const SUBCOMMAND_FLAGS: Record<(typeof SUBCOMMANDS)[number], readonly string[]> = {
  add: [...FIELD_FLAGS, ...LIST_FLAGS],
  get: [],
  find: ["limit", "cursor", "all"],
  search: ["limit", "cursor", "group", "all"],
  list: ["limit", "cursor", "group", "all"],
  edit: [...FIELD_FLAGS, ...LIST_FLAGS],
  rm: [],
  count: [],
  stats: [],
  ping: ["count", "interval"],
  export: ["format", "vcard-version"],
  import: ["format"],
  watch: ["query", "since"],
  servers: ["watch"],
};

/**
 * The `--help` text: commands, every option with its environment variable and default, and
 * the exit codes.
 *
 * @example
 * ```ts
 * import { clientHelp } from "./config.ts";
 * if (!clientHelp().includes("Exit codes:")) throw new Error();
 * ```
 */
export function clientHelp(): string {
  const options = CLIENT_OPTIONS.map((o) =>
    `  --${(o.flag + " " + o.value).padEnd(18)} ${o.help}\n  ${"".padEnd(20)} env ${o.env}, ` +
    `default ${o.default}`
  );
  return [
    "addressbook client: a shared address book on the LAN",
    "",
    "Usage:",
    "  deno task client [options]                      the menu, for people",
    "  deno task client [options] COMMAND [args]       one command, for scripts",
    "",
    "Commands:",
    "  add [NAME] [fields]           add a contact (--name or NAME is required)",
    "  get ID|NAME                   show one contact",
    "  find NAME                     contacts with exactly this name (case and accents ignored)",
    "  search QUERY [--group NAME]   word prefixes of name, street, town, email, organisation,",
    "                                nickname, groups; or phone digits (the start, or the end",
    "                                of the number or of a group of its digits)",
    "  list [--group NAME]           the contacts (of that group), sorted by name",
    "  edit ID|NAME [fields]         change the fields given, keep the rest",
    "  rm ID|NAME                    delete a contact (a name must match exactly one)",
    "  count                         the number of contacts",
    "  stats                         the server's figures",
    "  ping [--count N] [--interval SECONDS]",
    "                                greet the server N times (default 1), SECONDS apart",
    "                                (default 1), each time on a new connection",
    "  export [--format json|vcard|csv] [--vcard-version 3.0|4.0]",
    "                                every contact to standard output: JSON Lines (default;",
    "                                a backup), vCard (3.0 default) or CSV",
    "  import [-] [--format auto|json|vcard|csv]",
    "                                contacts from standard input (format auto-detected): a",
    "                                contact with the id or uid of a stored one updates it,",
    "                                one without either whose fields equal a stored one's is",
    "                                unchanged (so a second run adds nothing), others are",
    "                                added, in batches of up to 100 writes over",
    "                                up to 4 connections, 4 batches in flight on each;",
    "                                prints a summary (--json: as JSON)",
    "  watch [--query Q] [--since SEQ]",
    "                                print changes as they happen (only those matching Q,",
    "                                as search does; after SEQ, from the server's change",
    "                                log); reconnects and resumes after a lost connection",
    "  servers [--watch]             the servers that answer on the LAN (DNS-SD, 1 s); --watch:",
    "                                keep listening and print each one found or gone",
    "",
    "Contact fields (add, edit):",
    "  --name TEXT  --house TEXT  --street TEXT  --town TEXT  --postcode TEXT  --notes TEXT",
    "  --phone [LABEL:]NUMBER        repeatable: --phone mobile:555-0123 --phone 555-0199",
    "  --email [LABEL:]ADDRESS       repeatable; in edit, --phone/--email replace the whole",
    '                                list and "" empties it; --notes "" clears the notes',
    "  --org TEXT  --title TEXT  --nickname TEXT  (organisation, job title)",
    "  --birthday DATE  --anniversary DATE   YYYY-MM-DD, or --MM-DD without a year",
    "  --url [LABEL:]URL             repeatable: --url work:https://acme.example (a bare host",
    "                                gets https://); replaces the list in edit, as --phone",
    "  --group NAME[,NAME]           repeatable: the groups (vCard CATEGORIES); replaces them",
    '                                in edit; "" empties them',
    'A value with spaces needs quotes (--phone "+44 20 7946 0958"); in add and edit a word',
    "  right after a flag's value is refused (exit 2), elsewhere one after the command's words",
    "  and a flag's value is; so a command's words (NAME, QUERY, ID) go before its options.",
    "Paging (find, search, list): each prints one page, the first 100 matches (--limit N,",
    "  1-100), and when there are more, the cursor on standard error; --cursor CURSOR goes on",
    "  from where that page ended. --all prints every match instead, page after page as the",
    "  server sends them: a table numbered on, or with --json JSON Lines, one contact a line",
    "  (not the {contacts, cursor} object). --all is never implied: a pipe gets the same as a",
    "  terminal, so a script wants --all (list --all --json | jq -r .name).",
    "",
    "Options (a flag beats the environment variable, which beats the default):",
    ...options,
    "  --json               machine output: add, get, edit print the contact; find, search,",
    "                       list print the server's result ({contacts, cursor}; with --all",
    "                       JSON Lines, one contact a line); rm, count,",
    "                       stats print the server's result; ping and watch print JSON",
    "                       Lines (watch: {type, id, name, version, seq}); import prints",
    '                       its summary; a server error prints {"error": {code, message,',
    "                       data: {reason, ...}}}",
    "  --help, -h, help     show this help",
    "  --version, -v        print the version",
    "",
    "A server off loopback requires a token: set ADDRESSBOOK_TOKEN (a --token shows in the",
    "process list). For TLS with a self-signed certificate, deno task client may read the",
    'file that ADDRESSBOOK_CA names and no other; or pass the text: --ca "$(cat cert.pem)".',
    "",
    "Exit codes:",
    "  0  success",
    "  1  nothing found (find or search matched nothing; get, edit or rm: no such contact)",
    "  2  usage error (unknown command, option or value, a stray word after a value, a",
    "     CA file that does not exist or holds no certificate)",
    "  3  cannot reach or talk to the server (refused, unknown host, timeout, closed,",
    "     TLS failure such as a certificate that is not trusted)",
    "  4  the server refused the request (CONFLICT, AMBIGUOUS, UNAUTHORIZED, BUSY,",
    "     BAD_REQUEST, ...), or a token it requires is missing or wrong; its reason is printed",
    "",
    "Without --host, --port and ADDRESSBOOK_SERVER the client first looks for a server on the",
    "LAN for about 1 s (DNS-SD, _addressbook._tcp): one found is used (and named on standard",
    "error); several: the menu asks which, a command exits 2 listing them unless --server",
    "NAME picks one; none: 127.0.0.1:2007.",
    "",
    "In the menu, end of input (Ctrl-D) and Ctrl-C quit cleanly (exit 0).",
    "Start a server with: deno task serve",
  ].join("\n");
}

/**
 * Splits `host:port`, `host`, `[v6]:port` or a bare IPv6 address.
 *
 * @example
 * ```ts
 * import { parseServerAddress } from "./config.ts";
 * const a = parseServerAddress("bookserver.local:2008");
 * if (a.host !== "bookserver.local" || a.port !== "2008") throw new Error();
 * const b = parseServerAddress("[::1]:2007");
 * if (b.host !== "::1" || b.port !== "2007") throw new Error();
 * if (parseServerAddress("::1").port !== undefined) throw new Error();
 * ```
 */
export function parseServerAddress(text: string): { host?: string; port?: string } {
  const value = text.trim();
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(value);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] };
  const colons = value.split(":").length - 1;
  if (colons === 1) {
    const [host, port] = value.split(":") as [string, string];
    return { host: host || undefined, port };
  }
  return { host: value || undefined };
}

/**
 * Parses `label:value` (a label is a short word or phrase) or a bare value.
 *
 * @example
 * ```ts
 * import { parseLabelled } from "./config.ts";
 * const a = parseLabelled("mobile: 555-0123");
 * if (a.label !== "mobile" || a.value !== "555-0123") throw new Error();
 * const b = parseLabelled("+44 20 7946 0958");
 * if (b.label !== "" || b.value !== "+44 20 7946 0958") throw new Error();
 * ```
 */
export function parseLabelled(text: string): { label: string; value: string } {
  const match = /^\s*(\p{L}[\p{L}\p{N} _.-]{0,49}?)\s*:\s*(.*)$/u.exec(text);
  if (match) return { label: match[1]!, value: match[2]!.trim() };
  return { label: "", value: text.trim() };
}

/**
 * Parses a list of labelled phones typed as `label: number, number` (the menu's form).
 *
 * @example
 * ```ts
 * import { parsePhones } from "./config.ts";
 * const phones = parsePhones("mobile: 555-0123, 555-0199");
 * if (phones.length !== 2 || phones[0]!.label !== "mobile" || phones[1]!.number !== "555-0199") {
 *   throw new Error();
 * }
 * ```
 */
export function parsePhones(text: string): Phone[] {
  return splitList(text).map(labelledPhone);
}

/**
 * Parses a list of labelled emails typed as `label: address, address`.
 *
 * @example
 * ```ts
 * import { parseEmails } from "./config.ts";
 * const emails = parseEmails("work: bob@example.com; bob@home.example");
 * if (emails[0]!.label !== "work" || emails[1]!.address !== "bob@home.example") throw new Error();
 * ```
 */
export function parseEmails(text: string): Email[] {
  return splitList(text).map(labelledEmail);
}

function labelledPhone(text: string): Phone {
  const { label, value } = parseLabelled(text);
  return { label, number: value };
}

function labelledEmail(text: string): Email {
  const { label, value } = parseLabelled(text);
  return { label, address: value };
}

/**
 * Parses `label:url` or a bare URL: a URL's own scheme (`https://`, `mailto:`) is no label.
 *
 * @example
 * ```ts
 * import { labelledUrl } from "./config.ts";
 * const a = labelledUrl("work: https://acme.example");
 * if (a.label !== "work" || a.url !== "https://acme.example") throw new Error();
 * if (labelledUrl("https://acme.example").label !== "") throw new Error();
 * if (labelledUrl("mailto:ann@example.com").url !== "mailto:ann@example.com") throw new Error();
 * ```
 */
export function labelledUrl(text: string): Url {
  if (/^\s*([a-z][a-z0-9+.-]*:\/\/|mailto:)/i.test(text)) return { label: "", url: text.trim() };
  const { label, value } = parseLabelled(text);
  return { label, url: value };
}

/**
 * Parses web addresses typed as `label: url, url` (the menu's form).
 *
 * @example
 * ```ts
 * import { parseUrls } from "./config.ts";
 * const urls = parseUrls("blog: ann.example, https://acme.example/ann");
 * if (urls.length !== 2 || urls[0]!.label !== "blog" || urls[1]!.label !== "") throw new Error();
 * ```
 */
export function parseUrls(text: string): Url[] {
  return splitList(text).map(labelledUrl);
}

/**
 * Parses group names typed as `Family, Chess club` (commas separate them).
 *
 * @example
 * ```ts
 * import { parseGroups } from "./config.ts";
 * if (parseGroups(" Family, Chess club ,").join("|") !== "Family|Chess club") throw new Error();
 * ```
 */
export function parseGroups(text: string): string[] {
  return text.split(",").map((name) => name.trim()).filter((name) => name !== "");
}

function splitList(text: string): string[] {
  return text.split(/[,;]/).map((item) => item.trim()).filter((item) => item !== "");
}

/**
 * Parses the command line and environment. `env` returns a variable's value or undefined.
 * Throws {@link UsageError} naming what is wrong.
 *
 * @example A subcommand with fields; flags beat ADDRESSBOOK_SERVER
 * ```ts
 * import { parseClientCommand } from "./config.ts";
 * const env = (name: string) => name === "ADDRESSBOOK_SERVER" ? "book.lan:2008" : undefined;
 * const command = parseClientCommand(["add", "Bob", "--phone", "work:555", "--port", "9000"], env);
 * if (command.kind !== "add" || command.fields.name !== "Bob") throw new Error();
 * if (command.config.host !== "book.lan" || command.config.port !== 9000) throw new Error();
 * if (command.fields.phones?.[0]?.label !== "work") throw new Error();
 * ```
 */
export function parseClientCommand(
  args: string[],
  env: (name: string) => string | undefined,
): ClientCommand {
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  let tokens: ArgToken[];
  try {
    ({ values, positionals, tokens } = parseArgs({
      args: joinPemValues(args),
      options: {
        host: { type: "string" },
        port: { type: "string" },
        server: { type: "string" },
        timeout: { type: "string" },
        ...Object.fromEntries(
          CLIENT_TRANSPORT_OPTIONS.map((
            o,
          ) => [o.flag, { type: o.boolean ? "boolean" as const : "string" as const }]),
        ),
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
        ...Object.fromEntries(FIELD_FLAGS.map((flag) => [flag, { type: "string" as const }])),
        phone: { type: "string", multiple: true },
        email: { type: "string", multiple: true },
        url: { type: "string", multiple: true },
        group: { type: "string", multiple: true },
        limit: { type: "string" },
        cursor: { type: "string" },
        all: { type: "boolean" },
        count: { type: "string" },
        interval: { type: "string" },
        format: { type: "string" },
        "vcard-version": { type: "string" },
        query: { type: "string" },
        since: { type: "string" },
        watch: { type: "boolean" },
      },
      strict: true,
      allowPositionals: true,
      tokens: true,
    }));
  } catch (error) {
    throw new UsageError(argsErrorMessage(error));
  }
  if (values.help || positionals[0] === "help") return { kind: "help" };
  if (values.version) return { kind: "version" };
  rejectStrayWords(tokens);

  const config = parseConfig(values, env);
  const [name, ...rest] = positionals;
  if (name === undefined) {
    const extra = Object.keys(values).filter((key) => !CONNECTION_FLAGS.includes(key));
    if (extra.length > 0) {
      throw new UsageError(`Option --${extra[0]} needs a command; commands are ${commandList()}`);
    }
    return { kind: "menu", config };
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(name)) {
    throw new UsageError(`Unknown command ${JSON.stringify(name)}; commands are ${commandList()}`);
  }
  const kind = name as (typeof SUBCOMMANDS)[number];
  for (const key of Object.keys(values)) {
    if (key === "json" || CONNECTION_FLAGS.includes(key)) continue;
    if (!SUBCOMMAND_FLAGS[kind].includes(key)) {
      throw new UsageError(`Option --${key} does not apply to ${kind}`);
    }
  }
  const text = (what: string) => {
    const joined = rest.join(" ").trim();
    if (joined === "") throw new UsageError(`${kind} needs ${what}`);
    return joined;
  };
  const none = () => {
    if (rest.length > 0) {
      throw new UsageError(`${kind} takes no argument, got ${JSON.stringify(rest.join(" "))}`);
    }
  };
  switch (kind) {
    case "add": {
      const fields = fieldFlags(values);
      if (rest.length > 0) {
        if (fields.name !== undefined) {
          throw new UsageError(`add takes the name once: as --name or as NAME, not both`);
        }
        fields.name = rest.join(" ");
      }
      if (fields.name === undefined || fields.name.trim() === "") {
        throw new UsageError('add needs a name: add "Bob Smith" or add --name "Bob Smith"');
      }
      return { kind, config, fields };
    }
    case "edit": {
      const target = text("the id or name of the contact to edit");
      const fields = fieldFlags(values);
      if (Object.keys(fields).length === 0) {
        throw new UsageError(
          "edit needs at least one field to change, for example --town Springfield",
        );
      }
      return { kind, config, target, fields };
    }
    case "get":
    case "rm":
      return { kind, config, target: text("the id or name of a contact") };
    case "find":
      return {
        kind,
        config,
        name: text("a name"),
        page: pageFlags(values),
        all: values.all === true,
      };
    case "search":
      return {
        kind,
        config,
        query: text("a query"),
        page: pageFlags(values),
        all: values.all === true,
        ...groupFlag(values, kind),
      };
    case "list":
      none();
      return {
        kind,
        config,
        page: pageFlags(values),
        all: values.all === true,
        ...groupFlag(values, kind),
      };
    case "count":
    case "stats":
      none();
      return { kind, config };
    case "ping": {
      none();
      const count = values.count === undefined
        ? 1
        : integer(values.count as string, "--count", 1, 1_000_000);
      const interval = values.interval === undefined
        ? 1
        : decimal(values.interval as string, "--interval", 0, 3600);
      return { kind, config, count, intervalMs: Math.round(interval * 1000) };
    }
    case "export":
      none();
      return transferCommand(kind, config, values);
    case "import":
      if (rest.length > 1 || (rest.length === 1 && rest[0] !== "-")) {
        throw new UsageError(
          `import reads standard input only (the client may not open files), got ` +
            `${JSON.stringify(rest.join(" "))}: import - < contacts.vcf`,
        );
      }
      return transferCommand(kind, config, values);
    case "servers":
      none();
      return { kind, config, watch: values.watch === true };
    case "watch": {
      none();
      const command: Extract<ClientCommand, { kind: "watch" }> = { kind, config };
      if (typeof values.query === "string") {
        if (values.query.trim() === "") throw new UsageError("--query is empty");
        command.query = values.query;
      }
      if (typeof values.since === "string") {
        command.since = integer(values.since, "--since", 0, Number.MAX_SAFE_INTEGER);
      }
      return command;
    }
  }
}

/** What `parseArgs` with `tokens: true` reports for each argument. */
type ArgToken =
  | { kind: "option"; name: string; value?: string; inlineValue?: boolean }
  | { kind: "positional"; value: string }
  | { kind: "option-terminator" };

/**
 * A word right after a flag's value (`--phone +44 20 7946 0958`: `20`) is most likely the
 * rest of an unquoted value, so it is refused rather than taken as part of the name or the
 * query: always for `add` and `edit` (whose values are names, streets, numbers), and for the
 * others when the command's words came before that flag (`find Zed --limit 5 Smith`), so
 * `search --group Family ann` still works. The command's name may follow a connection
 * option's value (`--port 9000 count`).
 */
function rejectStrayWords(tokens: readonly ArgToken[]): void {
  let afterValue: { name: string; value: string } | undefined;
  let command: string | undefined;
  let words = 0;
  for (const token of tokens) {
    if (token.kind === "option-terminator") return;
    if (token.kind === "option") {
      afterValue = token.value === undefined ? undefined : { name: token.name, value: token.value };
      continue;
    }
    if (command === undefined) {
      command = token.value;
    } else {
      const fields = command === "add" || command === "edit";
      if (afterValue !== undefined && (fields || words > 0)) {
        const flag = `--${afterValue.name}`;
        throw new UsageError(
          `Unexpected word ${JSON.stringify(token.value)} after ${flag} ` +
            `${JSON.stringify(afterValue.value)}; quote a value that has spaces: ` +
            `${flag} "${afterValue.value} ${token.value} ...", and give the command's words ` +
            "before its options",
        );
      }
      words++;
    }
    afterValue = undefined;
  }
}

/**
 * `--ca "$(cat cert.pem)"` passes text that starts with dashes, which parseArgs would take
 * for an option; join it to its flag (`--ca=-----BEGIN ...`) first.
 */
function joinPemValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (args[i] === "--ca" && next !== undefined && next.trimStart().startsWith("-----BEGIN")) {
      out.push(`--ca=${next}`);
      i++;
    } else {
      out.push(args[i]!);
    }
  }
  return out;
}

function transferCommand(
  kind: "export" | "import",
  config: ClientConfig,
  values: Record<string, unknown>,
): ClientCommand {
  const formats = kind === "export" ? ["json", "vcard", "csv"] : ["auto", "json", "vcard", "csv"];
  const given = values.format as string | undefined;
  if (given !== undefined && !formats.includes(given)) {
    throw new UsageError(
      `--format ${JSON.stringify(given)} is not one of ${formats.join(", ")}`,
    );
  }
  const version = values["vcard-version"] as string | undefined;
  if (version !== undefined && version !== "3.0" && version !== "4.0") {
    throw new UsageError(`--vcard-version ${JSON.stringify(version)} is not 3.0 or 4.0`);
  }
  if (kind === "import") {
    return { kind, config, format: (given ?? "auto") as ImportFormatOption };
  }
  // export --json alone asks for JSON Lines; with another --format it is a contradiction.
  if (config.json && given !== undefined && given !== "json") {
    throw new UsageError(`export --json writes JSON Lines; it cannot be --format ${given}`);
  }
  const format = (given ?? "json") as ExportFormat;
  if (version !== undefined && format !== "vcard") {
    throw new UsageError(`--vcard-version applies to --format vcard, not ${format}`);
  }
  return { kind, config, format, vcardVersion: (version ?? "3.0") as VCardVersion };
}

function commandList(): string {
  return SUBCOMMANDS.join(", ");
}

function parseConfig(
  values: Record<string, unknown>,
  env: (name: string) => string | undefined,
): ClientConfig {
  const server = env("ADDRESSBOOK_SERVER");
  const fromEnv = server ? parseServerAddress(server) : {};
  const fromFlag = typeof values.host === "string" ? parseServerAddress(values.host) : undefined;
  if (fromFlag !== undefined && fromFlag.port !== undefined) {
    if (typeof values.port === "string" && values.port.trim() !== fromFlag.port.trim()) {
      throw new UsageError(
        `--host ${JSON.stringify(values.host)} names port ${fromFlag.port} and --port says ` +
          `${values.port}; give the port once`,
      );
    }
    values = { ...values, port: fromFlag.port };
  }
  const host = fromFlag !== undefined ? fromFlag.host ?? "" : fromEnv.host ?? DEFAULT_HOST;
  if (host === "") throw new UsageError("--host is empty");
  const serverName = typeof values.server === "string" ? values.server.trim() : undefined;
  if (serverName === "") throw new UsageError("--server is empty");
  if (serverName !== undefined && (values.host !== undefined || values.port !== undefined)) {
    throw new UsageError(
      "--server picks a server found on the LAN by its name; it cannot go with --host or --port",
    );
  }
  // Nothing says where the server is (or --server NAME asks): look on the LAN first.
  const discover = serverName !== undefined ||
    (values.host === undefined && values.port === undefined && fromEnv.host === undefined &&
      fromEnv.port === undefined);
  let port: number;
  if (typeof values.port === "string") {
    port = integer(values.port, "--port", 1, 65535);
  } else if (fromEnv.port !== undefined) {
    port = integer(fromEnv.port, "The port in ADDRESSBOOK_SERVER", 1, 65535);
  } else {
    port = DEFAULT_PORT;
  }
  const timeout = typeof values.timeout === "string"
    ? decimal(values.timeout, "--timeout", 0.001, 3600)
    : DEFAULT_TIMEOUT;
  let transport;
  try {
    transport = clientTransportConfig(values, env);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw new UsageError(error.message);
  }
  if (typeof values.ca === "string" && values.ca.trim() === "") {
    throw new UsageError("--ca is empty");
  }
  if (typeof values.token === "string" && values.token.trim() === "") {
    throw new UsageError("--token is empty");
  }
  return {
    host,
    port,
    timeoutMs: Math.max(1, Math.round(timeout * 1000)),
    json: !!values.json,
    ...transport,
    ...(discover ? { discover } : {}),
    ...(serverName !== undefined ? { serverName } : {}),
  };
}

function fieldFlags(values: Record<string, unknown>): FieldFlags {
  const fields: FieldFlags = {};
  for (const flag of FIELD_FLAGS) {
    const value = values[flag];
    if (typeof value === "string") fields[flag] = value;
  }
  const phones = values.phone as string[] | undefined;
  if (phones !== undefined) {
    fields.phones = phones.filter((text) => text.trim() !== "").map(labelledPhone);
  }
  const emails = values.email as string[] | undefined;
  if (emails !== undefined) {
    fields.emails = emails.filter((text) => text.trim() !== "").map(labelledEmail);
  }
  const urls = values.url as string[] | undefined;
  if (urls !== undefined) {
    fields.urls = urls.filter((text) => text.trim() !== "").map(labelledUrl);
  }
  const groups = values.group as string[] | undefined;
  if (groups !== undefined) fields.groups = groups.flatMap(parseGroups);
  return fields;
}

/** `--group NAME` of list and search: one group, not empty. */
function groupFlag(values: Record<string, unknown>, kind: string): { group?: string } {
  const groups = values.group as string[] | undefined;
  if (groups === undefined) return {};
  if (groups.length > 1) throw new UsageError(`${kind} takes one --group`);
  const group = groups[0]!.trim();
  if (group === "") throw new UsageError("--group is empty");
  return { group };
}

function pageFlags(values: Record<string, unknown>): PageFlags {
  const page: PageFlags = {};
  if (typeof values.limit === "string") page.limit = integer(values.limit, "--limit", 1, 100);
  if (typeof values.cursor === "string") {
    if (values.cursor.trim() === "") throw new UsageError("--cursor is empty");
    page.cursor = values.cursor;
  }
  return page;
}

function integer(text: string, what: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || value < min || value > max) {
    throw new UsageError(
      `${what} ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

function decimal(text: string, what: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text) || value < min || value > max) {
    throw new UsageError(`${what} ${JSON.stringify(text)} is not a number from ${min} to ${max}`);
  }
  return value;
}
