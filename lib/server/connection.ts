/**
 * The per-connection handler: the only code that touches a client's socket. It frames the
 * byte stream into requests, enforces the limits (line size, idle time, bad lines in a row),
 * runs each request in order and writes the replies in the same order.
 *
 * Everything a connection sends goes through one queue of whole lines, written in the order
 * it was queued: replies, and the notifications of a `watch` subscription (its
 * `WatchStream`, see `watch_stream.ts`), which are queued between replies and so never land
 * inside one. A subscribed connection is exempt from the idle timeout.
 *
 * @module
 */

import type { Access, Authenticator } from "./auth.ts";
import type { AuthGuard } from "./auth_guard.ts";
import {
  AttemptRefused,
  AUTH_FAILURE_DELAY_MS,
  guardedCheck,
  MAX_AUTH_FAILURES,
} from "./token_check.ts";
import { yieldTurn } from "./turns.ts";
import { type LineRunner, type Replies, runLine } from "./batch.ts";
import { couldBeClassicStart, isClassicStart, runClassic } from "./classic.ts";
import { concatBytes, LineFramer, LineTooLongError } from "../protocol/framing.ts";
import type { Logger } from "./log.ts";
import { dispatch, dispatchNow, type MethodContext, type SessionAuth } from "./methods.ts";
import {
  ErrorCode,
  errorResponse,
  formatResponse,
  type ParsedLine,
  parseLine,
  RpcError,
  tooLargeError,
} from "../protocol/jsonrpc.ts";
import type { ContactStore } from "../store/mod.ts";
import { isConnectionGone } from "./socket_errors.ts";
import { WatchStream } from "./watch_stream.ts";

/** Whether an error only means that the peer (or our own close) ended the connection. */
export { isConnectionGone };

/** The limits one connection is held to. */
export interface ConnectionLimits {
  /** Longest request line, in bytes (without its `\n`). */
  maxLine: number;
  /** A connection with no complete request for this long is closed (milliseconds). */
  idleTimeoutMs: number;
  /** After this many malformed lines in a row, the connection is closed. */
  maxBadLines: number;
  /**
   * A reply that the client does not take within this long (it stopped reading) closes the
   * connection (milliseconds).
   */
  writeTimeoutMs: number;
  /**
   * In protected mode, a connection not authenticated this long after it opened is closed,
   * whatever it sends (milliseconds). Default {@link DEFAULT_AUTH_TIMEOUT_MS}.
   */
  authTimeoutMs?: number;
  /**
   * Change events a `watch` subscription may hold while the client is not reading; past it,
   * the subscription is dropped. Default `DEFAULT_WATCH_CAP` (see `change_feed.ts`).
   */
  watchCap?: number;
}

/** Everything the handler needs from the server. */
export interface ConnectionContext {
  /** This connection's number. */
  id: number;
  store: ContactStore;
  log: Logger;
  limits: ConnectionLimits;
  /** Aborted when the server shuts down: finish what was read, then close. */
  shutdown: AbortSignal;
  /** Called with the number of requests read, for server-wide stats. */
  onRequests(n: number): void;
  serverStats: MethodContext["serverStats"];
  /** The client's address, for the log (`192.168.1.20:50412`). */
  peer?: string;
  /** Set in protected mode: every connection must call `auth` with one of its tokens. */
  auth?: Authenticator;
  /**
   * The classic protocol (which cannot authenticate): served in full, read-only (`fnd:`
   * only), or refused. Default `full`.
   */
  classic?: "full" | "read-only" | "off";
  /** Called once, when the connection first authenticates (protected mode only). */
  onAuthenticated?: () => void;
  /** Failed `auth` attempts per peer address, shared by the server's connections. */
  authGuard?: AuthGuard;
}

/** How long a connection has to authenticate in protected mode (milliseconds). */
export const DEFAULT_AUTH_TIMEOUT_MS = 10_000;

/**
 * Replies are gathered and written together, but never more than this many characters are
 * held before they are written: with the write awaited, this caps the memory a client that
 * does not read its replies can make the server hold.
 */
