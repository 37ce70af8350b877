/**
 * The server's configuration: command-line flags, each with an environment variable and a
 * default, and the `--help` text that lists them all.
 *
 * @module
 */

import { isPhoneRegion } from "../model/phones.ts";
import { argsErrorMessage } from "../model/args.ts";
import { parseArgs } from "node:util";
import { checkToken, isLoopback } from "./auth.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";

/** The server's settings once flags, environment and defaults are merged. */
export interface ServerConfig {
  host: string;
  port: number;
  data: string;
  /** A file path, `:memory:`, or a KV Connect URL. */
  db: string;
  maxConnections: number;
  /** Connections one peer address may hold at once (default a quarter of maxConnections). */
  maxPerPeer: number;
  /** Seconds without a request before a connection is closed. */
  idleTimeout: number;
  /** Seconds a connection has to authenticate in protected mode. */
  authTimeout: number;
  /** Seconds a reply may wait for a client that does not read. */
  writeTimeout: number;
  /** Largest request line in bytes. */
  maxLine: number;
  logLevel: LogLevel;
  /** The phone region numbers without a country code are read in (`GB`), or null: as written. */
  region: string | null;
  /** Verify the store before serving (and repair its count and stray index rows if needed). */
  check: boolean;
  /** Read-write token from `--token` / `ADDRESSBOOK_TOKEN` (else the token file is used). */
  token?: string;
  /** Read-only token from `--read-token` / `ADDRESSBOOK_READ_TOKEN`. */
  readToken?: string;
  /** Require a token even on loopback (for tests and for multi-user machines). */
  requireAuth: boolean;
  /** Off loopback, serve the classic protocol read-only (`fnd:` only) instead of refusing it. */
  classicLan: boolean;
  /** PEM certificate and key; `explicit` when given by flag or environment. */
  tls: { cert: string; key: string; explicit: boolean };
  /** The HTTP door's port (CardDAV), 0 for a free one; null: no HTTP door (`off`). */
  httpPort: number | null;
  /** Off loopback without TLS, accept HTTP Basic auth anyway (tokens cross the LAN in clear). */
  httpPlainAuth: boolean;
  /** DNS-SD on the LAN: `auto` advertises a server off loopback (`--advertise`). */
  advertise: "on" | "off" | "auto";
}

/** What the command line asks for. */
export type ServerCommand =
  | { kind: "serve"; config: ServerConfig }
  | { kind: "help" }
  | { kind: "version" };

interface Option {
  flag: string;
  env: string;
  default: string;
  help: string;
  /** A switch: the flag takes no value; its variable is 1/true/yes or 0/false/no. */
  boolean?: true;
}

/** Every option: its flag, its environment variable, its default. */
export const SERVER_OPTIONS: readonly Option[] = [
  {
    flag: "host",
    env: "ADDRESSBOOK_HOST",
    default: "127.0.0.1",
    help: "address to listen on; 0.0.0.0 or :: for the LAN",
  },
  {
    flag: "port",
    env: "ADDRESSBOOK_PORT",
    default: "2007",
    help: "TCP port; 0 picks a free one (the startup line prints it)",
  },
  {
    flag: "http-port",
    env: "ADDRESSBOOK_HTTP_PORT",
    default: "2008 (0 when --port is 0)",
    help: "HTTP port for CardDAV and the web page (same host and TLS as TCP); 0: any; off: none",
  },
  {
    flag: "advertise",
    env: "ADDRESSBOOK_ADVERTISE",
    default: "on off loopback, off on it",
    help: "on or off: DNS-SD on the LAN (_addressbook._tcp, _carddav._tcp) for clients to find",
  },
  {
    flag: "data",
    env: "ADDRESSBOOK_DATA",
    default: "./data",
    help:
      "data folder (created if missing, mode 0700; one server at a time): the KV file lives here",
  },
  {
    flag: "db",
    env: "ADDRESSBOOK_DB",
    default: "<data>/addressbook.kv",
    help: "Deno KV store: a file path, :memory:, or a KV Connect URL",
  },
  {
    flag: "max-connections",
    env: "ADDRESSBOOK_MAX_CONNECTIONS",
    default: "1024",
    help: "connections open at once; more get BUSY and are closed",
  },
  {
    flag: "max-per-peer",
    env: "ADDRESSBOOK_MAX_PER_PEER",
    default: "a quarter of --max-connections",
    help: "connections one client address may hold at once; more get BUSY",
  },
  {
    flag: "idle-timeout",
    env: "ADDRESSBOOK_IDLE_TIMEOUT",
    default: "300",
    help: "seconds without a complete request before a connection is closed",
  },
  {
    flag: "write-timeout",
    env: "ADDRESSBOOK_WRITE_TIMEOUT",
    default: "30",
    help: "seconds a client may leave a reply unread before it is disconnected",
  },
  {
    flag: "auth-timeout",
    env: "ADDRESSBOOK_AUTH_TIMEOUT",
    default: "10",
    help: "seconds a connection has to authenticate (when a token is required) before it is closed",
  },
  {
    flag: "max-line",
    env: "ADDRESSBOOK_MAX_LINE",
    default: "65536",
    help: "largest request line in bytes; a longer one gets TOO_LARGE and a close",
  },
  {
    flag: "log-level",
    env: "ADDRESSBOOK_LOG_LEVEL",
    default: "info",
    help: `one of ${LOG_LEVELS.join(", ")}`,
  },
  {
    flag: "region",
    env: "ADDRESSBOOK_REGION",
    default: "none",
    help:
      "phone region (GB, US, DE...): then 020 7946 0958 finds +44 20 7946 0958; none: as written",
  },
  {
    flag: "token",
    env: "ADDRESSBOOK_TOKEN",
    default: "<data>/token",
    help: "token needed off loopback; unset: generated into <data>/token (mode 0600)",
  },
  {
    flag: "read-token",
    env: "ADDRESSBOOK_READ_TOKEN",
    default: "none",
    help: "a second token that may only read (no add, update, remove)",
  },
  {
    flag: "cert",
    env: "ADDRESSBOOK_CERT",
    default: "<data>/cert.pem",
    help: "TLS certificate (PEM); TLS is on when it and the key exist",
  },
  {
    flag: "key",
    env: "ADDRESSBOOK_KEY",
    default: "<data>/key.pem",
    help: "TLS private key (PEM) for --cert",
  },
  {
    flag: "classic-lan",
    env: "ADDRESSBOOK_CLASSIC_LAN",
    default: "off",
    help: "off loopback, serve the classic protocol read-only (fnd: only)",
    boolean: true,
  },
  {
    flag: "http-plain-auth",
    env: "ADDRESSBOOK_HTTP_PLAIN_AUTH",
    default: "off",
    help: "off loopback without TLS, accept CardDAV's Basic auth anyway (tokens sent in clear)",
    boolean: true,
  },
  {
    flag: "require-auth",
    env: "ADDRESSBOOK_REQUIRE_AUTH",
    default: "off",
    help: "require a token on loopback too (tests, multi-user machines)",
    boolean: true,
  },
];

