/**
 * Who gets a connection slot, against a real server process: a TLS socket that never
 * finishes its handshake is closed (its file descriptor freed) and counted against the cap
 * meanwhile; one address may hold only its share of the cap; connections waiting to
 * authenticate may hold only half of it.
 */
import assert from "node:assert/strict";
import { connect } from "../lib/client/transport.ts";
import { makeCertificate, RpcConnection, tempDir, TestServer } from "./helpers.ts";

const WRITE_TOKEN = "read-write-token-for-tests-0123";

/** The server's open file descriptors (`ls`, since reading /proc/PID/fd needs --allow-all). */
async function openFds(pid: number): Promise<number> {
  const output = await new Deno.Command("ls", { args: [`/proc/${pid}/fd`], stderr: "null" })
    .output();
  return new TextDecoder().decode(output.stdout).split("\n").filter(Boolean).length;
}

/** Waits (bounded) until `ok()` holds; true if it did. */
async function eventually(ok: () => Promise<boolean>, tries: number, everyMs = 200) {
  for (let i = 0; i < tries; i++) {
    if (await ok()) return true;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return false;
}

/** The first line a connection gets after sending `hello`: its reply, or a refusal. */
// deno-lint-ignore no-explicit-any
async function firstAnswer(client: RpcConnection): Promise<any> {
  await client.send('{"jsonrpc":"2.0","id":1,"method":"hello"}\n');
  return await client.readJson(5000);
}

Deno.test("TLS: sockets that never finish the handshake are closed and count against the cap", async () => {
  await using data = await tempDir();
  await makeCertificate(data.path);
  await using server = await TestServer.start({
    dataDir: data.path,
    args: ["--max-connections", "20", "--max-per-peer", "20"],
  });
  const pid = server.process.pid;
  const baseline = await openFds(pid);
  const raw: Deno.Conn[] = [];
  try {
    // 30 TCP connections: half send nothing, half the first 6 bytes of a ClientHello.
    for (let i = 0; i < 30; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      raw.push(conn);
      if (i % 2) await conn.write(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01]));
    }
    const caFile = `${data.path}/cert.pem`;
    // The 20 in their handshake fill the cap: a real TLS client is told BUSY, over TLS.
    {
      using refused = RpcConnection.wrap(
        await connect({ host: "127.0.0.1", port: server.port, caFile }),
      );
      const busy = await firstAnswer(refused);
      assert.equal(busy.id, null);
      assert.equal(busy.error?.data?.reason, "BUSY", JSON.stringify(busy));
      assert.equal(busy.error.data.limit, 20);
    }
    const held = await openFds(pid);
    assert.ok(held >= baseline + 20, `${held} descriptors with 20 handshakes open (${baseline})`);
    // The handshake timeout (10 s) closes them all; the 10 refused were closed within 1 s.
    const freed = await eventually(async () => await openFds(pid) <= baseline + 2, 75);
    const after = await openFds(pid);
    assert.ok(freed, `${after} descriptors after the handshake timeout (baseline ${baseline})`);
    const failures = server.logs.filter((line) =>
      /TLS handshake failed: not finished within 10 s; closed/.test(line)
    );
    assert.equal(failures.length, 20, failures.join("\n"));
    // A real client now gets in.
    using client = RpcConnection.wrap(
      await connect({ host: "127.0.0.1", port: server.port, caFile }),
    );
    assert.equal((await client.result("hello")).server, "addressbook");
    assert.equal((await client.result("stats")).connections.open, 1);
  } finally {
    for (const conn of raw) conn.close();
  }
});

Deno.test("one address holds at most --max-per-peer connections; another address still gets in", async () => {
  // `--host ::` takes IPv4 and IPv6: 127.0.0.1 and ::1 are two peer addresses.
  await using server = await TestServer.start({
    args: ["--host", "::", "--max-connections", "8", "--max-per-peer", "2"],
    env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN },
  });
  const first = await server.connect();
  using second = await server.connect();
  try {
    assert.equal((await first.result("hello")).server, "addressbook");
    assert.equal((await second.result("hello")).server, "addressbook");
    {
      using third = await server.connect();
      const busy = await firstAnswer(third);
      assert.equal(busy.id, null, JSON.stringify(busy));
      assert.equal(busy.error?.data?.reason, "BUSY");
      assert.equal(busy.error.data.limit, 2);
      assert.match(busy.error.message, /^This address already has 2 connections open/);
      assert.ok(await third.closedByServer(5000));
    }
    using other = RpcConnection.wrap(await Deno.connect({ hostname: "::1", port: server.port }));
    assert.equal((await other.result("hello")).server, "addressbook");
  } finally {
    first.close();
  }
  // Once one leaves, the address may connect again (the server notices the close soon).
  const servedAgain = await eventually(
    async () => {
      using again = await server.connect();
      return (await firstAnswer(again)).result?.server === "addressbook";
    },
    50,
    20,
  );
  assert.ok(servedAgain);
  assert.ok(server.logs.some((line) => /refused: 2 connections open from this address/.test(line)));
});

Deno.test("protected mode: connections waiting to authenticate hold at most half the cap", async () => {
  await using server = await TestServer.start({
    args: ["--require-auth", "--max-connections", "8", "--max-per-peer", "8"],
    env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN },
  });
  using member = await server.connect();
  await member.result("auth", { token: WRITE_TOKEN });
  const waiting: RpcConnection[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const conn = await server.connect();
      waiting.push(conn);
      assert.equal((await firstAnswer(conn)).result?.auth, true);
    }
    {
      using fifth = await server.connect();
      const busy = await firstAnswer(fifth);
      assert.equal(busy.id, null, JSON.stringify(busy));
      assert.equal(busy.error?.data?.reason, "BUSY");
      assert.equal(busy.error.data.limit, 4);
      assert.match(busy.error.message, /waiting to authenticate; try again shortly/);
      assert.ok(await fifth.closedByServer(5000));
    }
    // The authenticated connection is not held up.
    await member.result("add", { contact: { name: "Ada" } });
    assert.equal((await member.result("count")).count, 1);
    // One that authenticates frees its place among those waiting.
    await waiting[0]!.result("auth", { token: WRITE_TOKEN });
    using next = await server.connect();
    assert.equal((await firstAnswer(next)).result?.auth, true);
  } finally {
    for (const conn of waiting) conn.close();
  }
});
