import assert from "node:assert/strict";
import { validateContact } from "./contact.ts";
import { AmbiguousError, ConflictError, ContactStore, NotFoundError } from "./store.ts";

async function withFileStore(fn: (store: ContactStore, path: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "addressbook-store-" });
  const path = `${dir}/test.kv`;
  try {
    const store = await ContactStore.open(path);
    try {
      await fn(store, path);
    } finally {
      store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const ids = (page: { contacts: { id: string }[] }) => page.contacts.map((c) => c.id);

Deno.test("ContactStore keeps indexes in step with records through add, update, remove", async () => {
  await withFileStore(async (store) => {
    const ann = await store.add(validateContact({
      name: "Ann Lee",
      town: "Springfield",
      phones: [{ number: "555-0100" }],
      emails: [{ address: "ann@example.com" }],
    }));
    assert.deepEqual(ids(await store.find("ann lee")), [ann.id]);
    assert.deepEqual(ids(await store.search("spring ann")), [ann.id]);
    assert.deepEqual(ids(await store.search("5550")), [ann.id]);

    const moved = await store.update(
      ann.id,
      ann.version,
      validateContact({ name: "Ann Lee-Park", town: "Shelbyville", phones: [{ number: "777" }] }),
    );
    assert.deepEqual(ids(await store.find("ann lee")), []);
    assert.deepEqual(ids(await store.find("ANN LEE-PARK")), [ann.id]);
    assert.deepEqual(ids(await store.search("spring")), []);
    assert.deepEqual(ids(await store.search("example")), []);
    assert.deepEqual(ids(await store.search("5550")), []);
    assert.deepEqual(ids(await store.search("park shelby")), [ann.id]);
    assert.deepEqual(ids(await store.search("ann")), [ann.id]); // kept word stays indexed
    assert.equal(await store.count(), 1);

    await assert.rejects(store.remove(ann.id, ann.version), ConflictError);
    const removed = await store.remove(ann.id, moved.version);
    assert.equal(removed.id, ann.id);
    assert.equal(await store.count(), 0);
    assert.deepEqual(ids(await store.search("ann")), []);
    assert.deepEqual(ids(await store.list()), []);
    await assert.rejects(store.get(ann.id), NotFoundError);
    await assert.rejects(store.remove(ann.id), NotFoundError);
  });
});

Deno.test("ContactStore.update() with a stale version is a conflict carrying the current contact", async () => {
  await withFileStore(async (store) => {
    const bob = await store.add(validateContact({ name: "Bob" }));
    const v2 = await store.update(bob.id, bob.version, validateContact({ name: "Bob", town: "A" }));
    const error = await store.update(
      bob.id,
      bob.version,
      validateContact({ name: "Bob", town: "B" }),
    )
      .catch((e) => e);
    assert.ok(error instanceof ConflictError);
    assert.deepEqual(error.current, v2);
    assert.equal((await store.get(bob.id)).town, "A");
  });
});

Deno.test("ContactStore: concurrent updates from one version, exactly one wins", async () => {
  await withFileStore(async (store) => {
    const c = await store.add(validateContact({ name: "Racer" }));
    const results = await Promise.allSettled(
      Array.from(
        { length: 10 },
        (_, i) => store.update(c.id, c.version, validateContact({ name: "Racer", town: `T${i}` })),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof ConflictError);
    }
    const winner = (won[0] as PromiseFulfilledResult<{ town: string }>).value;
    assert.equal((await store.get(c.id)).town, winner.town);
  });
});

Deno.test("ContactStore.removeByName() refuses an ambiguous name", async () => {
  await withFileStore(async (store) => {
    await store.add(validateContact({ name: "Sam", town: "X" }));
    await store.add(validateContact({ name: "SAM", town: "Y" }));
    const error = await store.removeByName("sam").catch((e) => e);
    assert.ok(error instanceof AmbiguousError);
    assert.deepEqual(error.candidates.map((c: { town: string }) => c.town).sort(), ["X", "Y"]);
    await assert.rejects(store.removeByName("nobody"), NotFoundError);
    assert.equal(await store.count(), 2);
  });
});

Deno.test("ContactStore.search() pages by name with a cursor", async () => {
  await withFileStore(async (store) => {
    for (let i = 0; i < 25; i++) {
      await store.add(
        validateContact({ name: `Member ${String(i).padStart(2, "0")}`, town: "Club" }),
      );
    }
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Awaited<ReturnType<typeof store.search>> = await store.search("club", {
        cursor,
        limit: 10,
      });
      names.push(...page.contacts.map((c) => c.name));
      cursor = page.cursor;
    } while (cursor);
    assert.equal(names.length, 25);
    assert.deepEqual(names, [...names].sort());
    await assert.rejects(store.search("club", { cursor: "%%%" }), RangeError);
  });
});

Deno.test("ContactStore reopens a file with its data and layout", async () => {
  await withFileStore(async (store, path) => {
    const a = await store.add(validateContact({ name: "Keep Me" }));
    store.close();
    const again = await ContactStore.open(path);
    try {
      assert.equal(again.openedLayout, 2);
      assert.equal((await again.get(a.id)).name, "Keep Me");
    } finally {
      again.close();
    }
    // withFileStore closes its handle again: closing twice is harmless.
  });
});
