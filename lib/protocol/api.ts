/**
 * The methods of protocol v1 as both ends see them: their names, and the shapes of the
 * params and results that cross the wire. The server's methods module implements exactly
 * these names; the client's commands read these shapes. PROTOCOL.md is the contract in words.
 *
 * @module
 */

import type { Contact } from "../model/contact.ts";

/**
 * Every method of protocol v1, in the order PROTOCOL.md lists them.
 *
 * @example
 * ```ts
 * import { METHOD_NAMES } from "./api.ts";
 * if (!METHOD_NAMES.includes("search")) throw new Error();
 * ```
 */
export const METHOD_NAMES = [
  "hello",
  "auth",
  "ping",
  "add",
  "get",
  "find",
  "update",
  "remove",
  "list",
  "search",
  "export",
  "check",
  "count",
  "watch",
  "stats",
] as const;

/** One method's name. */
export type MethodName = typeof METHOD_NAMES[number];

/** Most results one page may hold (`limit` is capped to it). */
export const MAX_PAGE = 100;

/** One page of contacts (`find`, `list`, `search`, `export`); `cursor` is null on the last page. */
export interface Page {
  contacts: Contact[];
  cursor: string | null;
}

/** What a connection may do, as `auth` answers it. */
export type Access = "read-write" | "read-only";

/** The result of `hello`. */
export interface HelloResult {
  server: string;
  version: string;
  protocol: number;
  connection: number;
  auth: boolean;
  /** The longest request line the server reads, in bytes (absent from older servers: assume 64 KiB). */
  maxLine?: number;
}

/** The result of `check`. */
export interface CheckReport {
  ok: boolean;
  contacts: number;
  indexEntries: number;
  /** At most 100 descriptions of damage, each confirmed by a second, consistent read. */
  problems: string[];
}

/** The params of a `changed` notification, pushed to `watch` subscribers (a type, so it is a JSON object). */
export type ChangedParams = {
  type: "added" | "updated" | "removed";
  id: string;
  name: string;
  version: string;
  seq: number;
};