const FLUSH_AT = 64 * 1024;
/**
 * Sizes of the buffer each read fills: a connection starts small (an idle connection holds
 * its buffer while its read is pending, so this is most of its memory) and the buffer grows
 * four-fold whenever a read fills it, up to the largest size.
 */
const READ_BUFFER_FIRST = 1024;
const READ_BUFFER_MAX = 64 * 1024;

/**
 * Reply text one line (a batch) may produce, in characters: once its replies pass this, the
 * rest of its requests are not run, and each with an id is answered `TOO_LARGE`. With
 * {@link FLUSH_AT} it bounds what a connection makes the server hold, whatever it sends.
 */
export const MAX_LINE_REPLY = 4 * 1024 * 1024;

/**
 * How long a connection runs requests before it lets the others run (milliseconds): a long
 * line, or many lines read at once, is answered in slices of about this much work.
 */
const SLICE_MS = 3;

/**
 * What one request line comes to: its reply text (in pieces that together make whole lines,
 * so a long batch reply is never copied into one string), and whether to close after it.
 */
interface LineResult {
  text: string[];
  stop: boolean;
}

/**
 * The longest classic message, in bytes: the longest valid `add:` (a 200-character name and
 * 1,000-character details, 4 bytes a character at most) fits with room to spare.
 */
export const CLASSIC_MAX = 16 * 1024;

/** How long a classic message that filled a read waits for the rest of it (milliseconds). */
const CLASSIC_GATHER_MS = 100;

/**
 * Whether `bytes` end inside a UTF-8 character (its lead byte is there, not all of the
 * bytes that follow it).
 */
function endsInsideCharacter(bytes: Uint8Array): boolean {
  for (let back = 1; back <= 3 && back <= bytes.length; back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back;
  }
  return false;
}

const encoder = new TextEncoder();
const classicDecoder = new TextDecoder();

/**
 * Serves one connection until the client leaves, a limit closes it, or the server shuts
 * down. Never throws; always closes the connection.
 */
export async function serveConnection(
  conn: Deno.Conn,
  context: ConnectionContext,
): Promise<{ requests: number; reason: string }> {
  const session = new Session(conn, context);
  try {
    await session.run();
  } catch (error) {
    if (!isConnectionGone(error)) {
      session.closeReason = "handler error";
      context.log.error(
        `Connection ${context.id} failed: ${error instanceof Error ? error.stack : error}`,
      );
    }
  } finally {
    session.close();
  }
  return { requests: session.requests, reason: session.closeReason };
}

class Session {
  readonly #conn: Deno.Conn;
  readonly #context: ConnectionContext;
  #buffer = new Uint8Array(READ_BUFFER_FIRST);
  /** The size of the buffer the last read had (a read that filled it was full). */
  #lastReadSize = READ_BUFFER_FIRST;
  /** A read begun while gathering a classic message and not yet awaited. */
  #pendingRead: Promise<Uint8Array | null> | undefined;
  #requests = 0;
  #badLines = 0;
  #closed = false;
  #busy = false;
  /** The connection's one timer (idle and write deadlines), and when it is due. */
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = Infinity;
  /** When the write in progress started (performance.now()), or -1 when none is. */
  #writeSince = -1;
  #authFailures = 0;
  /** Aborted when the connection closes: work for it (a `check`) stops. */
  readonly #gone = new AbortController();
  /** An auth was refused unchecked: its address is waiting out its failures. */
  #addressRefused = false;
  /** When the connection opened, and the timer that closes it if it does not authenticate. */
  readonly #opened = performance.now();
  #authTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #sessionAuth: { -readonly [K in keyof SessionAuth]: SessionAuth[K] };
  /** When the last request arrived (performance.now()); the idle timer checks it. */
  #lastActive = 0;
  /** When this connection's current slice of work began (performance.now()). */
  #sliceStart = 0;
  #methods: { -readonly [K in keyof MethodContext]: MethodContext[K] } | undefined;
  #runner: LineRunner | undefined;
  /** Whole lines queued for the socket, in order; `#flush` writes them. */
  #out: string[] = [];
  #outChars = 0;
  #flushing: Promise<void> | undefined;
  /** The connection's `watch` subscription; it queues its notifications on `#out`. */
  readonly #watch: WatchStream;
  closeReason = "client left";

