import assert from "node:assert/strict";
import { validateContact } from "../model/contact.ts";
import { contactTerms } from "../model/search_terms.ts";
import {
  contactKey,
  CONTACTS,
  COUNT_KEY,
  HEAD_KEY,
  LAYOUT_KEY,
  LAYOUT_VERSION,
  LEGACY_INDEXES,
  REBUILD_KEY,
} from "./keys.ts";
import { MIGRATIONS, prepareLayout, rebuildIndexes, storedCount } from "./maintenance.ts";
import { ContactStore } from "./store.ts";
import { tempDir } from "../../tests/helpers.ts";

/** A store in memory with `n` contacts. */
async function storeWith(n: number): Promise<ContactStore> {
  const store = await ContactStore.open(":memory:");
  for (let i = 0; i < n; i++) {
    await store.add(validateContact({
      name: `Person ${i}`,
      town: `Town${i % 5}`,
      phones: [{ number: `555-${i}` }],
    }));
  }
  return store;
}

async function rows(kv: Deno.Kv, prefix: Deno.KvKey): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

/** A record as layouts 1 to 3 stored it (no layout 4 field is needed). */
function record(id: string, name: string, town = "Springfield") {
  return {
    ...validateContact({ name, town, phones: [{ number: "555-0100" }] }),
    id,
    created: "2024-01-01T00:00:00.000Z",
    updated: "2024-01-01T00:00:00.000Z",
  };
}

const id = (n: number) => `01J${String(n).padStart(23, "0")}`;

Deno.test("check() reports each kind of damage, at most 100 problems", async () => {
  await using dir = await tempDir("addressbook-check-");
  const path = `${dir.path}/store.kv`;
  await using store = await ContactStore.open(path);
  const [ann, bob, cy] = [
    await store.add(validateContact({ name: "Ann", town: "Springfield" })),
    await store.add(validateContact({ name: "Bob" })),
    await store.add(validateContact({ name: "Cy" })),
  ];
  assert.deepEqual((await store.check()).problems, []);
  // Behind the store's back: a record that does not validate, one changed, one deleted, a
  // stray index row, a wrong count, a head behind its log.
  {
    using kv = await Deno.openKv(path);
    await kv.set(contactKey(ann!.id), { ...record(ann!.id, "Ann"), name: "" });
    await kv.set(contactKey(bob!.id), record(bob!.id, "Robert"));
    await kv.delete(contactKey(cy!.id));
    await kv.set(["by_word", "ghost", id(9)], "ghost");
    await kv.set(COUNT_KEY, new Deno.KvU64(7n));
    await kv.set(HEAD_KEY, 1);
  }
  const report = await store.check();
  assert.equal(report.ok, false);
  assert.equal(report.contacts, 2);
  const changed = (await store.export()).contacts.find((c) => c.id === bob!.id)!.version;
  const [invalid, ...others] = report.problems;
  assert.ok(
    invalid?.startsWith(`The record ${JSON.stringify(contactKey(ann!.id))} does not validate: `) &&
      /name/.test(invalid),
    invalid,
  );
  assert.deepEqual(others, [
    `The view holds contact "${bob!.id}" at version ${bob!.version}, its record is at ${changed}`,
    `The view holds contact "${cy!.id}", which has no record`,
    `Stray index entry ["by_word","ghost","${id(9)}"]`,
    "The change log's head is 1 but its last entry is 3",
    "The stored count is 7 but there are 2 contacts",
  ]);
  // 150 strays: 100 problems reported.
  {
    using kv = await Deno.openKv(path);
    for (let i = 0; i < 150; i++) await kv.set(["by_phone", `9${i}`, id(1)], "x");
  }
  assert.equal((await store.check()).problems.length, 100);
});

