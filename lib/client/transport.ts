/**
 * The client's road to the server: plain TCP or TLS (`--tls`, `--ca` for a self-signed
 * certificate), with a time limit, and one clear sentence for each way it can fail
 * (refused, no answer, certificate not trusted, ...). Also the transport options the client
 * takes (`--token`, `--tls`, `--ca`, each with its environment variable).
 *
 * @module
 */

import { formatAddress } from "../protocol/address.ts";
import { isPermissionError, permissionMessage } from "../sandbox/permissions.ts";

/** Where and how to connect. */
export interface TransportOptions {
  host: string;
  port: number;
  /** Speak TLS (the server has `--cert`/`--key`, or cert.pem and key.pem in its data folder). */
  tls?: boolean;
  /**
   * The certificate to trust (TLS implied): a PEM file's path, or the PEM text itself
   * (for a compiled client that may read no files: `ADDRESSBOOK_CA="$(cat cert.pem)"`).
   */
  caFile?: string;
  /** Give up connecting (and the TLS handshake) after this long; default 10 000 ms. */
  timeoutMs?: number;
}

/** Why a connection failed; programs branch on it, people read the message. */
export type TransportFailure =
  | "refused"
  | "timeout"
  | "unknown-host"
  | "untrusted"
  | "tls"
  | "not-allowed"
  | "ca-file"
  | "other";

/**
 * A connection that could not be made. `detail` is the reason and what to do, without the
 * address; the message puts the address in front (`Cannot connect to HOST:PORT[ over TLS]:
 * detail`), or is the detail alone for a CA file that cannot be read. The RPC client words
 * its own sentence from `detail`, so the reasons are worded here only.
 *
 * @example
 * ```ts
 * import { TransportError } from "./transport.ts";
 * const error = new TransportError("refused", "connection refused", { host: "::1", port: 1 });
 * if (error.message !== "Cannot connect to [::1]:1: connection refused") throw new Error();
 * if (error.detail !== "connection refused") throw new Error();
 * ```
 */
export class TransportError extends Error {
  readonly reason: TransportFailure;
  readonly detail: string;

  constructor(
    reason: TransportFailure,
    detail: string,
    where?: { host: string; port: number; tls?: boolean },
    options?: ErrorOptions,
  ) {
    super(
      where
        ? `Cannot connect to ${formatAddress(where.host, where.port)}${
          where.tls ? " over TLS" : ""
        }: ${detail}`
        : detail,
      options,
    );
    this.name = "TransportError";
    this.reason = reason;
    this.detail = detail;
  }
}

/** Default time limit for connecting, in milliseconds. */
export const CONNECT_TIMEOUT_MS = 10_000;

const PEM = "-----BEGIN CERTIFICATE-----";

/**
 * Loads the certificate to trust: `ca` is a path to a PEM file or the PEM text itself.
 * Throws a {@link TransportError} (`ca-file` or `not-allowed`) with one sentence.
 *
 * @example PEM text needs no file access
 * ```ts
 * import { loadCa } from "./transport.ts";
 * const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
 * if ((await loadCa(pem)) !== pem) throw new Error();
 * ```
 */
export async function loadCa(ca: string): Promise<string> {
  if (ca.trimStart().startsWith(PEM)) return ca;
  let text: string;
  try {
    text = await Deno.readTextFile(ca);
  } catch (error) {
    if (isPermissionError(error)) {
      throw new TransportError(
        "not-allowed",
        permissionMessage(
          error,
          "deno task client grants read access to the file named by ADDRESSBOOK_CA only, " +
            'and a compiled client reads none: pass the text, ADDRESSBOOK_CA="$(cat file)"',
        ),
        undefined,
        { cause: error },
      );
    }
    const detail = error instanceof Deno.errors.NotFound
      ? "the file does not exist"
      : error instanceof Error
      ? error.message
      : String(error);
    throw new TransportError(
      "ca-file",
      `Cannot read the CA file ${JSON.stringify(ca)}: ${detail}`,
      undefined,
      { cause: error },
    );
  }
  if (!text.includes(PEM)) {
    throw new TransportError(
      "ca-file",
      `The CA file ${JSON.stringify(ca)} holds no PEM certificate ("${PEM}")`,
    );
  }
  return text;
}

