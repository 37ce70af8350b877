/**
 * Starting the server as configured: the permission checks that turn a refusal into advice,
 * the data folder and store, protected mode and TLS, the listener, the startup line, and the
 * way signals stop it. `server.ts` parses the command line and calls {@link startServer}.
 *
 * @module
 */

import { Authenticator, isLoopback, loadOrCreateToken, TOKEN_FILE } from "./auth.ts";
import { AuthGuard } from "./auth_guard.ts";
import { advertisePlan, startAdvertising } from "./advertise.ts";
import type { Advertiser } from "../discovery/advertiser.ts";
import { BasicAuth } from "./http/basic_auth.ts";
import { CardDav, PATHS } from "./http/dav.ts";
import { WebPage } from "./http/web.ts";
import { HttpDoor } from "./http/server.ts";
import type { Logger } from "./log.ts";
import { plural } from "../model/text.ts";
import { setPhoneRegion } from "../model/phones.ts";
import { PROTOCOL_VERSION, VERSION } from "../model/version.ts";
import { formatAddress } from "../protocol/address.ts";
import {
  formatPermissionReport,
  isPermissionError,
  parentFolder,
  permissionMessage,
  permissionReport,
} from "../sandbox/permissions.ts";
import { DEFAULT_DATA, netHost } from "../sandbox/grants.ts";
import { AddressBookServer } from "./listener.ts";
import { FolderInUseError, type FolderLock, lockDataFolder } from "./data_lock.ts";
import { SERVER_OPTIONS, type ServerConfig } from "./config.ts";
import { ContactStore, isDiskFull, LAYOUT_VERSION, LayoutError, storeKind } from "../store/mod.ts";

/**
 * Why the server cannot start, in one sentence a person can act on (the entry prints it with
 * no stack trace and exits 1).
 */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

function fail(message: string): never {
  throw new StartupError(message);
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
      `Not allowed to use the data folder ${JSON.stringify(config.data)}: run ` +
        `ADDRESSBOOK_DATA=${config.data} deno task serve (deno task serve may use only ` +
        `${DEFAULT_DATA} and ADDRESSBOOK_DATA; deno run needs ${flags}; the data folder ` +
        "holds the store, the token and the certificates)",
    );
  }
  const flags = missing.map((name) => `--allow-${name}=${config.db}`).join(" ");
  fail(
    `Not allowed to open the store ${JSON.stringify(config.db)}: it is outside the data ` +
      `folder ${JSON.stringify(config.data)}, the only folder the server may use; move it ` +
      `inside (--db ${config.data}/addressbook.kv) or add ${flags}`,
  );
}

/** Why a folder or file of the store cannot be used, for a sentence: read-only, or the cause. */
function storageProblem(error: unknown): string {
  if (isReadOnly(error)) {
    return "it is on a read-only file system (the server writes its store there): remount it " +
      "read-write or choose another data folder";
  }
  if (isDiskFull(error)) return "the disk that holds it is full: free some space and start again";
  return errorText(error);
}

function isReadOnly(error: unknown): boolean {
  return error instanceof Error && (error as { code?: string }).code === "EROFS";
}

/** Creates the data folder (and the store's folder below it) if missing. */
async function makeFolders(config: ServerConfig): Promise<void> {
  // The data folder (token, certificates) and the store's own folder, which may be below it.
  const folders = storeKind(config.db) === "file" ? [config.data, parentFolder(config.db)] : [];
  for (const folder of folders) {
    try {
      // Only the server's user may look inside: the store holds every contact (the token
      // file is 0600 on its own, the KV file is not). An existing folder keeps its mode.
      await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
    } catch (error) {
      if (isPermissionError(error)) fail(permissionMessage(error));
      fail(`Cannot create the folder ${JSON.stringify(folder)}: ${storageProblem(error)}`);
    }
  }
}

/**
 * Takes the data folder for this server (a file store only: `:memory:` and KV Connect have
 * no folder to share), or refuses in one sentence naming the folder and the owner's pid.
 */
async function lockFolder(config: ServerConfig, log: Logger): Promise<FolderLock | undefined> {
  if (storeKind(config.db) !== "file") return undefined;
  try {
    return await lockDataFolder(config.data);
  } catch (error) {
    if (error instanceof FolderInUseError) fail(error.message);
    if (isPermissionError(error)) fail(permissionMessage(error));
    if (isReadOnly(error)) {
      fail(`Cannot use the data folder ${JSON.stringify(config.data)}: ${storageProblem(error)}`);
    }
    // A file system without locks (some network mounts): serve, but say what is not checked.
    log.warn(
      `Cannot lock the data folder ${JSON.stringify(config.data)} (${errorText(error)}): ` +
        "make sure no other server uses it",
    );
    return undefined;
  }
}

