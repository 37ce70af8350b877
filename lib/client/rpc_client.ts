/**
 * The client's end of the wire: one persistent connection to the server, requests formatted
 * with the protocol module's `formatRequest`, replies read with a size cap, parsed with its
 * `parseReply` and matched to their requests by id, each call with a timeout.
 *
 * Connecting is three steps: open the transport ({@link openConnection}: plain TCP or TLS,
 * through `lib/transport.ts`), greet the server (`hello`, which checks the protocol version),
 * then authenticate with the token when `hello` says the server requires one.
 *
 * @module
 */

import { LineFramer, LineTooLongError } from "../protocol/framing.ts";
import {
  ErrorCode,
  formatRequest,
  parseReply,
  quote,
  type Reason,
  type Response,
  type RpcErrorObject,
} from "../protocol/jsonrpc.ts";
import { connect, loadCa, TransportError } from "./transport.ts";
import { formatAddress } from "../protocol/address.ts";
import { isPermissionError } from "../sandbox/permissions.ts";
import { PROTOCOL_VERSION } from "../model/version.ts";
import type { Access, HelloResult } from "../protocol/api.ts";
export type { Access, HelloResult };

/** Largest reply line accepted: a full page of the largest contacts fits many times over. */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/** Why the client could not reach or keep talking to the server. */
export type ConnectionProblem =
  /** Nothing listens at that address. */
  | "refused"
  /** The host name does not resolve. */
  | "unresolved"
  /** No answer (to connect, or to a request) within the timeout. */
  | "timeout"
  /** The server closed or reset the connection. */
  | "closed"
  /** The peer does not speak this protocol (or a newer version of it). */
  | "protocol"
  /** This process may not open the connection (Deno permissions). */
  | "denied"
  /**
   * TLS did not work out: the certificate is not trusted, the server does not speak TLS, or
   * the CA file cannot be read.
   */
  | "tls"
  /** Anything else the operating system reported. */
  | "failed";

/**
 * The client cannot reach the server, or lost it: exit code 3 territory. The message is one
 * sentence naming the address and the reason.
 *
 * @example
 * ```ts
 * import { ConnectionError } from "./rpc_client.ts";
 * const error = new ConnectionError("refused", "127.0.0.1:2007", "connection refused");
 * if (error.message !== 'Cannot reach the server at "127.0.0.1:2007": connection refused') {
 *   throw new Error(error.message);
 * }
 * ```
 */
export class ConnectionError extends Error {
  readonly problem: ConnectionProblem;
  readonly address: string;
  /** The reason alone, without the address: "connection refused". */
  readonly detail: string;
  /** Whether the connection had been made (so a request may have been under way). */
  readonly connected: boolean;

  constructor(
    problem: ConnectionProblem,
    address: string,
    detail: string,
    options?: ErrorOptions & { connected?: boolean },
  ) {
    const where = `the server at ${JSON.stringify(address)}`;
    const lead = options?.connected
      ? `Lost the connection to ${where}`
      : problem === "protocol"
      ? `Cannot talk to ${where}`
      : `Cannot reach ${where}`;
    super(`${lead}: ${detail}`, options);
    this.name = "ConnectionError";
    this.problem = problem;
    this.address = address;
    this.detail = detail;
    this.connected = options?.connected ?? false;
  }
}

/**
 * The server answered with an error: `reason` is its stable word (`NOT_FOUND`, `CONFLICT`,
 * `AMBIGUOUS`, ...), `data` the rest of its `data` (`current`, `candidates`, `field`, ...).
 *
 * @example
 * ```ts
 * import { RemoteError } from "./rpc_client.ts";
 * const error = new RemoteError({ code: -32001, message: "No contact", data: { reason: "NOT_FOUND" } });
 * if (error.reason !== "NOT_FOUND" || error.message !== "No contact") throw new Error();
 * ```
 */
export class RemoteError extends Error {
  readonly code: number;
  readonly reason: Reason;
  readonly data: Record<string, unknown>;

  constructor(error: RpcErrorObject) {
    super(error.message);
    this.name = "RemoteError";
    this.code = error.code;
    this.reason = error.data.reason;
    this.data = error.data;
  }

  /** The JSON-RPC error object, as the server sent it. */
  toObject(): RpcErrorObject {
    return { code: this.code, message: this.message, data: this.data as RpcErrorObject["data"] };
  }
}

