/**
 * Protected mode under an attacker without the token: connections that never authenticate,
 * a batch of guesses on one line, and many connections guessing at once from one address.
 */
import assert from "node:assert/strict";
import { RpcConnection, TestServer } from "./helpers.ts";

const TOKEN = "read-write-token-for-tests-0123";

function protectedServer(args: string[] = []): Promise<TestServer> {
  return TestServer.start({
    args: ["--require-auth", "--log-level", "info", ...args],
    env: { ADDRESSBOOK_TOKEN: TOKEN },
  });
}

const auth = (id: number, token: string) => ({
  jsonrpc: "2.0",
  id,
  method: "auth",
  params: { token },
});

Deno.test("protected mode: a connection not authenticated in time is closed, though it keeps saying hello", async () => {
  await using server = await protectedServer(["--auth-timeout", "1"]);
  using idler = await server.connect();
  using member = await server.connect();
  assert.equal((await member.result("auth", { token: TOKEN })).access, "read-write");
  // hello is allowed before auth and counts as activity, but not as authentication.
  let closing: { error: { message: string; data: { reason: string; limit: number } } } | undefined;
  for (let i = 0; i < 20 && closing === undefined; i++) {
    await idler.send(JSON.stringify({ jsonrpc: "2.0", id: i, method: "hello" }) + "\n");
    const reply = await idler.readJson(3000);
    if (reply.id === null) closing = reply;
    else await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.ok(closing, "still open after 20 hellos over 4 s");
  assert.equal(closing.error.data.reason, "UNAUTHORIZED");
  assert.equal(closing.error.data.limit, 1);
  assert.match(closing.error.message, /not authenticated within 1 s of connecting/);
  assert.ok(await idler.closedByServer(3000));
  // The authenticated connection stays.
  assert.equal((await member.result("count")).count, 0);
});

Deno.test("protected mode: a batch of 20 guesses tries 5; the rest are not tried", async () => {
  await using server = await protectedServer();
  using guesser = await server.connect();
  const batch = Array.from({ length: 20 }, (_, id) => auth(id, `wrong-token-number-${id}`));
  await guesser.send(JSON.stringify(batch) + "\n");
  const replies = await guesser.readJson(30_000);
  assert.equal(replies.length, 20);
  const tried = replies.filter((r: { error: { message: string } }) =>
    /the token is not valid/.test(r.error.message)
  );
  const untried = replies.filter((r: { error: { message: string } }) =>
    /not tried/.test(r.error.message)
  );
  assert.equal(tried.length, 5, JSON.stringify(replies.map((r: { error: unknown }) => r.error)));
  assert.equal(untried.length, 15);
  assert.ok(await guesser.closedByServer());
});

Deno.test("protected mode: 40 connections guessing at once from one address get a few checks, and a few log lines", async () => {
  await using server = await protectedServer(["--auth-timeout", "3"]);
  const conns: RpcConnection[] = [];
  try {
    for (let i = 0; i < 40; i++) conns.push(await server.connect());
    const started = performance.now();
    const replies = await Promise.all(conns.map(async (conn, i) => {
      await conn.send(JSON.stringify(auth(1, `wrong-token-number-${i}`)) + "\n");
      return (await conn.readJson(15_000)) as {
        error: { message: string; data: Record<string, unknown> };
      };
    }));
    const seconds = (performance.now() - started) / 1000;
    const checked = replies.filter((r) => /the token is not valid/.test(r.error.message));
    const refused = replies.filter((r) => /Too many failed auth attempts/.test(r.error.message));
    // A connection still waiting for its turn at its deadline is closed by the deadline.
    const late = replies.filter((r) => /not authenticated within 3 s/.test(r.error.message));
    assert.equal(
      checked.length + refused.length + late.length,
      40,
      JSON.stringify(replies.map((r) => r.error.message)),
    );
    // About one check a second for this address (4 may run before its first failure is
    // known), whatever the number of connections; the others are answered unchecked.
    assert.ok(
      checked.length <= 4 + Math.ceil(seconds) + 1,
      `${checked.length} guesses checked in ${seconds.toFixed(1)} s`,
    );
    assert.ok(refused.length >= 25, `${refused.length} refused unchecked`);
    assert.equal(typeof refused[0]!.error.data.retryAfter, "number");
    const lines = server.logs.filter((line) => / warn .*failed auth attempt/i.test(line));
    assert.ok(lines.length <= 2, `${lines.length} log lines:\n${lines.join("\n")}`);
    // The token still works from that address, after its turn.
    using member = await server.connect();
    const reply = await member.call("auth", { token: TOKEN });
    assert.ok(reply.result?.access === "read-write" || /Too many/.test(reply.error?.message));
    console.log(
      `40 guesses at once: ${checked.length} checked, ${refused.length} refused unchecked, ` +
        `in ${seconds.toFixed(1)} s; ${lines.length} log lines`,
    );
  } finally {
    for (const conn of conns) conn.close();
  }
});
