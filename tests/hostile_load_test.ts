/**
 * Hostile load against a real server process: what one connection can make the server hold
 * (memory read from /proc), how long one client's long line can hold the others, and what
 * subscribers that never read cost a writer. Every loop is bounded in count and time; no
 * assertion is a speed claim (the bounds are generous, only to catch a stalled server).
 */
import assert from "node:assert/strict";
import { sample } from "../bench/proc.ts";
import { RpcConnection, TestServer } from "./helpers.ts";

const encoder = new TextEncoder();

/** The server's resident memory now, in KiB. */
async function rssKiB(server: TestServer): Promise<number> {
  const { rssKiB } = await sample(server.process.pid);
  assert.ok(rssKiB > 0, "cannot read the server's /proc status");
  return rssKiB;
}

/** A request line. */
function request(id: number, method: string, params: Record<string, unknown> = {}): string {
  return JSON.stringify({ jsonrpc: "2.0", id, method, params });
}

Deno.test("a line sent one byte per read holds about its own bytes, not a slice per read", async () => {
  await using server = await TestServer.start();
  const CONNECTIONS = 20;
  const BYTES = 48 * 1024;
  const conns: RpcConnection[] = [];
  try {
    for (let i = 0; i < CONNECTIONS; i++) conns.push(await server.connect());
    // Settle the server's allocations for 20 connections before the baseline.
    for (const conn of conns) assert.equal((await conn.call("count")).result.count, 0);
    const before = await rssKiB(server);
    // One request per connection, its string padded to BYTES, written one byte at a time
    // (the server reads them about as they come: a read per byte or few).
    const line = encoder.encode(request(1, "find", { name: "x".repeat(BYTES) }));
    await Promise.all(conns.map(async (conn) => {
      for (let i = 0; i < line.length - 2; i++) await conn.send(line.subarray(i, i + 1));
    }));
    const during = await rssKiB(server);
    // Each connection's unfinished line is still held: finish them and read the answers.
    await Promise.all(conns.map(async (conn) => {
      await conn.send(line.subarray(line.length - 2));
      await conn.send("\n");
      const reply = await conn.readJson();
      assert.equal(reply.id, 1, JSON.stringify(reply).slice(0, 200));
    }));
    const grown = during - before;
    // 20 x 48 KiB held as lines is under 2 MiB, plus the garbage of a million reads that the
    // collector has not taken yet (measured about 16 MiB, the same at half the bytes); a
    // slice kept per read was about 100 bytes a byte (measured 101 MiB here).
    assert.ok(grown < 40 * 1024, `server grew ${grown} KiB holding ${CONNECTIONS} partial lines`);
  } finally {
    for (const conn of conns) conn.close();
  }
});
