/**
 * The wire protocol: JSON-RPC 2.0, one message per line. Pure functions only: parsing a
 * line into requests and formatting responses never touch a socket. The server and the
 * client both use this module, so both ends agree by construction. PROTOCOL.md is the
 * contract this module implements.
 *
 * @module
 */

/** A JSON-RPC id: a string, a number, or null. */
export type RpcId = string | number | null;

/** The stable words programs branch on, carried in every error's `data.reason`. */
export type Reason =
  | "BAD_REQUEST"
  | "NOT_FOUND"
  | "CONFLICT"
  | "AMBIGUOUS"
  | "TOO_LARGE"
  | "BUSY"
  | "UNAUTHORIZED"
  | "UNAVAILABLE"
  | "INTERNAL";

/** JSON-RPC error codes: the specification's own and this protocol's application codes. */
export const ErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  NOT_FOUND: -32001,
  CONFLICT: -32002,
  AMBIGUOUS: -32003,
  TOO_LARGE: -32004,
  BUSY: -32005,
  UNAUTHORIZED: -32006,
  UNAVAILABLE: -32007,
} as const;

/** The `error` member of a JSON-RPC response. */
export interface RpcErrorObject {
  code: number;
  message: string;
  data: { reason: Reason; [key: string]: unknown };
}

/** A JSON-RPC response: `result` or `error`, never both. */
export type Response =
  | { jsonrpc: "2.0"; id: RpcId; result: unknown }
  | { jsonrpc: "2.0"; id: RpcId; error: RpcErrorObject };

/** A validated request. `id` is undefined for a notification (which gets no reply). */
export interface Request {
  id?: RpcId;
  method: string;
  params: Record<string, unknown>;
}

/**
 * An error that becomes a JSON-RPC error response. Throw it from a method handler; the
 * dispatcher turns it into `{code, message, data: {reason, ...data}}`.
 *
 * @example Refuse a bad field
 * ```ts
 * import { RpcError } from "./jsonrpc.ts";
 * const error = RpcError.badParams("Contact name is empty", { field: "name" });
 * if (error.toObject().data.field !== "name") throw new Error();
 * ```
 */
export class RpcError extends Error {
  readonly code: number;
  readonly reason: Reason;
  readonly data: Record<string, unknown>;

  constructor(
    code: number,
    reason: Reason,
    message: string,
    data: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "RpcError";
    this.code = code;
    this.reason = reason;
    this.data = data;
  }

  /** The JSON-RPC `error` member for this error. */
  toObject(): RpcErrorObject {
    return { code: this.code, message: this.message, data: { ...this.data, reason: this.reason } };
  }

  /** -32602 BAD_REQUEST: the params are wrong; `data.field` names the culprit. */
  static badParams(message: string, data: Record<string, unknown> = {}): RpcError {
    return new RpcError(ErrorCode.INVALID_PARAMS, "BAD_REQUEST", message, data);
  }

  /** -32001 NOT_FOUND. */
  static notFound(message: string, data: Record<string, unknown> = {}): RpcError {
    return new RpcError(ErrorCode.NOT_FOUND, "NOT_FOUND", message, data);
  }
}

/**
 * What one line parses into: requests to run (in order), and errors to answer without
 * running anything. `batch` is true when the line was a JSON array, so the replies must be
 * sent back as one array too.
 */
export interface ParsedLine {
  batch: boolean;
  /** Each entry is a request to dispatch or a ready error response, in line order. */
  items: Array<Request | Response>;
  /** Set when the line itself was bad (not JSON, not a request): it counts as a bad line. */
  malformed: boolean;
}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * Parses one line (without its `\n`) into requests and ready error responses.
 *
 * @example A request and a malformed line
 * ```ts
 * import { parseLine } from "./jsonrpc.ts";
 * const ok = parseLine('{"jsonrpc":"2.0","id":1,"method":"ping","params":{}}');
 * if (ok.items.length !== 1 || ok.malformed) throw new Error();
 * const bad = parseLine("fnd:Bob");
 * if (!bad.malformed) throw new Error();
 * ```
 */