/**
 * Warns (one line) of a data folder, or the store's own folder, that other users may open:
 * the KV file is made with the umask's mode (often 0644), so in such a folder every local
 * user can read every contact. The folder is the admin's and is left as it is.
 */
async function warnOpenFolders(config: ServerConfig, log: Logger): Promise<void> {
  if (storeKind(config.db) !== "file" || Deno.build.os === "windows") return;
  for (const folder of new Set([config.data, parentFolder(config.db)])) {
    let mode: number | null;
    try {
      mode = (await Deno.stat(folder)).mode;
    } catch {
      continue; // opening the store says what is wrong with it
    }
    if (mode === null || (mode & 0o077) === 0) continue;
    log.warn(
      `The data folder ${JSON.stringify(folder)} is open to other users ` +
        `(mode ${(mode & 0o7777).toString(8).padStart(4, "0")}), so they can read the store ` +
        `and every contact in it: chmod 700 ${JSON.stringify(folder)}`,
    );
  }
}

/** Whether the store is a file that exists and holds no byte (SQLite then makes a new one). */
async function isEmptyFile(config: ServerConfig): Promise<boolean> {
  if (storeKind(config.db) !== "file") return false;
  try {
    const info = await Deno.stat(config.db);
    return info.isFile && info.size === 0;
  } catch {
    return false;
  }
}

