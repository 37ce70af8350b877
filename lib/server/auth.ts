/**
 * Protected mode: which addresses need a token, the tokens themselves (generated, stored
 * with mode 0600, compared in constant time) and the access a token grants.
 *
 * @module
 */

/** What a connection may do: nothing yet, read only, or read and write. */
export type Access = "none" | "read" | "write";

/** The name of the token file in the data folder. */
export const TOKEN_FILE = "token";

/** Shortest token accepted from `--token` / `--read-token` (a generated one has 43). */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Whether a bind address is loopback only (127.0.0.0/8, ::1, localhost), so that no other
 * machine can connect and the server needs no token.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./auth.ts";
 * if (!isLoopback("127.0.0.2") || !isLoopback("::1") || isLoopback("0.0.0.0")) throw new Error();
 * ```
 */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (h === "localhost" || /^(?:0{0,4}:){2,7}0{0,3}1$/.test(h)) return true;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return v4 !== null && Number(v4[1]) === 127 && v4.slice(2).every((p) => Number(p) <= 255);
}

/**
 * A new random token: 32 bytes from the system's CSPRNG, base64url (43 characters).
 *
 * @example
 * ```ts
 * import { generateToken } from "./auth.ts";
 * if (!/^[A-Za-z0-9_-]{43}$/.test(generateToken())) throw new Error();
 * ```
 */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * Checks a token given by flag or environment variable; returns it trimmed or throws a
 * `RangeError` naming the option.
 *
 * @example
 * ```ts
 * import { checkToken } from "./auth.ts";
 * let refused = false;
 * try { checkToken("short", "--token"); } catch { refused = true; }
 * if (!refused) throw new Error();
 * ```
 */
export function checkToken(token: string, option: string): string {
  const trimmed = token.trim();
  if (trimmed.length < MIN_TOKEN_LENGTH) {
    throw new RangeError(
      `${option} is shorter than ${MIN_TOKEN_LENGTH} characters; ` +
        "a generated token (leave it unset) is safer",
    );
  }
  if (trimmed.length > 512 || !/^[\x21-\x7e]+$/.test(trimmed)) {
    throw new RangeError(`${option} must be at most 512 printable ASCII characters without spaces`);
  }
  return trimmed;
}

const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/**
 * Compares two tokens in constant time: both are hashed with SHA-256 first, so neither
 * their contents nor their lengths show in how long the comparison takes.
 *
 * @example
 * ```ts
 * import { tokensMatch } from "./auth.ts";
 * if (!(await tokensMatch("a-secret-token-1", "a-secret-token-1"))) throw new Error();
 * if (await tokensMatch("a-secret-token-1", "a-secret-token-2")) throw new Error();
 * ```
 */
export async function tokensMatch(given: string, expected: string): Promise<boolean> {
  const [a, b] = await Promise.all([digest(given), digest(expected)]);
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

/**
 * The tokens a protected server accepts: the read-write one and, optionally, a read-only one.
 *
 * @example
 * ```ts
 * import { Authenticator } from "./auth.ts";
 * const auth = new Authenticator("read-write-token-0123", "read-only-token-0123");
 * if (await auth.check("read-only-token-0123") !== "read") throw new Error();
 * if (await auth.check("nope") !== "none") throw new Error();
 * ```
 */
export class Authenticator {
  readonly #token: string;
  readonly #readToken: string | undefined;

  constructor(token: string, readToken?: string) {
    if (readToken !== undefined && readToken === token) {
      throw new RangeError("The read-only token must differ from the read-write token");
    }
    this.#token = token;
    this.#readToken = readToken;
  }

  /** Whether a read-only token is configured. */
  get hasReadToken(): boolean {
    return this.#readToken !== undefined;
  }

  /** The access `given` grants; both comparisons always run. */
  async check(given: string): Promise<Access> {
    const [write, read] = await Promise.all([
      tokensMatch(given, this.#token),
      tokensMatch(given, this.#readToken ?? this.#token),
    ]);
    if (write) return "write";
    return read && this.#readToken !== undefined ? "read" : "none";
  }
}

/**
 * Reads `<data>/token`, or creates it with a new token (mode 0600, never overwriting one
 * that appears meanwhile). A token file readable by others is narrowed to 0600.
 *
 * @example Generate, then read back
 * ```ts
 * import { loadOrCreateToken } from "./auth.ts";
 * const dir = await Deno.makeTempDir();
 * const first = await loadOrCreateToken(`${dir}/token`);
 * const again = await loadOrCreateToken(`${dir}/token`);
 * if (!first.created || again.created || again.token !== first.token) throw new Error();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadOrCreateToken(
  path: string,
): Promise<{ token: string; created: boolean; narrowed: boolean }> {
  try {
    const token = generateToken();
    await Deno.writeTextFile(path, token + "\n", { mode: 0o600, createNew: true });
    // The umask cannot widen 0600, but a file system may ignore modes; make sure.
    if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
    return { token, created: true, narrowed: false };
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const text = (await Deno.readTextFile(path)).trim();
  if (text === "") {
    throw new RangeError(
      `The token file ${JSON.stringify(path)} is empty; delete it to have a new token made`,
    );
  }
  let narrowed = false;
  const mode = (await Deno.stat(path)).mode;
  if (mode !== null && (mode & 0o077) !== 0 && Deno.build.os !== "windows") {
    await Deno.chmod(path, 0o600);
    narrowed = true;
  }
  return {
    token: checkToken(text, `The token in ${JSON.stringify(path)}`),
    created: false,
    narrowed,
  };
}
