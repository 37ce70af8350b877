import assert from "node:assert/strict";
import { type LineRunner, MAX_WRITES_TOGETHER, runLine } from "./batch.ts";
import { dispatch, dispatchNow, standaloneContext } from "./methods.ts";
import { ContactStore } from "../store/mod.ts";
import { blankContact } from "../model/contact.ts";
import type { Request, Response } from "../protocol/jsonrpc.ts";
import { tempDir } from "../../tests/helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A runner on a real store, as a connection builds it (no slices, a large reply cap). */
function storeRunner(store: ContactStore, maxReply = 4 * 1024 * 1024): LineRunner {
  const context = standaloneContext(store);
  return {
    now: (request) => dispatchNow(request, context),
    later: (request) => dispatch(request, context),
    sliceOver: () => false,
    yieldTurn: () => Promise.resolve(),
    resumed: () => {},
    maxReply,
  };
}

function request(id: number, method: string, params: Record<string, unknown> = {}): Request {
  return { id, method, params };
}

async function replies(items: Array<Request | Response>, runner: LineRunner): Promise<Json[]> {
  return (await runLine(items, runner)).texts.map((text) => JSON.parse(text));
}

Deno.test("runLine() commits a batch of 100 adds in a few group commits, each answered in order", async () => {
  await using dir = await tempDir();
  await using store = await ContactStore.open(`${dir.path}/book.kv`);
  const before = store.commitStats;
  const adds = Array.from(
    { length: 100 },
    (_, i) => request(i + 1, "add", { contact: { name: `Person ${i}` } }),
  );
  const answered = await replies(adds, storeRunner(store));
  const after = store.commitStats;
  assert.equal(after.writes - before.writes, 100);
  // One at a time (the old way) took 100 commits.
  assert.ok(after.batches - before.batches <= 5, `${after.batches - before.batches} commits`);
  assert.deepEqual(answered.map((r) => r.id), adds.map((r) => r.id));
  assert.deepEqual(answered.map((r) => r.result.name), adds.map((_, i) => `Person ${i}`));
  assert.equal(new Set(answered.map((r) => r.result.id)).size, 100);
  assert.equal(await store.count(), 100);
});

Deno.test("runLine() in a batch of writes and reads, each request sees the writes before it and none after", async () => {
  await using dir = await tempDir();
  await using store = await ContactStore.open(`${dir.path}/book.kv`);
  const ann = await store.add(blankContact("Ann"));
  const id = "01J0000000000000000000000X";
  const answered = await replies([
    request(1, "get", { id }),
    request(2, "add", { id, contact: { name: "Xavier" } }),
    request(3, "update", { id: ann.id, version: ann.version, contact: { name: "Ann B" } }),
    request(4, "add", { contact: { name: "New one" } }),
    // Its version is not known yet: CONFLICT with the contact request 2 added.
    request(5, "update", { id, version: ann.version, contact: { name: "X2" } }),
    request(6, "get", { id }),
    request(7, "find", { name: "Ann B" }),
    request(8, "count"),
    request(9, "remove", { id }),
    request(10, "get", { id }),
    request(11, "add", { id, contact: { name: "Xavier again" } }),
    request(12, "remove", { name: "New one" }),
    request(13, "count"),
  ], storeRunner(store));
  assert.deepEqual(answered.map((r) => r.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
  const [get1, add2, update3, add4, update5, get6, find7, count8, remove9, get10, add11] = answered;
  assert.equal(get1.error.data.reason, "NOT_FOUND", "a read before the add does not see it");
  assert.equal(add2.result.id, id);
  assert.equal(update3.result.name, "Ann B");
  assert.equal(add4.result.name, "New one");
  assert.equal(update5.error.data.reason, "CONFLICT");
  assert.equal(update5.error.data.current.version, add2.result.version);
  assert.deepEqual(get6.result, add2.result);
  assert.deepEqual(find7.result.contacts.map((c: Json) => c.id), [ann.id]);
  assert.equal(count8.result.count, 3);
  assert.equal(remove9.result.removed.id, id);
  assert.equal(get10.error.data.reason, "NOT_FOUND");
  assert.equal(add11.result.name, "Xavier again");
  assert.equal(answered[11].result.removed.name, "New one");
  assert.equal(answered[12].result.count, 2);
  assert.deepEqual(
    (await store.list()).contacts.map((c) => c.name).sort(),
    ["Ann B", "Xavier again"],
  );
});

/** A runner whose every request is deferred and logged as it starts and ends. */
function loggingRunner(finish: (request: Request) => number) {
  const log: string[] = [];
  let running = 0, most = 0;
  const runner: LineRunner = {
    now: (r) => r.params.refuse ? { jsonrpc: "2.0", id: r.id ?? null, result: "refused" } : false,
    later: async (r) => {
      log.push(`start ${r.id}`);
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, finish(r)));
      running--;
      log.push(`end ${r.id}`);
      return r.id === undefined ? undefined : { jsonrpc: "2.0", id: r.id, result: r.method };
    },
    sliceOver: () => false,
    yieldTurn: () => Promise.resolve(),
    resumed: () => {},
    maxReply: 1e9,
  };
  return { runner, log, most: () => most };
}

