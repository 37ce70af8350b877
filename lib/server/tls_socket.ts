/**
 * The server side of TLS over a plain `Deno.TcpConn`, with the `Deno.Conn` surface the
 * connection handler uses.
 *
 * Why not `Deno.listenTls`: a `Deno.TlsConn` closed before its handshake finished keeps its
 * socket (and file descriptor) open until the peer closes, since Deno finishes the handshake
 * before it shuts the socket down; a client that sends nothing would hold a descriptor
 * forever. Here the TLS engine is `node:tls` (a server-side `TLSSocket`) over a stream that
 * reads and writes the TCP connection, which stays ours: closing it frees the descriptor at
 * once, whatever state the handshake is in.
 *
 * @module
 */

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import tls from "node:tls";

/** A checked certificate and key, made once per server: a bad PEM throws here. */
export type TlsContext = tls.SecureContext;

/**
 * Checks a PEM certificate chain and private key (the first certificate must be the key's)
 * and makes the context every connection uses. Throws a `TypeError` saying which is wrong.
 */
export function tlsContext(pem: { cert: string; key: string }): TlsContext {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem.cert);
  } catch (error) {
    throw new TypeError(
      `the TLS certificate is not a PEM certificate that can be read (${detail(error)})`,
      { cause: error },
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem.key);
  } catch (error) {
    throw new TypeError(
      `the TLS key is not a PEM private key that can be read (${detail(error)})`,
      { cause: error },
    );
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new TypeError(
      "the TLS key does not belong to the certificate: give the key the certificate was made with",
    );
  }
  return tls.createSecureContext({ cert: pem.cert, key: pem.key });
}

function detail(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Read sizes on the TCP side: small while idle (each connection holds one), up to a record. */
const READ_FIRST = 2048;
const READ_MAX = 32 * 1024;

/**
 * Decrypted bytes held for a connection that is not reading: past this, the TCP side is not
 * read until it reads again, so a peer that sends without end is held back by TCP itself.
 */
const READ_AHEAD = 64 * 1024;

/**
 * How long a close waits for the TLS goodbye (close_notify) to be written before it closes
 * the socket anyway (ms).
 */
const CLOSE_NOTIFY_MS = 1000;

/** Why a TLS connection ended, as the `Deno.errors` that `isConnectionGone` knows. */
function goneError(error: unknown): Error {
  if (error instanceof Deno.errors.BadResource) return error;
  if (error instanceof Deno.errors.ConnectionReset) return error;
  if (error instanceof Deno.errors.BrokenPipe) return error;
  if (error instanceof Deno.errors.ConnectionAborted) return error;
  if (error instanceof Deno.errors.Interrupted) return error;
  if (error instanceof Deno.errors.NotConnected) return error;
  if (error instanceof Deno.errors.UnexpectedEof) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === "ECONNRESET") return new Deno.errors.ConnectionReset(message, { cause: error });
  if (
    code === "EPIPE" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END"
  ) {
    return new Deno.errors.BrokenPipe(message, { cause: error });
  }
  // A TLS alert or a record that does not decrypt: the connection cannot go on.
  return new Deno.errors.ConnectionAborted(`TLS: ${message}`, { cause: error });
}

/**
 * The TCP connection as the stream the TLS engine reads and writes. A write completes only
 * once the kernel took it, so a peer that stops reading holds the TLS socket's writes too.
 * Before each read, `wanted()` may return a promise to wait for: the TLS engine takes what
 * it is given, so this is where reading stops while the reader is not keeping up.
 */
