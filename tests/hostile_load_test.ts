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

/** A contact of about 5 KB, named `name`. */
function bigContact(name: string, n: number): Record<string, unknown> {
  const filler = (c: string) => `${c}${n} `.padEnd(990, c);
  return {
    name,
    house: filler("h"),
    street: filler("s"),
    town: filler("t"),
    postcode: filler("p"),
    notes: filler("n"),
  };
}

/** Adds `count` contacts named `name`, a batch line at a time; 10 to a line (a line is at most 64 KiB). */
async function seedBig(server: TestServer, name: string, count: number): Promise<void> {
  using conn = await server.connect();
  for (let first = 0; first < count; first += 10) {
    const batch = [];
    for (let n = first; n < Math.min(count, first + 10); n++) {
      batch.push({
        jsonrpc: "2.0",
        id: n,
        method: "add",
        params: { contact: bigContact(name, n) },
      });
    }
    await conn.send(JSON.stringify(batch) + "\n");
    const replies = await conn.readJson(30_000);
    assert.ok(replies.every((r: { result?: unknown }) => r.result), JSON.stringify(replies[0]));
  }
}

Deno.test("a batch's replies past 4 MiB answer TOO_LARGE in order, and a client that never reads holds little", async () => {
  await using server = await TestServer.start();
  await seedBig(server, "Shared Name", 100);
  // 9.7 KB of line: 150 finds, each answered with 100 contacts of 5 KB (500 KB of reply).
  const batch = Array.from({ length: 150 }, (_, id) => ({
    jsonrpc: "2.0",
    id,
    method: "find",
    params: { name: "Shared Name" },
  }));
  const line = JSON.stringify(batch) + "\n";
  // A client that reads: the first finds are answered, the rest say why they were not run.
  {
    using reader = await server.connect();
    await reader.send(line);
    const replies = await reader.readJson(30_000);
    assert.equal(replies.length, 150);
    assert.deepEqual(replies.map((r: { id: number }) => r.id), batch.map((r) => r.id));
    const answered = replies.filter((r: { result?: { contacts: unknown[] } }) => r.result);
    assert.ok(answered.length >= 8 && answered.length <= 10, `${answered.length} answered`);
    assert.equal(answered[0].result.contacts.length, 100);
    for (const reply of replies.slice(answered.length)) {
      assert.equal(reply.error?.data?.reason, "TOO_LARGE", JSON.stringify(reply));
      assert.equal(reply.error.data.limit, 4 * 1024 * 1024);
      assert.match(reply.error.message, /^Not run: the replies of this batch passed 4194304 bytes/);
    }
    // The connection goes on: the next line is answered.
    assert.equal((await reader.call("count")).result.count, 100);
  }
  // Ten clients that never read, each sending the line three times.
  const before = await rssKiB(server);
  const silent: RpcConnection[] = [];
  try {
    for (let i = 0; i < 10; i++) {
      const conn = await server.connect();
      silent.push(conn);
      await conn.send(line.repeat(3));
    }
    // Give the server time to make (and try to write) what it would: bounded, 3 s at most.
    let peak = before;
    for (let i = 0; i < 15; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      peak = Math.max(peak, await rssKiB(server));
    }
    // Each holds one line's replies (4.5 MB) at most: about 45 MB of text for ten; whole
    // replies were 75 MB of text each (the server grew past 1 GiB).
    const grown = peak - before;
    assert.ok(grown < 200 * 1024, `server grew ${grown} KiB for 10 clients that never read`);
    // Others are still served.
    using other = await server.connect();
    assert.equal((await other.call("count")).result.count, 100);
  } finally {
    for (const conn of silent) conn.close();
  }
});

/** Adds `count` small contacts whose names share the word `word`, 100 to a line. */
async function seedSmall(server: TestServer, word: string, count: number): Promise<void> {
  using conn = await server.connect();
  for (let first = 0; first < count; first += 100) {
    const batch = [];
    for (let n = first; n < Math.min(count, first + 100); n++) {
      const contact = { name: `${word} Person${n}`, town: `Town${n % 50}` };
      batch.push({ jsonrpc: "2.0", id: n, method: "add", params: { contact } });
    }
    await conn.send(JSON.stringify(batch) + "\n");
    const replies = await conn.readJson(30_000);
    assert.ok(replies.every((r: { result?: unknown }) => r.result), JSON.stringify(replies[0]));
  }
}

Deno.test("a long line of searches is answered in slices: another client's request is answered first", async () => {
  await using server = await TestServer.start();
  await seedSmall(server, "Common", 2000);
  // A 64 KiB line of searches that each match every contact (a page of 100 of 2,000).
  const batch = [];
  for (let id = 0; JSON.stringify(batch).length < 62 * 1024; id++) {
    batch.push({ jsonrpc: "2.0", id, method: "search", params: { query: "common" } });
  }
  using attacker = await server.connect();
  using watchdog = await server.connect();
  assert.equal((await watchdog.call("count")).result.count, 2000);
  // The attacker's reply is one line, sent when its last search is done: until its first
  // byte arrives, the server is still at work on it.
  let attackerAnswered = -1;
  const attackerReply = attacker.readLine(60_000).then((line) => {
    attackerAnswered = performance.now();
    return line;
  });
  await attacker.send(JSON.stringify(batch) + "\n");
  const sent = performance.now();
  // The watchdog asks while the line is being worked on, and records each wait.
  const waits: number[] = [];
  let answeredFirst = 0;
  for (let i = 0; i < 50 && attackerAnswered < 0; i++) {
    const asked = performance.now();
    assert.equal((await watchdog.call("count")).result.count, 2000);
    waits.push(performance.now() - asked);
    if (attackerAnswered < 0) answeredFirst++;
  }
  const line = await attackerReply;
  assert.ok(line !== null, "the attacker's line was not answered");
  const replies = JSON.parse(line);
  assert.equal(replies.length, batch.length);
  const worked = attackerAnswered - sent;
  // All searches run at once left the watchdog unanswered until the whole line was done.
  assert.ok(
    answeredFirst >= 1,
    `the watchdog waited behind the whole line (${Math.round(worked)} ms of work)`,
  );
  console.log(
    `${batch.length} searches took ${Math.round(worked)} ms; the watchdog was answered ` +
      `${answeredFirst} times meanwhile, its longest wait ${Math.round(Math.max(...waits))} ms (${
        waits.map(Math.round).join(" ")
      })`,
  );
});

