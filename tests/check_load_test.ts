/**
 * `check` under load on a 20,000-contact store, against a real server process: checks run one
 * at a time per server (a second one at the same time is refused `BUSY`), so 20 at once cost
 * the memory of one (read from /proc); and a check nobody can receive the answer of (a
 * notification, from a client that then closes) costs next to no CPU. Every loop is bounded
 * in count and time; no assertion is a speed claim (the bounds only catch work left running).
 */
import assert from "node:assert/strict";
import { sample } from "../bench/proc.ts";
import { type RpcConnection, TestServer } from "./helpers.ts";

const CONTACTS = 20_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Adds `CONTACTS` contacts over 4 connections, 100 adds to a line (a batch). */
async function seed(server: TestServer): Promise<void> {
  const LINE = 100, CONNECTIONS = 4;
  await Promise.all(Array.from({ length: CONNECTIONS }, async (_, c) => {
    using client = await server.connect();
    for (let start = c * LINE; start < CONTACTS; start += LINE * CONNECTIONS) {
      const batch = Array.from({ length: LINE }, (_, i) => ({
        jsonrpc: "2.0",
        id: start + i,
        method: "add",
        params: {
          contact: {
            name: `Person ${start + i} Example`,
            street: `${start % 90} Evergreen Terrace`,
            town: `Town${(start + i) % 50}`,
            phones: [{ label: "home", number: `555-01${start + i}` }],
            emails: [{ label: "", address: `person${start + i}@example.com` }],
          },
        },
      }));
      await client.send(JSON.stringify(batch) + "\n");
      const replies = await client.readJson(60_000);
      assert.equal(replies.length, LINE);
      for (const reply of replies) assert.ok(reply.result, JSON.stringify(reply).slice(0, 300));
    }
  }));
}

/** The server's CPU seconds (user + system) and resident memory (KiB) now. */
async function proc(server: TestServer): Promise<{ cpu: number; rss: number }> {
  const s = await sample(server.process.pid);
  assert.ok(s.rssKiB > 0, "cannot read the server's /proc status");
  return { cpu: s.cpuSeconds, rss: s.rssKiB };
}

/** One `check` request line. */
function checkLine(id: number | undefined): string {
  return JSON.stringify({ jsonrpc: "2.0", ...(id === undefined ? {} : { id }), method: "check" }) +
    "\n";
}

Deno.test("check on 20,000 contacts: one at a time (the rest BUSY), none for a client gone", async (t) => {
  await using server = await TestServer.start({ args: ["--log-level", "warn"] });
  const seeding = performance.now();
  await seed(server);
  console.log(`seeded ${CONTACTS} contacts in ${Math.round(performance.now() - seeding)} ms`);
  {
    using client = await server.connect();
    assert.equal((await client.result("count")).count, CONTACTS);
  }

  await t.step("20 checks at once: one report, 19 BUSY; memory of about one check", async () => {
    const CHECKS = 20;
    const conns: RpcConnection[] = [];
    try {
      for (let i = 0; i < CHECKS; i++) conns.push(await server.connect());
      for (const conn of conns) assert.equal((await conn.call("ping")).id, 1);
      const before = await proc(server);
      // Every request is written before any answer is read.
      await Promise.all(conns.map((conn) => conn.send(checkLine(2))));
      let peak = before.rss;
      let done = false;
      const watch = (async () => {
        for (let i = 0; i < 600 && !done; i++) {
          peak = Math.max(peak, (await proc(server)).rss);
          await sleep(50);
        }
      })();
      const replies = await Promise.all(conns.map((conn) => conn.readJson(120_000)));
      done = true;
      await watch;
      const grownMiB = (peak - before.rss) / 1024;
      console.log(
        `20 checks at once on ${CONTACTS} contacts: RSS ${Math.round(before.rss / 1024)} MiB ` +
          `-> peak ${Math.round(peak / 1024)} MiB (+${grownMiB.toFixed(0)} MiB)`,
      );
      // Twenty checks at once grew the server by about 900 MiB; one check costs a small part.
      assert.ok(grownMiB < 300, `the server grew ${grownMiB.toFixed(0)} MiB`);
      const reports = replies.filter((r) => r.result);
      const busy = replies.filter((r) => r.error?.data?.reason === "BUSY");
      assert.equal(reports.length, 1, JSON.stringify(replies.map((r) => r.error ?? "report")));
      assert.equal(busy.length, CHECKS - 1);
      const report = reports[0].result;
      assert.equal(report.ok, true, JSON.stringify(report.problems));
      assert.equal(report.contacts, CONTACTS);
      assert.match(busy[0].error.message, /check is already running.*try again/i);
      // Once the first is done, a check is answered again.
      const started = performance.now();
      await conns[0]!.send(checkLine(3));
      const again = await conns[0]!.readJson(120_000);
      console.log(`one check alone: ${Math.round(performance.now() - started)} ms`);
      assert.equal(again.result?.ok, true, JSON.stringify(again).slice(0, 300));
    } finally {
      for (const conn of conns) conn.close();
    }
  });

  await t.step(
    "10 check notifications, then the client closes: the server stays idle",
    async () => {
      const before = await proc(server);
      {
        using client = await server.connect();
        await client.send(Array.from({ length: 10 }, () => checkLine(undefined)).join(""));
      }
      await sleep(200);
      // The server still answers at once, while the notifications' checks would be running.
      {
        using other = await server.connect();
        await other.send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "count" }) + "\n");
        assert.equal((await other.readJson(3000)).result?.count, CONTACTS);
      }
      await sleep(4800);
      const after = await proc(server);
      const cpu = after.cpu - before.cpu;
      console.log(
        `10 check notifications, client closed: ${cpu.toFixed(2)} s of server CPU in the next 5 s`,
      );
      // Ten checks of 20,000 contacts keep a core busy far longer than 5 s.
      assert.ok(cpu < 1.5, `the server used ${cpu.toFixed(2)} s of CPU in 5 s`);
    },
  );
});