function tcpStream(
  conn: Deno.TcpConn,
  onClose: () => void,
  wanted: () => Promise<void> | undefined,
): Duplex {
  let buffer = new Uint8Array(READ_FIRST);
  let closed = false;
  const closeConn = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
    onClose();
  };
  const stream = new Duplex({
    read() {
      const fail = (error: unknown) => this.destroy(closed ? undefined : goneError(error));
      const readNow = () =>
        conn.read(buffer).then((n) => {
          if (n === null) {
            this.push(null);
            return;
          }
          const chunk = buffer.slice(0, n);
          if (n === buffer.length && n < READ_MAX) buffer = new Uint8Array(n * 4);
          this.push(chunk);
        }, fail);
      const wait = wanted();
      if (wait) wait.then(readNow, fail);
      else readNow();
    },
    write(chunk: Uint8Array, _encoding, callback) {
      (async () => {
        let bytes = chunk;
        while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
      })().then(() => callback(), (error) => callback(goneError(error)));
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), () => callback());
    },
    destroy(error, callback) {
      closeConn();
      callback(error);
    },
  });
  // Errors reach the TLS socket, which reports them; an unheard one must not be thrown.
  stream.on("error", () => {});
  return stream;
}

/**
 * A TLS connection accepted on a plain TCP listener: `handshake()` runs the server side of
 * the handshake, then it reads and writes like a `Deno.TlsConn`. `read` resolves null at the
 * end of the stream and rejects with the `Deno.errors` of a reset; `write` resolves once the
 * bytes are on their way to the kernel (a peer that does not read holds it); `close()` sends
 * the TLS goodbye when it can and frees the socket within {@link CLOSE_NOTIFY_MS};
 * `destroy()` frees it at once. `closed` resolves when the socket is closed.
 *
 * @example A round trip (the certificate and key come from a file in real use)
 * ```ts ignore
 * import { TlsServerConn, tlsContext } from "./tls_socket.ts";
 * const context = tlsContext({ cert, key });
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = new TlsServerConn(await listener.accept(), context);
 * await conn.handshake(10_000);
 * await conn.write(new TextEncoder().encode("hello\n"));
 * conn.close();
 * ```
 */