Deno.test("a subscriber that stops reading past the write timeout gets watch_dropped after what it was sent, not a close mid-line", async () => {
  await using server = await TestServer.start({ args: ["--write-timeout", "1"] });
  await seedBig(server, "Shared Name", 100);
  using subscriber = await server.connect();
  const { seq } = (await subscriber.call("watch")).result;
  // Three lines, each answered with about 4 MiB: more than the socket buffers hold, so the
  // server's write waits past the write timeout while the subscriber reads nothing.
  const batch = Array.from({ length: 8 }, (_, id) => ({
    jsonrpc: "2.0",
    id,
    method: "find",
    params: { name: "Shared Name" },
  }));
  await subscriber.send((JSON.stringify(batch) + "\n").repeat(3));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  // Reading again within the second write timeout: every reply arrives whole, in order,
  // with the notice after the line whose write waited.
  const kinds: string[] = [];
  for (let i = 0; i < 10 && kinds.filter((k) => k === "reply").length < 3; i++) {
    const line = await subscriber.readLine(10_000);
    assert.ok(line !== null, `closed after ${kinds.join(", ")}`);
    const message = JSON.parse(line);
    if (Array.isArray(message)) {
      assert.equal(message.length, 8);
      assert.ok(message.every((r) => r.result?.contacts.length === 100));
      kinds.push("reply");
    } else {
      assert.equal(message.method, "watch_dropped", line.slice(0, 200));
      assert.equal(message.params.seq, seq);
      assert.match(message.params.message, /read nothing for 1 s.*watch again with since/);
      kinds.push("dropped");
    }
  }
  assert.deepEqual(kinds.filter((k) => k === "dropped"), ["dropped"], kinds.join(", "));
  assert.equal(kinds[0], "reply");
  // The connection goes on, unsubscribed.
  assert.equal((await subscriber.call("count")).result.count, 100);
});

Deno.test("ten clients sending long lines of searches at once do not starve a quiet client", async () => {
  await using server = await TestServer.start();
  await seedSmall(server, "Common", 2000);
  const line = JSON.stringify(
    Array.from({ length: 100 }, (_, id) => ({
      jsonrpc: "2.0",
      id,
      method: "search",
      params: { query: "common", limit: 100 },
    })),
  ) + "\n";
  using watchdog = await server.connect();
  const attackers: RpcConnection[] = [];
  try {
    for (let i = 0; i < 10; i++) attackers.push(await server.connect());
    let running = attackers.length;
    const attack = Promise.all(attackers.map(async (conn) => {
      for (let n = 0; n < 4; n++) {
        await conn.send(line);
        assert.equal((await conn.readJson(60_000)).length, 100);
      }
      running--;
    }));
    const waits: number[] = [];
    for (let i = 0; i < 2000 && running > 0; i++) {
      const asked = performance.now();
      assert.equal((await watchdog.call("count")).result.count, 2000);
      waits.push(performance.now() - asked);
    }
    await attack;
    const during = waits.length;
    waits.sort((a, b) => a - b);
    console.log(
      `10 clients x 4 lines of 100 searches: the watchdog was answered ${during} times ` +
        `meanwhile; median wait ${Math.round(waits[waits.length >> 1] ?? 0)} ms, longest ` +
        `${Math.round(waits.at(-1) ?? 0)} ms`,
    );
    // One slice per turn of the event loop, the sockets polled between: a quiet client is
    // answered after a few slices. With a timer per busy connection it was answered a few
    // times in the whole attack (the loop ran due timers back to back, seconds at a time).
    assert.ok(during >= 30, `the watchdog was answered only ${during} times during the attack`);
  } finally {
    for (const conn of attackers) conn.close();
  }
});

Deno.test("a flood of connections refused BUSY writes one log line, not one per connection", async () => {
  await using server = await TestServer.start({
    args: ["--max-connections", "2", "--max-per-peer", "2"],
  });
  using first = await server.connect();
  using second = await server.connect();
  assert.equal((await first.call("count")).result.count, 0);
  assert.equal((await second.call("count")).result.count, 0);
  let busy = 0;
  for (let wave = 0; wave < 6; wave++) {
    await Promise.all(Array.from({ length: 50 }, async () => {
      using conn = await server.connect();
      const reply = await conn.readJson(5000);
      if (reply?.error?.data?.reason === "BUSY") busy++;
    }));
  }
  assert.equal(busy, 300);
  const lines = server.logs.filter((line) => / refused: /.test(line));
  assert.ok(lines.length <= 2, `${lines.length} refusal lines for 300 refusals`);
  assert.match(lines[0]!, /Connection \d+ from 127\.0\.0\.1:\d+ refused: 2 connections open/);
  // The two held connections are still served.
  assert.equal((await first.call("count")).result.count, 0);
});