/** Maps what `Deno.connect`/`connectTls`/`handshake` threw to a one-sentence error. */
export function describeConnectError(
  error: unknown,
  options: Pick<TransportOptions, "host" | "port" | "tls">,
): TransportError {
  const message = error instanceof Error ? error.message : String(error);
  const where = { host: options.host, port: options.port, tls: options.tls };
  const cause = { cause: error };
  if (error instanceof TransportError) return error;
  if (isPermissionError(error)) {
    return new TransportError("not-allowed", permissionMessage(error), undefined, cause);
  }
  if (error instanceof Deno.errors.ConnectionRefused) {
    return new TransportError(
      "refused",
      "connection refused; is the server running on that port, and is the port open in its " +
        "firewall?",
      { ...where, tls: false },
      cause,
    );
  }
  if (/lookup address|Name or service not known|nodename nor servname/i.test(message)) {
    return new TransportError(
      "unknown-host",
      `the host name ${JSON.stringify(options.host)} is not known; check the spelling or use ` +
        "the server's IP address",
      { ...where, tls: false },
      cause,
    );
  }
  if (/UnknownIssuer|BadSignature|Expired|NotValidYet|invalid peer certificate/i.test(message)) {
    let why = "the server's certificate is not trusted; pass that certificate with --ca " +
      "(or ADDRESSBOOK_CA)";
    // rustls names these errors in two ways: the variant (`NotValidForName`) in older
    // releases, a sentence (`certificate not valid for name "x"; ...`) in Deno 2.9.
    if (/CaUsedAsEndEntity/.test(message)) {
      why = "the server's certificate is marked as a CA (CA:TRUE), which TLS refuses for a " +
        "server; remake it with basicConstraints=critical,CA:FALSE (see README)";
    } else if (/NotValidForName|not valid for name/i.test(message)) {
      const names = certificateNames(message);
      why = `the server's certificate does not name ${JSON.stringify(options.host)}` +
        (names.length > 0 ? ` (it names ${names.map((n) => JSON.stringify(n)).join(", ")})` : "") +
        "; connect with a name or address it lists, or remake it with that subjectAltName " +
        "(see README)";
    } else if (/Expired/i.test(message)) {
      why = "the server's certificate has expired; make a new one (see README)";
    } else if (/NotValidYet|not valid yet/i.test(message)) {
      why = "the server's certificate is not valid yet; check the clock of both machines";
    }
    return new TransportError("untrusted", why, where, cause);
  }
  if (
    options.tls &&
    (error instanceof Deno.errors.UnexpectedEof ||
      /InvalidContentType|corrupt message|unexpected end/i.test(message))
  ) {
    return new TransportError(
      "tls",
      "the server does not speak TLS on that port; drop --tls, or give the server cert.pem " +
        "and key.pem",
      where,
      cause,
    );
  }
  return new TransportError("other", message, where, cause);
}

/** The names in rustls's `certificate is only valid for DnsName("a") or IpAddress(1.2.3.4)`. */
function certificateNames(message: string): string[] {
  const listed = /only valid for (.*)$/.exec(message)?.[1] ?? "";
  return [...listed.matchAll(/(?:DnsName|IpAddress)\("?([^")]*)"?\)/g)].map((m) => m[1]!);
}

/**
 * Opens a connection (TLS when `tls` or `caFile` is set) and, for TLS, completes the
 * handshake, so that an untrusted certificate fails here with a clear message rather than
 * on the first read. Throws {@link TransportError}.
 *
 * @example Connection refused is one sentence
 * ```ts
 * import { connect, TransportError } from "./transport.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close(); // nothing listens there now
 * try {
 *   (await connect({ host: "127.0.0.1", port })).close();
 * } catch (error) {
 *   if (!(error instanceof TransportError) || error.reason !== "refused") throw error;
 * }
 * ```
 */