export class TlsServerConn implements Deno.TlsConn {
  readonly localAddr: Deno.NetAddr;
  readonly remoteAddr: Deno.NetAddr;
  /** Resolves once the TCP socket is closed (its file descriptor freed). */
  readonly closed: Promise<void>;
  readonly #tcp: Deno.TcpConn;
  readonly #transport: Duplex;
  readonly #socket: tls.TLSSocket;
  #secure = false;
  #ended = false;
  #error: Error | undefined;
  #closing = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** What a read took from the TLS socket and did not fit in its buffer. */
  #pending: Uint8Array | undefined;
  /** Wakes waiting reads (and the handshake) when the socket has news. */
  #waiters: (() => void)[] = [];
  /** Writes waiting for their callback: failed together when the socket goes. */
  readonly #writes = new Set<(error: Error) => void>();
  /** TCP reads waiting until the reader has taken what was decrypted ahead. */
  #readGate: (() => void)[] = [];
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  constructor(tcp: Deno.TcpConn, context: TlsContext) {
    this.#tcp = tcp;
    this.localAddr = tcp.localAddr;
    this.remoteAddr = tcp.remoteAddr;
    let onClose!: () => void;
    this.closed = new Promise((resolve) => onClose = resolve);
    // Closing the TCP side always ends in the TLS socket's `close` (after its `error`, if any),
    // which fails whatever still waits.
    this.#transport = tcpStream(tcp, onClose, () => {
      if (this.#closing || this.#aheadBytes() < READ_AHEAD) return undefined;
      return new Promise((resolve) => this.#readGate.push(resolve));
    });
    this.#socket = new tls.TLSSocket(this.#transport, { isServer: true, secureContext: context });
    this.#socket.on("secure", () => {
      this.#secure = true;
      this.#wake();
    });
    this.#socket.on("readable", () => this.#wake());
    this.#socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    this.#socket.on("error", (error) => this.#gone(goneError(error)));
    this.#socket.on("close", () => {
      this.#gone(new Deno.errors.BadResource("The connection is closed"));
      this.#transport.destroy();
    });
  }

  /**
   * Runs the server side of the handshake. Resolves once it is done; rejects (the socket
   * then destroyed) when it fails, when the peer leaves, or after `timeoutMs` with a
   * `Deno.errors.TimedOut`.
   */
  async handshake(timeoutMs = 10_000): Promise<Deno.TlsHandshakeInfo> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#wake();
    }, timeoutMs);
    try {
      while (!this.#secure) {
        if (timedOut) {
          throw new Deno.errors.TimedOut(`TLS handshake not finished within ${timeoutMs} ms`);
        }
        if (this.#error) throw this.#error;
        if (this.#ended) throw new Deno.errors.UnexpectedEof("closed by the client");
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    } catch (error) {
      this.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return { alpnProtocol: null };
  }

  async read(p: Uint8Array): Promise<number | null> {
    for (;;) {
      if (this.#closing) throw new Deno.errors.BadResource("The connection is closed");
      let chunk = this.#pending;
      this.#pending = undefined;
      if (chunk === undefined && this.#secure) {
        chunk = (this.#socket.read() as Uint8Array | null) ?? undefined;
      }
      if (chunk !== undefined && chunk.length > 0) {
        const n = Math.min(p.length, chunk.length);
        p.set(chunk.subarray(0, n));
        if (n < chunk.length) this.#pending = chunk.subarray(n);
        if (this.#readGate.length > 0 && this.#aheadBytes() < READ_AHEAD) this.#openGate();
        return n;
      }
      if (this.#ended) return null;
      if (this.#error) throw this.#error;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closing) {
      return Promise.reject(new Deno.errors.BadResource("The connection is closed"));
    }
    if (this.#error) return Promise.reject(this.#error);
    if (p.length === 0) return Promise.resolve(0);
    return new Promise((resolve, reject) => {
      const fail = (error: Error) => {
        this.#writes.delete(fail);
        reject(error);
      };
      this.#writes.add(fail);
      this.#socket.write(p, (error?: Error | null) => {
        if (!this.#writes.has(fail)) return;
        this.#writes.delete(fail);
        if (error) reject(goneError(error));
        else resolve(p.length);
      });
    });
  }

  /** Ends the sending side (the TLS goodbye, then a TCP half-close). */
  closeWrite(): Promise<void> {
    if (this.#closing) {
      return Promise.reject(new Deno.errors.BadResource("The connection is closed"));
    }
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  /**
   * Closes the connection: with the TLS goodbye when the handshake is done and nothing is
   * left unwritten, then the socket, within {@link CLOSE_NOTIFY_MS} in any case.
   */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#gone(new Deno.errors.BadResource("The connection is closed"));
    if (!this.#secure || this.#socket.destroyed || this.#socket.writableLength > 0) {
      this.destroy();
      return;
    }
    this.#closeTimer = setTimeout(() => this.destroy(), CLOSE_NOTIFY_MS);
    this.#socket.end(() => this.destroy());
  }

  /** Closes the socket now (its descriptor freed), whatever state the TLS session is in. */
  destroy(): void {
    clearTimeout(this.#closeTimer);
    this.#closing = true;
    this.#gone(new Deno.errors.BadResource("The connection is closed"));
    this.#socket.destroy();
    this.#transport.destroy();
  }

  ref(): void {
    this.#tcp.ref();
  }

  unref(): void {
    this.#tcp.unref();
  }

  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (controller) => {
        const buffer = new Uint8Array(16 * 1024);
        const n = await this.read(buffer).catch(() => null);
        if (n === null) {
          controller.close();
          this.close();
        } else controller.enqueue(buffer.slice(0, n));
      },
      cancel: () => this.close(),
    });
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => {
        let bytes = chunk;
        while (bytes.length > 0) bytes = bytes.subarray(await this.write(bytes));
      },
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
    return this.#writable;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** Decrypted bytes that no read has taken yet. */
  #aheadBytes(): number {
    return this.#socket.readableLength + (this.#pending?.length ?? 0);
  }

  #openGate(): void {
    const gate = this.#readGate;
    this.#readGate = [];
    for (const open of gate) open();
  }

  /** Notes the first error (or the close) and fails whatever waits on the socket. */
  #gone(error: Error): void {
    this.#error ??= error;
    for (const fail of [...this.#writes]) fail(this.#error);
    this.#openGate();
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
