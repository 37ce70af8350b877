import assert from "node:assert/strict";
import { batchLineBytes, ConnectionError, RemoteError, RpcClient } from "./rpc_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A scripted peer on a real loopback socket: for each connection it reads request lines and
 * hands them to `script`, which writes whatever it likes back.
 */
async function withPeer(
  script: (conn: Deno.Conn, lines: AsyncGenerator<Record<string, unknown>>) => Promise<void>,
  test: (port: number) => Promise<void>,
): Promise<void> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const served: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      served.push(script(conn, requests(conn)).catch(() => {}));
    }
  })();
  try {
    await test(listener.addr.port);
  } finally {
    listener.close();
    await accepting;
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // closed by the script
      }
    }
    await Promise.all(served);
  }
}

async function* requests(conn: Deno.Conn): AsyncGenerator<Record<string, unknown>> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      return;
    }
    if (n === null) return;
    text += decoder.decode(buffer.subarray(0, n));
    let index;
    while ((index = text.indexOf("\n")) >= 0) {
      yield JSON.parse(text.slice(0, index));
      text = text.slice(index + 1);
    }
  }
}

async function send(conn: Deno.Conn, value: unknown): Promise<void> {
  await conn.write(encoder.encode(JSON.stringify(value) + "\n"));
}

const HELLO = { server: "addressbook", version: "test", protocol: 1, connection: 1, auth: false };

/** Answers hello, then hands the rest of the requests to `then`. */
function greeting(
  then: (conn: Deno.Conn, lines: AsyncGenerator<Record<string, unknown>>) => Promise<void>,
) {
  return async (conn: Deno.Conn, lines: AsyncGenerator<Record<string, unknown>>) => {
    const first = await lines.next();
    if (first.done) return;
    await send(conn, { jsonrpc: "2.0", id: first.value.id, result: HELLO });
    await then(conn, lines);
  };
}

Deno.test("RpcClient.connect() reports a refused connection with the address", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const error = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 }).then(
    () => null,
    (e) => e,
  );
  assert.ok(error instanceof ConnectionError);
  assert.equal(error.problem, "refused");
  assert.equal(error.message, `Cannot reach the server at "127.0.0.1:${port}": connection refused`);
});

Deno.test("RpcClient matches replies to requests by id, even out of order", async () => {
  await withPeer(
    greeting(async (conn, lines) => {
      const a = (await lines.next()).value!;
      const b = (await lines.next()).value!;
      // Answer the second request first, in one write.
      await conn.write(encoder.encode(
        JSON.stringify({ jsonrpc: "2.0", id: b.id, result: { echo: b.method } }) + "\n" +
          JSON.stringify({ jsonrpc: "2.0", id: a.id, result: { echo: a.method } }) + "\n",
      ));
      for await (const _ of lines) { /* until the client leaves */ }
    }),
    async (port) => {
      await using client = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 });
      assert.equal(client.hello.server, "addressbook");
      const [a, b] = await Promise.all([client.call("count"), client.call("stats")]);
      assert.deepEqual(a, { echo: "count" });
      assert.deepEqual(b, { echo: "stats" });
    },
  );
});

Deno.test("RpcClient.call() turns an error reply into a RemoteError with its data", async () => {
  await withPeer(
    greeting(async (conn, lines) => {
      for await (const request of lines) {
        await send(conn, {
          jsonrpc: "2.0",
          id: request.id,
          error: {
            code: -32002,
            message: "Changed",
            data: { reason: "CONFLICT", current: { name: "X" } },
          },
        });
      }
    }),
    async (port) => {
      await using client = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 });
      const error = await client.call("update").then(() => null, (e) => e);
      assert.ok(error instanceof RemoteError);
      assert.equal(error.reason, "CONFLICT");
      assert.deepEqual(error.data.current, { name: "X" });
      assert.equal(client.closed, false, "an error reply leaves the connection usable");
    },
  );
});

Deno.test("RpcClient.call() times out when no reply comes, and the client closes", async () => {
  await withPeer(
    greeting(async (_conn, lines) => {
      for await (const _ of lines) { /* never answer */ }
    }),
    async (port) => {
      await using client = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 200 });
      const error = await client.call("count").then(() => null, (e) => e);
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.problem, "timeout");
      assert.match(
        error.message,
        /^Lost the connection to the server at ".*": no reply to "count"/,
      );
      assert.equal(client.closed, true);
      const later = await client.call("count").then(() => null, (e) => e);
      assert.ok(later instanceof ConnectionError);
    },
  );
});