Deno.test("runLine() runs writes to different contacts together, to one contact in order, and reads alone", async () => {
  const A = "01J000000000000000000000AA", B = "01J000000000000000000000BB";
  // Later requests finish first, so any reordering would show.
  const { runner, log } = loggingRunner((r) => 20 - Number(r.id));
  const items: Array<Request | Response> = [
    request(1, "add", { contact: {} }),
    request(2, "update", { id: A, version: "1", contact: {} }),
    request(3, "add", { contact: {} }),
    request(4, "remove", { id: A }),
    {
      jsonrpc: "2.0",
      id: 5,
      error: { code: -32600, message: "bad", data: { reason: "BAD_REQUEST" } },
    },
    request(6, "add", { refuse: true }), // refused before it runs (bad params, say)
    request(7, "add", { id: B, contact: {} }),
    request(8, "get", { id: A }),
    request(9, "add", { contact: {} }),
    request(10, "remove", { name: "Bob" }),
    request(11, "add", { contact: {} }),
  ];
  const answered = (await runLine(items, runner)).texts.map((t) => JSON.parse(t));
  assert.deepEqual(answered.map((r) => r.id), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const at = (event: string) => log.indexOf(event);
  // 1, 2, 3 and 7 run together; 4 (contact A again) after 2.
  for (const id of [1, 2, 3, 7]) assert.ok(at(`start ${id}`) < at("end 1"), log.join());
  assert.ok(at("start 4") > at("end 2"), log.join());
  assert.ok(at("start 4") < at("end 1"), "the others do not wait for 4's turn");
  // The read waits for every write before it; the writes after it wait for the read.
  for (const id of [1, 2, 3, 4, 7]) assert.ok(at("start 8") > at(`end ${id}`), log.join());
  assert.ok(at("start 9") > at("end 8"));
  // remove by name touches a contact not known in advance: alone.
  assert.ok(at("start 10") > at("end 9") && at("start 11") > at("end 10"), log.join());
});

Deno.test("runLine() runs at most MAX_WRITES_TOGETHER writes at once", async () => {
  const { runner, most } = loggingRunner(() => 1);
  const adds = Array.from({ length: 300 }, (_, i) => request(i, "add", { contact: {} }));
  const answered = await runLine(adds, runner);
  assert.equal(answered.texts.length, 300);
  assert.equal(most(), MAX_WRITES_TOGETHER);
});

Deno.test("runLine() past its reply cap answers the rest TOO_LARGE unrun, in order", async () => {
  await using store = await ContactStore.open(":memory:");
  for (let i = 0; i < 20; i++) await store.add({ ...blankContact("Same"), notes: "n".repeat(500) });
  const runner = storeRunner(store, 20_000);
  const items = [
    request(1, "find", { name: "Same" }), // about 13 KB
    request(2, "add", { contact: { name: "A" } }),
    request(3, "add", { contact: { name: "B" } }),
    request(4, "find", { name: "Same" }), // passes the cap
    request(5, "add", { contact: { name: "C" } }),
    request(6, "count"),
  ];
  const answered = await replies(items, runner);
  assert.deepEqual(answered.map((r) => r.id), [1, 2, 3, 4, 5, 6]);
  assert.ok(answered[1].result && answered[2].result && answered[3].result);
  assert.equal(answered[4].error.data.reason, "TOO_LARGE");
  assert.equal(answered[5].error.data.reason, "TOO_LARGE");
  assert.equal(await store.count(), 22, "C was not added");
});

Deno.test("runLine() yields when its slice is over, and resumes where it was", async () => {
  const { runner } = loggingRunner(() => 0);
  let calls = 0, yields = 0;
  const sliced: LineRunner = {
    ...runner,
    sliceOver: () => ++calls % 3 === 0,
    yieldTurn: () => {
      yields++;
      return new Promise((resolve) => setTimeout(resolve, 0));
    },
  };
  const items = Array.from(
    { length: 30 },
    (_, i) => request(i, i % 5 === 4 ? "count" : "add", { contact: {} }),
  );
  const answered = (await runLine(items, sliced)).texts.map((t) => JSON.parse(t));
  assert.deepEqual(answered.map((r) => r.id), items.map((r) => r.id));
  assert.ok(yields >= 5, `${yields} yields`);
});

Deno.test("runLine() answers at once, with no promise, when nothing is deferred", async () => {
  await using store = await ContactStore.open(":memory:");
  const result = runLine(
    [
      request(1, "count"),
      request(2, "nope"),
      request(3, "ping"),
      request(4, "add", { contact: {}, colour: "red" }), // refused before it runs
    ],
    storeRunner(store),
  );
  assert.ok(!(result instanceof Promise));
  assert.equal(result.texts.length, 4);
  assert.match(result.texts[3]!, /takes no param \\"colour\\"/);
});
