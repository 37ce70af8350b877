/**
 * The TCP server: accepts connections, hands each to its own async handler, caps how many
 * are open, survives accept errors (such as running out of file descriptors), and shuts down
 * cleanly: stop accepting, let each connection finish what it has read, then close.
 *
 * @module
 */

import type { Authenticator } from "./auth.ts";
import { type ConnectionLimits, isConnectionGone, serveConnection } from "./connection.ts";
import type { Logger } from "./log.ts";
import { busyError, errorResponse, formatResponse } from "../protocol/jsonrpc.ts";
import { formatAddress } from "../protocol/address.ts";
import type { ContactStore } from "../store/mod.ts";

/** How to run a server. */
export interface ServerOptions {
  hostname: string;
  port: number;
  store: ContactStore;
  log: Logger;
  maxConnections: number;
  limits: ConnectionLimits;
  /** How long shutdown waits for connections to finish before closing them (ms). */
  shutdownGraceMs?: number;
  /** PEM certificate chain and private key: listen with TLS (`Deno.listenTls`). */
  tls?: { cert: string; key: string };
  /** Protected mode: every connection must `auth` with one of these tokens. */
  auth?: Authenticator;
  /** The classic protocol: full (default), read-only (`fnd:` only) or refused. */
  classic?: "full" | "read-only" | "off";
}

/** How long a TLS client has to finish its handshake (ms). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

const encoder = new TextEncoder();

/**
 * A running server. `await using` closes it (and its connections, not its store).
 *
 * @example Serve an in-memory store on a free port
 * ```ts
 * import { AddressBookServer } from "./listener.ts";
 * import { ContactStore } from "../store/mod.ts";
 * import { createLogger } from "./log.ts";
 * await using store = await ContactStore.open(":memory:");
 * await using server = AddressBookServer.listen({
 *   hostname: "127.0.0.1", port: 0, store, log: createLogger("error"), maxConnections: 8,
 *   limits: { maxLine: 65536, idleTimeoutMs: 1000, maxBadLines: 100, writeTimeoutMs: 1000 },
 * });
 * if (server.addr.port === 0) throw new Error();
 * ```
 */
export class AddressBookServer {
  readonly addr: Deno.NetAddr;
  readonly #listener: Deno.Listener;
  readonly #options: ServerOptions;
  readonly #stop = new AbortController();
  readonly #open = new Map<number, { conn: Deno.Conn; done: Promise<unknown> }>();
  readonly #started = Date.now();
  readonly #acceptLoop: Promise<void>;
  #total = 0;
  #requests = 0;
  #shutdown: Promise<void> | undefined;

  private constructor(listener: Deno.Listener, options: ServerOptions) {
    this.#listener = listener;
    this.#options = options;
    this.addr = listener.addr as Deno.NetAddr;
    this.#acceptLoop = this.#accept();
  }

  /**
   * Starts listening (with TLS when `options.tls` is set). Throws what `Deno.listen` and
   * `Deno.listenTls` throw (address in use, not allowed, a bad certificate or key).
   */
  static listen(options: ServerOptions): AddressBookServer {
    const address = { hostname: options.hostname, port: options.port };
    const listener = options.tls
      ? Deno.listenTls({ ...address, cert: options.tls.cert, key: options.tls.key })
      : Deno.listen(address);
    return new AddressBookServer(listener, options);
  }

  /** Whether the server speaks TLS. */
  get tls(): boolean {
    return this.#options.tls !== undefined;
  }

  /** Connections open now, connections since start, requests served, seconds up. */
  stats(): { open: number; total: number; requests: number; uptime: number } {
    return {
      open: this.#open.size,
      total: this.#total,
      requests: this.#requests,
      uptime: Math.round((Date.now() - this.#started) / 1000),
    };
  }

  async #accept(): Promise<void> {
    const { log } = this.#options;
    while (!this.#stop.signal.aborted) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#stop.signal.aborted || error instanceof Deno.errors.BadResource) return;
        // Out of file descriptors (EMFILE) and the like: back off and keep serving.
        log.warn(`Cannot accept a connection: ${error instanceof Error ? error.message : error}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const id = ++this.#total;
      const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
      const peer = formatAddress(hostname, port);
      if (this.#open.size >= this.#options.maxConnections) {
        log.warn(`Connection ${id} from ${peer} refused: ${this.#open.size} connections open`);
        this.#refuse(conn);
        continue;
      }
      log.info(`Connection ${id} from ${peer}`);
      try {
        // TLS connections have no setNoDelay.
        if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
      } catch {
        // already gone
      }
      const done = this.#handshake(conn, id, peer).then((ok) =>
        ok
          ? serveConnection(conn, {
            id,
            peer,
            store: this.#options.store,
            log,
            limits: this.#options.limits,
            shutdown: this.#stop.signal,
            onRequests: (n) => this.#requests += n,
            serverStats: () => this.stats(),
            auth: this.#options.auth,
            classic: this.#options.classic,
          })
          : { requests: 0, reason: "TLS handshake failed" }
      ).then(({ requests, reason }) => {
        this.#open.delete(id);
        log.info(`Connection ${id} closed: ${reason} (${requests} requests)`);
      });
      this.#open.set(id, { conn, done });
    }
  }

  /** Completes a TLS handshake within a time limit; true for plain TCP. Never throws. */
  async #handshake(conn: Deno.Conn, id: number, peer: string): Promise<boolean> {
    if (!("handshake" in conn)) return true;
    const timer = setTimeout(() => close(conn), TLS_HANDSHAKE_TIMEOUT_MS);
    try {
      await (conn as Deno.TlsConn).handshake();
      return true;
    } catch (error) {
      const detail = isConnectionGone(error)
        ? "closed by the client or timed out"
        : error instanceof Error
        ? error.message
        : String(error);
      this.#options.log.warn(`Connection ${id} from ${peer}: TLS handshake failed: ${detail}`);
      close(conn);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tells a connection beyond the cap that the server is busy, then closes it. */
  #refuse(conn: Deno.Conn): void {
    const line = formatResponse(errorResponse(null, busyError(this.#options.maxConnections)));
    const timer = setTimeout(() => close(conn), 1000);
    conn.write(encoder.encode(line)).catch(() => {}).finally(() => {
      clearTimeout(timer);
      close(conn);
    });
  }

  /**
   * Stops accepting, lets every connection answer what it has read (up to the grace
   * period), then closes any that remain. Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#shutdownOnce();
    return this.#shutdown;
  }

  async #shutdownOnce(): Promise<void> {
    this.#stop.abort();
    close(this.#listener);
    await this.#acceptLoop;
    const grace = this.#options.shutdownGraceMs ?? 5000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), grace);
    });
    const all = Promise.all([...this.#open.values()].map((c) => c.done));
    const outcome = await Promise.race([all, timeout]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      this.#options.log.warn(
        `${this.#open.size} connections still busy after ${grace} ms; closing them`,
      );
      for (const { conn } of this.#open.values()) close(conn);
      await all;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

function close(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // already closed
  }
}
