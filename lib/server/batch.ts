/**
 * How the requests of one line (a JSON-RPC batch, or a single request) are run: in order,
 * except that consecutive writes to different contacts run together, so that their commits
 * share the store's group commit instead of one flush each. No sockets here: the connection
 * gives the runner its ways to answer a request ({@link LineRunner}) and writes the reply.
 *
 * The rules that keep a batch's meaning:
 * - A run of consecutive writes that each touch one known contact (`add` without `id`: a new
 *   contact; `add` with `id`, `update`, `remove` by `id`: that contact) is dispatched
 *   together. A write to a contact that an earlier write of the run touches waits for it,
 *   so writes to one contact happen in request order.
 * - Any other request (a read, `remove` by name, `auth`, `watch`, ...) waits until every
 *   write before it has finished, and the requests after it wait for it: a read sees the
 *   writes before it in the batch and none after it.
 * - Replies are placed in request order; a write is answered once the store has committed it.
 * - The line's reply is capped ({@link LineRunner} `maxReply`): once the replies placed pass
 *   it, the rest is answered `TOO_LARGE` unrun. Replies of writes still running are not
 *   placed yet, so they can pass the cap by at most their own size (about the line's).
 * - At most {@link MAX_WRITES_TOGETHER} writes run at once; the next waits for those.
 *
 * @module
 */

import {
  batchTooLargeError,
  errorResponse,
  isResponse,
  type Request,
  type Response,
  responseText,
} from "../protocol/jsonrpc.ts";

/** The most writes of one line that run at once (a group commit takes up to 400). */
export const MAX_WRITES_TOGETHER = 128;

/** What the runner needs from its connection. */
export interface LineRunner {
  /**
   * Answers a request at once when it can (a read from the store's view, or a refusal);
   * `false` when it must go through {@link LineRunner.later}.
   */
  now(request: Request): Response | undefined | false;
  /** Runs a request to its end; never rejects. */
  later(request: Request): Promise<Response | undefined>;
  /** Whether the connection has had its slice of work and should let others run. */
  sliceOver(): boolean;
  /** Lets other connections run; the next slice starts when it resolves. */
  yieldTurn(): Promise<void>;
  /** An await has ended: the connection's slice of work starts again from now. */
  resumed(): void;
  /** Reply text, in characters, past which the rest of the line is not run. */
  maxReply: number;
}

/** The replies of a line so far, in order: their texts, and the characters they hold. */
export interface Replies {
  texts: string[];
  chars: number;
}

/**
 * What a write touches: `""` for a new contact (nothing another write touches), its id for
 * an existing one; `undefined` when the request is not such a write and must run alone.
 *
 * @example
 * ```ts
 * import { writeTarget } from "./batch.ts";
 * if (writeTarget({ method: "add", params: { contact: {} } }) !== "") throw new Error();
 * if (writeTarget({ method: "update", params: { id: "X" } }) !== "X") throw new Error();
 * if (writeTarget({ method: "remove", params: { name: "Bob" } }) !== undefined) throw new Error();
 * if (writeTarget({ method: "get", params: { id: "X" } }) !== undefined) throw new Error();
 * ```
 */
export function writeTarget(request: Request): string | undefined {
  const { method, params } = request;
  if (method === "add" && params.id === undefined) return "";
  if (method !== "add" && method !== "update" && method !== "remove") return undefined;
  if (method === "remove" && params.name !== undefined) return undefined;
  return typeof params.id === "string" && params.id !== "" ? params.id : undefined;
}