/** The `--help` text. */
export function serverHelp(): string {
  const rows = SERVER_OPTIONS.map((o) =>
    `  --${o.flag.padEnd(16)} ${o.help}\n  ${"".padEnd(18)} env ${o.env}, default ${o.default}`
  );
  const security = [
    "",
    "Security: on a loopback address (127.0.0.1, ::1) no token is needed. On any other",
    "address every connection must call auth {token} first; the first start prints the",
    "generated token once. Rotate it: stop the server, delete <data>/token, start again",
    "(or set a new ADDRESSBOOK_TOKEN); connected clients keep their session until they",
    "reconnect. Put cert.pem and key.pem in the data folder to serve TLS (see README).",
  ];
  return [
    "addressbook server: a shared address book for the LAN",
    "",
    "Usage: deno task serve [options]",
    "",
    "Options (a flag beats its environment variable, which beats the default):",
    ...rows,
    "  --check            before serving, verify every record, the count, the change log",
    "                     and the in-memory view built from the records; repair the count",
    "                     (and drop stray index rows) if they are wrong",
    "  --help             show this help",
    "  --version          print the version",
    "",
    "Protocols on one port: JSON-RPC 2.0, one message per line (see PROTOCOL.md), and the",
    "classic tutorial protocol (add:name,details  rem:name  fnd:name).",
    "CardDAV (phones, Thunderbird, macOS, vdirsyncer) on --http-port, same host: see DAV.md;",
    "the web page at / on that port, its WebSocket /rpc (see PROTOCOL.md).",
    "Stop with Ctrl-C or SIGTERM: requests already read are answered, then it exits 0.",
    ...security,
  ].join("\n");
}

/** A configuration problem the user can fix; the message says how. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Parses the command line and environment. `env` returns a variable's value or undefined.
 * Throws {@link ConfigError} with a message naming the bad option.
 *
 * @example Flags beat the environment
 * ```ts
 * import { parseServerCommand } from "./config.ts";
 * const env = (name: string) => name === "ADDRESSBOOK_PORT" ? "9000" : undefined;
 * const command = parseServerCommand(["--port", "0"], env);
 * if (command.kind !== "serve" || command.config.port !== 0) throw new Error();
 * if (command.config.db !== "./data/addressbook.kv") throw new Error(command.config.db);
 * ```
 */
