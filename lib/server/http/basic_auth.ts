/**
 * HTTP Basic auth for the HTTP door: the password is the read-write or the read-only token
 * (any user name), checked by the server's {@link Authenticator} under the same per-address
 * failure guard as the TCP door's `auth` (`auth_guard.ts`): an address that failed has its
 * checks spaced out, whichever door it knocks on, and a failure is answered after a pause.
 *
 * HTTP sends the credentials with every request, so an `Authorization` value that passed
 * is remembered (by its SHA-256, for ten minutes, 256 at most) and not checked again: a
 * client that once mistyped is not slowed down on every later request.
 *
 * @module
 */

import type { Access, Authenticator } from "../auth.ts";
import type { AuthGuard } from "../auth_guard.ts";
import { AttemptRefused, guardedCheck } from "../token_check.ts";
import type { Logger } from "../log.ts";

/** How long a request may wait for its turn at the guard (milliseconds). */
const MAX_TURN_WAIT_MS = 10_000;

/** Remembered credentials: how many, and for how long (milliseconds). */
const REMEMBERED = 256;
const REMEMBER_MS = 10 * 60_000;

/** What a request's credentials come to. */
export type BasicOutcome =
  | { kind: "ok"; access: Exclude<Access, "none"> }
  /** No credentials, or not Basic: ask for them (401), nothing counted. */
  | { kind: "ask"; message: string }
  /** Checked and wrong (counted by the guard): 401 after the pause. */
  | { kind: "wrong"; message: string }
  /** Not checked: the address must wait longer than a request may (429). */
  | { kind: "wait"; retryAfter: number; message: string };

const encoder = new TextEncoder();

async function digest(text: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The password of a Basic `Authorization` header, or undefined when it is not one.
 *
 * @example
 * ```ts
 * import { basicPassword } from "./basic_auth.ts";
 * if (basicPassword("Basic " + btoa("me:s3cret:with:colons")) !== "s3cret:with:colons") throw new Error();
 * if (basicPassword("Bearer abc") !== undefined) throw new Error();
 * ```
 */
export function basicPassword(header: string | null): string | undefined {
  const match = header === null ? null : /^Basic\s+([A-Za-z0-9+/=]{1,2048})\s*$/i.exec(header);
  if (!match) return undefined;
  let decoded: string;
  try {
    const binary = atob(match[1]!);
    decoded = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/**
 * Checks the credentials of HTTP requests.
 *
 * @example An open server lets everyone write; a protected one asks
 * ```ts
 * import { BasicAuth } from "./basic_auth.ts";
 * import { Authenticator } from "../auth.ts";
 * import { createLogger } from "../log.ts";
 * const log = createLogger("error");
 * const open = new BasicAuth(undefined, undefined, log);
 * if ((await open.check(null, "127.0.0.1:1", "127.0.0.1")).kind !== "ok") throw new Error();
 * const shut = new BasicAuth(new Authenticator("a-read-write-token-1"), undefined, log);
 * if ((await shut.check(null, "127.0.0.1:1", "127.0.0.1")).kind !== "ask") throw new Error();
 * const basic = "Basic " + btoa("anyone:a-read-write-token-1");
 * const ok = await shut.check(basic, "127.0.0.1:1", "127.0.0.1");
 * if (ok.kind !== "ok" || ok.access !== "write") throw new Error();
 * ```
 */
export class BasicAuth {
  readonly #auth: Authenticator | undefined;
  readonly #guard: AuthGuard | undefined;
  readonly #log: Logger;
  readonly #passed = new Map<string, { access: Exclude<Access, "none">; at: number }>();

  constructor(auth: Authenticator | undefined, guard: AuthGuard | undefined, log: Logger) {
    this.#auth = auth;
    this.#guard = guard;
    this.#log = log;
  }

  /** Whether requests need credentials (protected mode). */
  get required(): boolean {
    return this.#auth !== undefined;
  }

  /**
   * What the `Authorization` header of a request from `peer` (at address `host`, request
   * `number` for the log) grants.
   */
  async check(
    header: string | null,
    peer: string,
    host: string,
    number = 0,
  ): Promise<BasicOutcome> {
    const auth = this.#auth;
    if (auth === undefined) return { kind: "ok", access: "write" };
    const password = basicPassword(header);
    if (password === undefined) {
      return {
        kind: "ask",
        message: "This server requires a token: give it as the password (any user name)",
      };
    }
    const key = await digest(header!);
    const now = performance.now();
    const known = this.#passed.get(key);
    if (known && now - known.at < REMEMBER_MS) return { kind: "ok", access: known.access };
    if (known) this.#passed.delete(key);
    let access: Access;
    try {
      const check = { auth, guard: this.#guard, log: this.#log, address: host };
      access = await guardedCheck(
        { ...check, maxWaitMs: MAX_TURN_WAIT_MS },
        password,
        () => `HTTP ${number} from ${peer}: failed auth (Basic)`,
      );
    } catch (error) {
      if (!(error instanceof AttemptRefused)) throw error;
      return { kind: "wait", retryAfter: error.retryAfter, message: error.why };
    }
    if (access !== "none") {
      if (this.#passed.size >= REMEMBERED) {
        this.#passed.delete(this.#passed.keys().next().value!);
      }
      this.#passed.set(key, { access, at: now });
      return { kind: "ok", access };
    }
    return { kind: "wrong", message: "The token is not valid" };
  }
}
