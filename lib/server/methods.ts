/**
 * The methods of protocol v1 and the dispatcher that runs a request against the store.
 * No sockets here: `dispatch(request, context)` can be tested with no TCP at all.
 *
 * @module
 */

import type { Access } from "./auth.ts";
import { validateContact, ValidationError } from "../model/contact.ts";
import { MAX_PAGE, METHOD_NAMES, type MethodName, type Page } from "../protocol/api.ts";
import { isId } from "../model/ids.ts";
import { createLogger, type Logger } from "./log.ts";
import {
  ErrorCode,
  errorResponse,
  type Request,
  type Response,
  resultResponse,
  RpcError,
} from "../protocol/jsonrpc.ts";
import {
  AmbiguousError,
  ConflictError,
  type ContactStore,
  NotFoundError,
  type PageOptions,
  StorageFullError,
} from "../store/mod.ts";
import { fold, parseQuery, type Query, words } from "../model/search_terms.ts";
import type { Contact } from "../model/contact.ts";
import { PROTOCOL_VERSION, SERVER_NAME, VERSION } from "../model/version.ts";

/** What a method may know about the connection and the server it runs in. */
export interface MethodContext {
  store: ContactStore;
  /** This connection's number (1, 2, 3, ... since the server started). */
  connection: number;
  /** Requests served on this connection so far, this one included. */
  requests: number;
  /** The longest request line this server reads, in bytes (`hello` tells clients). */
  maxLine?: number;
  /** Server-wide figures for `stats`. */
  serverStats(): { open: number; total: number; requests: number; uptime: number };
  log: Logger;
  /** The connection's auth state; absent means an open server (loopback, no token). */
  session?: SessionAuth;
  /** Subscribes the connection to changes; absent where nothing can be pushed (no socket). */
  watch?: WatchControl;
  /**
   * Aborted once nobody is left to receive this connection's answers (it closed): long work
   * (`check`) stops then. Absent: the work always runs to the end.
   */
  signal?: AbortSignal;
}

/** What `watch` asks of the connection it runs on. */
export interface WatchControl {
  /**
   * Subscribes the connection (replacing an earlier subscription) to the changes after
   * `since` (default: from now on) that match `query`; resolves with the current seq. Throws
   * a BAD_REQUEST {@link RpcError} (field `since`) when the log cannot serve `since`.
   */
  start(options: { since?: number; query?: Query }): Promise<{ seq: number }>;
}

/** A connection's auth state as methods see it. */
export interface SessionAuth {
  /** Whether this server requires a token (protected mode). */
  readonly required: boolean;
  /** What the connection may do now. */
  readonly access: Access;
  /**
   * Checks a token and upgrades the connection; throws an UNAUTHORIZED {@link RpcError}
   * (after a pause, logged with the peer address) if no token matches.
   */
  authenticate(token: string): Promise<Access>;
}

type Params = Record<string, unknown>;
type Method = (params: Params, context: MethodContext) => Promise<unknown>;
/** The same method answered at once, for a store with an in-memory view (`store.cached`). */
type SyncMethod = (params: Params, context: MethodContext) => unknown;

const page = ["cursor", "limit"];

/** Each method: the params it accepts, and what it does. */
const METHODS: Record<
  MethodName,
  {
    params: string[];
    run: Method;
    /** Only reads: allowed on a read-only connection. Unmarked methods count as writes. */
    readOnly?: true;
    /** Allowed before `auth` on a protected server. */
    open?: true;
    /**
     * Answers without awaiting anything, when the store has an in-memory view: the same
     * result as `run`, which stays the path for a store without one.
     */
    now?: SyncMethod;
    /**
     * Does nothing but compute its answer: sent as a notification (no id, so no answer),
     * it is not run at all.
     */
    answerOnly?: true;
  }
