import assert from "node:assert/strict";
import { validateContact } from "../model/contact.ts";
import { CONTACTS, INDEXES, REBUILD_KEY } from "./keys.ts";
import { check, prepareLayout, rebuildIndexes } from "./maintenance.ts";
import { ContactStore } from "./store.ts";

/** A store in memory with `n` contacts. */
async function storeWith(n: number): Promise<ContactStore> {
  const store = await ContactStore.open(":memory:", { view: false });
  for (let i = 0; i < n; i++) {
    await store.add(validateContact({
      name: `Person ${i}`,
      town: `Town${i % 5}`,
      phones: [{ number: `555-${i}` }],
    }));
  }
  return store;
}

async function entries(kv: Deno.Kv, prefix: Deno.KvKey): Promise<Deno.KvEntry<unknown>[]> {
  const out: Deno.KvEntry<unknown>[] = [];
  for await (const entry of kv.list({ prefix })) out.push(entry);
  return out;
}

Deno.test("check() reports each kind of damage, at most 100 problems", async () => {
  using kv = await Deno.openKv(":memory:");
  await prepareLayout(kv, ":memory:");
  for (let i = 0; i < 3; i++) {
    const contact = validateContact({ name: `Ann ${i}`, town: "Springfield" });
    const id = `01J00000000000000000000${i}0A`;
    await kv.set([...CONTACTS, id], {
      ...contact,
      id,
      created: "2024-01-01T00:00:00.000Z",
      updated: "2024-01-01T00:00:00.000Z",
    });
  }
  await rebuildIndexes(kv);
  assert.deepEqual((await check(kv)).problems, []);
  const [first] = await entries(kv, ["by_word", "springfield"]);
  await kv.delete(first!.key);
  await kv.set(["by_word", "nowhere", "01J0000000000000000000009A"], "ann 0");
  const [name] = await entries(kv, ["by_name"]);
  await kv.set(name!.key, "not null");
  const report = await check(kv);
  assert.equal(report.ok, false);
  assert.deepEqual(report.problems.toSorted(), [
    `Index entry ${JSON.stringify(name!.key)} holds "not null", not null`,
    `Missing index entry ${JSON.stringify(first!.key)}`,
    `Stray index entry ["by_word","nowhere","01J0000000000000000000009A"]`,
  ]);
  // 150 strays: 100 reported.
  for (let i = 0; i < 150; i++) {
    await kv.set(["by_phone", `9${i}`, "01J0000000000000000000000A"], "x");
  }
  assert.equal((await check(kv)).problems.length, 100);
  await rebuildIndexes(kv);
  assert.deepEqual((await check(kv)).problems, []);
});

Deno.test("check() stops once its signal is aborted", async () => {
  await using store = await storeWith(600);
  const controller = new AbortController();
  const running = store.check({ signal: controller.signal });
  controller.abort(new Error("nobody is listening"));
  await assert.rejects(running, /nobody is listening/);
  // Not aborted, the same check runs to the end.
  const report = await store.check({ signal: new AbortController().signal });
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.equal(report.contacts, 600);
});

Deno.test("rebuildIndexes() leaves no mark; an interrupted one is finished by prepareLayout()", async () => {
  using kv = await Deno.openKv(":memory:");
  await prepareLayout(kv, ":memory:");
  const id = "01J0000000000000000000000A";
  await kv.set([...CONTACTS, id], {
    ...validateContact({ name: "Ann", town: "Springfield" }),
    id,
    created: "2024-01-01T00:00:00.000Z",
    updated: "2024-01-01T00:00:00.000Z",
  });
  await rebuildIndexes(kv);
  assert.equal((await kv.get(REBUILD_KEY)).versionstamp, null);
  // As a rebuild killed after its deletes: the mark, and no index entries.
  await kv.set(REBUILD_KEY, { started: "2024-01-01T00:00:00.000Z" });
  for (const index of INDEXES) {
    for (const entry of await entries(kv, index)) await kv.delete(entry.key);
  }
  const warnings: string[] = [];
  await prepareLayout(kv, ":memory:", { warn: (message) => warnings.push(message) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /rebuild .* was interrupted/);
  assert.equal((await kv.get(REBUILD_KEY)).versionstamp, null);
  assert.deepEqual((await check(kv)).problems, []);
  // Done, the next open says nothing.
  await prepareLayout(kv, ":memory:", { warn: (message) => warnings.push(message) });
  assert.equal(warnings.length, 1);
});
