/**
 * The web page of the HTTP door (issue 13): `/` serves a page (HTML, CSS and one script
 * module, all from `web/assets.ts`, no request to anything but this server), and `/rpc` is a
 * WebSocket that speaks the TCP door's JSON-RPC 2.0, one message per frame, through the same
 * methods module (`dispatchNow`/`dispatch` with a {@link MethodContext}), so it has the same
 * methods, errors, auth and limits: a message longer than `--max-line` bytes is answered
 * TOO_LARGE and the socket closed, `auth` goes through the server's {@link Authenticator}
 * under the doors' shared {@link AuthGuard}, and `watch` pushes `changed` notifications
 * through the TCP door's {@link WatchStream} (its output adapter sends each line as a frame).
 * `/export.vcf`, `/export.csv` and `/import` are the page's download and upload
 * (`web_transfer.ts`).
 *
 * A WebSocket whose `Origin` is not the page's own is refused (403), so another site open in
 * the same browser cannot drive the book; on a server without a token, a `Host` that is not
 * an address or `localhost` is refused too (DNS rebinding).
 *
 * @module
 */

import type { Access } from "../auth.ts";
import { AttemptRefused, guardedCheck, MAX_AUTH_FAILURES } from "../token_check.ts";
import { dispatch, dispatchNow, type MethodContext, type SessionAuth } from "../methods.ts";
import { WatchStream } from "../watch_stream.ts";
import {
  ErrorCode,
  errorResponse,
  formatResponse,
  isResponse,
  parseLine,
  type Response as RpcResponse,
  RpcError,
  tooLargeError,
} from "../../protocol/jsonrpc.ts";
import type { RequestInfo } from "./server.ts";
import { APP_JS, INDEX_HTML, STYLE_CSS } from "./web/assets.ts";
import { handleTransfer, TRANSFER_PATHS, type TransferOptions } from "./web_transfer.ts";

/** The WebSocket's path. */
export const RPC_PATH = "/rpc";

/** Bytes a socket may have waiting to be sent before its writer waits for the client. */
const SEND_BUFFER = 1024 * 1024;

/**
 * The page's security headers: a strict Content-Security-Policy (this server's own script,
 * style and WebSocket only; no inline script, no frames, no forms posted elsewhere), no
 * MIME sniffing, no framing, no referrer.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

/** What the page's handler needs from the server: the transfers' needs, and the sockets'. */
export interface WebOptions extends TransferOptions {
  /** WebSockets open at once (`--max-connections`), and from one address (`--max-per-peer`). */
  maxSockets: number;
  maxPerPeer: number;
  /** A socket of a protected server not authenticated this long after opening is closed (ms). */
  authTimeoutMs: number;
  /** A socket that sends nothing for this long and is not watching is closed (ms). */
  idleTimeoutMs: number;
}

const FILES: Record<string, { type: string; body: string }> = {
  "/": { type: "text/html; charset=utf-8", body: INDEX_HTML },
  "/index.html": { type: "text/html; charset=utf-8", body: INDEX_HTML },
  "/app.js": { type: "text/javascript; charset=utf-8", body: APP_JS },
  "/style.css": { type: "text/css; charset=utf-8", body: STYLE_CSS },
};

/**
 * Whether a WebSocket request may be upgraded: its `Origin` (when a browser sent one) is the
 * page's own, the scheme and `Host` it asked for; and on an open server its `Host` names an
 * address or `localhost` (a rebound DNS name is not let in). The reason when not.
 *
 * @example
 * ```ts
 * import { originRefusal } from "./web.ts";
 * const own = new Request("http://127.0.0.1:2008/rpc", { headers: { origin: "http://127.0.0.1:2008" } });
 * if (originRefusal(own, true) !== undefined) throw new Error();
 * const other = new Request("http://127.0.0.1:2008/rpc", { headers: { origin: "http://evil.example" } });
 * if (originRefusal(other, true) === undefined) throw new Error();
 * ```
 */