> = {
  hello: {
    open: true,
    readOnly: true,
    params: [],
    run: (_, context) => Promise.resolve(hello(context)),
    now: (_, context) => hello(context),
  },
  auth: {
    open: true,
    readOnly: true,
    params: ["token"],
    run: async (params, { session }) => {
      const token = text(params, "token");
      const access = session?.required ? await session.authenticate(token) : "write";
      return { access: access === "write" ? "read-write" : "read-only" };
    },
  },
  ping: {
    readOnly: true,
    params: [],
    run: (_, context) => Promise.resolve(ping(context)),
    now: (_, context) => ping(context),
  },
  add: {
    params: ["contact", "id"],
    run: (params, { store }) =>
      store.add(validateContact(params.contact), params.id === undefined ? undefined : id(params)),
  },
  get: {
    readOnly: true,
    params: ["id"],
    run: (params, { store }) => store.get(id(params)),
    now: (params, { store }) => store.getNow(id(params)),
  },
  find: {
    readOnly: true,
    params: ["name", ...page],
    run: (params, { store }) => store.find(text(params, "name"), pageOptions(params)),
    now: (params, { store }) => store.findNow(text(params, "name"), pageOptions(params)),
  },
  update: {
    params: ["id", "version", "contact"],
    run: (params, { store }) =>
      store.update(id(params), text(params, "version"), validateContact(params.contact)),
  },
  remove: {
    params: ["id", "name", "version"],
    run: async (params, { store }) => {
      if (params.id !== undefined && params.name !== undefined) {
        throw RpcError.badParams("Invalid params: give id or name, not both", { field: "name" });
      }
      if (params.id === undefined && params.name === undefined) {
        throw RpcError.badParams("Invalid params: id or name is required", { field: "id" });
      }
      const version = params.version === undefined ? undefined : text(params, "version");
      const removed = params.name !== undefined
        ? await store.removeByName(text(params, "name"))
        : await store.remove(id(params), version);
      return { removed };
    },
  },
  list: {
    readOnly: true,
    params: [...page, "group"],
    run: (params, { store }) =>
      params.group === undefined
        ? store.list(pageOptions(params))
        : Promise.resolve(listGroup(store, text(params, "group"), pageOptions(params))),
  },
  search: {
    readOnly: true,
    params: ["query", "group", ...page],
    run: (params, context) => Promise.resolve(search(params, context)),
    now: (params, context) => search(params, context),
  },
  export: {
    readOnly: true,
    params: page,
    run: (params, { store }) => store.export(pageOptions(params)),
  },
  check: {
    readOnly: true,
    answerOnly: true,
    params: [],
    run: (_, { store, signal }) => checkOnce(store, signal),
  },
  count: {
    readOnly: true,
    params: [],
    run: async (_, { store }) => ({ count: await store.count() }),
    now: (_, { store }) => ({ count: store.countNow() }),
  },
  watch: {
    readOnly: true,
    params: ["since", "query"],
    run: (params, { watch }) => {
      if (watch === undefined) {
        throw new RpcError(
          ErrorCode.INVALID_REQUEST,
          "BAD_REQUEST",
          "Invalid request: watch needs a connection to push changes on",
        );
      }
      const options: { since?: number; query?: Query } = {};
      if (params.since !== undefined && params.since !== null) {
        const since = params.since;
        if (typeof since !== "number" || !Number.isSafeInteger(since) || since < 0) {
          throw RpcError.badParams(
            "Invalid params: since must be a whole number from 0 to the last seq of the " +
              `change log (watch answers the current one), not ${described(since)}`,
            { field: "since" },
          );
        }
        options.since = since;
      }
      if (params.query !== undefined && params.query !== null) {
        const query = parseQuery(text(params, "query"));
        if (query.words.length === 0 && !query.phone) {
          throw RpcError.badParams(
            `Invalid params: query ${
              JSON.stringify(String(params.query).slice(0, 40))
            } has no words or digits to match`,
            { field: "query" },
          );
        }
        options.query = query;
      }
      return watch.start(options);
    },
  },
  stats: {
    readOnly: true,
    params: [],
    run: async (_, context) => stats(context, await context.store.count()),
    now: (_, context) => stats(context, context.store.countNow()),
  },
};