export function parseServerCommand(
  args: string[],
  env: (name: string) => string | undefined,
): ServerCommand {
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(
      SERVER_OPTIONS.map((
        o,
      ) => [o.flag, { type: o.boolean ? "boolean" as const : "string" as const }]),
    );
    ({ values } = parseArgs({
      args,
      options: {
        ...options,
        check: { type: "boolean" },
        help: { type: "boolean" },
        version: { type: "boolean" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(argsErrorMessage(error));
  }
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const get = (flag: string): string => {
    const option = SERVER_OPTIONS.find((o) => o.flag === flag)!;
    const value = values[flag];
    return typeof value === "string" ? value : env(option.env) ?? option.default;
  };
  const flag = (name: string): boolean => {
    const option = SERVER_OPTIONS.find((o) => o.flag === name)!;
    if (values[name] === true) return true;
    const text = (env(option.env) ?? "").trim().toLowerCase();
    if (["", "0", "false", "no", "off"].includes(text)) return false;
    if (["1", "true", "yes", "on"].includes(text)) return true;
    throw new ConfigError(
      `${option.env} ${JSON.stringify(text)} is not one of 1, true, yes, 0, false, no`,
    );
  };
  const secret = (name: string): string | undefined => {
    const option = SERVER_OPTIONS.find((o) => o.flag === name)!;
    const value = values[name];
    const text = typeof value === "string" ? value : env(option.env);
    if (text === undefined || text === "") return undefined;
    try {
      return checkToken(text, typeof value === "string" ? `--${name}` : option.env);
    } catch (error) {
      throw new ConfigError(argsErrorMessage(error));
    }
  };
  const data = get("data").replace(/\/+$/, "") || "/";
  const db = get("db").replace("<data>", data);
  const logLevel = get("log-level");
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(
      `Log level ${JSON.stringify(logLevel)} is not one of ${LOG_LEVELS.join(", ")}`,
    );
  }
  const regionText = get("region").trim();
  const region = regionText === "" || regionText.toLowerCase() === "none"
    ? null
    : regionText.toUpperCase();
  if (region !== null && !isPhoneRegion(region)) {
    throw new ConfigError(
      `Region ${JSON.stringify(regionText)} is not a region code the phone library knows: give ` +
        "an ISO 3166-1 two-letter code such as GB, US or DE, or none",
    );
  }
  // `[::1]` is accepted (and needed by --allow-net for IPv6); Deno.listen wants `::1`.
  const host = get("host").trim().replace(/^\[(.*)\]$/, "$1");
  if (host === "") throw new ConfigError("Host is empty");
  const token = secret("token");
  const readToken = secret("read-token");
  if (readToken !== undefined && readToken === token) {
    throw new ConfigError("--read-token must differ from --token");
  }
  const explicit = (name: string) =>
    typeof values[name] === "string" ||
    env(SERVER_OPTIONS.find((o) => o.flag === name)!.env) !== undefined;
  const tls = {
    cert: get("cert").replace("<data>", data),
    key: get("key").replace("<data>", data),
    explicit: explicit("cert") || explicit("key"),
  };
  const maxConnections = integer(get("max-connections"), "max-connections", 1, 1_000_000);
  const port = integer(get("port"), "port", 0, 65535);
  const httpText = explicit("http-port") ? get("http-port").trim().toLowerCase() : "";
  const httpPort = httpText === "off"
    ? null
    : httpText === ""
    ? (port === 0 ? 0 : 2008)
    : integer(httpText, "http-port", 0, 65535);
  if (httpPort !== null && httpPort === port && port !== 0) {
    throw new ConfigError(`--http-port ${httpPort} is the TCP port too: choose another, or off`);
  }
  const advertiseText = explicit("advertise") ? get("advertise").trim().toLowerCase() : "";
  const advertise = advertiseText === ""
    ? "auto"
    : ["on", "1", "true", "yes"].includes(advertiseText)
    ? "on"
    : ["off", "0", "false", "no"].includes(advertiseText)
    ? "off"
    : undefined;
  if (advertise === undefined) {
    throw new ConfigError(`--advertise ${JSON.stringify(advertiseText)} is not on or off`);
  }
  if (advertise === "on" && isLoopback(host)) {
    throw new ConfigError(
      `--advertise on needs a LAN address: ${host} is loopback, which no other machine can ` +
        "reach (--host 0.0.0.0, or the machine's LAN address)",
    );
  }
  return {
    kind: "serve",
    config: {
      host,
      port,
      data,
      db: db === "" ? `${data}/addressbook.kv` : db,
      maxConnections,
      maxPerPeer: explicit("max-per-peer")
        ? integer(get("max-per-peer"), "max-per-peer", 1, 1_000_000)
        : Math.max(1, Math.floor(maxConnections / 4)),
      idleTimeout: integer(get("idle-timeout"), "idle-timeout", 1, 7 * 24 * 3600),
      writeTimeout: integer(get("write-timeout"), "write-timeout", 1, 3600),
      authTimeout: integer(get("auth-timeout"), "auth-timeout", 1, 3600),
      maxLine: integer(get("max-line"), "max-line", 1024, 64 * 1024 * 1024),
      logLevel: logLevel as LogLevel,
      region,
      check: values.check === true,
      ...(token === undefined ? {} : { token }),
      ...(readToken === undefined ? {} : { readToken }),
      requireAuth: flag("require-auth"),
      classicLan: flag("classic-lan"),
      tls,
      httpPort,
      httpPlainAuth: flag("http-plain-auth"),
      advertise,
    },
  };
}

function integer(text: string, flag: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new ConfigError(
      `--${flag} ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`,
    );
  }
  return value;
}
