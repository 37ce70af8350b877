/**
 * Helpers for the web page's tests: a JSON-RPC client over the page's WebSocket (Deno's own
 * WebSocket client), reading one message per frame.
 *
 * @module
 */

/** A JSON-RPC client over `/rpc`: calls answered by id, notifications kept in order. */
export class WsRpc {
  readonly socket: WebSocket;
  readonly #messages: unknown[] = [];
  readonly #waiters: Array<() => void> = [];
  #closed: Promise<CloseEvent>;
  #nextId = 1;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    this.#closed = new Promise((resolve) => socket.addEventListener("close", resolve));
    socket.addEventListener("message", (event) => {
      this.#messages.push(JSON.parse(String(event.data)));
      this.#waiters.splice(0).forEach((wake) => wake());
    });
    socket.addEventListener("close", () => this.#waiters.splice(0).forEach((wake) => wake()));
  }

  /** Opens `ws://…/rpc` (with `Origin`, as a browser would, when given). */
  static async open(url: string, origin?: string): Promise<WsRpc> {
    const socket = new WebSocket(
      url.replace(/^http/, "ws") + "/rpc",
      origin ? { headers: { origin } } as unknown as string[] : undefined,
    );
    const client = new WsRpc(socket);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", (e) => reject(new Error(`WebSocket failed: ${e}`)), {
        once: true,
      });
    });
    return client;
  }

  /** The next message (a reply or a notification), or null when the socket closed. */
  async next(): Promise<Record<string, unknown> | null> {
    // Bounded: each round either takes a message or waits for one (or the close).
    while (this.#messages.length === 0) {
      if (this.socket.readyState === WebSocket.CLOSED) return null;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.#messages.shift() as Record<string, unknown>;
  }

  /** Sends a request and returns its whole reply (notifications before it are kept). */
  async call(method: string, params: Record<string, unknown> = {}): Promise<
    { result?: unknown; error?: { code: number; message: string; data: Record<string, unknown> } }
  > {
    const id = this.#nextId++;
    this.socket.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    const kept: unknown[] = [];
    try {
      for (let i = 0; i < 10_000; i++) {
        const message = await this.next();
        if (message === null) throw new Error(`The socket closed before the reply to ${method}`);
        if (message.id === id) return message as never;
        kept.push(message);
      }
      throw new Error("No reply after 10,000 messages");
    } finally {
      this.#messages.unshift(...kept);
    }
  }

  /** The result of a call, or throws its error's message. */
  async result<T = Record<string, unknown>>(
    method: string,
    params: Record<string, unknown> = {},
  ): Promise<T> {
    const reply = await this.call(method, params);
    if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
    return reply.result as T;
  }

  /** Resolves when the socket has closed, with its close event. */
  closed(): Promise<CloseEvent> {
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.#closed;
  }
}