Deno.test("check() compares every view entry: a record the view lacks, verified entries counted", async () => {
  await using dir = await tempDir("addressbook-check-");
  const path = `${dir.path}/store.kv`;
  await using store = await ContactStore.open(path);
  const ann = await store.add(validateContact({ name: "Ann Lee", phones: [{ number: "1" }] }));
  {
    using kv = await Deno.openKv(path);
    await kv.set(contactKey(id(5)), record(id(5), "Ghost"));
  }
  const report = await store.check();
  assert.deepEqual(report.problems, [
    `The view lacks contact "${id(5)}", which has a record`,
    "The stored count is 1 but there are 2 contacts",
  ]);
  // Ann: her place in the name order, 2 words, her phone's terms.
  const terms = contactTerms(ann);
  assert.equal(report.indexEntries, 1 + 2 + terms.phones.length);
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

Deno.test("rebuildIndexes() recounts and drops stray rows, leaving no mark; an interrupted one is finished by prepareLayout()", async () => {
  using kv = await Deno.openKv(":memory:");
  await prepareLayout(kv, ":memory:");
  await kv.set(contactKey(id(1)), record(id(1), "Ann"));
  await kv.set(["by_name", "ann", id(1)], null);
  await rebuildIndexes(kv);
  assert.equal((await kv.get(REBUILD_KEY)).versionstamp, null);
  assert.equal(await storedCount(kv), 1);
  assert.equal(await rows(kv, ["by_name"]), 0);
  // As a repair killed part way: the mark, a stray row left, the count not yet set.
  await kv.set(REBUILD_KEY, { started: "2024-01-01T00:00:00.000Z" });
  await kv.set(["by_word", "ann", id(1)], "ann");
  await kv.set(COUNT_KEY, new Deno.KvU64(0n));
  const warnings: string[] = [];
  await prepareLayout(kv, ":memory:", { warn: (message) => warnings.push(message) });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /rebuild .* was interrupted/);
  assert.equal((await kv.get(REBUILD_KEY)).versionstamp, null);
  assert.equal(await storedCount(kv), 1);
  assert.equal(await rows(kv, ["by_word"]), 0);
  // Done, the next open says nothing.
  await prepareLayout(kv, ":memory:", { warn: (message) => warnings.push(message) });
  assert.equal(warnings.length, 1);
});

Deno.test("prepareLayout() migrates layouts 1 and 2 step by step to the current one", async () => {
  for (const from of [1, 2]) {
    using kv = await Deno.openKv(":memory:");
    for (let i = 0; i < 3; i++) await kv.set(contactKey(id(i)), record(id(i), `Ann ${i}`));
    if (from === 2) {
      await kv.set(LAYOUT_KEY, 2);
      await kv.set(COUNT_KEY, new Deno.KvU64(3n));
      await kv.set(["by_name", "ann 0", id(0)], null);
      await kv.set(["by_word", "ann", id(0)], "ann 0");
    }
    assert.equal(await prepareLayout(kv, ":memory:"), from);
    assert.equal((await kv.get(LAYOUT_KEY)).value, LAYOUT_VERSION);
    assert.equal(await storedCount(kv), 3);
    assert.equal((await kv.get(HEAD_KEY)).value, 0);
    for (const prefix of LEGACY_INDEXES) assert.equal(await rows(kv, prefix), 0);
    assert.equal(await rows(kv, CONTACTS), 3);
  }
});

/** `kv` whose atomic commits throw after the first `n` (a process killed part way). */
function dyingAfter(kv: Deno.Kv, n: number): Deno.Kv {
  let commits = 0;
  return new Proxy(kv, {
    get(target, property) {
      if (property === "atomic") {
        return () => {
          const op = target.atomic();
          return new Proxy(op, {
            get(inner, name) {
              if (name === "commit") {
                return () => {
                  if (++commits > n) throw new Error("killed");
                  return inner.commit();
                };
              }
              const value = Reflect.get(inner, name);
              return typeof value === "function" ? value.bind(inner) : value;
            },
          });
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("the step from layout 3 deletes the index rows in bounded atomics; cut short, the next open finishes it", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(LAYOUT_KEY, 3);
  await kv.set(HEAD_KEY, 0);
  await kv.set(COUNT_KEY, new Deno.KvU64(1n));
  await kv.set(contactKey(id(1)), record(id(1), "Ann"));
  // 1,200 word rows, and 100 name rows of 2,000-byte names: 200 KB of keys, more than
  // one atomic may hold (81,920 bytes).
  for (let i = 0; i < 1200; i += 100) {
    const op = kv.atomic();
    for (let j = i; j < i + 100; j++) op.set(["by_word", `w${j}`, id(1)], "ann");
    await op.commit();
  }
  for (let i = 0; i < 100; i += 20) {
    const op = kv.atomic();
    for (let j = i; j < i + 20; j++) op.set(["by_name", `${j}`.padEnd(2000, "n"), id(j)], null);
    await op.commit();
  }
  const step = MIGRATIONS.find((m) => m.from === 3)!;
  await assert.rejects(step.run(dyingAfter(kv, 2)), /killed/);
  assert.equal((await kv.get(LAYOUT_KEY)).value, 3, "the layout moves on only when done");
  const left = await rows(kv, ["by_name"]) + await rows(kv, ["by_word"]);
  assert.ok(left > 0 && left < 1300, `${left} rows left`);
  assert.equal(await prepareLayout(kv, ":memory:"), 3);
  assert.equal((await kv.get(LAYOUT_KEY)).value, LAYOUT_VERSION);
  for (const prefix of LEGACY_INDEXES) assert.equal(await rows(kv, prefix), 0);
  assert.equal(await rows(kv, CONTACTS), 1);
  assert.equal(await storedCount(kv), 1);
});

Deno.test("prepareLayout() refuses a layout newer than this code", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(LAYOUT_KEY, LAYOUT_VERSION + 1);
  await assert.rejects(
    prepareLayout(kv, "x.kv"),
    new RegExp(`has layout ${LAYOUT_VERSION + 1}, newer than this server`),
  );
});