Deno.test("RpcClient.connect() times out on a peer that never greets", async () => {
  await withPeer(
    async (_conn, lines) => {
      for await (const _ of lines) { /* silent */ }
    },
    async (port) => {
      const error = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 200 }).then(
        () => null,
        (e) => e,
      );
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.problem, "timeout");
      assert.equal(
        error.message,
        `Cannot reach the server at "127.0.0.1:${port}": no reply to "hello" within 0.2 s`,
      );
    },
  );
});

Deno.test("RpcClient reports a server that closes the connection mid-session", async () => {
  await withPeer(
    greeting(async (conn, lines) => {
      await lines.next();
      conn.close();
    }),
    async (port) => {
      await using client = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 });
      const error = await client.call("count").then(() => null, (e) => e);
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.problem, "closed");
      assert.match(error.message, /Lost the connection .*: the server closed the connection$/);
    },
  );
});

Deno.test("RpcClient.connect() says a peer does not speak the protocol", async () => {
  await withPeer(
    async (conn, lines) => {
      await lines.next();
      await conn.write(encoder.encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
      conn.close();
    },
    async (port) => {
      const error = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 }).then(
        () => null,
        (e) => e,
      );
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.problem, "protocol");
      assert.match(
        error.message,
        /^Cannot talk to the server at .*: it does not speak the addressbook protocol/,
      );
      assert.match(error.message, /HTTP\/1\.1 400/);
    },
  );
});

Deno.test("RpcClient.connect() refuses a server of another protocol version", async () => {
  await withPeer(
    async (conn, lines) => {
      const first = (await lines.next()).value!;
      await send(conn, { jsonrpc: "2.0", id: first.id, result: { ...HELLO, protocol: 2 } });
      for await (const _ of lines) { /* until the client leaves */ }
    },
    async (port) => {
      const error = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 }).then(
        () => null,
        (e) => e,
      );
      assert.ok(error instanceof ConnectionError);
      assert.equal(error.problem, "protocol");
      assert.match(error.message, /speaks protocol 2 and this client speaks 1/);
    },
  );
});

Deno.test("RpcClient.connect() passes on a BUSY refusal sent with id null", async () => {
  await withPeer(
    async (conn) => {
      await send(conn, {
        jsonrpc: "2.0",
        id: null,
        error: { code: -32005, message: "Server is at its limit", data: { reason: "BUSY" } },
      });
      conn.close();
    },
    async (port) => {
      const error = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 }).then(
        () => null,
        (e) => e,
      );
      assert.ok(error instanceof RemoteError, String(error));
      assert.equal(error.reason, "BUSY");
    },
  );
});

/** A peer in protected mode: hello says auth, and `auth` accepts only the given tokens. */
function protectedPeer(seen: string[], tokens: Record<string, string>) {
  return async (conn: Deno.Conn, lines: AsyncGenerator<Record<string, unknown>>) => {
    for await (const request of lines) {
      seen.push(String(request.method));
      const id = request.id;
      if (request.method === "hello") {
        await send(conn, { jsonrpc: "2.0", id, result: { ...HELLO, auth: true } });
      } else if (request.method === "auth") {
        const access = tokens[(request.params as { token: string }).token];
        await send(
          conn,
          access ? { jsonrpc: "2.0", id, result: { access } } : {
            jsonrpc: "2.0",
            id,
            error: {
              code: -32006,
              message: "Unauthorized: the token is not valid",
              data: { reason: "UNAUTHORIZED" },
            },
          },
        );
      } else {
        await send(conn, { jsonrpc: "2.0", id, result: { count: 0 } });
      }
    }
  };
}

Deno.test("RpcClient.connect() sends auth {token} when hello asks, and keeps the access", async () => {
  const seen: string[] = [];
  await withPeer(protectedPeer(seen, { "ro-token": "read-only" }), async (port) => {
    await using client = await RpcClient.connect({
      host: "127.0.0.1",
      port,
      timeoutMs: 5000,
      token: "ro-token",
    });
    assert.equal(client.access, "read-only");
    assert.deepEqual(await client.call("count"), { count: 0 });
  });
  assert.deepEqual(seen, ["hello", "auth", "count"]);
});

