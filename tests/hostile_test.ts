/**
 * Hostile clients against a real server process, while a well-behaved client keeps getting
 * answers within a bounded time.
 */
import assert from "node:assert/strict";
import { RpcConnection, TestServer } from "./helpers.ts";

/** The bound on a well-behaved client's wait: generous, only to catch a stalled server. */
const BOUND_MS = 5000;

/**
 * Pings the server on its own connection until stopped. Each answer must come within
 * BOUND_MS, timed by a timer rather than by reading the clock (which may jump forward in a
 * paused sandbox and turn a quick answer into a "slow" one); a late one fails the test.
 */
function watchdog(server: TestServer) {
  let stop = false;
  let answered = 0;
  const done = (async () => {
    using client = await server.connect();
    for (let id = 1; !stop; id++) {
      await client.send(JSON.stringify({ jsonrpc: "2.0", id, method: "count" }) + "\n");
      const reply = await client.readJson(BOUND_MS); // "No reply within 5000 ms" if stalled
      assert.equal(reply.id, id, JSON.stringify(reply));
      assert.ok(reply.result, JSON.stringify(reply));
      answered++;
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  return {
    async finish() {
      stop = true;
      await done;
      return { answered };
    },
  };
}

Deno.test("a flood of junk lines gets errors and a close; others keep being answered", async () => {
  await using server = await TestServer.start();
  const dog = watchdog(server);
  for (let round = 0; round < 5; round++) {
    using junk = await server.connect();
    junk.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + "%%%garbage%%%\n".repeat(500)).catch(() => {});
    assert.ok(await junk.closedByServer(), "junk connection not closed");
  }
  const { answered } = await dog.finish();
  assert.ok(answered > 0);
});

Deno.test("a line that never ends is dropped at the time cap", async () => {
  await using server = await TestServer.start({ args: ["--idle-timeout", "1"] });
  using loris = await server.connect();
  const dog = watchdog(server);
  await loris.send('{"jsonrpc":"2.0","id":1,"method":"find","params":{"name":"');
  let closed = false;
  for (let i = 0; i < 100 && !closed; i++) {
    try {
      await loris.send("a"); // one byte at a time, never a newline
    } catch {
      closed = true;
      break;
    }
    closed = server.logs.some((l) => /Connection \d+ closed: idle timeout/.test(l));
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(closed, "slow-loris connection was not dropped");
  assert.ok(await loris.closedByServer());
  const { answered } = await dog.finish();
  assert.ok(answered > 0);
});

Deno.test("a connect-and-vanish storm leaves the server serving", async () => {
  // The storm and the watchdog share 127.0.0.1, and the server may hold more than a quarter of
  // its cap of the storm's sockets before it notices they are gone: one address may hold all.
  await using server = await TestServer.start({
    args: ["--log-level", "warn", "--max-per-peer", "1024"],
  });
  const dog = watchdog(server);
  for (let wave = 0; wave < 10; wave++) {
    await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      if (i % 3 === 1) await conn.write(new TextEncoder().encode('{"jsonrpc":"2.0","id":1,'));
      if (i % 3 === 2) {
        await conn.write(new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"list"}\n'));
      }
      conn.close();
    }));
  }
  using client = await server.connect();
  const stats = await client.result("stats");
  assert.ok(stats.connections.total >= 502, JSON.stringify(stats));
  const { answered } = await dog.finish();
  assert.ok(answered > 0);
  // The storm's connections all end: only ours and the watchdog's (closing) remain.
  let open = Infinity;
  for (let i = 0; i < 100 && open > 2; i++) {
    open = (await client.result("stats")).connections.open;
    if (open > 2) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(open <= 2, `${open} connections still open`);
});

Deno.test("1,030 connections: the extra ones get BUSY, and are served once others leave", async () => {
  // All from 127.0.0.1: that one address may hold the whole cap here.
  await using server = await TestServer.start({
    args: ["--log-level", "warn", "--max-per-peer", "1024"],
  });
  const held: RpcConnection[] = [];
  try {
    for (let i = 0; i < 1024; i++) held.push(await server.connect());
    // Make sure the server has accepted all of them before going over the cap.
    await held[1023]!.result("ping");
    const extra: RpcConnection[] = [];
    for (let i = 0; i < 6; i++) extra.push(await server.connect());
    for (const conn of extra) {
      const reply = await conn.readJson();
      assert.equal(reply.error.data.reason, "BUSY");
      assert.equal(reply.error.data.limit, 1024);
      assert.ok(await conn.closedByServer());
      conn.close();
    }
    for (const conn of held.splice(0, 10)) conn.close();
    let served = 0;
    for (let attempt = 0; attempt < 100 && served === 0; attempt++) {
      using again = await server.connect();
      const reply = await again.call("ping").catch(() => ({}));
      if ("result" in reply) served++;
      else await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(served, 1);
  } finally {
    for (const conn of held) conn.close();
  }
});