/**
 * Runs a line's items (requests, and ready responses for the ones that could not be parsed)
 * and returns their replies in order: at once when nothing had to be awaited, else as a
 * promise. Never rejects.
 *
 * @example Three adds run together; the count after them sees all three
 * ```ts
 * import { runLine } from "./batch.ts";
 * let running = 0, most = 0, stored = 0;
 * const runner = {
 *   now: () => false as const,
 *   later: async (request: { id?: number | string | null; method: string }) => {
 *     most = Math.max(most, ++running);
 *     await new Promise((resolve) => setTimeout(resolve, 1));
 *     running--;
 *     if (request.method === "add") stored++;
 *     return { jsonrpc: "2.0" as const, id: request.id ?? null, result: stored };
 *   },
 *   sliceOver: () => false, yieldTurn: () => Promise.resolve(), resumed: () => {}, maxReply: 1e6,
 * };
 * const add = (id: number) => ({ id, method: "add", params: { contact: {} } });
 * const replies = await runLine([add(1), add(2), add(3), { id: 4, method: "count", params: {} }], runner);
 * if (most !== 3 || !replies.texts[3]!.includes('"result":3')) throw new Error(replies.texts.join());
 * ```
 */
export function runLine(
  items: ReadonlyArray<Request | Response>,
  runner: LineRunner,
): Replies | Promise<Replies> {
  return new LineRun(items, runner).run(0);
}

/** One line being run: where it is, and the writes under way. */
class LineRun {
  readonly #items: ReadonlyArray<Request | Response>;
  readonly #runner: LineRunner;
  readonly replies: Replies = { texts: [], chars: 0 };
  /** The replies of the writes under way and of what came between them, in order. */
  #together: Array<Response | undefined | Promise<Response | undefined>> = [];
  #running = 0;
  /** The last write under way to each contact (by id). */
  #last = new Map<string, Promise<unknown>>();

  constructor(items: ReadonlyArray<Request | Response>, runner: LineRunner) {
    this.#items = items;
    this.#runner = runner;
  }

  run(from: number): Replies | Promise<Replies> {
    const items = this.#items;
    const runner = this.#runner;
    for (let i = from; i < items.length; i++) {
      const item = items[i]!;
      const target = isResponse(item) ? "" : writeTarget(item);
      if (target === undefined && this.#together.length > 0) {
        // It must see what the writes before it did: they finish first.
        return this.#settle().then(() => this.run(i));
      }
      if (isResponse(item)) {
        this.#place(item);
        continue;
      }
      if (this.replies.chars >= runner.maxReply) {
        if (item.id !== undefined) {
          this.#place(errorResponse(item.id, batchTooLargeError(runner.maxReply)));
        }
        continue;
      }
      if (runner.sliceOver()) {
        return runner.yieldTurn().then(() => this.run(i));
      }
      if (target !== undefined) {
        this.#start(item, target);
        if (this.#running >= MAX_WRITES_TOGETHER) {
          return this.#settle().then(() => this.run(i + 1));
        }
        continue;
      }
      const response = runner.now(item);
      if (response === false) {
        return runner.later(item).then((deferred) => {
          runner.resumed();
          if (deferred) addReply(this.replies, deferred);
          return this.run(i + 1);
        });
      }
      if (response) addReply(this.replies, response);
    }
    if (this.#together.length > 0) return this.#settle().then(() => this.replies);
    return this.replies;
  }

  /** A reply in its place: after the writes under way, if there are any. */
  #place(response: Response): void {
    if (this.#together.length > 0) this.#together.push(response);
    else addReply(this.replies, response);
  }

  /** Starts a write; one to a contact that a write under way touches starts after it. */
  #start(request: Request, target: string): void {
    const response = this.#runner.now(request);
    if (response !== false) {
      // Refused before it ran (not allowed, bad params): nothing to wait for.
      if (response) this.#place(response);
      return;
    }
    const run = () => this.#runner.later(request);
    const before = target === "" ? undefined : this.#last.get(target);
    const reply = before === undefined ? run() : before.then(run, run);
    if (target !== "") this.#last.set(target, reply);
    this.#together.push(reply);
    this.#running++;
  }

  /** Waits for the writes under way and places their replies (and those between) in order. */
  async #settle(): Promise<void> {
    const replies = await Promise.all(this.#together);
    this.#together = [];
    this.#running = 0;
    this.#last.clear();
    this.#runner.resumed();
    for (const response of replies) if (response) addReply(this.replies, response);
  }
}

function addReply(replies: Replies, response: Response): void {
  const text = responseText(response);
  replies.texts.push(text);
  replies.chars += text.length + 1;
}