/** Where and how to connect. */
export interface ConnectOptions {
  host: string;
  port: number;
  /** Milliseconds to wait for the connection, and then for each reply. */
  timeoutMs: number;
  /** Speak TLS (implied by `caFile`). */
  tls?: boolean;
  /** The certificate to trust: a PEM file's path, or the PEM text itself. */
  caFile?: string;
  /** The token sent with `auth` when the server requires one (`hello` says `auth: true`). */
  token?: string;
}

/** One request of a {@link RpcClient.batch}. */
export interface BatchCall {
  method: string;
  params?: Record<string, unknown>;
}

/** What the server answered to one request of a batch. */
export type BatchOutcome<T = unknown> =
  | { ok: true; result: T }
  | { ok: false; error: RemoteError };

/** The most bytes a request id of this client takes in JSON (a safe integer). */
const MAX_ID_BYTES = String(Number.MAX_SAFE_INTEGER).length;

/**
 * The UTF-8 bytes a batch of these calls takes on the wire, line end included, whatever ids
 * the client gives them: an upper bound to keep a batch within the server's line cap.
 *
 * @example
 * ```ts
 * import { batchLineBytes } from "./rpc_client.ts";
 * const one = batchLineBytes([{ method: "count" }]);
 * const line = JSON.stringify([{ jsonrpc: "2.0", id: 1, method: "count", params: {} }]) + "\n";
 * if (one < line.length || one > line.length + 16) throw new Error(String(one));
 * ```
 */
export function batchLineBytes(calls: readonly BatchCall[]): number {
  let bytes = 2; // "[" ... "]" and "\n", less the last comma
  for (const { method, params } of calls) {
    bytes += encoder.encode(
      JSON.stringify({ jsonrpc: "2.0", id: 0, method, params: params ?? {} }),
    ).length - 1 + MAX_ID_BYTES + 1;
  }
  return calls.length === 0 ? 0 : bytes;
}

/** Describes a socket error from Deno as a problem and a short reason. */
function describeSocketError(
  error: unknown,
): { problem: ConnectionProblem; detail: string } {
  const message = error instanceof Error ? error.message.replace(/ \(os error \d+\)$/, "") : "";
  if (error instanceof Deno.errors.ConnectionRefused) {
    return { problem: "refused", detail: "connection refused" };
  }
  if (error instanceof Deno.errors.TimedOut) return { problem: "timeout", detail: "timed out" };
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    return { problem: "denied", detail: `not allowed (${message}); run it with --allow-net` };
  }
  if (
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.NotConnected
  ) {
    return { problem: "closed", detail: "the connection was reset" };
  }
  if (/lookup address|Name or service not known|nodename nor servname/i.test(message)) {
    return { problem: "unresolved", detail: "the host name does not resolve" };
  }
  return { problem: "failed", detail: lowerFirst(message) };
}

/**
 * Opens the transport to the server (TLS when `tls` or `caFile` is set, the handshake done),
 * giving up after the timeout. Every failure is a {@link ConnectionError} whose message is
 * one sentence.
 *
 * @example Nothing listens there
 * ```ts
 * import { ConnectionError, openConnection } from "./rpc_client.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close();
 * const error = await openConnection({ host: "127.0.0.1", port, timeoutMs: 5000 }).catch((e) => e);
 * if (!(error instanceof ConnectionError) || error.problem !== "refused") throw new Error();
 * ```
 */
export async function openConnection(options: ConnectOptions): Promise<Deno.Conn> {
  const address = formatAddress(options.host, options.port);
  const tls = options.tls === true || options.caFile !== undefined;
  let ca: string | undefined;
  if (options.caFile !== undefined) {
    try {
      ca = await loadCa(options.caFile);
    } catch (error) {
      throw caFileError(error, address, options.caFile);
    }
  }
  let conn: Deno.Conn;
  try {
    conn = await connect({
      host: options.host,
      port: options.port,
      tls,
      ...(ca === undefined ? {} : { caFile: ca }),
      timeoutMs: options.timeoutMs,
    });
  } catch (error) {
    if (!(error instanceof TransportError)) {
      const { problem, detail } = describeSocketError(error);
      throw new ConnectionError(problem, address, detail, { cause: error });
    }
    const { problem, detail } = describeTransportError(error, options);
    throw new ConnectionError(problem, address, detail, { cause: error });
  }
  // TLS connections have no setNoDelay (nor setKeepAlive).
  const tcp = conn as Partial<Deno.TcpConn>;
  if (typeof tcp.setNoDelay === "function") tcp.setNoDelay(true);
  return conn;
}