/**
 * Runs one request and returns its response, or undefined for a notification.
 * Never throws: a fault of ours becomes INTERNAL (logged with details, none leaked); a full
 * disk is UNAVAILABLE (logged in one sentence).
 *
 * @example Count the contacts of an empty store
 * ```ts
 * import { dispatch } from "./methods.ts";
 * import { ContactStore } from "../store/mod.ts";
 * import { createLogger } from "./log.ts";
 * await using store = await ContactStore.open(":memory:");
 * const context = { store, connection: 1, requests: 1, log: createLogger("error"),
 *   serverStats: () => ({ open: 1, total: 1, requests: 1, uptime: 0 }) };
 * const response = await dispatch({ id: 1, method: "count", params: {} }, context);
 * if (!response || !("result" in response)) throw new Error();
 * ```
 */
export async function dispatch(
  request: Request,
  context: MethodContext,
): Promise<Response | undefined> {
  const id = request.id ?? null;
  let response: Response;
  try {
    const method = checkedMethod(request, context);
    if (request.id === undefined && method.answerOnly) return undefined;
    response = resultResponse(id, await method.run(request.params, context));
  } catch (error) {
    response = errorResponse(id, toRpcError(error, request, context.log).toObject());
  }
  return request.id === undefined ? undefined : response;
}

/**
 * Runs one request at once, with no await, when it can be: a method the store's in-memory
 * view answers (`find`, `get`, `search`, `count`, `hello`, `ping`, `stats` on a store that is
 * `cached`), or a request refused before it runs (unknown method, bad params, not allowed).
 * Returns the response (undefined for a notification), or `false` when the request must go
 * through {@link dispatch} (writes, KV reads, a store without a view). The response is the
 * one `dispatch` would give: the checks are the same code, and each method's synchronous
 * variant computes the same result from the view.
 *
 * @example Answer a find from the view without awaiting
 * ```ts
 * import { dispatchNow, standaloneContext } from "./methods.ts";
 * import { ContactStore } from "../store/mod.ts";
 * await using store = await ContactStore.open(":memory:");
 * const context = standaloneContext(store);
 * const found = dispatchNow({ id: 1, method: "find", params: { name: "Bob" } }, context);
 * if (!found || !("result" in found)) throw new Error("find is answered at once");
 * const add = dispatchNow({ id: 2, method: "add", params: { contact: {} } }, context);
 * if (add !== false) throw new Error("a write goes through dispatch");
 * ```
 */
export function dispatchNow(
  request: Request,
  context: MethodContext,
): Response | undefined | false {
  const id = request.id ?? null;
  let response: Response;
  try {
    const method = checkedMethod(request, context);
    if (method.now === undefined || !context.store.cached) return false;
    response = resultResponse(id, method.now(request.params, context));
  } catch (error) {
    response = errorResponse(id, toRpcError(error, request, context.log).toObject());
  }
  return request.id === undefined ? undefined : response;
}

/** The method a request names, once the session may call it with these params; or throws. */
function checkedMethod(request: Request, context: MethodContext): (typeof METHODS)[MethodName] {
  const method = Object.hasOwn(METHODS, request.method)
    ? METHODS[request.method as MethodName]
    : undefined;
  if (method === undefined) {
    throw new RpcError(
      ErrorCode.METHOD_NOT_FOUND,
      "BAD_REQUEST",
      `Method ${JSON.stringify(request.method.slice(0, 40))} not found; ` +
        `methods are ${METHOD_NAMES.join(", ")}`,
    );
  }
  const session = context.session;
  if (session?.required && !method.open && session.access !== "write") {
    if (session.access === "none") {
      throw new RpcError(
        ErrorCode.UNAUTHORIZED,
        "UNAUTHORIZED",
        `Unauthorized: this server requires a token; call auth {token} before ` +
          `${JSON.stringify(request.method)} (client: --token or ADDRESSBOOK_TOKEN)`,
      );
    }
    if (!method.readOnly) {
      throw new RpcError(
        ErrorCode.UNAUTHORIZED,
        "UNAUTHORIZED",
        `Unauthorized: this connection is read-only; ${JSON.stringify(request.method)} ` +
          "needs the read-write token",
      );
    }
  }
  for (const key in request.params) {
    if (!Object.hasOwn(request.params, key)) continue;
    if (!method.params.includes(key)) {
      throw RpcError.badParams(
        `Invalid params: ${request.method} takes no param ${JSON.stringify(key.slice(0, 40))}` +
          (method.params.length ? ` (it takes ${method.params.join(", ")})` : ""),
        { field: key },
      );
    }
  }
  return method;
}

