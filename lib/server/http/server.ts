/**
 * The HTTP front door: `Deno.serve` on its own port (TLS when the server has a certificate),
 * holding each request to the door's limits before a handler (the CardDAV one, `dav.ts`)
 * sees it: requests in flight at once, per server and per client address; the body's size
 * (checked while it is read) and the time it may take to arrive; and how long a reply may
 * wait for a client that does not read it (a streamed reply is produced only as the client
 * takes it, so it is never held whole).
 *
 * Deno.serve parses the request line and headers itself (at most 100 headers and about
 * 400 KB of them, else 400) and exposes no connection: the caps count requests, not idle
 * keep-alive sockets, and a client that never finishes its headers is not timed out here.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { formatAddress } from "../../protocol/address.ts";

/** The limits each request is held to. */
export interface HttpLimits {
  /** Largest request body, in bytes; a larger one gets 413. */
  maxBody: number;
  /**
   * How long a request body may take to arrive, and how long a reply may wait for the
   * client to read more of it (milliseconds).
   */
  timeoutMs: number;
  /** Requests in flight at once (from the handler's start to the reply's last byte). */
  maxRequests: number;
  /** Requests in flight at once from one client address. */
  maxPerPeer: number;
}

/** What a handler gets besides the request. */
export interface RequestInfo {
  /** The client's address and port, for the log (`192.168.1.20:50412`). */
  peer: string;
  /** The client's address without its port (an IPv4-mapped IPv6 one as plain IPv4). */
  host: string;
  /** This request's number since the door opened. */
  number: number;
  /** Reads the request body under the door's size and time caps (see {@link readBody}). */
  body(): Promise<Uint8Array>;
  /** A reply body produced piece by piece as the client reads (see {@link streamBody}). */
  stream(pieces: AsyncIterable<string>): ReadableStream<Uint8Array>;
}

/** Handles one request that the door let in. */
export type HttpHandler = (request: Request, info: RequestInfo) => Promise<Response>;

/** How to open the door. */
export interface HttpDoorOptions {
  hostname: string;
  port: number;
  /** PEM certificate chain and key: serve HTTPS. */
  tls?: { cert: string; key: string };
  log: Logger;
  limits: HttpLimits;
  handler: HttpHandler;
}

/** A request body past the size cap. */
export class BodyTooLargeError extends RangeError {
  readonly limit: number;
  constructor(limit: number) {
    super(`The request body is larger than ${limit} bytes, the most this server reads`);
    this.name = "BodyTooLargeError";
    this.limit = limit;
  }
}

/** A request body that did not arrive in time. */
export class BodyTimeoutError extends Error {
  constructor(ms: number) {
    super(`The request body did not arrive within ${ms / 1000} s`);
    this.name = "BodyTimeoutError";
  }
}

/**
 * Reads a body whole, refusing one past `maxBody` bytes (by its Content-Length at once, or
 * as it arrives) or one that takes longer than `timeoutMs`. Never holds more than
 * `maxBody` bytes (plus one chunk).
 *
 * @example
 * ```ts
 * import { BodyTooLargeError, readBody } from "./server.ts";
 * const small = await readBody(new Request("http://x/", { method: "PUT", body: "abc" }), 10, 1000);
 * if (small.length !== 3) throw new Error();
 * const big = new Request("http://x/", { method: "PUT", body: "x".repeat(11) });
 * if (!(await readBody(big, 10, 1000).catch((e) => e) instanceof BodyTooLargeError)) throw new Error();
 * ```
 */