  constructor(conn: Deno.Conn, context: ConnectionContext) {
    this.#conn = conn;
    this.#context = context;
    this.#watch = new WatchStream({
      store: context.store,
      log: context.log,
      connection: context.id,
      cap: context.limits.watchCap,
      output: {
        enqueue: (text) => this.#enqueue(text),
        flush: () => this.#flush(),
        isClosed: () => this.#closed,
        close: () => this.close(),
      },
    });
    this.#sessionAuth = {
      required: context.auth !== undefined,
      access: context.auth ? "none" : "write",
      authenticate: (token) => this.#authenticate(token),
    };
  }

  /**
   * Checks a token; a failure is logged with the peer address and answered after a pause.
   * An address that failed recently waits its turn first (see `auth_guard.ts`); a connection
   * past its failures is not checked again.
   */
  async #authenticate(token: string): Promise<Access> {
    const { auth, log, id, peer, authGuard } = this.#context;
    if (!auth) return "write";
    if (this.#authFailures >= MAX_AUTH_FAILURES) {
      throw new RpcError(
        ErrorCode.UNAUTHORIZED,
        "UNAUTHORIZED",
        `Unauthorized: not tried, as this connection already failed ${MAX_AUTH_FAILURES} ` +
          "auth attempts; it is being closed",
      );
    }
    let access: Access;
    try {
      // Its answer (a failure's pause included) must come before the deadline.
      const maxWaitMs = this.#authTimeLeft() - AUTH_FAILURE_DELAY_MS;
      const address = peerAddress(peer ?? "?");
      access = await guardedCheck(
        { auth, guard: authGuard, log, address, maxWaitMs },
        token,
        () => {
          this.#authFailures++;
          return `Connection ${id} from ${peer ?? "?"}: failed auth attempt ` +
            `${this.#authFailures} of ${MAX_AUTH_FAILURES}`;
        },
      );
    } catch (error) {
      if (error instanceof AttemptRefused) {
        this.#authFailures = MAX_AUTH_FAILURES;
        this.#addressRefused = true;
      }
      throw error;
    }
    if (access !== "none") {
      if (this.#sessionAuth.access === "none") {
        clearTimeout(this.#authTimer);
        this.#context.onAuthenticated?.();
      }
      this.#sessionAuth.access = access;
      log.info(
        `Connection ${id} from ${peer ?? "?"}: authenticated ` +
          (access === "write" ? "(read-write)" : "(read-only)"),
      );
      return access;
    }
    throw new RpcError(
      ErrorCode.UNAUTHORIZED,
      "UNAUTHORIZED",
      "Unauthorized: the token is not valid" +
        (this.#authFailures >= MAX_AUTH_FAILURES
          ? `; closing the connection after ${MAX_AUTH_FAILURES} failed attempts`
          : ""),
    );
  }

  get requests(): number {
    return this.#requests;
  }

  async run(): Promise<void> {
    const { shutdown } = this.#context;
    const onShutdown = () => {
      this.closeReason = "server shutting down";
      if (!this.#busy) this.close();
    };
    shutdown.addEventListener("abort", onShutdown, { once: true });
    if (this.#sessionAuth.access === "none") {
      this.#authTimer = setTimeout(() => this.#authDeadline(), this.#authTimeoutMs());
    }
    try {
      this.#armIdleTimer();
      let first = await this.#read();
      if (first === null) return;
      // Decide the protocol from the first bytes; wait for more if they could still be classic.
      while (couldBeClassicStart(latin1(first))) {
        const held = first.slice(); // the next read reuses the buffer
        const more = await this.#read();
        if (more === null) return;
        first = concatBytes([held, more]);
      }
      if (first[0] === 0x16) {
        // A TLS ClientHello on a plain-TCP port: no line will ever come; close at once.
        this.closeReason = "TLS handshake on a plain TCP server (no --cert/--key)";
        return;
      }
      if (isClassicStart(latin1(first))) {
        await this.#runClassic(first);
      } else {
        await this.#runJsonRpc(first);
      }
    } finally {
      shutdown.removeEventListener("abort", onShutdown);
    }
  }

  /**
   * JSON-RPC 2.0, one message per line, replies in request order. When the client ends its
   * side (a half-close), a last line without a newline is answered too.
   */
  async #runJsonRpc(first: Uint8Array): Promise<void> {
    const framer = new LineFramer(this.#context.limits.maxLine);
    let chunk: Uint8Array | null = first;
    while (!this.#closed) {
      let lines: Uint8Array[];
      let overflow = false;
      try {
        if (chunk !== null) lines = framer.push(chunk);
        else {
          const last = framer.finish();
          lines = last === null ? [] : [last];
        }
      } catch (error) {
        if (!(error instanceof LineTooLongError)) throw error;
        // Complete lines before the long one were not returned: the connection is closed
        // without answering them, as the stream cannot be trusted past this point.
        lines = [];
        overflow = true;
      }
      this.#busy = true;
      this.#sliceStart = performance.now();
      let stop = false;
      for (const line of lines) {
        if (isBlank(line)) continue;
        if (performance.now() - this.#sliceStart >= SLICE_MS) {
          await yieldTurn();
          this.#sliceStart = performance.now();
        }
        // Changes committed before this request was read are sent before its reply.
        if (this.#watch.active) await this.#watch.catchUp();
        // Reads the view answers come back at once, so a chunk of them is handled in one
        // pass; anything else is awaited here, before the next line, which keeps order.
        let result = this.#handleLine(line);
        if (result instanceof Promise) result = await result;
        for (const piece of result.text) this.#enqueue(piece);
        this.#watch.replyQueued();
        if (this.#outChars >= FLUSH_AT) await this.#flush();
        if (result.stop) {
          stop = true;
          break;
        }
      }
      if (overflow) {
        this.#enqueue(
          formatResponse(errorResponse(null, tooLargeError(this.#context.limits.maxLine))),
        );
        this.closeReason = "line too long";
        stop = true;
      }
      await this.#flush();
      this.#busy = false;
      if (stop || chunk === null || this.#context.shutdown.aborted) return;
      chunk = await this.#read();
    }
  }

  /**
   * Runs one line; returns the reply text and whether to close after it. The result comes
   * back at once when every request of the line can be answered without awaiting
   * (`dispatchNow`), else as a promise. A batch's writes to different contacts run together
   * (`runLine`); everything else in request order.
   */
  #handleLine(line: Uint8Array): LineResult | Promise<LineResult> {
    const parsed = parseLine(line);
    this.#countRequests(parsed.items.length);
    const replies = runLine(parsed.items, this.#lineRunner());
    return replies instanceof Promise
      ? replies.then((done) => this.#lineResult(parsed, done))
      : this.#lineResult(parsed, replies);
  }

  /** How this connection's lines are run (see `batch.ts`): its methods, its slices. */
  #lineRunner(): LineRunner {
    return this.#runner ??= {
      now: (request) => dispatchNow(request, this.#methodContext()),
      later: (request) => dispatch(request, this.#methodContext()),
      sliceOver: () => performance.now() - this.#sliceStart >= SLICE_MS,
      yieldTurn: () =>
        yieldTurn().then(() => {
          this.#sliceStart = performance.now();
        }),
      resumed: () => {
        this.#sliceStart = performance.now();
      },
      maxReply: MAX_LINE_REPLY,
    };
  }

  /** The reply text of a line, and whether the connection closes after it. */
  #lineResult(parsed: ParsedLine, replies: Replies): LineResult {
    const { texts } = replies;
    const text = parsed.batch ? texts.map((piece, i) => (i === 0 ? "[" : ",") + piece) : texts;
    if (text.length > 0) text[text.length - 1] += parsed.batch ? "]\n" : "\n";
    if (this.#authFailures >= MAX_AUTH_FAILURES) {
      this.closeReason = this.#addressRefused
        ? "its address has too many failed auth attempts"
        : `${MAX_AUTH_FAILURES} failed auth attempts`;
      return { text, stop: true };
    }
    if (!parsed.malformed) {
      this.#badLines = 0;
      return { text, stop: false };
    }
    this.#badLines++;
    const max = this.#context.limits.maxBadLines;
    if (this.#badLines < max) return { text, stop: false };
    this.closeReason = `${max} malformed lines in a row`;
    text.push(formatResponse(errorResponse(null, {
      code: ErrorCode.INVALID_REQUEST,
      message: `Too many malformed lines in a row (${max}); closing the connection`,
      data: { reason: "BAD_REQUEST", limit: max },
    })));
    return { text, stop: true };
  }

  /** The tutorial's protocol: each read is one message (or several, one per line). */
  async #runClassic(first: Uint8Array): Promise<void> {
    const mode = this.#context.classic ?? "full";
    if (mode === "off") {
      this.#countRequests(1);
      this.closeReason = "classic protocol refused off loopback";
      this.#context.log.warn(
        `Connection ${this.#context.id} from ${this.#context.peer ?? "?"}: classic protocol ` +
          "refused (it cannot authenticate; --classic-lan serves it read-only)",
      );
      await this.#write(
        "ERROR: The classic protocol is not served on this address because it cannot " +
          "authenticate; use the addressbook client\n",
      );
      return;
    }
    let chunk: Uint8Array | null = await this.#gatherClassic(first);
    while (chunk !== null && !this.#closed) {
      if (chunk.length > CLASSIC_MAX) {
        this.#countRequests(1);
        this.closeReason = `classic message over ${CLASSIC_MAX} bytes`;
        await this.#write(
          `ERROR: The message is longer than ${CLASSIC_MAX} bytes; closing the connection\n`,
        );
        return;
      }
      this.#busy = true;
      const text = classicDecoder.decode(chunk);
      const messages = text.split("\n").map((m) => m.replace(/\r$/, "")).filter((m) => m !== "");
      const replies: string[] = [];
      for (const message of messages) {
        this.#countRequests(1);
        try {
          replies.push(
            await runClassic(message, this.#classicContext(mode)),
          );
        } catch (error) {
          this.#context.log.error(
            `Connection ${this.#context.id}: classic ${JSON.stringify(message.slice(0, 40))} ` +
              `failed: ${error instanceof Error ? error.stack : error}`,
          );
          replies.push("ERROR: Internal error; the server logged the details");
        }
      }
      if (replies.length > 0) {
        await this.#write(replies.join("\n") + (text.endsWith("\n") ? "\n" : ""));
      }
      this.#busy = false;
      if (this.#context.shutdown.aborted) return;
      const next = await this.#read();
      chunk = next === null ? null : await this.#gatherClassic(next);
    }
  }

  /**
   * A classic message is one read, but a read can hold only part of one: when a read fills
   * the buffer (more was probably sent) the next is awaited briefly, and when it ends inside
   * a UTF-8 character the rest is awaited; what comes is joined to it. Stops gathering past
   * {@link CLASSIC_MAX} bytes (the message is then refused).
   */
  async #gatherClassic(first: Uint8Array): Promise<Uint8Array | null> {
    let message = first;
    let full = first.length === this.#lastReadSize;
    while (message.length <= CLASSIC_MAX && !this.#closed) {
      const split = endsInsideCharacter(message);
      if (!split && !full) break;
      const held = message.slice(); // the next read may reuse the buffer
      const more = await this.#readWithin(split ? Infinity : CLASSIC_GATHER_MS);
      if (more === "timeout") break;
      if (more === null) return held;
      full = more.length === this.#lastReadSize;
      message = concatBytes([held, more]);
    }
    return message;
  }

  /** The next read, or "timeout" when none completes within `ms` (it is kept for later). */
  async #readWithin(ms: number): Promise<Uint8Array | null | "timeout"> {
    const read = this.#pendingRead ?? this.#read();
    this.#pendingRead = undefined;
    if (ms === Infinity) return await read;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    });
    const result = await Promise.race([read, timeout]);
    clearTimeout(timer);
    if (result === "timeout") this.#pendingRead = read;
    return result;
  }

  #countRequests(n: number): void {
    this.#requests += n;
    this.#context.onRequests(n);
    this.#armIdleTimer();
  }

  /**
   * The methods' context for classic messages: this connection's own, or (`--classic-lan`
   * off loopback) a read-only session, since the classic protocol cannot authenticate.
   */
  #classicContext(mode: "full" | "read-only"): MethodContext {
    const context = this.#methodContext();
    if (mode === "full") return context;
    return {
      ...context,
      session: {
        required: true,
        access: "read",
        authenticate: () => Promise.reject(new Error("the classic protocol cannot authenticate")),
      },
    };
  }

  /** The context methods get: one object per connection, its request count kept current. */
  #methodContext(): MethodContext {
    if (this.#methods === undefined) {
      const { store, id, serverStats, log, limits } = this.#context;
      this.#methods = {
        store,
        connection: id,
        requests: 0,
        maxLine: limits.maxLine,
        serverStats,
        log,
        session: this.#sessionAuth,
        watch: this.#watch,
        signal: this.#gone.signal,
      };
    }
    this.#methods.requests = this.#requests;
    return this.#methods;
  }

  /** Queues whole lines for the socket. */
  #enqueue(text: string): void {
    if (text === "") return;
    this.#out.push(text);
    this.#outChars += text.length;
  }

  /** Writes everything queued, in order; resolves once the queue is empty. One writer. */
  #flush(): Promise<void> {
    if (this.#flushing) return this.#flushing;
    if (this.#out.length === 0 || this.#closed) return Promise.resolve();
    this.#flushing = this.#drainOut();
    return this.#flushing;
  }

  /**
   * Writes the queue in order, {@link FLUSH_AT} characters or so at a time (one piece longer
   * than that goes alone), so a long reply is never copied whole into one string or buffer.
   */
  async #drainOut(): Promise<void> {
    try {
      while (this.#out.length > 0 && !this.#closed) {
        const pieces = this.#out;
        this.#out = [];
        for (let i = 0; i < pieces.length && !this.#closed;) {
          let end = i + 1;
          let chars = pieces[i]!.length;
          while (end < pieces.length && chars + pieces[end]!.length <= FLUSH_AT) {
            chars += pieces[end++]!.length;
          }
          const text = end === i + 1 ? pieces[i]! : pieces.slice(i, end).join("");
          for (; i < end; i++) pieces[i] = "";
          this.#outChars -= chars;
          await this.#write(text);
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }

  /** The next chunk, or null once the client has finished or the connection is closed. */
  async #read(): Promise<Uint8Array | null> {
    const pending = this.#pendingRead;
    if (pending) {
      this.#pendingRead = undefined;
      return pending;
    }
    if (this.#closed) return null;
    try {
      const buffer = this.#buffer;
      const n = await this.#conn.read(buffer);
      if (n === null) return null;
      this.#lastReadSize = buffer.length;
      // A full read suggests more is coming: read more at once next time. The chunk returned
      // stays valid: a grown buffer is a new one.
      if (n === buffer.length && n < READ_BUFFER_MAX) {
        this.#buffer = new Uint8Array(Math.min(READ_BUFFER_MAX, n * 4));
      }
      return buffer.subarray(0, n);
    } catch (error) {
      if (this.#closed || isConnectionGone(error)) return null;
      throw error;
    }
  }

  /**
   * Writes all of `text`; a client that does not take it in time is disconnected. No timer
   * per write: the write's start is a deadline that the connection's one timer checks.
   */
  async #write(text: string): Promise<void> {
    let bytes = encoder.encode(text);
    const now = performance.now();
    this.#writeSince = now;
    // The timer must fire by this write's deadline; it usually already does (see #onTimer).
    const deadline = now + this.#context.limits.writeTimeoutMs;
    if (this.#timerDue > deadline && !this.#closed) this.#startTimer(deadline - now);
    try {
      while (bytes.length > 0) bytes = bytes.subarray(await this.#conn.write(bytes));
    } finally {
      this.#writeSince = -1;
    }
  }

  /** Notes activity (a request arrived); the connection's timer checks it lazily. */
  #armIdleTimer(): void {
    this.#lastActive = performance.now();
    if (this.#timer === undefined && !this.#closed) {
      this.#startTimer(this.#context.limits.idleTimeoutMs);
    }
  }

  #startTimer(ms: number): void {
    clearTimeout(this.#timer);
    this.#timerDue = performance.now() + ms;
    this.#timer = setTimeout(() => this.#onTimer(), ms);
  }

  /**
   * The connection's one timer: closes it when a write has waited longer than the write
   * timeout or no request came for the idle timeout; otherwise re-arms for the next
   * deadline. While the connection is busy it fires at least once per write timeout, so a
   * write that starts meanwhile rarely has to re-arm it; a quiet connection sleeps until
   * its idle deadline.
   */
  #onTimer(): void {
    this.#timer = undefined;
    this.#timerDue = Infinity;
    if (this.#closed) return;
    const now = performance.now();
    const { idleTimeoutMs, writeTimeoutMs } = this.#context.limits;
    if (this.#writeSince >= 0 && now - this.#writeSince >= writeTimeoutMs) {
      // A subscriber is told why its changes stop, after what it was sent: it gets one more
      // write timeout to read that far. Anyone else is closed.
      if (this.#watch.stall(writeTimeoutMs / 1000)) {
        this.#writeSince = now;
      } else {
        this.closeReason = "client is not reading its replies";
        this.close();
        return;
      }
    }
    // A subscribed connection waits for changes, not requests: it is never idle.
    const idle = this.#watch.active ? 0 : now - this.#lastActive;
    if (idle >= idleTimeoutMs) {
      this.closeReason = "idle timeout";
      this.close();
      return;
    }
    let next = idleTimeoutMs - idle;
    if (this.#writeSince >= 0) {
      next = Math.min(next, this.#writeSince + writeTimeoutMs - now);
    } else if (idle < writeTimeoutMs) next = Math.min(next, writeTimeoutMs);
    this.#startTimer(Math.max(1, next));
  }

  /** Milliseconds this connection has left to authenticate. */
  #authTimeLeft(): number {
    return Math.max(0, this.#opened + this.#authTimeoutMs() - performance.now());
  }

  #authTimeoutMs(): number {
    return this.#context.limits.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS;
  }

  /** Not authenticated in time: says so (if the client reads within a second) and closes. */
  #authDeadline(): void {
    if (this.#closed || this.#sessionAuth.access !== "none") return;
    const seconds = this.#authTimeoutMs() / 1000;
    this.closeReason = `not authenticated within ${seconds} s`;
    this.#enqueue(formatResponse(errorResponse(null, {
      code: ErrorCode.UNAUTHORIZED,
      message: `Unauthorized: not authenticated within ${seconds} s of connecting; closing ` +
        "the connection (send auth with the server's token first)",
      data: { reason: "UNAUTHORIZED", limit: seconds },
    })));
    const timer = setTimeout(() => this.close(), 1000);
    this.#flush().catch(() => {}).finally(() => {
      clearTimeout(timer);
      this.close();
    });
  }

  close(): void {
    clearTimeout(this.#timer);
    clearTimeout(this.#authTimer);
    this.#timer = undefined;
    this.#watch.stop();
    this.#gone.abort();
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** The address part of a peer (`192.0.2.7:50412` -> `192.0.2.7`, `[::1]:50412` -> `[::1]`). */
function peerAddress(peer: string): string {
  return peer.replace(/:\d+$/, "");
}

function isBlank(line: Uint8Array): boolean {
  for (const byte of line) if (byte !== 32 && byte !== 9 && byte !== 13) return false;
  return true;
}

/** The first bytes of a connection as Latin-1, enough to choose the protocol. */
function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes.subarray(0, 17));
}
