import assert from "node:assert/strict";
import { type Contact, validateContact } from "../model/contact.ts";
import { contactTerms, fold, matchesQuery, parseQuery } from "../model/search_terms.ts";
import type { Page } from "../protocol/api.ts";
import { formatResponse, resultResponse } from "../protocol/jsonrpc.ts";
import { compareCodePoints } from "./contact_view.ts";
import { AmbiguousError, ConflictError, NotFoundError } from "./errors.ts";
import { decodeCursor, encodeCursor } from "./paging.ts";
import { ContactStore } from "./store.ts";
import { LAYOUT_VERSION } from "./keys.ts";
import { tempDir } from "../../tests/helpers.ts";
import { prng } from "../../tests/prng.ts";

async function withFileStore(fn: (store: ContactStore, path: string) => Promise<void>) {
  await withTempDir(async (dir) => {
    const path = `${dir}/test.kv`;
    const store = await ContactStore.open(path);
    try {
      await fn(store, path);
    } finally {
      store.close();
    }
  });
}

const ids = (page: { contacts: { id: string }[] }) => page.contacts.map((c) => c.id);

Deno.test("ContactStore keeps its view in step with records through add, update, remove", async () => {
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
      assert.equal(again.openedLayout, LAYOUT_VERSION);
      assert.equal((await again.get(a.id)).name, "Keep Me");
    } finally {
      again.close();
    }
    // withFileStore closes its handle again: closing twice is harmless.
  });
});

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  await using dir = await tempDir("addressbook-store-test-");
  await fn(dir.path);
}

const NAMES = ["Ann Lee", "ann lee", "Bob Smith", "José Núñez", "Jose Nunez", "Zoë", "Eve"];

/** Every contact as KV holds it, read straight from the records (`export`). */
async function records(store: ContactStore): Promise<Contact[]> {
  const out: Contact[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const got: Page = await store.export({ cursor, limit: 100 });
    out.push(...got.contacts);
    cursor = got.cursor;
    if (cursor === null) break;
  }
  return out;
}

/**
 * What a read must answer, worked out the slow way from the records: those `keep` selects,
 * sorted by `[foldedName, id]` in code point order (layout 3's KV key order), the page after
 * the sort key `after`, with the cursor layout 3 gave (the page's last key, when more follow).
 */
function expectedPage(
  all: Contact[],
  keep: (contact: Contact) => boolean,
  after: [string, string] | null,
  limit: number,
): Page {
  const key = (c: Contact): [string, string] => [fold(c.name), c.id];
  const compare = (a: [string, string], b: [string, string]) =>
    compareCodePoints(a[0], b[0]) || compareCodePoints(a[1], b[1]);
  const sorted = all.filter(keep).sort((a, b) => compare(key(a), key(b)))
    .filter((c) => after === null || compare(key(c), after) > 0);
  const contacts = sorted.slice(0, limit);
  const last = contacts.at(-1);
  return { contacts, cursor: sorted.length > limit && last ? encodeCursor(key(last)) : null };
}

async function everything(store: ContactStore, ids: string[]) {
  const byId: Record<string, Contact | null> = {};
  for (const id of ids) {
    try {
      byId[id] = await store.get(id);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      byId[id] = null;
    }
  }
  const byName: Record<string, string[]> = {};
  for (const name of NAMES) {
    const ids: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page++) {
      const found: { contacts: Contact[]; cursor: string | null } = await store.find(name, {
        cursor,
        limit: 3,
      });
      ids.push(...found.contacts.map((c) => c.id));
      cursor = found.cursor;
      if (cursor === null) break;
    }
    byName[name] = ids;
  }
  const listed: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const found: { contacts: Contact[]; cursor: string | null } = await store.list({
      cursor,
      limit: 7,
    });
    listed.push(...found.contacts.map((c) => `${c.id}@${c.version}`));
    cursor = found.cursor;
    if (cursor === null) break;
  }
  const searched = (await store.search("ann", { limit: 100 })).contacts.map((c) => c.id);
  return { byId, byName, listed, searched, count: await store.count() };
}

