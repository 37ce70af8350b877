/**
 * A batch's writes against a real server: writes to different contacts run together (their
 * commits shared), each request still sees the writes before it, replies come in request
 * order, and every acknowledged add of a batch survives a SIGKILL.
 */
import assert from "node:assert/strict";
import { type RpcConnection, tempDir, TestServer } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** One batch line of `calls`, ids from `firstId`. */
function batchLine(calls: Array<[string, Record<string, unknown>]>, firstId = 1): string {
  return JSON.stringify(
    calls.map(([method, params], i) => ({ jsonrpc: "2.0", id: firstId + i, method, params })),
  ) + "\n";
}

Deno.test("a batch mixing adds, updates, gets and removes: replies in order, each seeing the writes before it", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const ann = await rpc.result("add", { contact: { name: "Ann", town: "Before" } });
  const id = "01J0000000000000000000000X";
  await rpc.send(batchLine([
    ["get", { id }],
    ["add", { id, contact: { name: "Xavier" } }],
    ["update", { id: ann.id, version: ann.version, contact: { name: "Ann", town: "After" } }],
    ["add", { contact: { name: "Yolanda" } }],
    ["add", { contact: { name: "Zed" } }],
    // Sent before its version was known: CONFLICT, with what request 2 added.
    ["update", { id, version: ann.version, contact: { name: "Xavier 2" } }],
    ["get", { id }],
    ["search", { query: "after" }],
    ["count", {}],
    ["remove", { id }],
    ["get", { id }],
    ["add", { id, contact: { name: "Xavier again" } }],
    ["remove", { name: "Zed" }],
    ["count", {}],
  ]));
  const replies: Json[] = await rpc.readJson();
  assert.deepEqual(replies.map((r) => r.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  const byId = (n: number) => replies[n - 1];
  assert.equal(byId(1).error.data.reason, "NOT_FOUND", "the get before the add does not see it");
  assert.equal(byId(2).result.id, id);
  assert.equal(byId(3).result.town, "After");
  assert.equal(byId(4).result.name, "Yolanda");
  assert.equal(byId(6).error.data.reason, "CONFLICT");
  assert.equal(byId(6).error.data.current.version, byId(2).result.version);
  assert.deepEqual(byId(7).result, byId(2).result);
  assert.deepEqual(byId(8).result.contacts.map((c: Json) => c.id), [ann.id]);
  assert.equal(byId(9).result.count, 4);
  assert.equal(byId(10).result.removed.id, id);
  assert.equal(byId(11).error.data.reason, "NOT_FOUND");
  assert.equal(byId(12).result.name, "Xavier again");
  assert.equal(byId(13).result.removed.id, byId(5).result.id);
  assert.equal(byId(14).result.count, 3);
  const names = (await rpc.result("list")).contacts.map((c: Json) => c.name).sort();
  assert.deepEqual(names, ["Ann", "Xavier again", "Yolanda"]);
  const report = await rpc.result("check");
  assert.equal(report.ok, true, JSON.stringify(report.problems));
});

Deno.test("SIGKILL during batches of adds: every acknowledged add is there after a restart", async () => {
  await using dir = await tempDir();
  const first = await TestServer.start({ dataDir: dir.path, args: ["--log-level", "warn"] });
  const acked: string[] = [];
  let killed = false;
  const killAt = 1500;
  const clients: RpcConnection[] = [];
  for (let c = 0; c < 4; c++) clients.push(await first.connect());
  try {
    // Each client keeps two lines of 100 adds in flight, as the import does.
    const writers = clients.map(async (client, c) => {
      let sent = 0;
      const line = (n: number) =>
        batchLine(
          Array.from({ length: 100 }, (_, i) => ["add", { contact: { name: `C${c} ${n}.${i}` } }]),
          n * 100,
        );
      try {
        await client.send(line(sent++));
        for (let n = 0; n < 50 && !killed; n++) {
          await client.send(line(sent++));
          const replies: Json[] = await client.readJson();
          for (const reply of replies) {
            assert.ok(reply.result, JSON.stringify(reply));
            acked.push(reply.result.id);
          }
          if (!killed && acked.length >= killAt) {
            killed = true;
            first.kill("SIGKILL");
          }
        }
      } catch (error) {
        if (!killed) throw error; // the server is gone: the line in flight was not acknowledged
      }
    });
    await Promise.all(writers);
  } finally {
    for (const client of clients) client.close();
    await first.stop("SIGKILL");
  }
  assert.ok(killed, `the server was killed after ${acked.length} acknowledged adds`);
  await using second = await TestServer.start({ dataDir: dir.path });
  using check = await second.connect();
  for (let at = 0; at < acked.length; at += 100) {
    await check.send(batchLine(acked.slice(at, at + 100).map((id) => ["get", { id }])));
    const replies: Json[] = await check.readJson();
    for (const reply of replies) {
      assert.ok(reply.result, `an acknowledged contact is missing: ${JSON.stringify(reply)}`);
    }
  }
  const report = await check.result("check");
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.ok(report.contacts >= acked.length, `${report.contacts} < ${acked.length} acknowledged`);
});