export async function readBody(
  request: Request,
  maxBody: number,
  timeoutMs: number,
): Promise<Uint8Array> {
  const length = request.headers.get("content-length");
  if (length !== null && Number(length) > maxBody) {
    await request.body?.cancel().catch(() => {});
    throw new BodyTooLargeError(maxBody);
  }
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (timedOut) throw new BodyTimeoutError(timeoutMs);
      if (done) break;
      size += value.length;
      if (size > maxBody) {
        await reader.cancel().catch(() => {});
        throw new BodyTooLargeError(maxBody);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (timedOut) throw new BodyTimeoutError(timeoutMs);
    throw error;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return body;
}

const encoder = new TextEncoder();

/** Text gathered before a piece of a streamed reply is handed to the socket. */
const STREAM_CHUNK = 64 * 1024;

/**
 * A reply body that takes its text from `pieces` only as the client reads: at most about
 * 64 KiB is produced ahead of the socket. A client that reads nothing for `stallMs` has
 * its reply cut off (the connection is closed) and `pieces` stopped.
 *
 * @example
 * ```ts
 * import { streamBody } from "./server.ts";
 * async function* parts() { yield "<a>"; yield "</a>"; }
 * const text = await new Response(streamBody(parts(), 1000)).text();
 * if (text !== "<a></a>") throw new Error(text);
 * ```
 */
export function streamBody(
  pieces: AsyncIterable<string>,
  stallMs: number,
  onStall: () => void = () => {},
): ReadableStream<Uint8Array> {
  const iterator = pieces[Symbol.asyncIterator]();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  const finish = () => {
    finished = true;
    clearTimeout(timer);
    iterator.return?.()?.catch(() => {});
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      clearTimeout(timer);
      let text = "";
      try {
        while (text.length < STREAM_CHUNK) {
          const next = await iterator.next();
          if (next.done) {
            if (text !== "") controller.enqueue(encoder.encode(text));
            finished = true;
            controller.close();
            return;
          }
          text += next.value;
        }
      } catch (error) {
        finish();
        controller.error(error);
        return;
      }
      controller.enqueue(encoder.encode(text));
      // The next pull comes when the client has taken this piece; none in time: cut off.
      timer = setTimeout(() => {
        if (finished) return;
        finish();
        onStall();
        controller.error(new Deno.errors.TimedOut("the client stopped reading"));
      }, stallMs);
    },
    cancel() {
      finish();
    },
  }, { highWaterMark: 0 });
}

/** The address a peer is counted by: its host, an IPv4-mapped IPv6 one as plain IPv4. */
function peerHost(hostname: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return mapped ? mapped[1]! : hostname.toLowerCase();
}

/**
 * The HTTP door: `Deno.serve` with the limits above in front of a handler.
 *
 * @example Open a door on a free port and ask it something
 * ```ts
 * import { HttpDoor } from "./server.ts";
 * import { createLogger } from "../log.ts";
 * await using door = HttpDoor.listen({
 *   hostname: "127.0.0.1", port: 0, log: createLogger("error"),
 *   limits: { maxBody: 1024, timeoutMs: 1000, maxRequests: 4, maxPerPeer: 2 },
 *   handler: () => Promise.resolve(new Response("hi")),
 * });
 * const reply = await fetch(`http://127.0.0.1:${door.addr.port}/`);
 * if (await reply.text() !== "hi") throw new Error();
 * ```
 */
export class HttpDoor {
  readonly addr: Deno.NetAddr;
  readonly tls: boolean;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #options: HttpDoorOptions;
  readonly #perPeer = new Map<string, number>();
  /** Streamed replies under way, so shutdown can cut them off. */
  readonly #streams = new Set<() => void>();
  #active = 0;
  #total = 0;
  #shutdown: Promise<void> | undefined;

  private constructor(options: HttpDoorOptions) {
    this.#options = options;
    this.tls = options.tls !== undefined;
    const serveOptions = {
      hostname: options.hostname,
      port: options.port,
      onListen: () => {},
      onError: (error: unknown) => {
        options.log.error(
          `HTTP: internal error: ${error instanceof Error ? error.stack ?? error.message : error}`,
        );
        return new Response("Internal error: the server logged the details\n", {
          status: 500,
          headers: { "content-type": "text/plain; charset=utf-8" },
        });
      },
      ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
    };
    this.#server = Deno.serve(serveOptions, (request, info) => this.#handle(request, info));
    this.addr = this.#server.addr;
  }

