import assert from "node:assert/strict";
import { GroupCommitter, MAX_WRITES, type Write } from "./group_commit.ts";

function setOnce(id: string, value: unknown = id, onCommit?: Write["onCommit"]): Write {
  return {
    group: id,
    checks: [{ key: ["c", id], versionstamp: null }],
    mutations: [{ type: "set", key: ["c", id], value }],
    countDelta: 1,
    onCommit,
  };
}

Deno.test("GroupCommitter coalesces concurrent writes into one atomic and sums the counter", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv, { counterKey: ["count"] });
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) => committer.submit(setOnce(`k${i}`))),
  );
  assert.ok(results.every((r) => r.ok));
  assert.equal(new Set(results.map((r) => r.ok && r.versionstamp)).size, 1);
  assert.deepEqual(committer.stats, { batches: 1, writes: 50, retried: 0 });
  assert.equal((await kv.get<Deno.KvU64>(["count"])).value?.value, 50n);
  assert.equal((await kv.get(["c", "k49"])).value, "k49");
});

Deno.test("GroupCommitter never puts two writes of one contact in a batch; they commit in order", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const order: string[] = [];
  // Both check that the key is absent: in one atomic both checks would pass and the second
  // set would silently win. Apart, the second must fail its check.
  const [first, second, other] = await Promise.all([
    committer.submit(setOnce("x", "first", () => order.push("first"))),
    committer.submit(setOnce("x", "second", () => order.push("second"))),
    committer.submit(setOnce("y", "other", () => order.push("other"))),
  ]);
  assert.ok(first.ok);
  assert.equal(second.ok, false);
  assert.ok(other.ok);
  assert.equal((await kv.get(["c", "x"])).value, "first");
  assert.deepEqual(order, ["first", "other"]);
});

Deno.test("GroupCommitter reports a failed check for just the offending write of a batch", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(["c", "taken"], "before");
  const committer = new GroupCommitter(kv, { counterKey: ["count"] });
  const results = await Promise.all(
    ["a", "taken", "b", "c"].map((id) => committer.submit(setOnce(id))),
  );
  assert.deepEqual(results.map((r) => r.ok), [true, false, true, true]);
  assert.equal((await kv.get(["c", "taken"])).value, "before");
  assert.equal((await kv.get(["c", "c"])).value, "c");
  assert.equal((await kv.get<Deno.KvU64>(["count"])).value?.value, 3n);
  assert.equal(committer.stats.retried, 4);
});

Deno.test("GroupCommitter takes up to MAX_WRITES writes without checks in one atomic", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv, {
    counterKey: ["count"],
    log: { headKey: ["head"], entryKey: (seq) => ["log", seq], shared: false },
  });
  await committer.readHead();
  // Unchecked writes (as an add under a fresh id): 900 need 3 atomics of MAX_WRITES (400).
  const results = await Promise.all(Array.from({ length: 900 }, (_, i) =>
    committer.submit({
      group: `n${i}`,
      checks: [],
      mutations: [{ type: "set", key: ["c", `n${i}`], value: i }],
      countDelta: 1,
      logEntry: { i },
    })));
  assert.ok(results.every((r) => r.ok));
  assert.equal(MAX_WRITES, 400);
  assert.deepEqual([committer.stats.batches, committer.stats.writes], [3, 900]);
  assert.equal((await kv.get<Deno.KvU64>(["count"])).value?.value, 900n);
  assert.equal((await kv.get<number>(["head"])).value, 900);
  assert.equal((await kv.get<number>(["c", "n899"])).value, 899);
});

Deno.test("GroupCommitter keeps batches within KV's limits on checks and bytes", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  // 250 writes need at least 3 atomics of at most 100 checks.
  const small = await Promise.all(
    Array.from({ length: 250 }, (_, i) => committer.submit(setOnce(`s${i}`))),
  );
  assert.ok(small.every((r) => r.ok));
  assert.ok(committer.stats.batches >= 3, `${committer.stats.batches} batches`);
  // 30 values of 60,000 characters: about 1.8 MB, more than one atomic may carry (800 KiB).
  const big = await Promise.all(
    Array.from({ length: 30 }, (_, i) => committer.submit(setOnce(`b${i}`, "x".repeat(60_000)))),
  );
  assert.ok(big.every((r) => r.ok));
  assert.equal(committer.stats.retried, 0);
  assert.equal((await kv.get<string>(["c", "b29"])).value?.length, 60_000);
});

Deno.test("GroupCommitter rejects only the write that KV refuses", async () => {
  using kv = await Deno.openKv(":memory:");
  const committer = new GroupCommitter(kv);
  const results = await Promise.allSettled([
    committer.submit(setOnce("fine")),
    committer.submit(setOnce("huge", "x".repeat(70_000))), // over KV's 64 KiB value limit
    committer.submit(setOnce("also fine")),
  ]);
  assert.equal(results[0].status, "fulfilled");
  assert.equal(results[1].status, "rejected");
  assert.equal(results[2].status, "fulfilled");
  assert.equal((await kv.get(["c", "also fine"])).value, "also fine");
  assert.equal((await kv.get(["c", "huge"])).value, null);
});

Deno.test("GroupCommitter numbers log entries densely in commit order, in the write's atomic", async () => {
  using kv = await Deno.openKv(":memory:");
  const log = { headKey: ["head"], entryKey: (seq: number) => ["log", seq], shared: false };
  const committer = new GroupCommitter(kv, { log });
  const seqs: number[] = [];
  const write = (id: string): Write => ({
    ...setOnce(id, id, (_, seq) => seqs.push(seq!)),
    logEntry: { id },
  });
  const first = await Promise.all(["a", "b", "c"].map((id) => committer.submit(write(id))));
  assert.deepEqual(first.map((r) => r.ok && r.seq), [1, 2, 3]);
  // A failed check takes no number: the log has no gap.
  const second = await Promise.all(["d", "a", "e"].map((id) => committer.submit(write(id))));
  assert.deepEqual(second.map((r) => r.ok && r.seq), [4, false, 5]);
  assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
  assert.equal((await kv.get(["head"])).value, 5);
  const entries = await Array.fromAsync(kv.list<{ id: string }>({ prefix: ["log"] }));
  assert.deepEqual(entries.map((e) => [e.key[1], e.value.id]), [
    [1, "a"],
    [2, "b"],
    [3, "c"],
    [4, "d"],
    [5, "e"],
  ]);
  // Each entry shares its write's versionstamp.
  assert.equal(entries[4]!.versionstamp, (await kv.get(["c", "e"])).versionstamp);
});

Deno.test("GroupCommitter retries a batch on top of a head another writer advanced", async () => {
  using kv = await Deno.openKv(":memory:");
  const log = { headKey: ["head"], entryKey: (seq: number) => ["log", seq], shared: false };
  const committer = new GroupCommitter(kv, { log });
  const logged = (id: string): Write => ({ ...setOnce(id), logEntry: { id } });
  assert.deepEqual(await committer.submit(logged("a")), {
    ok: true,
    versionstamp: (await kv.get(["c", "a"])).versionstamp,
    seq: 1,
  });
  // Another process appends two entries behind this committer's back.
  await kv.atomic().set(["log", 2], { id: "x" }).set(["log", 3], { id: "y" }).set(["head"], 3)
    .commit();
  const results = await Promise.all(["b", "c"].map((id) => committer.submit(logged(id))));
  assert.deepEqual(results.map((r) => r.ok && r.seq), [4, 5]);
  assert.equal(committer.stats.retried, 0);
  assert.equal((await kv.get(["head"])).value, 5);
});