export function originRefusal(request: Request, open: boolean): string | undefined {
  const url = new URL(request.url);
  const origin = request.headers.get("origin");
  if (origin !== null && origin !== url.origin) {
    return `The WebSocket refuses Origin ${JSON.stringify(origin.slice(0, 100))}: only this ` +
      `server's own page (${url.origin}) may use it`;
  }
  const host = url.hostname.replace(/^\[|\]$/g, "");
  if (open && !/^[\d.]+$/.test(host) && !host.includes(":") && host !== "localhost") {
    return `The WebSocket of a server without a token refuses Host ${
      JSON.stringify(host.slice(0, 100))
    }: open it by its address`;
  }
  return undefined;
}

function forbidden(refusal: string): Response {
  return new Response(refusal + "\n", {
    status: 403,
    headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS },
  });
}

/** Serves the page and its WebSocket. */
export class WebPage {
  readonly #options: WebOptions;
  /** Every socket open, with its session (one the server is closing counts no more). */
  readonly #sessions = new Map<WebSocket, WebSession>();

  constructor(options: WebOptions) {
    this.#options = options;
  }

  /**
   * The reply for a request the page owns (GET or HEAD of its files, the WebSocket);
   * undefined for any other (the DAV tree's).
   */
  handle(request: Request, info: RequestInfo): Response | Promise<Response> | undefined {
    const path = new URL(request.url).pathname;
    if (path === RPC_PATH) return this.#upgrade(request, info);
    if ((TRANSFER_PATHS as readonly string[]).includes(path)) {
      const refusal = originRefusal(request, this.#options.auth === undefined);
      if (refusal !== undefined) {
        this.#options.log.warn(`Web ${info.number} from ${info.peer} refused: ${refusal}`);
        return request.body?.cancel().catch(() => {}).then(() => forbidden(refusal)) ??
          forbidden(refusal);
      }
      return handleTransfer(request, info, this.#options, SECURITY_HEADERS);
    }
    const file = FILES[path];
    // Other methods (a CardDAV client's PROPFIND of /, discovering) are the DAV tree's.
    if (file === undefined || (request.method !== "GET" && request.method !== "HEAD")) {
      return undefined;
    }
    return new Response(request.method === "HEAD" ? null : file.body, {
      headers: { "content-type": file.type, ...SECURITY_HEADERS },
    });
  }

  /** Closes every open socket (the server stops). */
  close(): void {
    for (const socket of this.#sessions.keys()) {
      try {
        socket.close(1001, "The server is shutting down");
      } catch { /* already closing */ }
    }
  }

  #upgrade(request: Request, info: RequestInfo): Response {
    const refusal = originRefusal(request, this.#options.auth === undefined);
    if (refusal !== undefined) {
      this.#options.log.warn(`Web ${info.number} from ${info.peer} refused: ${refusal}`);
      return forbidden(refusal);
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("This is the page's WebSocket: connect with a WebSocket client\n", {
        status: 426,
        headers: { upgrade: "websocket", "content-type": "text/plain; charset=utf-8" },
      });
    }
    const { maxSockets, maxPerPeer, log } = this.#options;
    const live = [...this.#sessions.values()].filter((session) => !session.closing);
    const open = live.length;
    const fromPeer = live.filter((session) => session.host === info.host).length;
    const maxUnauthenticated = Math.max(1, Math.floor(maxSockets / 2));
    const unauthenticated = this.#options.auth
      ? live.filter((session) => !session.authenticated).length
      : 0;
    if (
      open >= maxSockets || fromPeer >= maxPerPeer ||
      unauthenticated >= maxUnauthenticated
    ) {
      const message = open >= maxSockets
        ? `The server has ${maxSockets} WebSockets open already`
        : fromPeer >= maxPerPeer
        ? `This address has ${maxPerPeer} WebSockets open already`
        : `The server has ${maxUnauthenticated} WebSockets waiting to authenticate already`;
      log.warn(`Web ${info.number} from ${info.peer} refused: ${message}`);
      return new Response(`${message}; try again shortly\n`, {
        status: 503,
        headers: { "retry-after": "1", "content-type": "text/plain; charset=utf-8" },
      });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    const session = new WebSession(socket, info, this.#options);
    this.#sessions.set(socket, session);
    socket.addEventListener("close", () => {
      this.#sessions.delete(socket);
      session.closed();
    });
    return response;
  }
}

/** One WebSocket: its auth state, its watch, its messages answered in order. */
class WebSession {
  readonly #socket: WebSocket;
  readonly #info: RequestInfo;
  readonly #options: WebOptions;
  readonly #auth: { -readonly [K in keyof SessionAuth]: SessionAuth[K] };
  readonly #watch: WatchStream;
  readonly #context: MethodContext;
  readonly #gone = new AbortController();
  /** Messages are answered one after another, in order. */
  #turn: Promise<void> = Promise.resolve();
  #out: string[] = [];
  #closed = false;
  #failures = 0;
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: WebSocket, info: RequestInfo, options: WebOptions) {
    this.#socket = socket;
    this.#info = info;
    this.#options = options;
    this.#auth = {
      required: options.auth !== undefined,
      access: options.auth ? "none" : "write",
      authenticate: (token) => this.#authenticate(token),
    };
    this.#watch = new WatchStream({
      store: options.store,
      log: options.log,
      connection: info.number,
      output: {
        enqueue: (text) => this.#out.push(text),
        flush: () => this.#flush(),
        isClosed: () => this.#closed,
        close: () => this.#close(1011, "watch failed"),
      },
    });
    this.#context = {
      store: options.store,
      connection: info.number,
      requests: 0,
      maxLine: options.maxLine,
      serverStats: options.serverStats,
      log: options.log,
      session: this.#auth,
      watch: this.#watch,
      signal: this.#gone.signal,
    };
    socket.addEventListener("message", (event) => {
      const data = event.data as unknown;
      this.#turn = this.#turn.then(() => this.#message(data)).catch((error) => {
        options.log.error(
          `Web ${info.number}: ${error instanceof Error ? error.stack : String(error)}`,
        );
        this.#close(1011, "internal error");
      });
    });
    if (options.auth) {
      this.#authTimer = setTimeout(() => {
        if (this.#auth.access !== "none") return;
        const seconds = options.authTimeoutMs / 1000;
        this.#send(formatResponse(errorResponse(null, {
          code: ErrorCode.UNAUTHORIZED,
          message: `Unauthorized: not authenticated within ${seconds} s of connecting; closing`,
          data: { reason: "UNAUTHORIZED" },
        })));
        this.#close(1008, `not authenticated within ${seconds} s`);
      }, options.authTimeoutMs);
    }
    this.#armIdle();
    options.log.info(`Web ${info.number} from ${info.peer}: WebSocket opened`);
  }

  /** The client's address (without its port). */
  get host(): string {
    return this.#info.host;
  }

  /** Whether the socket is closed or being closed. */
  get closing(): boolean {
    return this.#closed || this.#socket.readyState >= WebSocket.CLOSING;
  }

  /** Whether the socket may do more than `hello` and `auth` (always, on an open server). */
  get authenticated(): boolean {
    return this.#auth.access !== "none";
  }

  /** Closes the socket after the idle timeout unless a message comes or it is watching. */
  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#watch.active) return this.#armIdle();
      this.#close(1000, `idle for ${this.#options.idleTimeoutMs / 1000} s`);
    }, this.#options.idleTimeoutMs);
  }

  /** The socket closed (either side). */
  closed(): void {
    clearTimeout(this.#authTimer);
    clearTimeout(this.#idleTimer);
    this.#closed = true;
    this.#watch.stop();
    this.#gone.abort();
    this.#options.log.info(`Web ${this.#info.number} from ${this.#info.peer}: closed`);
  }

  async #message(data: unknown): Promise<void> {
    if (this.#closed) return;
    this.#armIdle();
    const { maxLine } = this.#options;
    let bytes: Uint8Array | string;
    if (typeof data === "string") bytes = data;
    else if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (data instanceof Blob) bytes = new Uint8Array(await data.arrayBuffer());
    else return;
    const size = typeof bytes === "string"
      ? (bytes.length * 3 <= maxLine ? bytes.length : new TextEncoder().encode(bytes).length)
      : bytes.length;
    if (size > maxLine) {
      this.#send(formatResponse(errorResponse(null, tooLargeError(maxLine))));
      this.#close(1009, `message longer than ${maxLine} bytes`);
      return;
    }
    if (this.#watch.active) await this.#watch.catchUp();
    const parsed = parseLine(bytes);
    const replies: RpcResponse[] = [];
    for (const item of parsed.items) {
      if (isResponse(item)) {
        replies.push(item);
        continue;
      }
      this.#context.requests++;
      const reply = dispatchNow(item, this.#context) || await dispatch(item, this.#context);
      if (reply !== undefined) replies.push(reply);
      if (this.#closed) return;
    }
    if (replies.length > 0) {
      this.#out.push(formatResponse(parsed.batch ? replies : replies[0]!));
    }
    await this.#flush();
    this.#watch.replyQueued();
    if (this.#failures >= MAX_AUTH_FAILURES) this.#close(1008, "too many failed auth attempts");
  }

  /** Sends the queued lines, one frame each; waits while the client is slow to read. */
  async #flush(): Promise<void> {
    while (this.#out.length > 0 && !this.#closed) {
      const text = this.#out.shift()!;
      for (const line of text.split("\n")) if (line !== "") this.#send(line);
    }
    const since = performance.now();
    // Bounded: every round waits 20 ms, and the whole wait at most the write timeout.
    while (!this.#closed && this.#socket.bufferedAmount > SEND_BUFFER) {
      if (performance.now() - since > this.#options.timeoutMs) {
        const seconds = this.#options.timeoutMs / 1000;
        if (!this.#watch.stall(seconds)) this.#close(1008, `nothing read for ${seconds} s`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  #send(line: string): void {
    if (this.#closed || this.#socket.readyState !== WebSocket.OPEN) return;
    this.#socket.send(line.endsWith("\n") ? line.slice(0, -1) : line);
  }

  #close(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#watch.stop();
    try {
      this.#socket.close(code, reason);
    } catch { /* already closing */ }
  }

  async #authenticate(token: string): Promise<Access> {
    const { auth, authGuard, log, refusePlainAuth } = this.#options;
    const { number, peer, host } = this.#info;
    if (!auth) return "write";
    if (refusePlainAuth) {
      throw new RpcError(
        ErrorCode.UNAUTHORIZED,
        "UNAUTHORIZED",
        "Unauthorized: this server takes no token over plain HTTP off loopback; give it a TLS " +
          "certificate, or start it with --http-plain-auth",
      );
    }
    if (this.#failures >= MAX_AUTH_FAILURES) {
      throw new RpcError(
        ErrorCode.UNAUTHORIZED,
        "UNAUTHORIZED",
        `Unauthorized: not tried, as this socket already failed ${MAX_AUTH_FAILURES} attempts`,
      );
    }
    let access: Access;
    try {
      const check = {
        auth,
        guard: authGuard,
        log,
        address: host,
        maxWaitMs: this.#options.timeoutMs,
      };
      access = await guardedCheck(check, token, () => {
        this.#failures++;
        return `Web ${number} from ${peer}: failed auth attempt ${this.#failures} of ` +
          `${MAX_AUTH_FAILURES}`;
      });
    } catch (error) {
      if (error instanceof AttemptRefused) this.#failures = MAX_AUTH_FAILURES;
      throw error;
    }
    if (access !== "none") {
      this.#auth.access = access;
      clearTimeout(this.#authTimer);
      log.info(
        `Web ${number} from ${peer}: authenticated ${
          access === "write" ? "(read-write)" : "(read-only)"
        }`,
      );
      return access;
    }
    throw new RpcError(
      ErrorCode.UNAUTHORIZED,
      "UNAUTHORIZED",
      "Unauthorized: the token is not valid",
    );
  }
}