export function parseLine(line: string | Uint8Array): ParsedLine {
  let text: string;
  if (typeof line === "string") {
    text = line;
  } else {
    try {
      text = decodeLine(line);
    } catch {
      return malformedLine(
        ErrorCode.PARSE_ERROR,
        "Cannot parse request: the line is not valid UTF-8",
      );
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof SyntaxError ? `: ${error.message}` : "";
    return malformedLine(
      ErrorCode.PARSE_ERROR,
      `Cannot parse request ${quote(text)}: not JSON${detail}`,
    );
  }
  if (Array.isArray(value)) {
    if (value.length === 0) {
      return malformedLine(
        ErrorCode.INVALID_REQUEST,
        "Invalid request: a batch must not be empty",
      );
    }
    const items = value.map(toRequest);
    return { batch: true, items, malformed: items.every((item) => "jsonrpc" in item) };
  }
  const item = toRequest(value);
  return { batch: false, items: [item], malformed: "jsonrpc" in item };
}

/**
 * Decodes a line as UTF-8. A short ASCII line (most requests) is turned into a string in JS,
 * which is cheaper than a call into the runtime's decoder; anything else goes to it.
 */
function decodeLine(line: Uint8Array): string {
  if (line.length <= 512) {
    let ascii = true;
    for (let i = 0; i < line.length; i++) {
      if (line[i]! > 0x7f) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, line as unknown as number[]);
  }
  return decoder.decode(line);
}

/** Turns one parsed JSON value into a request, or into the error response it deserves. */
function toRequest(value: unknown): Request | Response {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return errorResponse(
      null,
      invalid("Invalid request: expected a JSON-RPC 2.0 request object"),
    );
  }
  const object = value as Record<string, unknown>;
  const hasId = "id" in object;
  const rawId = object.id;
  const idOk = rawId === null || typeof rawId === "string" ||
    (typeof rawId === "number" && Number.isFinite(rawId));
  const id: RpcId = hasId && idOk ? rawId as RpcId : null;
  if (hasId && !idOk) {
    return errorResponse(null, invalid("Invalid request: id must be a string, a number or null"));
  }
  if (object.jsonrpc !== "2.0") {
    return errorResponse(id, invalid('Invalid request: "jsonrpc" must be "2.0"'));
  }
  if (typeof object.method !== "string" || object.method === "") {
    return errorResponse(id, invalid('Invalid request: "method" must be a non-empty string'));
  }
  for (const key of Object.keys(object)) {
    if (key !== "jsonrpc" && key !== "id" && key !== "method" && key !== "params") {
      return errorResponse(id, invalid(`Invalid request: unknown member ${quote(key)}`));
    }
  }
  const params = object.params;
  if (Array.isArray(params)) {
    return errorResponse(
      id,
      RpcError.badParams("Invalid params: pass params by name (an object), not by position", {
        field: "params",
      }).toObject(),
    );
  }
  if (params !== undefined && (typeof params !== "object" || params === null)) {
    return errorResponse(
      id,
      RpcError.badParams("Invalid params: params must be an object", { field: "params" })
        .toObject(),
    );
  }
  const request: Request = {
    method: object.method,
    params: (params ?? {}) as Record<string, unknown>,
  };
  if (hasId) request.id = id;
  return request;
}

function invalid(message: string): RpcErrorObject {
  return { code: ErrorCode.INVALID_REQUEST, message, data: { reason: "BAD_REQUEST" } };
}

function malformedLine(code: number, message: string): ParsedLine {
  return {
    batch: false,
    items: [errorResponse(null, { code, message, data: { reason: "BAD_REQUEST" } })],
    malformed: true,
  };
}

/** Whether a parsed item is a ready response rather than a request to run. */
export function isResponse(item: Request | Response): item is Response {
  return "jsonrpc" in item;
}

/**
 * Builds an error response.
 *
 * @example
 * ```ts
 * import { errorResponse, ErrorCode } from "./jsonrpc.ts";
 * const r = errorResponse(7, { code: ErrorCode.BUSY, message: "Busy", data: { reason: "BUSY" } });
 * if (!("error" in r) || r.id !== 7) throw new Error();
 * ```
 */
export function errorResponse(id: RpcId, error: RpcErrorObject): Response {
  return { jsonrpc: "2.0", id, error };
}

/** Builds a result response. */
export function resultResponse(id: RpcId, result: unknown): Response {
  return { jsonrpc: "2.0", id, result };
}

/**
 * Formats a request as one line, with its `\n`.
 *
 * @example
 * ```ts
 * import { formatRequest } from "./jsonrpc.ts";
 * const line = formatRequest(1, "find", { name: "Bob" });
 * if (!line.endsWith("\n") || JSON.parse(line).method !== "find") throw new Error();
 * ```
 */
export function formatRequest(
  id: RpcId | undefined,
  method: string,
  params: Record<string, unknown> = {},
): string {
  const request: Record<string, unknown> = { jsonrpc: "2.0" };
  if (id !== undefined) request.id = id;
  request.method = method;
  request.params = params;
  return JSON.stringify(request) + "\n";
}

/**
 * Formats a notification the server pushes (a JSON-RPC request without an id) as one line,
 * with its `\n`.
 *
 * @example
 * ```ts
 * import { formatNotification } from "./jsonrpc.ts";
 * const line = formatNotification("changed", { seq: 1 });
 * if (line !== '{"jsonrpc":"2.0","method":"changed","params":{"seq":1}}\n') throw new Error();
 * ```
 */
