/**
 * The errors the store throws for a request it cannot carry out: no such contact, a stale
 * version, an ambiguous name, a full disk, a layout this code cannot use.
 *
 * @module
 */

import type { Contact } from "../model/contact.ts";

/** No contact has that id (or name). */
export class NotFoundError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotFoundError";
  }
}

/** The version given is stale: someone else changed or removed the contact. */
export class ConflictError extends Error {
  /** The contact as stored now. */
  readonly current: Contact;
  constructor(message: string, current: Contact) {
    super(message);
    this.name = "ConflictError";
    this.current = current;
  }
}

/** A name matches several contacts. */
export class AmbiguousError extends Error {
  readonly candidates: Array<{ id: string; name: string; town: string }>;
  constructor(message: string, candidates: Array<{ id: string; name: string; town: string }>) {
    super(message);
    this.name = "AmbiguousError";
    this.candidates = candidates;
  }
}

/**
 * A write the store could not keep because the disk holding it is full. The write did not
 * apply (KV's commit is all or nothing); reads still work, and writes land again once space
 * is freed.
 */
export class StorageFullError extends Error {
  constructor(options?: ErrorOptions) {
    super(
      "The server cannot store this: the disk that holds its data is full, and nothing was " +
        "changed; try again once its admin has freed some space",
      options,
    );
    this.name = "StorageFullError";
  }
}

/**
 * Whether `error` is KV's (SQLite's) "database or disk is full", as a commit throws it.
 *
 * @example
 * ```ts
 * import { isDiskFull } from "./errors.ts";
 * if (!isDiskFull(new TypeError("database or disk is full"))) throw new Error();
 * if (isDiskFull(new TypeError("database is locked"))) throw new Error();
 * ```
 */
export function isDiskFull(error: unknown): boolean {
  return error instanceof Error && /database or disk is full/i.test(error.message);
}

/** The store's file has a layout this server cannot use. */
export class LayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LayoutError";
  }
}

/**
 * The {@link ConflictError} for a write whose version is stale, carrying `current`.
 *
 * @example
 * ```ts
 * import { conflict } from "./errors.ts";
 * import { blankContact } from "../model/contact.ts";
 * const current = { ...blankContact("Bob"), id: "01J0000000000000000000000B",
 *   created: "2024-01-01T00:00:00.000Z", updated: "2024-01-01T00:00:00.000Z",
 *   version: "00000000000000020000" };
 * if (conflict(current).current !== current) throw new Error();
 * ```
 */
export function conflict(current: Contact): ConflictError {
  return new ConflictError(
    `Contact ${JSON.stringify(current.id)} was changed by someone else ` +
      `(it is now at version ${JSON.stringify(current.version)})`,
    current,
  );
}