/**
 * Most contacts one `list` or `search` with a `group` looks at before it answers: a rare
 * group's page may then hold fewer than `limit` (even none) with a cursor to go on.
 */
export const GROUP_SCAN = 2_000;

function search(params: Params, { store }: MethodContext): Page {
  const query = text(params, "query");
  const options = pageOptions(params);
  if (params.group === undefined) return store.searchNow(query, options);
  const group = text(params, "group");
  // Members have the group's words: a word query narrowed by them reads fewer candidates.
  // A phone query stays as it is (words would make it a word query).
  const narrowed = parseQuery(query).phone === null && words(group).length > 0
    ? `${query} ${group}`
    : query;
  return inGroup(group, options, (o) => store.searchNow(narrowed, o));
}

function listGroup(store: ContactStore, group: string, options: PageOptions): Page {
  // The group's words find its members (and a few others, filtered out) through the word
  // index; a name with no letter or digit has no words: then the list is filtered.
  if (words(group).length === 0) return inGroup(group, options, (o) => store.listNow(o));
  return inGroup(group, options, (o) => store.searchNow(group, o));
}

/**
 * The contacts of `group` (compared folded, as validation folds duplicates) among the pages
 * `pageOf` gives, from `options.cursor` on: up to `options.limit`, each store page asked
 * for no more than are still needed, so its cursor is right after the last one returned (or
 * skipped). Stops after {@link GROUP_SCAN} contacts looked at.
 */
function inGroup(
  group: string,
  options: PageOptions,
  pageOf: (options: PageOptions) => Page,
): Page {
  const key = fold(group);
  const limit = options.limit ?? MAX_PAGE;
  const contacts: Contact[] = [];
  let cursor = options.cursor ?? null;
  let seen = 0;
  // Bounded: every round looks at one contact at least or ends, and at most GROUP_SCAN.
  while (contacts.length < limit && seen < GROUP_SCAN) {
    const page = pageOf({ ...(cursor !== null ? { cursor } : {}), limit: limit - contacts.length });
    seen += page.contacts.length;
    for (const contact of page.contacts) {
      if ((contact.groups ?? []).some((name) => fold(name) === key)) contacts.push(contact);
    }
    cursor = page.cursor;
    if (cursor === null || page.contacts.length === 0) break;
  }
  return { contacts, cursor };
}

function hello(context: MethodContext) {
  return {
    server: SERVER_NAME,
    version: VERSION,
    protocol: PROTOCOL_VERSION,
    connection: context.connection,
    auth: context.session?.required ?? false,
    ...(context.maxLine !== undefined ? { maxLine: context.maxLine } : {}),
  };
}

function ping(context: MethodContext) {
  return {
    message: `Thank you! Processed connection number ${context.connection}`,
    connection: context.connection,
    requests: context.requests,
  };
}

/** The stores a `check` is running on: one at a time per store (so per server). */
const checking = new WeakSet<ContactStore>();

/**
 * `check`, one at a time per store: another one meanwhile is refused BUSY (a check reads the
 * whole store; twenty at once held twenty copies of what it keeps). Stops when `signal` is
 * aborted: the connection closed, so nobody would receive the report.
 */
async function checkOnce(store: ContactStore, signal: AbortSignal | undefined) {
  if (checking.has(store)) {
    throw new RpcError(
      ErrorCode.BUSY,
      "BUSY",
      "A check is already running on this server (one at a time); try again when it is done",
    );
  }
  checking.add(store);
  try {
    return await store.check(signal ? { signal } : {});
  } catch (error) {
    if (!signal?.aborted) throw error;
    throw new RpcError(
      ErrorCode.INTERNAL_ERROR,
      "INTERNAL",
      "Check abandoned: the connection that asked for it closed",
    );
  } finally {
    checking.delete(store);
  }
}

