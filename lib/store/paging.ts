/**
 * Pages of contacts: the page size a request may ask for, the opaque cursor that carries a
 * page's last sort key to the next request, and the page itself (with its reply text when
 * every contact came from the view).
 *
 * @module
 */

import type { Contact } from "../model/contact.ts";
import { compareCodePoints } from "./contact_view.ts";
import { MAX_PAGE, type Page } from "../protocol/api.ts";
import { JSON_TEXT, withJsonText } from "../protocol/jsonrpc.ts";

/** Paging options: an opaque cursor from the previous page, and a page size. */
export interface PageOptions {
  cursor?: string | null;
  limit?: number;
}

/**
 * The page size for a requested `limit`: 1 to `MAX_PAGE`, `MAX_PAGE` when none is given.
 *
 * @example
 * ```ts
 * import { pageLimit } from "./paging.ts";
 * if (pageLimit(0) !== 1 || pageLimit(10) !== 10 || pageLimit(undefined) !== 100) {
 *   throw new Error();
 * }
 * ```
 */
export function pageLimit(limit: number | undefined): number {
  return Math.max(1, Math.min(MAX_PAGE, limit ?? MAX_PAGE));
}

/**
 * A page of contacts held as JSON text (the view's), with the page's own JSON text attached:
 * a reply is assembled from the texts, and `contacts` (`parse()`'s objects, frozen, in a
 * frozen array) is made only when something reads it, once.
 *
 * @example A page parses its contacts only when they are read
 * ```ts
 * import { textPage } from "./paging.ts";
 * import { JSON_TEXT } from "../protocol/jsonrpc.ts";
 * const parsed: string[] = [];
 * const texts = ['{"id":"A","name":"Ann"}'];
 * const page = textPage(texts, () => texts.map((t) => (parsed.push(t), JSON.parse(t))), null);
 * if (page[JSON_TEXT] !== '{"contacts":[{"id":"A","name":"Ann"}],"cursor":null}') throw new Error();
 * const seen = () => parsed.length;
 * if (seen() !== 0) throw new Error("parsed before it was read");
 * if (page.contacts[0]?.name !== "Ann" || page.contacts.length !== 1) throw new Error();
 * if (seen() !== 1) throw new Error("parsed twice");
 * ```
 */
export function textPage(
  texts: readonly string[],
  parse: () => Contact[],
  cursor: string | null,
): Page & { [JSON_TEXT]: string } {
  let contacts: Contact[] | undefined;
  // The keys in the order of `{ contacts, cursor }`, for anything that walks them.
  const result = Object.defineProperties({} as Page, {
    contacts: {
      get: () => contacts ??= Object.freeze(parse()) as Contact[],
      enumerable: true,
      configurable: true,
    },
    cursor: { value: cursor, enumerable: true, writable: true, configurable: true },
  });
  // Concatenated, not joined: V8 keeps the parts (the texts the view holds) until the reply
  // is written.
  let json = '{"contacts":[';
  for (let i = 0; i < texts.length; i++) json += i === 0 ? texts[i] : "," + texts[i];
  return withJsonText(
    result,
    json + `],"cursor":${cursor === null ? "null" : JSON.stringify(cursor)}}`,
  );
}

/** Orders `[foldedName, id]` sort keys the way KV orders them (by UTF-8 bytes). */
export function compareKeys(a: [string, string], b: [string, string]): number {
  return compareCodePoints(a[0], b[0]) || compareCodePoints(a[1], b[1]);
}

const encoder = new TextEncoder();

/**
 * Encodes a sort key as an opaque cursor.
 *
 * @example A cursor round-trips
 * ```ts
 * import { decodeCursor, encodeCursor } from "./paging.ts";
 * const key: [string, string] = ["bob", "01J0000000000000000000000A"];
 * if (decodeCursor(encodeCursor(key))?.[1] !== key[1]) throw new Error();
 * ```
 */
export function encodeCursor(key: [string, string]): string {
  const bytes = encoder.encode(JSON.stringify(key));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Decodes a cursor; throws a `RangeError` for one this store did not make. */
export function decodeCursor(cursor: string | null | undefined): [string, string] | null {
  if (cursor === undefined || cursor === null) return null;
  try {
    const binary = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    const text = new TextDecoder("utf-8", { fatal: true })
      .decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    const key: unknown = JSON.parse(text);
    if (
      Array.isArray(key) && key.length === 2 && typeof key[0] === "string" &&
      typeof key[1] === "string"
    ) {
      return [key[0], key[1]];
    }
  } catch {
    // fall through
  }
  throw new RangeError(`Cursor ${JSON.stringify(cursor.slice(0, 40))} is not valid`);
}