Deno.test("ContactStore's view stays exact through concurrent adds, renames, updates and removes", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/store.kv`;
    const ids: string[] = [];
    const random = prng(5);
    {
      await using store = await ContactStore.open(path);
      assert.ok(store.cached);
      for (let wave = 0; wave < 15; wave++) {
        // 20 concurrent operations per wave, several on the same contact at once.
        await Promise.allSettled(Array.from({ length: 20 }, async () => {
          const pick = ids[Math.floor(random() * ids.length)];
          const name = NAMES[Math.floor(random() * NAMES.length)]!;
          const r = random();
          if (pick === undefined || r < 0.4) {
            ids.push((await store.add(validateContact({ name, town: "Annecy" }))).id);
          } else if (r < 0.8) {
            const current = await store.get(pick);
            await store.update(pick, current.version, validateContact({ name }));
          } else {
            await store.remove(pick);
          }
        }));
      }
      assert.ok(store.commitStats.batches < store.commitStats.writes, "writes were grouped");
      const viaView = await everything(store, ids);
      // The same answers worked out from the records, and from a view built from them at
      // open (one sort), and from one opened shared (as a KV Connect store is).
      const all = await records(store);
      const listed = expectedPage(all, () => true, null, 10_000).contacts;
      assert.deepEqual(viaView.listed, listed.map((c) => `${c.id}@${c.version}`));
      for (const name of NAMES) {
        const want = expectedPage(all, (c) => fold(c.name) === fold(name), null, 10_000);
        assert.deepEqual(viaView.byName[name], want.contacts.map((c) => c.id), name);
      }
      const ann = parseQuery("ann");
      assert.deepEqual(
        viaView.searched,
        expectedPage(all, (c) => matchesQuery(ann, contactTerms(c)), null, 100).contacts
          .map((c) => c.id),
      );
      assert.equal(viaView.count, all.length);
      await using shared = await ContactStore.open(path, { shared: true });
      assert.equal(shared.shared, true);
      assert.deepEqual(await everything(shared, ids), viaView);
      assert.deepEqual((await store.check()).problems, []);
    }
    await using reopened = await ContactStore.open(path);
    const { byId } = await everything(reopened, ids);
    assert.ok(Object.values(byId).some((c) => c !== null), "some contacts survive");
  });
});

Deno.test("ContactStore.find(): kept first pages never outlive a write touching their name", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/store.kv`;
    await using store = await ContactStore.open(path);
    const random = prng(11);
    const live: string[] = [];
    // After every write: each name's first page, reply text included, equals the records'.
    // The page size changes only every other step, so most first asks find a page kept
    // before the write.
    const check = async (step: number) => {
      const all = await records(store);
      for (const name of NAMES) {
        {
          const limit = step % 4 < 2 ? 100 : 2;
          const expected = expectedPage(all, (c) => fold(c.name) === fold(name), null, limit);
          for (let i = 0; i < 2; i++) {
            const found = await store.find(name, { limit });
            assert.deepEqual(found, expected, `step ${step}: find ${name} limit ${limit}`);
            assert.equal(
              formatResponse(resultResponse(1, found)),
              JSON.stringify(resultResponse(1, expected)) + "\n",
              `step ${step}: reply text of find ${name}`,
            );
          }
        }
      }
    };
    for (let step = 0; step < 60; step++) {
      const name = NAMES[Math.floor(random() * NAMES.length)]!;
      const pick = live[Math.floor(random() * live.length)];
      const r = random();
      if (pick === undefined || r < 0.35) {
        live.push((await store.add(validateContact({ name, town: "Annecy" }))).id);
      } else if (r < 0.6) {
        // Same name, other fields: the page's text must change with the version.
        const current = await store.get(pick);
        await store.update(
          pick,
          current.version,
          validateContact({ name: current.name, notes: `${step}` }),
        );
      } else if (r < 0.85) {
        const current = await store.get(pick);
        await store.update(pick, current.version, validateContact({ name }));
      } else {
        await store.remove(pick);
        live.splice(live.indexOf(pick), 1);
      }
      await check(step);
    }
    assert.ok(live.length > 3, "contacts remain to be found");
  });
});

Deno.test("ContactStore.update(): of two concurrent updates at one version, one wins, one conflicts", async () => {
  await using store = await ContactStore.open(":memory:");
  const bob = await store.add(validateContact({ name: "Bob" }));
  const results = await Promise.allSettled([
    store.update(bob.id, bob.version, validateContact({ name: "Robert" })),
    store.update(bob.id, bob.version, validateContact({ name: "Bobby" })),
  ]);
  const won = results.filter((r) => r.status === "fulfilled");
  const lost = results.filter((r) => r.status === "rejected");
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  const error = (lost[0] as PromiseRejectedResult).reason;
  assert.ok(error instanceof ConflictError);
  const winner = (won[0] as PromiseFulfilledResult<Contact>).value;
  assert.equal(error.current.version, winner.version);
  assert.equal(error.current.name, winner.name);
  assert.equal((await store.find("bob")).contacts.length, 0);
  assert.equal((await store.find(winner.name)).contacts[0]?.id, bob.id);
});