async function openStore(config: ServerConfig, log: Logger): Promise<ContactStore> {
  // Search terms depend on the phone region: set before the store builds its view.
  setPhoneRegion(config.region);
  const existed = storeKind(config.db) === "file" && await exists(config.db);
  try {
    return await ContactStore.open(config.db, { warn: (message) => log.warn(message) });
  } catch (error) {
    // A file this failed start made and left empty (a full disk) is not a lost store later.
    if (!existed && await isEmptyFile(config)) await Deno.remove(config.db).catch(() => {});
    if (error instanceof LayoutError) fail(error.message);
    if (isPermissionError(error)) fail(permissionMessage(error));
    fail(`Cannot open the store ${JSON.stringify(config.db)}: ${storageProblem(error)}`);
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

/** Says how to allow the listening address, in one sentence, `deno task serve` first. */
function listenRefusal(config: ServerConfig): string {
  const host = netHost(config.host);
  return `Not allowed to listen on ${formatAddress(config.host, config.port)}: run ` +
    `ADDRESSBOOK_HOST=${host} deno task serve, or --host 0.0.0.0 for every address ` +
    `(deno task serve may listen on loopback, every address and ADDRESSBOOK_HOST; ` +
    `deno run needs --allow-net=${host}; a compiled server only the address it was built for)`;
}

/** Refuses early (before a token is made) an address this process may not listen on. */
function checkListenAccess(config: ServerConfig): void {
  const host = formatAddress(config.host, config.port);
  if (!granted({ name: "net", host })) fail(listenRefusal(config));
  if (config.httpPort === null) return;
  if (!granted({ name: "net", host: formatAddress(config.host, config.httpPort) })) {
    fail(listenRefusal({ ...config, port: config.httpPort }));
  }
}

function listen(
  config: ServerConfig,
  store: ContactStore,
  log: Logger,
  security: Security,
  authGuard: AuthGuard | undefined,
) {
  try {
    return AddressBookServer.listen({
      hostname: config.host,
      port: config.port,
      store,
      log,
      maxConnections: config.maxConnections,
      maxPerPeer: config.maxPerPeer,
      limits: {
        maxLine: config.maxLine,
        idleTimeoutMs: config.idleTimeout * 1000,
        maxBadLines: 100,
        writeTimeoutMs: config.writeTimeout * 1000,
        authTimeoutMs: config.authTimeout * 1000,
      },
      classic: security.classic,
      ...(security.auth ? { auth: security.auth } : {}),
      ...(authGuard ? { authGuard } : {}),
      ...(security.tls ? { tls: security.tls } : {}),
    });
  } catch (error) {
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

/**
 * `--check`: verify the store before serving; repair what KV holds besides the records from
 * them (the count, stray index rows) if it finds damage.
 */
async function checkStore(store: ContactStore, log: Logger): Promise<void> {
  const report = await store.check();
  if (report.ok) {
    log.always(
      `Check passed: ${plural(report.contacts, "contact")}, ` +
        `${plural(report.indexEntries, "view entry", "view entries")} agree`,
    );
    return;
  }
  for (const problem of report.problems) log.error(`Check: ${problem}`);
  log.warn(
    `Check found ${report.problems.length} problems; repairing the store from its records ` +
      "(rebuilding the count and indexes)",
  );
  await store.rebuildIndexes();
  const again = await store.check();
  if (!again.ok) fail(`The store is still damaged after a repair: ${again.problems[0]}`);
  log.always(
    `Store repaired: ${plural(again.contacts, "contact")}, ` +
      plural(again.indexEntries, "view entry", "view entries"),
  );
}

/**
 * Opens the HTTP door (CardDAV) on `--http-port`, same host and TLS as the TCP port, with
 * the same store, authenticator and failure guard; its caps are the TCP door's: requests
 * in flight (--max-connections, --max-per-peer), the write timeout for a body to arrive
 * and a reply to be read.
 */
function listenHttp(
  config: ServerConfig,
  store: ContactStore,
  log: Logger,
  security: Security,
  authGuard: AuthGuard | undefined,
  stats: () => { open: number; total: number; requests: number; uptime: number },
): { door: HttpDoor; summary: string; web: WebPage } {
  const port = config.httpPort!;
  const plainOffLoopback = security.auth !== undefined && !security.tls && !isLoopback(config.host);
  const refusePlainAuth = plainOffLoopback && !config.httpPlainAuth;
  if (refusePlainAuth) {
    log.warn(
      "CardDAV refuses tokens over plain HTTP off loopback: give the server a certificate " +
        "(cert.pem and key.pem in the data folder), or --http-plain-auth to accept them in clear",
    );
  } else if (plainOffLoopback) {
    log.warn(
      "CardDAV takes tokens over plain HTTP (--http-plain-auth): they cross the LAN in " +
        "clear, readable by anyone on it",
    );
  }
  const dav = new CardDav({
    store,
    log,
    auth: new BasicAuth(security.auth, authGuard, log),
    refusePlainAuth,
    serverStats: stats,
  });
  // The web page at / and its WebSocket /rpc (issue 13); every other path is CardDAV's.
  const web = new WebPage({
    store,
    log,
    ...(security.auth ? { auth: security.auth } : {}),
    ...(authGuard ? { authGuard } : {}),
    maxLine: config.maxLine,
    timeoutMs: config.writeTimeout * 1000,
    maxSockets: config.maxConnections,
    maxPerPeer: config.maxPerPeer,
    authTimeoutMs: config.authTimeout * 1000,
    idleTimeoutMs: config.idleTimeout * 1000,
    refusePlainAuth,
    serverStats: stats,
  });
  let door: HttpDoor;
  try {
    door = HttpDoor.listen({
      hostname: config.host,
      port,
      log,
      ...(security.tls ? { tls: security.tls } : {}),
      limits: {
        maxBody: 4 * 1024 * 1024,
        timeoutMs: config.writeTimeout * 1000,
        maxRequests: config.maxConnections,
        maxPerPeer: config.maxPerPeer,
      },
      handler: (request, info) =>
        Promise.resolve(web.handle(request, info) ?? dav.handle(request, info)),
    });
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) {
      fail(
        `Port ${port} on ${config.host} (--http-port, CardDAV) is already in use: stop the ` +
          "other server, choose another port with --http-port, or --http-port off",
      );
    }
    if (isPermissionError(error)) fail(listenRefusal({ ...config, port }));
    fail(`Cannot listen on ${formatAddress(config.host, port)} (HTTP): ${errorText(error)}`);
  }
  const plain = refusePlainAuth ? ", tokens refused without TLS" : "";
  return { door, web, summary: `CardDAV on ${door.url}/dav/${plain}, web page on ${door.url}/` };
}

/** A server that started: {@link RunningServer.stop} drains it and closes the store. */
export interface RunningServer {
  readonly server: AddressBookServer;
  /** The HTTP door (CardDAV), unless `--http-port off`. */
  readonly http: HttpDoor | undefined;
  /** The DNS-SD advertisement, when the server advertises itself on the LAN. */
  readonly advertiser: Advertiser | undefined;
  readonly store: ContactStore;
  /** Stops accepting, answers the requests already read, closes the store. */
  stop(): Promise<void>;
}

/**
 * Checks what this process may do, opens the store (migrating it, and `--check`ing it when
 * asked), sets up protected mode and TLS, listens, and prints the startup line. Throws a
 * {@link StartupError} (one sentence) when it cannot; nothing is left open then.
 */
export async function startServer(config: ServerConfig, log: Logger): Promise<RunningServer> {
  log.info(formatPermissionReport(permissionReport({
    host: config.host,
    port: config.port,
    data: config.data,
    env: SERVER_OPTIONS.map((o) => o.env),
  })));
  checkListenAccess(config);
  const advertising = advertisePlan(config);
  if (advertising.refusal) fail(advertising.refusal);
  if (advertising.warning) log.warn(advertising.warning);
  checkStoreAccess(config);
  await makeFolders(config);
  const lock = await lockFolder(config, log);
  let store: ContactStore;
  let empty: boolean;
  try {
    await warnOpenFolders(config, log);
    empty = await isEmptyFile(config);
    store = await openStore(config, log);
  } catch (error) {
    lock?.close();
    throw error;
  }
  let server: AddressBookServer;
  let security: Security;
  let http: { door: HttpDoor; summary: string; web: WebPage } | undefined;
  let authGuard: AuthGuard | undefined;
  try {
    if (empty && await store.count() === 0) {
      log.warn(
        `The store file ${JSON.stringify(config.db)} was empty (0 bytes), so the address book ` +
          "starts empty: that usually means the file was lost or cut short; if contacts are " +
          "missing, stop the server and put back the file from a backup",
      );
    }
    if (store.openedLayout < LAYOUT_VERSION) {
      log.info(`Migrated the store from layout ${store.openedLayout} to ${LAYOUT_VERSION}`);
    }
    if (config.check) await checkStore(store, log);
    security = await setUpSecurity(config, log);
    // One guard for both doors: an address that fails on one waits on the other too.
    if (security.auth) authGuard = new AuthGuard({ warn: (line) => log.warn(line) });
    server = listen(config, store, log, security, authGuard);
    try {
      const tcp = server;
      if (config.httpPort !== null) {
        http = listenHttp(config, store, log, security, authGuard, () => tcp.stats());
      }
    } catch (error) {
      await server.shutdown();
      throw error;
    }
  } catch (error) {
    authGuard?.close();
    store.close();
    lock?.close();
    throw error;
  }
  const address = formatAddress(server.addr.hostname, server.addr.port);
  log.always(
    `addressbook ${VERSION} listening on ${address} (store ${config.db}, layout ${LAYOUT_VERSION}, ` +
      `protocol ${PROTOCOL_VERSION}, ${security.summary}${http ? `; ${http.summary}` : ""})`,
  );
  // DNS-SD probes and announces in the background; its line follows (README: Discovery).
  const advertiser = advertising.advertise
    ? startAdvertising(config, {
      tcp: server.addr,
      tls: security.tls !== undefined,
      auth: security.auth !== undefined,
      ...(http ? { http: { port: http.door.addr.port, tls: http.door.tls } } : {}),
      davPath: PATHS.root,
    }, log)
    : undefined;
  return {
    server,
    http: http?.door,
    advertiser,
    store,
    async stop() {
      // The goodbye first, so that browsers drop the server before it stops answering.
      await advertiser?.stop();
      http?.web.close();
      await Promise.all([server.shutdown(), http?.door.shutdown()]);
      authGuard?.close();
      store.close();
      lock?.close();
    },
  };
}

/**
 * Signals closer together than this are one request to stop: Ctrl-C in a terminal signals
 * the whole process group and `deno task` forwards its own copy, so the server sees SIGINT
 * twice within milliseconds. Only a signal that comes later means "stop now".
 */
export const REPEATED_SIGNAL_MS = 1000;

/**
 * What a stop signal means, given when the first one came: the first stops the server, one
 * within {@link REPEATED_SIGNAL_MS} of it is the same Ctrl-C, a later one exits at once.
 *
 * @example
 * ```ts
 * import { SignalCounter } from "./startup.ts";
 * const signals = new SignalCounter();
 * if (signals.next(0) !== "stop" || signals.next(5) !== "same" || signals.next(1500) !== "exit") {
 *   throw new Error();
 * }
 * ```
 */
export class SignalCounter {
  #first: number | undefined;

  /** The meaning of a signal received at `now` (milliseconds, monotonic). */
  next(now: number): "stop" | "same" | "exit" {
    if (this.#first === undefined) {
      this.#first = now;
      return "stop";
    }
    return now - this.#first < REPEATED_SIGNAL_MS ? "same" : "exit";
  }
}

/**
 * Stops the server on SIGINT or SIGTERM: drains and exits 0. A second signal within
 * {@link REPEATED_SIGNAL_MS} of the first is the same Ctrl-C and is ignored; a later one
 * exits at once with code 1.
 */
export function stopOnSignals(running: RunningServer, log: Logger): void {
  const signals = new SignalCounter();
  const onSignal = async (signal: Deno.Signal) => {
    const meaning = signals.next(performance.now());
    if (meaning === "same") {
      log.debug(`${signal} again at once (the same Ctrl-C, forwarded): already shutting down`);
      return;
    }
    if (meaning === "exit") {
      log.warn(`${signal} again: exiting now`);
      Deno.exit(1);
    }
    log.always(`${signal}: shutting down; answering requests already read`);
    await running.stop();
    log.always("Stopped");
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", () => onSignal("SIGINT"));
  // Windows has no SIGTERM listener; Ctrl-C (SIGINT) still stops the server cleanly.
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM"));
}