export function formatNotification(method: string, params: Record<string, unknown>): string {
  return JSON.stringify({ jsonrpc: "2.0", method, params }) + "\n";
}

/**
 * Formats a response (or a batch of responses) as one line, with its `\n`.
 *
 * @example
 * ```ts
 * import { formatResponse, resultResponse } from "./jsonrpc.ts";
 * const line = formatResponse(resultResponse(1, { count: 0 }));
 * if (line !== '{"jsonrpc":"2.0","id":1,"result":{"count":0}}\n') throw new Error();
 * ```
 */
export function formatResponse(response: Response | Response[]): string {
  if (Array.isArray(response)) return `[${response.map(responseText).join(",")}]\n`;
  return responseText(response) + "\n";
}

/**
 * The key of a non-enumerable property that carries an object's JSON text, ready-made: a
 * reply whose `result` has one is assembled around that text instead of re-stringifying
 * the object. `JSON.stringify`, spreads and `Object.keys` never see it.
 *
 * @example A result with its JSON text attached
 * ```ts
 * import { formatResponse, JSON_TEXT, resultResponse, withJsonText } from "./jsonrpc.ts";
 * const result = withJsonText({ count: 1 }, '{"count":1}');
 * if (typeof result[JSON_TEXT] !== "string") throw new Error();
 * const line = formatResponse(resultResponse(7, result));
 * if (line !== '{"jsonrpc":"2.0","id":7,"result":{"count":1}}\n') throw new Error(line);
 * ```
 */
export const JSON_TEXT: unique symbol = Symbol("jsonText");

/**
 * Attaches `json` (which must be exactly `JSON.stringify(object)`) to `object` as its
 * {@link JSON_TEXT}, and returns the object.
 */
export function withJsonText<T extends object>(
  object: T,
  json: string,
): T & { [JSON_TEXT]: string } {
  Object.defineProperty(object, JSON_TEXT, { value: json, enumerable: false });
  return object as T & { [JSON_TEXT]: string };
}

function hasJsonText(response: Response): boolean {
  const result = (response as { result?: unknown }).result;
  return typeof result === "object" && result !== null &&
    typeof (result as { [JSON_TEXT]?: unknown })[JSON_TEXT] === "string";
}

/**
 * The JSON text of one response, without a newline (a reply is gathered from these).
 *
 * @example
 * ```ts
 * import { responseText, resultResponse } from "./jsonrpc.ts";
 * if (responseText(resultResponse(1, {})) !== '{"jsonrpc":"2.0","id":1,"result":{}}') throw new Error();
 * ```
 */
export function responseText(response: Response): string {
  if (!hasJsonText(response)) return JSON.stringify(response);
  const text = (response as { result: { [JSON_TEXT]: string } }).result[JSON_TEXT];
  return `{"jsonrpc":"2.0","id":${JSON.stringify(response.id)},"result":${text}}`;
}

/** Shortens and quotes a value for an error message. */
export function quote(text: string, max = 40): string {
  const short = text.length > max ? text.slice(0, max) + "…" : text;
  return JSON.stringify(short);
}

/**
 * The error for a line longer than the cap; sent with id null before the connection closes.
 */
export function tooLargeError(limit: number): RpcErrorObject {
  return {
    code: ErrorCode.TOO_LARGE,
    message: `Request line is longer than ${limit} bytes; closing the connection`,
    data: { reason: "TOO_LARGE", limit },
  };
}

/**
 * The error for a request of a batch whose earlier replies already passed `limit` characters:
 * it was not run (the client sends it again, in a later line).
 */
export function batchTooLargeError(limit: number): RpcErrorObject {
  return {
    code: ErrorCode.TOO_LARGE,
    message: `Not run: the replies of this batch passed ${limit} bytes before it; send it ` +
      "again in a later line",
    data: { reason: "TOO_LARGE", limit },
  };
}

/**
 * The error sent (with id null) to a connection refused at a limit, before it is closed: the
 * server's cap (`server`), the connections one address may hold (`address`), or those
 * waiting to authenticate (`unauthenticated`). `data.limit` is that limit.
 *
 * @example
 * ```ts
 * import { busyError } from "./jsonrpc.ts";
 * const error = busyError(2, "address");
 * if (error.data.reason !== "BUSY" || error.data.limit !== 2) throw new Error();
 * if (!error.message.startsWith("This address already has 2 connections open")) throw new Error();
 * ```
 */
export function busyError(
  limit: number,
  which: "server" | "address" | "unauthenticated" = "server",
): RpcErrorObject {
  const message = which === "address"
    ? `This address already has ${limit} connections open, the most one address may hold; ` +
      "close one and try again"
    : which === "unauthenticated"
    ? "Too many connections are waiting to authenticate; try again shortly"
    : `Server is at its limit of ${limit} connections; try again later`;
  return { code: ErrorCode.BUSY, message, data: { reason: "BUSY", limit } };
}

