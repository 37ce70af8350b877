/**
 * One token check as every door makes it: the client's address waits its turn with the
 * server's failure guard (`auth_guard.ts`), the token is checked, the outcome recorded, and
 * a failure answered after a pause. The TCP connection and the web page's WebSocket keep
 * their own counts of failures and their own replies; this is what they share.
 *
 * @module
 */

import type { Access, Authenticator } from "./auth.ts";
import { type AuthGuard, TooManyAttempts } from "./auth_guard.ts";
import type { Logger } from "./log.ts";
import { ErrorCode, RpcError } from "../protocol/jsonrpc.ts";

/** Failed `auth` calls after which a connection (or socket) is closed. */
export const MAX_AUTH_FAILURES = 5;

/** Pause before answering a failed `auth` (milliseconds). */
export const AUTH_FAILURE_DELAY_MS = 1000;

/** Refused unchecked: the address would have to wait longer than the caller may. */
export class AttemptRefused extends RpcError {
  /** Seconds until the address's next check could run. */
  readonly retryAfter: number;
  /** Why, in one sentence, without the JSON-RPC message's "Unauthorized: ". */
  readonly why: string;
  constructor(error: TooManyAttempts) {
    super(ErrorCode.UNAUTHORIZED, "UNAUTHORIZED", `Unauthorized: ${error.message}`, {
      retryAfter: error.retryAfter,
    });
    this.retryAfter = error.retryAfter;
    this.why = error.message;
  }
}

/** What {@link guardedCheck} needs. */
export interface TokenCheck {
  auth: Authenticator;
  guard?: AuthGuard;
  log: Logger;
  /** The client's address (no port), as the guard counts it. */
  address: string;
  /** How long the check may wait for the address's turn (milliseconds). */
  maxWaitMs: number;
}

/**
 * Checks `token`: "none" after the failure's pause, or the access it grants. `failed` is
 * called once on a failure, to count it, and returns the failure's log line. Throws
 * {@link AttemptRefused} (checking nothing) when the address's turn is too far off.
 */
export async function guardedCheck(
  check: TokenCheck,
  token: string,
  failed: () => string,
): Promise<Access> {
  const { auth, guard, log, address } = check;
  if (guard) {
    let wait: number;
    try {
      wait = guard.begin(address, check.maxWaitMs);
    } catch (error) {
      if (error instanceof TooManyAttempts) throw new AttemptRefused(error);
      throw error;
    }
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  let access: Access;
  try {
    access = await auth.check(token);
  } catch (error) {
    guard?.end(address, { ok: true }); // not the client's failure
    throw error;
  }
  if (access !== "none") {
    guard?.end(address, { ok: true });
    return access;
  }
  const line = failed();
  if (guard) guard.end(address, { ok: false, line });
  else log.warn(line);
  await new Promise((resolve) => setTimeout(resolve, AUTH_FAILURE_DELAY_MS));
  return "none";
}
