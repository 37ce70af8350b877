/**
 * The TCP server: accepts connections, hands each to its own async handler, caps how many
 * are open, survives accept errors (such as running out of file descriptors), and shuts down
 * cleanly: stop accepting, let each connection finish what it has read, then close.
 *
 * @module
 */

import type { Authenticator } from "./auth.ts";
import { AuthGuard } from "./auth_guard.ts";
import { LogWindow } from "./log_window.ts";
import { type ConnectionLimits, serveConnection } from "./connection.ts";
import type { Logger } from "./log.ts";
import {
  busyError,
  errorResponse,
  formatResponse,
  type RpcErrorObject,
} from "../protocol/jsonrpc.ts";
import { type TlsContext, tlsContext, TlsServerConn } from "./tls_socket.ts";
import { formatAddress } from "../protocol/address.ts";
import type { ContactStore } from "../store/mod.ts";

/** How to run a server. */
export interface ServerOptions {
  hostname: string;
  port: number;
  store: ContactStore;
  log: Logger;
  /**
   * Sockets open at once, counted from `accept` until the socket is closed: connections being
   * served, TLS handshakes, and refused connections being told `BUSY`.
   */
  maxConnections: number;
  /**
   * Connections one peer address (without its port) may hold at once. Default a quarter of
   * `maxConnections`, at least 1.
   */
  maxPerPeer?: number;
  limits: ConnectionLimits;
  /** How long shutdown waits for connections to finish before closing them (ms). */
  shutdownGraceMs?: number;
  /**
   * PEM certificate chain and private key: speak TLS (`node:tls` over the TCP listener, see
   * `tls_socket.ts`).
   */
  tls?: { cert: string; key: string };
  /** How long a TLS client has to finish its handshake (ms). Default 10,000. */
  handshakeTimeoutMs?: number;
  /**
   * Protected mode: every connection must `auth` with one of these tokens, and connections
   * not yet authenticated may hold only half of `maxConnections`.
   */
  auth?: Authenticator;
  /** The classic protocol: full (default), read-only (`fnd:` only) or refused. */
  classic?: "full" | "read-only" | "off";
  /**
   * Failed auth attempts per peer address, when other doors (HTTP) share them; default: one
   * of its own in protected mode. A guard given here is closed by its owner, not by shutdown.
   */
  authGuard?: AuthGuard;
}

/** How long a TLS client has to finish its handshake unless told otherwise (ms). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** How long a refused connection has to take its `BUSY` line before it is closed (ms). */
const REFUSE_MS = 1000;

/**
 * Refused connections being told `BUSY` at once, past the cap: with more, the server accepts
 * nothing until one closes, so sockets stay bounded (`maxConnections` plus this) whatever
 * comes in. Each closes within {@link REFUSE_MS}.
 */
const MAX_REFUSING = 64;

const encoder = new TextEncoder();