  /**
   * Starts listening. Throws what `Deno.serve` throws (address in use, not allowed, a bad
   * certificate).
   */
  static listen(options: HttpDoorOptions): HttpDoor {
    return new HttpDoor(options);
  }

  /** The door's URL: `http://127.0.0.1:2008` (no trailing slash). */
  get url(): string {
    return `${this.tls ? "https" : "http"}://${formatAddress(this.addr.hostname, this.addr.port)}`;
  }

  /** Requests in flight now, and since the door opened. */
  stats(): { active: number; total: number } {
    return { active: this.#active, total: this.#total };
  }

  async #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const { limits, log } = this.#options;
    const number = ++this.#total;
    const { hostname, port } = info.remoteAddr;
    const peer = formatAddress(hostname, port);
    const host = peerHost(hostname);
    if (this.#shutdown) return busy("The server is shutting down", 0);
    if (this.#active >= limits.maxRequests) {
      log.warn(`HTTP ${number} from ${peer} refused: ${this.#active} requests in flight`);
      return busy(`The server is answering ${limits.maxRequests} requests already`, 1);
    }
    const fromPeer = this.#perPeer.get(host) ?? 0;
    if (fromPeer >= limits.maxPerPeer) {
      log.warn(`HTTP ${number} from ${peer} refused: ${fromPeer} requests in flight from it`);
      return busy(`This address has ${limits.maxPerPeer} requests in flight already`, 1);
    }
    this.#active++;
    this.#perPeer.set(host, fromPeer + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#active--;
      const left = (this.#perPeer.get(host) ?? 1) - 1;
      if (left > 0) this.#perPeer.set(host, left);
      else this.#perPeer.delete(host);
    };
    info.completed.then(release, release);
    const stopStreams: (() => void)[] = [];
    info.completed.finally(() => stopStreams.forEach((stop) => this.#streams.delete(stop)));
    try {
      const response = await this.#options.handler(request, {
        peer,
        host,
        number,
        body: () => readBody(request, limits.maxBody, limits.timeoutMs),
        stream: (pieces) => {
          let cut: () => void = () => {};
          const stream = streamBody(pieces, limits.timeoutMs, () => {
            log.warn(
              `HTTP ${number} from ${peer}: the client read nothing of its reply for ` +
                `${limits.timeoutMs / 1000} s; cut off`,
            );
          });
          cut = () => stream.cancel().catch(() => {});
          stopStreams.push(cut);
          this.#streams.add(cut);
          return stream;
        },
      });
      log.debug(
        `HTTP ${number} from ${peer}: ${request.method} ${new URL(request.url).pathname} ` +
          `${response.status}`,
      );
      return response;
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Stops accepting, lets requests in flight finish (up to `graceMs`), then cuts off the
   * streamed replies still under way. Safe to call more than once.
   */
  shutdown(graceMs = 5000): Promise<void> {
    this.#shutdown ??= (async () => {
      const done = this.#server.shutdown();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<"late">((resolve) =>
        timer = setTimeout(() => resolve("late"), graceMs)
      );
      if (await Promise.race([done, late]) === "late") {
        this.#options.log.warn(
          `HTTP: ${this.#active} requests still busy after ${graceMs} ms; cut off`,
        );
        for (const cut of this.#streams) cut();
        await done;
      }
      clearTimeout(timer);
    })();
    return this.#shutdown;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

/** 503 with Retry-After: the door is full (or closing). */
function busy(message: string, retryAfter: number): Response {
  return new Response(`${message}; try again shortly\n`, {
    status: 503,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      ...(retryAfter > 0 ? { "retry-after": String(retryAfter) } : { connection: "close" }),
    },
  });
}
