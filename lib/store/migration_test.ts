/**
 * A store made by the layout-3 code (`tests/fixtures/layout3.kv`, made by
 * `tests/fixtures/make_layout3.ts` at commit 8025dbc, with what that code answered in
 * `layout3.json`) opened by this code: migrated to layout 4 with nothing lost, and every
 * read answered as layout 3 answered it, cursors included.
 */
import assert from "node:assert/strict";
import { fillMissingFields, validateContact } from "../model/contact.ts";
import type { Page } from "../protocol/api.ts";
import { LAYOUT_VERSION, LEGACY_INDEXES } from "./keys.ts";
import { ContactStore } from "./store.ts";
import { tempDir } from "../../tests/helpers.ts";

const FIXTURE = new URL("../../tests/fixtures/layout3.kv", import.meta.url);
const EXPECTED = new URL("../../tests/fixtures/layout3.json", import.meta.url);

interface Pages {
  contacts: string[];
  cursor: string | null;
}

interface Expected {
  count: number;
  head: number;
  changes: unknown[];
  contacts: Array<{ id: string; version: string }>;
  finds: Record<string, Pages[]>;
  searches: Record<string, Pages[]>;
  list: Pages[];
}

/** Every page of a read, as the fixture keeps them (`id@version`, cursor). */
async function pages(read: (cursor: string | null) => Promise<Page>, limit: number) {
  const out: Pages[] = [];
  let cursor: string | null = null;
  for (let n = 0; n < limit; n++) {
    const page: Page = await read(cursor);
    out.push({ contacts: page.contacts.map((c) => `${c.id}@${c.version}`), cursor: page.cursor });
    cursor = page.cursor;
    if (cursor === null) break;
  }
  return out;
}

Deno.test("a layout-3 store opens migrated to layout 4: every contact, version, count and change kept, reads answered as before", async () => {
  const expected: Expected = JSON.parse(await Deno.readTextFile(EXPECTED));
  await using dir = await tempDir("addressbook-migration-");
  const path = `${dir.path}/addressbook.kv`;
  await Deno.copyFile(FIXTURE, path);
  {
    using kv = await Deno.openKv(path);
    let rows = 0;
    for await (const _ of kv.list({ prefix: ["by_word"] })) rows++;
    assert.ok(rows > 1000, `the fixture holds ${rows} word rows`);
  }
  {
    await using store = await ContactStore.open(path);
    assert.equal(store.openedLayout, 3);
    const exported = [];
    for (const page of await pages((cursor) => store.export({ cursor, limit: 100 }), 100)) {
      exported.push(...page.contacts);
    }
    assert.deepEqual(exported, expected.contacts.map((c) => `${c.id}@${c.version}`));
    for (const contact of expected.contacts) {
      assert.deepEqual({ ...await store.get(contact.id) }, fillMissingFields(contact));
    }
    assert.equal(await store.count(), expected.count);
    assert.equal(await store.changeHead(), expected.head);
    assert.equal(await store.changeLogStart(), 0);
    assert.deepEqual(await store.changesAfter(0, 10_000), expected.changes);
    // watch's since reads the log from there.
    assert.deepEqual(await store.changesAfter(expected.head - 7, 100), expected.changes.slice(-7));
    for (const [name, want] of Object.entries(expected.finds)) {
      assert.deepEqual(
        await pages((cursor) => store.find(name, { cursor, limit: 1 }), 1000),
        want,
        name,
      );
    }
    for (const [query, want] of Object.entries(expected.searches)) {
      assert.deepEqual(
        await pages((cursor) => store.search(query, { cursor, limit: 25 }), 1000),
        want,
        query,
      );
    }
    assert.deepEqual(
      await pages((cursor) => store.list({ cursor, limit: 37 }), 1000),
      expected.list,
    );
    // A cursor layout 3 gave goes on where it left off.
    const third = await store.list({ cursor: expected.list[1]!.cursor, limit: 37 });
    assert.deepEqual(third.contacts.map((c) => `${c.id}@${c.version}`), expected.list[2]!.contacts);
    const report = await store.check();
    assert.deepEqual(report.problems, []);
    assert.equal(report.contacts, expected.count);
    // It goes on logging after the migrated log.
    const added = await store.add(validateContact({ name: "After Migration" }));
    assert.deepEqual((await store.changesAfter(expected.head, 10)).map((e) => [e.seq, e.id]), [
      [expected.head + 1, added.id],
    ]);
  }
  {
    using kv = await Deno.openKv(path);
    for (const prefix of LEGACY_INDEXES) {
      for await (const entry of kv.list({ prefix }, { limit: 1 })) {
        assert.fail(`index row left: ${JSON.stringify(entry.key)}`);
      }
    }
    assert.equal((await kv.get(["meta", "layout"])).value, LAYOUT_VERSION);
  }
  await using again = await ContactStore.open(path);
  assert.equal(again.openedLayout, LAYOUT_VERSION);
  assert.equal(await again.count(), expected.count + 1);
});

Deno.test("a layout-4 store opens as layout 5: fields an older vCard import kept in extra become fields, logged; others read with the new fields empty", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/layout4.kv`;
  const created = "2025-01-01T00:00:00.000Z";
  // Records as layout 4 stored them: the seven fields absent.
  const base = { house: "", street: "", town: "", postcode: "", phones: [], emails: [], notes: "" };
  const ann = {
    id: "01J0000000000000000000000A",
    name: "Ann",
    ...base,
    uid: "ann-uid",
    extra: {
      vcard: ["ORG:Acme;Sales", "BDAY:1980-04-12", "CATEGORIES:Family,Chess", "X-SKYPE:ann"],
    },
    created,
    updated: created,
  };
  const bob = {
    id: "01J0000000000000000000000B",
    name: "Bob",
    ...base,
    uid: "",
    extra: {},
    created,
    updated: created,
  };
  let bobVersion: string;
  {
    using kv = await Deno.openKv(path);
    await kv.atomic()
      .set(["meta", "layout"], 4)
      .set(["meta", "count"], new Deno.KvU64(2n))
      .set(["changes_head"], 0)
      .set(["contacts", ann.id], ann)
      .set(["contacts", bob.id], bob)
      .commit();
    bobVersion = (await kv.get(["contacts", bob.id])).versionstamp!;
  }
  {
    await using store = await ContactStore.open(path);
    assert.equal(store.openedLayout, 4);
    const lifted = await store.get(ann.id);
    assert.equal(lifted.org, "Acme");
    assert.equal(lifted.birthday, "1980-04-12");
    assert.deepEqual(lifted.groups, ["Family", "Chess"]);
    assert.deepEqual(lifted.extra.vcard, ["X-SKYPE:ann"]);
    const plain = await store.get(bob.id);
    assert.equal(plain.version, bobVersion, "a record with nothing to lift is not rewritten");
    assert.equal(plain.org, "");
    assert.deepEqual(plain.urls, []);
    assert.equal((await store.search("acme")).contacts.length, 1, "found by its organisation");
    const changes = await store.changesAfter(0, 10);
    assert.deepEqual(changes.map((c) => [c.type, c.id]), [["updated", ann.id]]);
    assert.equal(changes[0]!.version, lifted.version);
    assert.deepEqual((await store.check()).problems, []);
  }
  await using again = await ContactStore.open(path);
  assert.equal(again.openedLayout, LAYOUT_VERSION);
  assert.equal((await again.changesAfter(0, 10)).length, 1, "a second open rewrites nothing");
});