Deno.test("ContactStore.remove() and a concurrent update: the view follows whichever committed", async () => {
  await using store = await ContactStore.open(":memory:");
  const ann = await store.add(validateContact({ name: "Ann" }));
  const [removed, updated] = await Promise.allSettled([
    store.remove(ann.id, ann.version),
    store.update(ann.id, ann.version, validateContact({ name: "Anna" })),
  ]);
  assert.equal(removed.status, "fulfilled");
  assert.equal(updated.status, "rejected");
  await assert.rejects(store.get(ann.id), NotFoundError);
  assert.equal((await store.find("Anna")).contacts.length, 0);
  assert.equal(await store.count(), 0);
});

/** Words for random contacts: accents, a letter above U+FFFF, shared prefixes, digits. */
const SEARCH_WORDS = [
  "ann",
  "anna",
  "Annecy",
  "Åsa",
  "asa",
  "bob",
  "Bo",
  "smith",
  "Smithers",
  "núñez",
  "nunez",
  "\u{20000}ka",
  "\u{20000}",
  "\uFFFDz",
  "ﬀ",
  "x1",
  "x10",
  "zoë",
];

Deno.test("ContactStore.search() and list(): the pages and cursors layout 3's KV indexes gave, on random data", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/store.kv`;
    const random = prng(11);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const phrase = (n: number) => Array.from({ length: n }, () => pick(SEARCH_WORDS)).join(" ");
    const randomContact = () =>
      validateContact({
        name: phrase(1 + Math.floor(random() * 3)),
        town: random() < 0.5 ? phrase(1) : "",
        street: random() < 0.3 ? phrase(2) : "",
        phones: random() < 0.7
          ? [{ number: `555-${Math.floor(random() * 1000)}` }, { number: "01 23" }].slice(
            0,
            1 + Math.floor(random() * 2),
          )
          : [],
        emails: random() < 0.5
          ? [{ address: `${pick(SEARCH_WORDS)}@x${pick(["1", "2"])}.org` }]
          : [],
      });
    await using store = await ContactStore.open(path);
    assert.ok(store.cached);
    const known: string[] = [];
    for (let wave = 0; wave < 12; wave++) {
      await Promise.allSettled(Array.from({ length: 25 }, async () => {
        const id = known.length > 0 ? pick(known) : undefined;
        const r = random();
        if (id === undefined || r < 0.6) {
          known.push((await store.add(randomContact())).id);
        } else if (r < 0.9) {
          await store.update(id, (await store.get(id)).version, randomContact());
        } else {
          await store.remove(id);
        }
      }));
    }
    const all = await records(store);
    const queries = [
      "5",
      "555",
      "555-1",
      "01 2",
      "0123",
      "x1",
      "",
      "q",
      ...SEARCH_WORDS.map((w) => w.slice(0, 1 + Math.floor(random() * w.length))),
    ];
    for (let i = 0; i < 60; i++) {
      queries.push(
        Array.from(
          { length: 1 + Math.floor(random() * 3) },
          () => pick(SEARCH_WORDS).slice(0, 1 + Math.floor(random() * 3)),
        ).join(" "),
      );
    }
    let compared = 0;
    for (const query of queries) {
      const limit = 1 + Math.floor(random() * 7);
      let cursor: string | null = null;
      for (let page = 0; page < 400; page++) {
        const fromView: { contacts: Contact[]; cursor: string | null } = await store.search(
          query,
          { cursor, limit },
        );
        const parsed = parseQuery(query);
        const fromKv = expectedPage(
          all,
          (c) => matchesQuery(parsed, contactTerms(c)),
          decodeCursor(cursor),
          limit,
        );
        assert.deepEqual(ids(fromView), ids(fromKv), `query ${JSON.stringify(query)}`);
        assert.equal(fromView.cursor, fromKv.cursor, `query ${JSON.stringify(query)}`);
        compared += fromView.contacts.length;
        cursor = fromView.cursor;
        if (cursor === null) break;
      }
      assert.equal(cursor, null, "every query was paged to its end");
    }
    assert.ok(compared > 500, `only ${compared} results were compared`);
    // list, the same way, at a few page sizes.
    for (const limit of [1, 7, 100]) {
      let cursor: string | null = null;
      for (let page = 0; page < 1000; page++) {
        const got: Page = await store.list({ cursor, limit });
        const want = expectedPage(all, () => true, decodeCursor(cursor), limit);
        assert.deepEqual(got, want);
        cursor = got.cursor;
        if (cursor === null) break;
      }
      assert.equal(cursor, null);
    }
  });
});

Deno.test("ContactStore logs every change with its write, in seq order, and publishes it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/store.kv`;
    await using store = await ContactStore.open(path);
    const live = store.changes.subscribe({});
    const bob = await store.add(validateContact({ name: "Bob", town: "Springfield" }));
    const [ann, eve] = await Promise.all([
      store.add(validateContact({ name: "Ann" })),
      store.add(validateContact({ name: "Eve" })),
    ]);
    const bob2 = await store.update(bob.id, bob.version, validateContact({ name: "Robert" }));
    await store.remove(ann.id);
    const logged = await store.changesAfter(0, 100);
    assert.deepEqual(
      logged.map((e) => [e.seq, e.type, e.id, e.name]),
      [
        [1, "added", bob.id, "Bob"],
        [2, "added", ann.id, "Ann"],
        [3, "added", eve!.id, "Eve"],
        [4, "updated", bob.id, "Robert"],
        [5, "removed", ann.id, "Ann"],
      ],
    );
    assert.equal(logged[0]!.version, bob.version);
    assert.equal(logged[3]!.version, bob2.version);
    // An update's terms hold the old and the new: a query on either finds it.
    assert.ok(logged[3]!.terms.words.includes("bob") && logged[3]!.terms.words.includes("robert"));
    assert.deepEqual(live.take(), logged);
    assert.equal(await store.changeHead(), 5);
    assert.equal(await store.changeLogStart(), 0);
    assert.deepEqual((await store.changesAfter(3, 1)).map((e) => e.seq), [4]);
    live.close();
  });
});