export async function connect(options: TransportOptions): Promise<Deno.Conn> {
  const tls = options.tls === true || options.caFile !== undefined;
  const caCerts = options.caFile === undefined ? undefined : [await loadCa(options.caFile)];
  const timeoutMs = options.timeoutMs ?? CONNECT_TIMEOUT_MS;
  const context = { host: options.host, port: options.port, tls };
  let conn: Deno.Conn | undefined;
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      try {
        conn?.close(); // ends a pending handshake
      } catch {
        // already closed
      }
      reject(
        new TransportError(
          "timeout",
          `no answer within ${timeoutMs / 1000} s; check the address, and that the firewall ` +
            `lets port ${options.port} through`,
          context,
        ),
      );
    }, timeoutMs);
  });
  const attempt = (async () => {
    const address = { hostname: options.host, port: options.port };
    if (!tls) {
      conn = await Deno.connect(address);
    } else {
      const tlsConn = await Deno.connectTls({ ...address, ...(caCerts ? { caCerts } : {}) });
      conn = tlsConn;
      await tlsConn.handshake();
    }
    if (timedOut) conn.close();
    return conn;
  })();
  try {
    return await Promise.race([attempt, timeout]);
  } catch (error) {
    try {
      if (!timedOut) conn?.close();
    } catch {
      // already closed
    }
    if (timedOut) {
      // The attempt may still settle; never leave its rejection unhandled.
      attempt.then((c) => c.close(), () => {});
    }
    throw describeConnectError(error, context);
  } finally {
    clearTimeout(timer);
  }
}

/** One client option with its flag, environment variable and default (as `--help` lists). */
export interface ClientOption {
  flag: string;
  env: string;
  default: string;
  help: string;
  boolean?: true;
}

/**
 * The transport and auth options of the client: merge them into its option table so that
 * `--help` lists them, and into the `--allow-env` list of the client task and binary.
 */
export const CLIENT_TRANSPORT_OPTIONS: readonly ClientOption[] = [
  {
    flag: "token",
    env: "ADDRESSBOOK_TOKEN",
    default: "none",
    help: "token for a server off loopback (sent with auth); prefer the variable",
  },
  {
    flag: "tls",
    env: "ADDRESSBOOK_TLS",
    default: "off",
    help: "connect with TLS (the server has a certificate)",
    boolean: true,
  },
  {
    flag: "ca",
    env: "ADDRESSBOOK_CA",
    default: "system roots",
    help: "certificate to trust (PEM file, or its text); implies --tls",
  },
];

/** The client's transport settings after flags, environment and defaults are merged. */
export interface ClientTransportConfig {
  token?: string;
  tls: boolean;
  caFile?: string;
}

/**
 * Reads `--token`, `--tls` and `--ca` from parsed flag values (as `node:util` parseArgs
 * returns them), falling back to the environment. Throws `RangeError` for a bad switch value.
 *
 * @example Flags beat the environment; --ca implies TLS
 * ```ts
 * import { clientTransportConfig } from "./transport.ts";
 * const env = (name: string) => name === "ADDRESSBOOK_TOKEN" ? "from-env-token-123" : undefined;
 * const config = clientTransportConfig({ ca: "server.pem" }, env);
 * if (!config.tls || config.caFile !== "server.pem") throw new Error();
 * if (config.token !== "from-env-token-123") throw new Error();
 * ```
 */
export function clientTransportConfig(
  values: Record<string, unknown>,
  env: (name: string) => string | undefined,
): ClientTransportConfig {
  const token = typeof values.token === "string" ? values.token : env("ADDRESSBOOK_TOKEN");
  const ca = typeof values.ca === "string" ? values.ca : env("ADDRESSBOOK_CA");
  let tls = values.tls === true;
  if (!tls) {
    const text = (env("ADDRESSBOOK_TLS") ?? "").trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(text)) tls = true;
    else if (!["", "0", "false", "no", "off"].includes(text)) {
      throw new RangeError(
        `ADDRESSBOOK_TLS ${JSON.stringify(text)} is not one of 1, true, 0, false`,
      );
    }
  }
  const config: ClientTransportConfig = { tls: tls || (ca !== undefined && ca !== "") };
  if (token !== undefined && token.trim() !== "") config.token = token.trim();
  if (ca !== undefined && ca !== "") config.caFile = ca;
  return config;
}
