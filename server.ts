/**
 * addressbook server: config -> open store -> listen -> serve connections -> shut down on
 * SIGINT/SIGTERM. Run it with `deno task serve`; `--help` lists the options.
 *
 * @module
 */

import { Authenticator, isLoopback, loadOrCreateToken, TOKEN_FILE } from "./lib/server/auth.ts";
import { plural } from "./lib/model/text.ts";
import { createLogger, type Logger } from "./lib/server/log.ts";
import {
  formatPermissionReport,
  isPermissionError,
  parentFolder,
  permissionMessage,
  permissionReport,
} from "./lib/sandbox/permissions.ts";
import { formatAddress } from "./lib/protocol/address.ts";
import { AddressBookServer } from "./lib/server/listener.ts";
import {
  ConfigError,
  parseServerCommand,
  SERVER_OPTIONS,
  type ServerConfig,
  serverHelp,
} from "./lib/server/config.ts";
import { ContactStore, LAYOUT_VERSION, LayoutError, storeKind } from "./lib/store/store.ts";
import { PROTOCOL_VERSION, VERSION } from "./lib/model/version.ts";

/** Reads an environment variable if this process may; unset otherwise (never prompts). */
function readEnv(name: string): string | undefined {
  const status = Deno.permissions.querySync({ name: "env", variable: name });
  return status.state === "granted" ? Deno.env.get(name) : undefined;
}

/** Prints a one-sentence error (no stack trace) and exits. */
function fail(message: string, code = 1): never {
  console.error(`addressbook: ${message}`);
  Deno.exit(code);
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message.split("\n")[0]! : String(error);
}

/** Whether `path` is inside (or is) `folder`, comparing normalised relative or absolute paths. */
function isInside(path: string, folder: string): boolean {
  const norm = (p: string) => p.replace(/\/+$/, "").replace(/^\.\//, "") || ".";
  const f = norm(folder);
  const p = norm(path);
  return f === "." ? !p.startsWith("/") && !p.startsWith("..") : p === f || p.startsWith(f + "/");
}

/**
 * Refuses, in one sentence, a store this process may not open: `deno task serve` grants only
 * the data folder, so a `--db` elsewhere is named along with the flags it would need.
 */
function checkStoreAccess(config: ServerConfig): void {
  if (config.db === ":memory:") return;
  if (storeKind(config.db) !== "file") {
    const host = new URL(config.db).host;
    if (!granted({ name: "net", host })) {
      fail(
        `Not allowed to reach the store ${JSON.stringify(config.db)}: add --allow-net=${host}`,
      );
    }
    return;
  }
  const missing = (["read", "write"] as const).filter((name) =>
    !granted({ name, path: config.db })
  );
  if (missing.length === 0) return;
  if (isInside(config.db, config.data)) {
    const flags = missing.map((name) => `--allow-${name}=${config.data}`).join(" ");
    fail(
      `Not allowed to open the store ${JSON.stringify(config.db)}: add ${flags} ` +
        "(the data folder holds the store, the token and the certificates)",
    );
  }
  const flags = missing.map((name) => `--allow-${name}=${config.db}`).join(" ");
  fail(
    `Not allowed to open the store ${JSON.stringify(config.db)}: it is outside the data ` +
      `folder ${JSON.stringify(config.data)}, the only folder the server may use; move it ` +
      `inside (--db ${config.data}/addressbook.kv) or add ${flags}`,
  );
}

async function openStore(config: ServerConfig): Promise<ContactStore> {
  // The data folder (token, certificates) and the store's own folder, which may be below it.
  const folders = storeKind(config.db) === "file" ? [config.data, parentFolder(config.db)] : [];
  for (const folder of folders) {
    try {
      // Only the server's user may look inside: the store holds every contact (the token
      // file is 0600 on its own, the KV file is not). An existing folder keeps its mode.
      await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
    } catch (error) {
      if (isPermissionError(error)) fail(permissionMessage(error));
      fail(`Cannot create the folder ${JSON.stringify(folder)}: ${errorText(error)}`);
    }
  }
  try {
    return await ContactStore.open(config.db);
  } catch (error) {
    if (error instanceof LayoutError) fail(error.message);
    if (isPermissionError(error)) fail(permissionMessage(error));
    fail(`Cannot open the store ${JSON.stringify(config.db)}: ${errorText(error)}`);
  }
}

/** What protected mode and TLS add to a server. */
interface Security {
  auth?: Authenticator;
  classic: "full" | "read-only" | "off";
  tls?: { cert: string; key: string };
  /** For the startup line: `auth required`, `TLS`. */
  summary: string;
}

async function readPem(path: string, what: string): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    const mode = what === "key" ? (await Deno.stat(path)).mode : null;
    if (mode !== null && (mode & 0o077) !== 0 && Deno.build.os !== "windows") {
      console.error(
        `addressbook: warning: the TLS key ${JSON.stringify(path)} is readable by other users; ` +
          `chmod 600 it`,
      );
    }
    return text;
  } catch (error) {
    if (isPermissionError(error)) {
      fail(
        permissionMessage(
          error,
          "or keep the certificate and key in the data folder, which " +
            "the server may read",
        ),
      );
    }
    if (error instanceof Deno.errors.NotFound) {
      fail(`Cannot read the TLS ${what} ${JSON.stringify(path)}: the file does not exist`);
    }
    fail(`Cannot read the TLS ${what} ${JSON.stringify(path)}: ${errorText(error)}`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    if (isPermissionError(error)) fail(permissionMessage(error));
    throw error;
  }
}