/** What one line from the server holds: responses (a batch flattened) and notifications. */
export interface ParsedReply {
  responses: Response[];
  /** Messages without an id that carry a method: server push events. */
  notifications: Request[];
}

const REASON_BY_CODE: Record<number, Reason> = {
  [ErrorCode.PARSE_ERROR]: "BAD_REQUEST",
  [ErrorCode.INVALID_REQUEST]: "BAD_REQUEST",
  [ErrorCode.METHOD_NOT_FOUND]: "BAD_REQUEST",
  [ErrorCode.INVALID_PARAMS]: "BAD_REQUEST",
  [ErrorCode.NOT_FOUND]: "NOT_FOUND",
  [ErrorCode.CONFLICT]: "CONFLICT",
  [ErrorCode.AMBIGUOUS]: "AMBIGUOUS",
  [ErrorCode.TOO_LARGE]: "TOO_LARGE",
  [ErrorCode.BUSY]: "BUSY",
  [ErrorCode.UNAUTHORIZED]: "UNAUTHORIZED",
  [ErrorCode.UNAVAILABLE]: "UNAVAILABLE",
};

/**
 * Parses one line the server sent (without its `\n`): the client's half of the protocol.
 * Throws a `SyntaxError` naming the line when it is not JSON-RPC 2.0 responses. An error
 * without `data.reason` (from another JSON-RPC server) gets the reason its code implies.
 *
 * @example A result, an error, and a line that is not JSON-RPC
 * ```ts
 * import { parseReply } from "./jsonrpc.ts";
 * const ok = parseReply('{"jsonrpc":"2.0","id":1,"result":{"count":2}}');
 * if (ok.responses.length !== 1 || !("result" in ok.responses[0]!)) throw new Error();
 * const err = parseReply('{"jsonrpc":"2.0","id":2,"error":{"code":-32001,"message":"No"}}');
 * const first = err.responses[0]!;
 * if (!("error" in first) || first.error.data.reason !== "NOT_FOUND") throw new Error();
 * let threw = false;
 * try {
 *   parseReply("HTTP/1.1 400 Bad Request");
 * } catch (error) {
 *   threw = error instanceof SyntaxError;
 * }
 * if (!threw) throw new Error();
 * ```
 */
export function parseReply(line: string | Uint8Array): ParsedReply {
  let text: string;
  try {
    text = typeof line === "string" ? line : decoder.decode(line);
  } catch {
    throw new SyntaxError("Cannot parse reply: the line is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SyntaxError(`Cannot parse reply ${quote(text)}: not JSON`);
  }
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) throw new SyntaxError("Cannot parse reply: an empty batch");
  const reply: ParsedReply = { responses: [], notifications: [] };
  for (const item of items) {
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      throw new SyntaxError(`Cannot parse reply ${quote(text)}: expected a JSON-RPC object`);
    }
    const object = item as Record<string, unknown>;
    if (object.jsonrpc !== "2.0") {
      throw new SyntaxError(`Cannot parse reply ${quote(text)}: "jsonrpc" must be "2.0"`);
    }
    if (typeof object.method === "string" && !("id" in object)) {
      const params = object.params;
      reply.notifications.push({
        method: object.method,
        params: typeof params === "object" && params !== null && !Array.isArray(params)
          ? params as Record<string, unknown>
          : {},
      });
      continue;
    }
    const id = object.id;
    if (id !== null && typeof id !== "string" && typeof id !== "number") {
      throw new SyntaxError(`Cannot parse reply ${quote(text)}: bad id`);
    }
    if ("result" in object === "error" in object) {
      throw new SyntaxError(
        `Cannot parse reply ${quote(text)}: a response has exactly one of result and error`,
      );
    }
    if ("result" in object) {
      reply.responses.push(resultResponse(id, object.result));
      continue;
    }
    const error = object.error as Record<string, unknown> | null;
    if (
      typeof error !== "object" || error === null || typeof error.code !== "number" ||
      typeof error.message !== "string"
    ) {
      throw new SyntaxError(`Cannot parse reply ${quote(text)}: bad error object`);
    }
    const data = typeof error.data === "object" && error.data !== null &&
        !Array.isArray(error.data)
      ? error.data as Record<string, unknown>
      : {};
    const reason = typeof data.reason === "string"
      ? data.reason as Reason
      : REASON_BY_CODE[error.code] ?? "INTERNAL";
    reply.responses.push(
      errorResponse(id, { code: error.code, message: error.message, data: { ...data, reason } }),
    );
  }
  return reply;
}