Deno.test("RpcClient.connect() without a token, or with a wrong one, says what to set", async () => {
  const seen: string[] = [];
  await withPeer(protectedPeer(seen, { "rw-token": "read-write" }), async (port) => {
    const where = `The server at "127.0.0.1:${port}"`;
    const missing = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 })
      .then(() => null, (e) => e);
    assert.ok(missing instanceof RemoteError, String(missing));
    assert.equal(missing.reason, "UNAUTHORIZED");
    assert.equal(
      missing.message,
      `${where} requires a token; set ADDRESSBOOK_TOKEN or pass --token, with the token from ` +
        "the server's data folder or from its admin",
    );
    const wrong = await RpcClient.connect({
      host: "127.0.0.1",
      port,
      timeoutMs: 5000,
      token: "nope",
    }).then(() => null, (e) => e);
    assert.ok(wrong instanceof RemoteError, String(wrong));
    assert.equal(wrong.reason, "UNAUTHORIZED");
    assert.match(wrong.message, /did not accept the token; check ADDRESSBOOK_TOKEN or --token/);
  });
  assert.deepEqual(seen, ["hello", "hello", "auth"], "no token: no auth request");
});

Deno.test("RpcClient.connect() hints at --tls when a server closes before answering", async () => {
  await withPeer(
    async (conn, lines) => {
      await lines.next();
      conn.close(); // what a TLS server does with a plain hello
    },
    async (port) => {
      const error = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 })
        .then(() => null, (e) => e);
      assert.ok(error instanceof ConnectionError, String(error));
      assert.equal(error.problem, "closed");
      assert.match(error.message, /closed the connection before answering; if it serves TLS/);
    },
  );
});

Deno.test("RpcClient.batch() sends one line and gives each outcome in order", async () => {
  let seen: unknown;
  await withPeer(
    greeting(async (conn, lines) => {
      for await (const line of lines) {
        seen = line;
        const [a, b, c] = line as unknown as Array<{ id: number; method: string }>;
        // One array back, in another order: replies match by id.
        await send(conn, [
          { jsonrpc: "2.0", id: c!.id, result: { echo: c!.method } },
          { jsonrpc: "2.0", id: a!.id, result: { echo: a!.method } },
          {
            jsonrpc: "2.0",
            id: b!.id,
            error: { code: -32001, message: "No contact", data: { reason: "NOT_FOUND" } },
          },
        ]);
      }
    }),
    async (port) => {
      await using client = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 });
      const calls = [
        { method: "count" },
        { method: "get", params: { id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" } },
        { method: "add", params: { contact: { name: "Zoë" } } },
      ];
      const outcomes = await client.batch(calls);
      assert.ok(Array.isArray(seen) && seen.length === 3);
      const line = JSON.stringify(seen) + "\n";
      assert.ok(new TextEncoder().encode(line).length <= batchLineBytes(calls));
      assert.deepEqual(outcomes[0], { ok: true, result: { echo: "count" } });
      const second = outcomes[1]!;
      assert.ok(!second.ok && second.error instanceof RemoteError);
      assert.equal(second.error.reason, "NOT_FOUND");
      assert.deepEqual(outcomes[2], { ok: true, result: { echo: "add" } });
      assert.deepEqual(await client.batch([]), []);
      assert.equal(client.closed, false);
    },
  );
});

Deno.test("RpcClient hands notifications to onNotification, between replies, in order", async () => {
  await withPeer(
    greeting(async (conn, lines) => {
      const watch = (await lines.next()).value!;
      // A reply, and notifications before and after it, in one write.
      await conn.write(encoder.encode(
        JSON.stringify({ jsonrpc: "2.0", method: "changed", params: { seq: 1 } }) + "\n" +
          JSON.stringify({ jsonrpc: "2.0", id: watch.id, result: { seq: 0 } }) + "\n" +
          JSON.stringify({ jsonrpc: "2.0", method: "changed", params: { seq: 2 } }) + "\n" +
          JSON.stringify({ jsonrpc: "2.0", method: "watch_dropped", params: { seq: 2 } }) + "\n",
      ));
      const count = (await lines.next()).value!;
      await send(conn, { jsonrpc: "2.0", id: count.id, result: { count: 0 } });
      conn.close();
    }),
    async (port) => {
      await using client = await RpcClient.connect({ host: "127.0.0.1", port, timeoutMs: 5000 });
      const seen: string[] = [];
      client.onNotification = ({ method, params }) => seen.push(`${method} ${params.seq}`);
      assert.deepEqual(await client.call("watch"), { seq: 0 });
      assert.deepEqual(await client.call("count"), { count: 0 });
      assert.deepEqual(seen, ["changed 1", "changed 2", "watch_dropped 2"]);
      const lost = await client.lost;
      assert.equal(lost.problem, "closed");
      assert.ok(client.closed);
    },
  );
});