async function setUpSecurity(config: ServerConfig, log: Logger): Promise<Security> {
  const parts: string[] = [];
  // TLS: explicit --cert/--key, or cert.pem and key.pem found in the data folder.
  let tls: Security["tls"];
  const { cert, key, explicit } = config.tls;
  const found = [await exists(cert), await exists(key)];
  if (explicit || found[0] || found[1]) {
    if (!explicit && found[0] !== found[1]) {
      fail(
        `Found ${JSON.stringify(found[0] ? cert : key)} but not ` +
          `${JSON.stringify(found[0] ? key : cert)}: TLS needs both (or neither)`,
      );
    }
    tls = { cert: await readPem(cert, "certificate"), key: await readPem(key, "key") };
    parts.push(`TLS with ${cert}`);
  }

  const protectedMode = config.requireAuth || !isLoopback(config.host);
  if (!protectedMode) {
    if (config.token !== undefined || config.readToken !== undefined) {
      log.info("Tokens are not checked on a loopback address (--require-auth checks them)");
    }
    parts.push("no auth on loopback");
    return { classic: "full", summary: parts.join(", "), ...(tls ? { tls } : {}) };
  }

  let token = config.token;
  if (token === undefined) {
    const path = `${config.data}/${TOKEN_FILE}`;
    let loaded;
    try {
      await Deno.mkdir(config.data, { recursive: true });
      loaded = await loadOrCreateToken(path);
    } catch (error) {
      if (isPermissionError(error)) fail(permissionMessage(error));
      fail(`Cannot use the token file ${JSON.stringify(path)}: ${errorText(error)}`);
    }
    token = loaded.token;
    if (loaded.narrowed) log.warn(`The token file ${path} was readable by others; now mode 0600`);
    if (loaded.created) {
      log.warn(
        `Generated an access token, shown only this once: ${token} ; it is kept in ${path} ` +
          `(mode 0600). Give it to the people who may write: ADDRESSBOOK_TOKEN=<token> ` +
          `addressbook --host <this machine>. To rotate it, stop the server, delete ${path} ` +
          "and start again",
      );
    } else {
      log.info(`Auth required: the read-write token is in ${path}`);
    }
  } else {
    log.info("Auth required: the read-write token comes from --token or ADDRESSBOOK_TOKEN");
  }
  const auth = new Authenticator(token, config.readToken);
  parts.push(
    auth.hasReadToken ? "auth required (read-write and read-only tokens)" : "auth required",
  );
  const classic = config.classicLan ? "read-only" : "off";
  parts.push(config.classicLan ? "classic protocol read-only" : "classic protocol refused");
  if (!tls && !isLoopback(config.host)) {
    log.warn(
      "Tokens and contacts cross the network unencrypted: put cert.pem and key.pem in the " +
        "data folder (or use --cert and --key) to serve TLS",
    );
  }
  return { auth, classic, summary: parts.join(", "), ...(tls ? { tls } : {}) };
}

/** Says how to allow the listening address, in one sentence. */
function listenRefusal(config: ServerConfig): string {
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  return `Not allowed to listen on ${formatAddress(config.host, config.port)}: ` +
    `add --allow-net=${host} ` +
    `(deno task serve grants only the address in ADDRESSBOOK_HOST: run ` +
    `ADDRESSBOOK_HOST=${host} deno task serve; a compiled server only the address it was ` +
    "built for)";
}

/** Refuses early (before a token is made) an address this process may not listen on. */
function checkListenAccess(config: ServerConfig): void {
  const host = formatAddress(config.host, config.port);
  if (!granted({ name: "net", host })) fail(listenRefusal(config));
}