/** A CA file that cannot be used, as a connection failure naming the way out. */
function caFileError(error: unknown, address: string, ca: string): ConnectionError {
  if (
    isPermissionError(error) || (error instanceof TransportError && error.reason === "not-allowed")
  ) {
    return new ConnectionError(
      "denied",
      address,
      `not allowed to read the CA file ${JSON.stringify(ca)}; "deno task client" may read ` +
        "only the file that ADDRESSBOOK_CA names (not one given with --ca), a compiled client " +
        "only the one named when it was built; or pass the certificate itself: " +
        'ADDRESSBOOK_CA="$(cat cert.pem)"',
      { cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectionError("tls", address, lowerFirst(message), { cause: error });
}

/** Maps the transport's failure onto a problem and a reason without the address. */
function describeTransportError(
  error: TransportError,
  options: ConnectOptions,
): { problem: ConnectionProblem; detail: string } {
  // The transport worded the reason; the sentence around it is ConnectionError's.
  const why = error.detail;
  switch (error.reason) {
    case "refused":
      return { problem: "refused", detail: "connection refused" };
    case "timeout":
      return { problem: "timeout", detail: `no answer within ${seconds(options.timeoutMs)}` };
    case "unknown-host":
      return { problem: "unresolved", detail: "the host name does not resolve" };
    case "not-allowed":
      return { problem: "denied", detail: lowerFirst(error.message) };
    case "untrusted":
    case "tls":
    case "ca-file":
      return { problem: "tls", detail: why };
    case "other":
      return { problem: "failed", detail: why.replace(/ \(os error \d+\)$/, "") };
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const encoder = new TextEncoder();

/** A message the server pushed without an id (`changed`, `watch_dropped`). */
export interface Notification {
  method: string;
  params: Record<string, unknown>;
}

/**
 * One connection to an addressbook server. Calls may overlap; each reply is matched to its
 * request by id; a notification the server pushes (a line without an id, such as a `watch`
 * subscription's `changed`) goes to {@link RpcClient.onNotification}. A timeout, a reply
 * that is not JSON-RPC, or the server closing the connection fails every pending call with a
 * {@link ConnectionError} and closes the client; a new one must be connected.
 *
 * @example Count the contacts (needs a running server)
 * ```ts ignore
 * import { RpcClient } from "./rpc_client.ts";
 * await using client = await RpcClient.connect({ host: "127.0.0.1", port: 2007, timeoutMs: 5000 });
 * const { count } = await client.call<{ count: number }>("count");
 * console.log(`${count} contacts at ${client.address}`);
 * ```
 */
export class RpcClient {
  /** `host:port` of the server. */
  readonly address: string;
  readonly #conn: Deno.Conn;
  readonly #timeoutMs: number;
  readonly #pending = new Map<number, Pending>();
  readonly #reading: Promise<void>;
  #nextId = 1;
  #writing: Promise<void> = Promise.resolve();
  #failure: ConnectionError | undefined;
  #hello: HelloResult | undefined;
  #access: Access = "read-write";
  readonly #tls: boolean;
  #lost: { promise: Promise<ConnectionError>; resolve(error: ConnectionError): void };
  /**
   * Receives each notification, in the order the server sent it (interleaved with replies
   * as they came). Without a handler, notifications are ignored. A handler that throws
   * breaks nothing here: its error is rethrown outside the read loop.
   */
  onNotification: ((notification: Notification) => void) | undefined;

  private constructor(conn: Deno.Conn, address: string, timeoutMs: number, tls: boolean) {
    this.#conn = conn;
    this.#tls = tls;
    this.address = address;
    this.#timeoutMs = timeoutMs;
    let resolve: (error: ConnectionError) => void = () => {};
    this.#lost = { promise: new Promise((r) => resolve = r), resolve };
    this.#reading = this.#readLoop();
  }

  /**
   * Connects, greets the server, checks its protocol version and, when the server requires
   * it, authenticates with `options.token`. Throws {@link ConnectionError} (unreachable,
   * timeout, TLS, not this protocol) or {@link RemoteError} (the server refused, for example
   * `BUSY`; `UNAUTHORIZED` when a token is needed and missing or not accepted).
   */
  static async connect(options: ConnectOptions): Promise<RpcClient> {
    const conn = await openConnection(options);
    const client = new RpcClient(
      conn,
      formatAddress(options.host, options.port),
      options.timeoutMs,
      options.tls === true || options.caFile !== undefined,
    );
    try {
      const hello = await client.call<HelloResult>("hello");
      if (hello.protocol !== PROTOCOL_VERSION) {
        throw new ConnectionError(
          "protocol",
          client.address,
          `the server speaks protocol ${JSON.stringify(hello.protocol)} and this client ` +
            `speaks ${PROTOCOL_VERSION}; use a client of the server's version`,
        );
      }
      if (hello.auth) client.#access = await client.#authenticate(options.token);
      client.#hello = hello;
      return client;
    } catch (error) {
      await client.dispose();
      throw error;
    }
  }

  /** Sends `auth {token}`; a missing or refused token becomes a sentence saying what to do. */
  async #authenticate(token: string | undefined): Promise<Access> {
    const where = `The server at ${JSON.stringify(this.address)}`;
    if (token === undefined) {
      throw new RemoteError({
        code: ErrorCode.UNAUTHORIZED,
        message: `${where} requires a token; set ADDRESSBOOK_TOKEN or pass --token, with the ` +
          "token from the server's data folder or from its admin",
        data: { reason: "UNAUTHORIZED" },
      });
    }
    try {
      const { access } = await this.call<{ access: Access }>("auth", { token });
      return access === "read-only" ? "read-only" : "read-write";
    } catch (error) {
      if (!(error instanceof RemoteError) || error.reason !== "UNAUTHORIZED") throw error;
      throw new RemoteError({
        code: error.code,
        message: `${where} did not accept the token; check ADDRESSBOOK_TOKEN or --token: it ` +
          "must be the server's read-write token or its read-only one",
        data: { ...error.data, reason: "UNAUTHORIZED" } as RpcErrorObject["data"],
      });
    }
  }

  /** What the connection may do: `read-only` after auth with the server's read-only token. */
  get access(): Access {
    return this.#access;
  }

  /** What the server said to `hello`. */
  get hello(): HelloResult {
    if (this.#hello === undefined) throw new Error("The client has not greeted the server");
    return this.#hello;
  }

  /** Whether the connection is closed (by either side, or after a failure). */
  get closed(): boolean {
    return this.#failure !== undefined;
  }

  /** Resolves, with what happened, once the connection is closed (by either side). */
  get lost(): Promise<ConnectionError> {
    return this.#lost.promise;
  }

  /**
   * Sends a request and resolves with its result. Rejects with {@link RemoteError} when the
   * server answers with an error, {@link ConnectionError} when the connection fails.
   */
  call<T = unknown>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    const bytes = encoder.encode(formatRequest(id, method, params));
    const reply = this.#expect(id, method, this.#timeoutMs);
    this.#send(bytes);
    return reply as Promise<T>;
  }

  /**
   * Sends several requests as one JSON-RPC batch (an array on one line) and resolves with
   * each outcome, in order: a result, or the {@link RemoteError} the server answered for
   * that request. Rejects with {@link ConnectionError} when the connection fails. The caller
   * keeps the line within the server's line cap (see {@link batchLineBytes}). The server
   * answers a batch in one line once every request has run, so a large batch of writes may
   * need a longer `timeoutMs` than the client's own.
   */
  batch<T = unknown>(
    calls: readonly BatchCall[],
    options: { timeoutMs?: number } = {},
  ): Promise<BatchOutcome<T>[]> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    if (this.#failure) return Promise.reject(this.#failure);
    if (calls.length === 0) return Promise.resolve([]);
    const requests = calls.map(({ method, params }) => ({
      jsonrpc: "2.0",
      id: this.#nextId++,
      method,
      params: params ?? {},
    }));
    const bytes = encoder.encode(JSON.stringify(requests) + "\n");
    const outcomes = requests.map(({ id, method }) =>
      this.#expect(id, method, timeoutMs).then(
        (result) => ({ ok: true as const, result: result as T }),
        (error) => {
          if (error instanceof RemoteError && !this.#failure) {
            return { ok: false as const, error };
          }
          throw error;
        },
      )
    );
    this.#send(bytes);
    return Promise.all(outcomes);
  }

  /**
   * Registers request `id` and resolves with its result (rejects with its error). No reply
   * within `timeoutMs` fails the whole connection.
   */
  #expect(id: number, method: string, timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#fail(
          this.#error("timeout", `no reply to ${quote(method)} within ${seconds(timeoutMs)}`),
        );
      }, timeoutMs);
      this.#pending.set(id, { method, resolve, reject, timer });
    });
  }

  /** Writes a request line after those before it; a failed write fails the connection. */
  #send(bytes: Uint8Array): void {
    this.#writing = this.#writing.then(() => this.#writeAll(bytes)).catch((error) => {
      if (!this.#failure) this.#fail(this.#socketError(error));
    });
  }

  /** A failure of this connection ("Lost the connection" once the server was greeted). */
  #error(problem: ConnectionProblem, detail: string, options: ErrorOptions = {}): ConnectionError {
    return new ConnectionError(problem, this.address, detail, {
      ...options,
      connected: this.#hello !== undefined,
    });
  }

  /** What a failed read or write of the socket means, as a failure of this connection. */
  #socketError(error: unknown): ConnectionError {
    const { problem, detail } = describeSocketError(error);
    return this.#error(problem, detail, { cause: error });
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    while (bytes.length > 0 && !this.#failure) {
      bytes = bytes.subarray(await this.#conn.write(bytes));
    }
  }

  async #readLoop(): Promise<void> {
    const framer = new LineFramer(MAX_REPLY_BYTES);
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (!this.#failure) {
        const n = await this.#conn.read(buffer);
        if (n === null) {
          // A TLS server closes a plain connection before answering its hello.
          const hint = this.#hello === undefined && !this.#tls
            ? " before answering; if it serves TLS (its log says so), add --tls, and --ca for " +
              "a self-signed certificate"
            : "";
          this.#fail(this.#error("closed", `the server closed the connection${hint}`));
          return;
        }
        for (const line of framer.push(buffer.subarray(0, n))) this.#onLine(line);
      }
    } catch (error) {
      if (this.#failure) return; // our own close interrupted the read
      if (error instanceof LineTooLongError) {
        this.#fail(this.#error("protocol", `a reply is longer than ${MAX_REPLY_BYTES} bytes`));
        return;
      }
      this.#fail(this.#socketError(error));
    }
  }

  #onLine(line: Uint8Array): void {
    if (line.every((byte) => byte === 32 || byte === 9)) return;
    let responses: Response[];
    let notifications: Notification[];
    try {
      ({ responses, notifications } = parseReply(line));
    } catch (error) {
      const why = lowerFirst(error instanceof Error ? error.message : String(error));
      this.#fail(this.#error("protocol", `it does not speak the addressbook protocol (${why})`));
      return;
    }
    for (const notification of notifications) {
      try {
        this.onNotification?.(notification);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    for (const response of responses) {
      const pending = typeof response.id === "number" ? this.#pending.get(response.id) : undefined;
      if (pending === undefined) {
        // id null: the server refuses the whole connection (BUSY, TOO_LARGE) and closes it.
        if ("error" in response && response.id === null) {
          this.#fail(new RemoteError(response.error));
        }
        continue;
      }
      this.#pending.delete(response.id as number);
      clearTimeout(pending.timer);
      if ("error" in response) pending.reject(new RemoteError(response.error));
      else pending.resolve(response.result);
    }
  }

  /** Fails every pending call with `error`, and closes the connection. */
  #fail(error: ConnectionError | RemoteError): void {
    if (this.#failure) return;
    this.#failure = error instanceof ConnectionError ? error : new ConnectionError(
      "closed",
      this.address,
      `the server refused the connection (${error.reason}: ${error.message})`,
      { connected: true },
    );
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
    this.#lost.resolve(this.#failure);
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Closes the connection; pending calls fail. */
  close(): void {
    this.#fail(
      new ConnectionError("closed", this.address, "the client closed the connection", {
        connected: true,
      }),
    );
  }

  /** Closes the connection and waits until its reader has stopped. */
  async dispose(): Promise<void> {
    this.close();
    await this.#reading;
    await this.#writing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