Deno.test("ContactStore trims the change log by count, a bounded batch at a time", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/store.kv`;
    const changeLog = { maxEvents: 5, trimEvery: 1000, trimBatch: 4 };
    {
      await using store = await ContactStore.open(path, { changeLog });
      for (let i = 0; i < 12; i++) await store.add(validateContact({ name: `P${i}` }));
      assert.equal(await store.changeLogStart(), 0);
      assert.equal(await store.trimChanges(), 4); // at most trimBatch
      assert.equal(await store.changeLogStart(), 4);
      assert.equal(await store.trimChanges(), 3);
      assert.equal(await store.trimChanges(), 0);
      assert.equal(await store.changeLogStart(), 7);
      assert.deepEqual((await store.changesAfter(7, 100)).map((e) => e.seq), [8, 9, 10, 11, 12]);
    }
    // By age: everything older than the limit goes, at open.
    await using again = await ContactStore.open(path, { changeLog: { maxAgeMs: 0 } });
    assert.equal(await again.changeLogStart(), 12);
    assert.equal(await again.changeHead(), 12);
  });
});

Deno.test("ContactStore opened shared publishes what another store handle logs", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/store.kv`;
    await using writer = await ContactStore.open(path);
    await writer.add(validateContact({ name: "Before" }));
    // Like a second server on a shared store: it reads the log as the head moves.
    await using reader = await ContactStore.open(path, { shared: true });
    assert.equal(reader.changes.position, 1);
    const live = reader.changes.subscribe({});
    const added = await writer.add(validateContact({ name: "After" }));
    await writer.remove(added.id);
    const seen = [];
    for (let i = 0; i < 100 && seen.length < 2; i++) {
      await live.ready();
      seen.push(...live.take());
    }
    assert.deepEqual(seen.map((e) => [e.seq, e.type, e.name]), [[2, "added", "After"], [
      3,
      "removed",
      "After",
    ]]);
    // Its own writes are numbered after the other's, and come through the log too.
    const own = await reader.add(validateContact({ name: "Own" }));
    await live.ready();
    assert.deepEqual(live.take().map((e) => [e.seq, e.id]), [[4, own.id]]);
    live.close();
  });
});

Deno.test("ContactStore.check() verifies the stored count even when reads come from the view", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/store.kv`;
    {
      await using store = await ContactStore.open(path);
      await store.add(validateContact({ name: "Ann" }));
      await store.add(validateContact({ name: "Bob" }));
    }
    const kv = await Deno.openKv(path);
    await kv.set(["meta", "count"], new Deno.KvU64(5n));
    kv.close();
    await using store = await ContactStore.open(path);
    assert.equal(store.cached, true);
    const report = await store.check();
    assert.equal(report.ok, false);
    assert.deepEqual(report.problems, ["The stored count is 5 but there are 2 contacts"]);
    await store.rebuildIndexes();
    assert.equal((await store.check()).ok, true);
  });
});

Deno.test("ContactStore.epoch: made once and kept in the store; another store has its own", async () => {
  const dir = await Deno.makeTempDir({ prefix: "addressbook-epoch-" });
  try {
    let first: string;
    {
      await using store = await ContactStore.open(`${dir}/a.kv`);
      first = store.epoch;
      assert.match(first, /^[0-9a-f]{32}$/);
    }
    {
      await using again = await ContactStore.open(`${dir}/a.kv`);
      assert.equal(again.epoch, first, "kept across a restart");
    }
    await using other = await ContactStore.open(`${dir}/b.kv`);
    assert.notEqual(other.epoch, first);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