function listen(config: ServerConfig, store: ContactStore, log: Logger, security: Security) {
  try {
    return AddressBookServer.listen({
      hostname: config.host,
      port: config.port,
      store,
      log,
      maxConnections: config.maxConnections,
      limits: {
        maxLine: config.maxLine,
        idleTimeoutMs: config.idleTimeout * 1000,
        maxBadLines: 100,
        writeTimeoutMs: config.writeTimeout * 1000,
      },
      classic: security.classic,
      ...(security.auth ? { auth: security.auth } : {}),
      ...(security.tls ? { tls: security.tls } : {}),
    });
  } catch (error) {
    store.close();
    if (error instanceof Deno.errors.AddrInUse) {
      fail(
        `Port ${config.port} on ${config.host} is already in use: stop the other server ` +
          "or choose another port with --port",
      );
    }
    if (isPermissionError(error)) fail(listenRefusal(config));
    fail(`Cannot listen on ${formatAddress(config.host, config.port)}: ${errorText(error)}`);
  }
}

/** `--check`: verify the indexes before serving; rebuild them from the records if damaged. */
async function checkStore(store: ContactStore, log: Logger): Promise<void> {
  const report = await store.check();
  if (report.ok) {
    log.always(
      `Check passed: ${plural(report.contacts, "contact")}, ` +
        `${plural(report.indexEntries, "index entry", "index entries")} agree`,
    );
    return;
  }
  for (const problem of report.problems) log.error(`Check: ${problem}`);
  log.warn(`Check found ${report.problems.length} problems; rebuilding the indexes`);
  await store.rebuildIndexes();
  const again = await store.check();
  if (!again.ok) fail(`The indexes are still damaged after a rebuild: ${again.problems[0]}`);
  log.always(
    `Indexes rebuilt: ${plural(again.contacts, "contact")}, ` +
      plural(again.indexEntries, "index entry", "index entries"),
  );
}

async function main(args: string[]): Promise<void> {
  let command;
  try {
    command = parseServerCommand(args, readEnv);
  } catch (error) {
    if (error instanceof ConfigError) {
      fail(`${error.message}\nRun with --help to see the options.`, 2);
    }
    throw error;
  }
  if (command.kind === "help") return console.log(serverHelp());
  if (command.kind === "version") return console.log(`addressbook server ${VERSION}`);
  const { config } = command;
  const log = createLogger(config.logLevel);
  log.info(formatPermissionReport(permissionReport({
    host: config.host,
    port: config.port,
    data: config.data,
    env: SERVER_OPTIONS.map((o) => o.env),
  })));
  checkListenAccess(config);
  checkStoreAccess(config);
  const store = await openStore(config);
  if (store.openedLayout < LAYOUT_VERSION) {
    log.info(`Migrated the store from layout ${store.openedLayout} to ${LAYOUT_VERSION}`);
  }
  if (config.check) await checkStore(store, log);
  let security: Security;
  try {
    security = await setUpSecurity(config, log);
  } catch (error) {
    store.close();
    throw error;
  }
  const server = listen(config, store, log, security);
  const address = formatAddress(server.addr.hostname, server.addr.port);
  log.always(
    `addressbook ${VERSION} listening on ${address} (store ${config.db}, layout ${LAYOUT_VERSION}, ` +
      `protocol ${PROTOCOL_VERSION}, ${security.summary})`,
  );

  let stopping = false;
  const stop = async (signal: Deno.Signal) => {
    if (stopping) {
      log.warn(`${signal} again: exiting now`);
      Deno.exit(1);
    }
    stopping = true;
    log.always(`${signal}: shutting down; answering requests already read`);
    await server.shutdown();
    store.close();
    log.always("Stopped");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => stop("SIGINT"));
  // Windows has no SIGTERM listener; Ctrl-C (SIGINT) still stops the server cleanly.
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => stop("SIGTERM"));
}

if (import.meta.main) {
  // A permission refused anywhere is one sentence naming the flag, never a stack trace.
  globalThis.addEventListener("unhandledrejection", (event) => {
    if (isPermissionError(event.reason)) {
      event.preventDefault();
      fail(permissionMessage(event.reason));
    }
  });
  globalThis.addEventListener("error", (event) => {
    if (isPermissionError(event.error)) {
      event.preventDefault();
      fail(permissionMessage(event.error));
    }
  });
  try {
    await main(Deno.args);
  } catch (error) {
    if (isPermissionError(error)) fail(permissionMessage(error));
    throw error;
  }
}