/** One accepted socket, until it is closed. */
interface OpenSocket {
  /** Closes the socket at once. */
  kill(): void;
  /** Resolves once the socket is closed. */
  done: Promise<unknown>;
}

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
  readonly #listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>;
  readonly #options: ServerOptions;
  readonly #tls: TlsContext | undefined;
  readonly #maxPerPeer: number;
  readonly #maxUnauthenticated: number;
  readonly #stop = new AbortController();
  /** Every accepted socket not yet closed, served or refused. */
  readonly #open = new Map<number, OpenSocket>();
  /** Served connections per peer address. */
  readonly #perPeer = new Map<string, number>();
  /** Served connections that have not authenticated (protected mode). */
  #unauthenticated = 0;
  #handshaking = 0;
  #refusing = 0;
  /** The accept loop, when it waits for a socket to close. */
  #roomWaiters: (() => void)[] = [];
  /** Whether the accept loop has waited since a connection was last served. */
  #holding = false;
  readonly #started = Date.now();
  readonly #acceptLoop: Promise<void>;
  /** Failed auth attempts per peer address (protected mode). */
  readonly #authGuard: AuthGuard | undefined;
  #ownsGuard = false;
  /** The refusals' log lines: the first of a flood, then a count every 10 s. */
  readonly #refusals: LogWindow;
  #total = 0;
  #requests = 0;
  #shutdown: Promise<void> | undefined;

  private constructor(
    listener: Deno.Listener<Deno.TcpConn, Deno.NetAddr>,
    options: ServerOptions,
    tls: TlsContext | undefined,
  ) {
    this.#listener = listener;
    this.#options = options;
    this.#tls = tls;
    this.#maxPerPeer = options.maxPerPeer ?? defaultMaxPerPeer(options.maxConnections);
    this.#maxUnauthenticated = Math.max(1, Math.floor(options.maxConnections / 2));
    this.addr = listener.addr;
    if (options.authGuard) this.#authGuard = options.authGuard;
    else if (options.auth) {
      this.#authGuard = new AuthGuard({ warn: (line) => options.log.warn(line) });
      this.#ownsGuard = true;
    }
    this.#refusals = new LogWindow((line) => options.log.warn(line), "connections refused");
    this.#acceptLoop = this.#accept();
  }

  /**
   * Starts listening (with TLS when `options.tls` is set). Throws what `Deno.listen` throws
   * (address in use, not allowed), and a `TypeError` for a certificate or key that cannot be
   * used.
   */
  static listen(options: ServerOptions): AddressBookServer {
    const tls = options.tls ? tlsContext(options.tls) : undefined;
    const listener = Deno.listen({ hostname: options.hostname, port: options.port });
    return new AddressBookServer(listener, options, tls);
  }

  /** Whether the server speaks TLS. */
  get tls(): boolean {
    return this.#tls !== undefined;
  }

  /**
   * Sockets open now (served, in a TLS handshake, or being refused), connections since
   * start, requests served, seconds up; and of the open ones, those in a TLS handshake,
   * those being refused, and those not yet authenticated (protected mode).
   */
  stats(): {
    open: number;
    total: number;
    requests: number;
    uptime: number;
    handshaking: number;
    refusing: number;
    unauthenticated: number;
  } {
    return {
      open: this.#open.size,
      total: this.#total,
      requests: this.#requests,
      uptime: Math.round((Date.now() - this.#started) / 1000),
      handshaking: this.#handshaking,
      refusing: this.#refusing,
      unauthenticated: this.#unauthenticated,
    };
  }

  async #accept(): Promise<void> {
    const { log, maxConnections } = this.#options;
    while (!this.#stop.signal.aborted) {
      if (this.#open.size >= maxConnections + MAX_REFUSING) {
        // Once per flood: the flag is cleared when a connection is served again.
        if (!this.#holding) {
          log.warn(
            `${this.#open.size} sockets open, ${this.#refusing} of them being refused: ` +
              "accepting no more until one closes",
          );
        }
        this.#holding = true;
        await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
        continue;
      }
      let conn: Deno.TcpConn;
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
      const { hostname, port } = conn.remoteAddr;
      const peer = formatAddress(hostname, port);
      const host = peerHost(hostname);
      const refusal = this.#refusal(host);
      if (refusal) {
        this.#refusals.note(`Connection ${id} from ${peer} refused: ${refusal.why}`);
        this.#refuse(id, conn, refusal.error);
      } else {
        this.#holding = false;
        this.#serve(id, conn, peer, host);
      }
    }
  }

  /** Why a new connection from `host` is refused, or undefined when it may be served. */
  #refusal(host: string): { why: string; error: RpcErrorObject } | undefined {
    const { maxConnections, auth } = this.#options;
    const open = this.#open.size;
    if (open >= maxConnections) {
      return { why: `${open} connections open`, error: busyError(maxConnections) };
    }
    const fromPeer = this.#perPeer.get(host) ?? 0;
    if (fromPeer >= this.#maxPerPeer) {
      return {
        why: `${fromPeer} connections open from this address (--max-per-peer ${this.#maxPerPeer})`,
        error: busyError(this.#maxPerPeer, "address"),
      };
    }
    if (auth && this.#unauthenticated >= this.#maxUnauthenticated) {
      return {
        why: `${this.#unauthenticated} connections waiting to authenticate`,
        error: busyError(this.#maxUnauthenticated, "unauthenticated"),
      };
    }
    return undefined;
  }

  /** Serves a connection (after its TLS handshake), counted until its socket is closed. */
  #serve(id: number, conn: Deno.TcpConn, peer: string, host: string): void {
    const { log } = this.#options;
    this.#perPeer.set(host, (this.#perPeer.get(host) ?? 0) + 1);
    let waitingForAuth = this.#options.auth !== undefined;
    if (waitingForAuth) this.#unauthenticated++;
    const authenticated = () => {
      if (!waitingForAuth) return;
      waitingForAuth = false;
      this.#unauthenticated--;
    };
    log.info(`Connection ${id} from ${peer}`);
    try {
      conn.setNoDelay(true);
    } catch {
      // already gone
    }
    const tls = this.#tls ? new TlsServerConn(conn, this.#tls) : undefined;
    const served = async () => {
      if (tls && !(await this.#handshake(tls, id, peer))) {
        return { requests: 0, reason: "TLS handshake failed" };
      }
      return serveConnection(tls ?? conn, {
        id,
        peer,
        store: this.#options.store,
        log,
        limits: this.#options.limits,
        shutdown: this.#stop.signal,
        onRequests: (n) => this.#requests += n,
        serverStats: () => this.stats(),
        auth: this.#options.auth,
        ...(this.#authGuard ? { authGuard: this.#authGuard } : {}),
        classic: this.#options.classic,
        onAuthenticated: authenticated,
      });
    };
    const done = served().then(async ({ requests, reason }) => {
      // The slot is free once the socket is: a TLS close may still be saying goodbye.
      await tls?.closed;
      authenticated();
      const left = (this.#perPeer.get(host) ?? 1) - 1;
      if (left > 0) this.#perPeer.set(host, left);
      else this.#perPeer.delete(host);
      this.#closed(id);
      log.info(`Connection ${id} closed: ${reason} (${requests} requests)`);
    });
    this.#open.set(id, { kill: () => tls ? tls.destroy() : close(conn), done });
  }

  /**
   * Completes a TLS handshake within the handshake timeout; on failure the socket is closed
   * and one line logged. Never throws.
   */
  async #handshake(conn: TlsServerConn, id: number, peer: string): Promise<boolean> {
    const timeout = this.#options.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
    this.#handshaking++;
    try {
      await conn.handshake(timeout);
      return true;
    } catch (error) {
      const detail = error instanceof Deno.errors.TimedOut
        ? `not finished within ${timeout / 1000} s`
        : error instanceof Error
        ? error.message
        : String(error);
      this.#options.log.warn(
        `Connection ${id} from ${peer}: TLS handshake failed: ${detail}; closed`,
      );
      return false;
    } finally {
      this.#handshaking--;
    }
  }

  /**
   * Tells a connection that it is refused (`BUSY`, after the TLS handshake on a TLS server),
   * then closes it; whatever happens, its socket is closed within {@link REFUSE_MS}.
   */
  #refuse(id: number, conn: Deno.TcpConn, error: RpcErrorObject): void {
    this.#refusing++;
    const tls = this.#tls ? new TlsServerConn(conn, this.#tls) : undefined;
    const kill = () => tls ? tls.destroy() : close(conn);
    const timer = setTimeout(kill, REFUSE_MS);
    const line = encoder.encode(formatResponse(errorResponse(null, error)));
    const refused = async () => {
      try {
        if (tls) await tls.handshake(REFUSE_MS);
        const target: Deno.Conn = tls ?? conn;
        for (let bytes = line; bytes.length > 0;) bytes = bytes.subarray(await target.write(bytes));
      } catch {
        // gone, or too slow: closed all the same
      }
      if (tls) {
        tls.close();
        await tls.closed;
      } else close(conn);
      clearTimeout(timer);
    };
    const done = refused().then(() => {
      this.#refusing--;
      this.#closed(id);
    });
    this.#open.set(id, { kill, done });
  }

  /** A socket was closed: its slot is free. */
  #closed(id: number): void {
    this.#open.delete(id);
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
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
    if (this.#ownsGuard) this.#authGuard?.close();
    this.#refusals.close();
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
      for (const { kill } of this.#open.values()) kill();
      await all;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

/** Connections one address may hold unless told otherwise: a quarter of the cap, at least 1. */
export function defaultMaxPerPeer(maxConnections: number): number {
  return Math.max(1, Math.floor(maxConnections / 4));
}

/** The address a peer is counted by: its host, an IPv4-mapped IPv6 one as plain IPv4. */
function peerHost(hostname: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return mapped ? mapped[1]! : hostname.toLowerCase();
}

function close(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // already closed
  }
}