function stats({ serverStats }: MethodContext, contacts: number) {
  const { open, total, requests, uptime } = serverStats();
  return { connections: { open, total }, requests, contacts, uptime };
}

/** Maps a thrown error to the RpcError a client sees. */
function toRpcError(error: unknown, request: Request, log: Logger): RpcError {
  if (error instanceof RpcError) return error;
  if (error instanceof ValidationError) {
    const { field, limit } = error;
    return RpcError.badParams(`Invalid params: ${error.message}`, {
      field,
      ...(limit === undefined ? {} : { limit }),
    });
  }
  if (error instanceof NotFoundError) return RpcError.notFound(error.message);
  if (error instanceof ConflictError) {
    return new RpcError(ErrorCode.CONFLICT, "CONFLICT", error.message, {
      current: error.current,
    });
  }
  if (error instanceof AmbiguousError) {
    return new RpcError(ErrorCode.AMBIGUOUS, "AMBIGUOUS", error.message, {
      candidates: error.candidates,
    });
  }
  if (error instanceof RangeError && error.message.startsWith("Cursor")) {
    // "Cursor ..." starts the store's sentence; here it follows a colon.
    const text = error.message.charAt(0).toLowerCase() + error.message.slice(1);
    return RpcError.badParams(`Invalid params: ${text}`, { field: "cursor" });
  }
  if (error instanceof StorageFullError) {
    log.error(
      `Disk full: ${request.method} was refused and nothing was changed; free some space on ` +
        "the disk that holds the store (reads still work, writes resume by themselves)",
    );
    return new RpcError(ErrorCode.UNAVAILABLE, "UNAVAILABLE", error.message);
  }
  log.error(
    `Internal error in ${request.method}: ${
      error instanceof Error ? error.stack ?? error.message : String(error)
    }`,
  );
  return new RpcError(
    ErrorCode.INTERNAL_ERROR,
    "INTERNAL",
    "Internal error: the request was not completed; the server logged the details",
  );
}

function text(params: Params, field: string): string {
  const value = params[field];
  if (value === undefined) {
    throw RpcError.badParams(`Invalid params: ${field} is required`, { field });
  }
  if (typeof value !== "string" || value.trim() === "") {
    throw RpcError.badParams(`Invalid params: ${field} must be a non-empty string`, { field });
  }
  if (value.length > 2000) {
    throw RpcError.badParams(`Invalid params: ${field} is longer than 2000 characters`, {
      field,
    });
  }
  return value;
}

/**
 * A param's value as a message quotes it: a number as written (JSON would show a number
 * too large for a double, `1e999`, as `null`), a string quoted, anything else by its kind.
 */
function described(value: unknown): string {
  if (typeof value === "number") {
    if (Number.isFinite(value)) return String(value);
    return value > 0 ? "a number too large to read" : "a negative number too large to read";
  }
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (Array.isArray(value)) return "an array";
  if (value === null || typeof value !== "object") return String(value);
  return "an object";
}

function id(params: Params): string {
  const value = text(params, "id");
  if (!isId(value)) {
    throw RpcError.badParams(
      `Invalid params: id ${JSON.stringify(value.slice(0, 40))} is not a contact id`,
      { field: "id" },
    );
  }
  return value;
}

function pageOptions(params: Params): PageOptions {
  const options: PageOptions = {};
  if (params.cursor !== undefined && params.cursor !== null) {
    options.cursor = text(params, "cursor");
  }
  if (params.limit !== undefined) {
    const limit = params.limit;
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1) {
      throw RpcError.badParams("Invalid params: limit must be a whole number from 1", {
        field: "limit",
      });
    }
    options.limit = Math.min(limit, MAX_PAGE);
  }
  return options;
}

/** A context for tests and tools that run methods without a server. */
export function standaloneContext(store: ContactStore): MethodContext {
  return {
    store,
    connection: 1,
    requests: 1,
    log: createLogger("error"),
    serverStats: () => ({ open: 1, total: 1, requests: 1, uptime: 0 }),
  };
}
