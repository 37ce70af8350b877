import assert from "node:assert/strict";
import { blankContact, type StoredContact } from "../model/contact.ts";
import { compareCodePoints, ContactView } from "./contact_view.ts";
import { JSON_TEXT } from "../protocol/jsonrpc.ts";
import { contactTerms, fold } from "../model/search_terms.ts";
import { prng } from "../../tests/prng.ts";

function contact(id: string, name: string): StoredContact {
  return {
    id,
    ...blankContact(name),
    phones: [{ label: "", number: "555" }],
    created: "2024-01-01T00:00:00.000Z",
    updated: "2024-01-01T00:00:00.000Z",
  };
}

const ids = (page: { contacts(): { id: string }[] }) => page.contacts().map((c) => c.id);

const A = "01J000000000000000000000AA", B = "01J000000000000000000000BB";
const C = "01J000000000000000000000CC";

Deno.test("ContactView.put() moves a contact between names when it is renamed", () => {
  const view = new ContactView();
  view.put(contact(A, "Bob Smith"), "01");
  view.put(contact(B, "bob  SMITH"), "02");
  assert.deepEqual(ids(view.find("bob smith", null, 10)), [A, B]);
  view.put(contact(A, "Robert Smith"), "03");
  assert.deepEqual(ids(view.find("bob smith", null, 10)), [B]);
  assert.deepEqual(ids(view.find("robert smith", null, 10)), [A]);
  assert.deepEqual(ids(view.list(null, 10)), [B, A]);
  assert.equal(view.get(A)?.version, "03");
  assert.equal(view.size, 2);
});

Deno.test("ContactView.find() pages after an id and says whether more follow", () => {
  const view = new ContactView();
  for (const id of [C, A, B]) view.put(contact(id, "Ann"), "01");
  view.put(contact("01J000000000000000000000DD", "Anna"), "01");
  view.put(contact("01J000000000000000000000EE", "An"), "01");
  const find = (afterId: string | null, limit: number) => {
    const page = view.find("ann", afterId, limit);
    return { ids: ids(page), more: page.more, last: page.last };
  };
  assert.deepEqual(find(null, 2), { ids: [A, B], more: true, last: ["ann", B] });
  assert.deepEqual(find(B, 2), { ids: [C], more: false, last: ["ann", C] });
  assert.deepEqual(find(C, 2), { ids: [], more: false, last: null });
  assert.deepEqual(find(null, 3), { ids: [A, B, C], more: false, last: ["ann", C] });
  view.delete(B);
  assert.deepEqual(find(A, 2), { ids: [C], more: false, last: ["ann", C] });
  view.delete(A);
  view.delete(C);
  assert.deepEqual(find(null, 2), { ids: [], more: false, last: null });
  assert.equal(view.delete(C), false);
});

Deno.test("ContactView holds frozen copies whose JSON text matches them", () => {
  const view = new ContactView();
  const input = contact(A, "Zoë");
  const held = view.put(input, "0000000000000001");
  assert.equal(held[JSON_TEXT], JSON.stringify(held));
  assert.equal(JSON.parse(held[JSON_TEXT]).version, "0000000000000001");
  // What get() parses from the text held is the same, frozen too.
  const again = view.get(A)!;
  assert.deepEqual(again, held);
  assert.equal(again[JSON_TEXT], held[JSON_TEXT]);
  assert.ok(Object.isFrozen(again) && Object.isFrozen(again.phones[0]));
  assert.equal(view.version(A), "0000000000000001");
  assert.ok(
    Object.isFrozen(held) && Object.isFrozen(held.phones) && Object.isFrozen(held.phones[0]),
  );
  assert.throws(() => {
    (held.phones as Array<{ label: string; number: string }>).push({ label: "", number: "1" });
  }, TypeError);
  // Spreads and rests do not carry the JSON text, so an edited copy is never sent stale.
  const { id: _id, ...rest } = held;
  assert.equal(JSON_TEXT in { ...held }, false);
  assert.equal(JSON_TEXT in rest, false);
});

const NAMES = ["Ann", "ann", "Bob", "Zoë", "Zoe", "\u{1F600}", "\uFFFD", "\u{20000}ka", "ﬀ", "a b"];

Deno.test("ContactView.list() pages in name order through thousands of puts, renames and deletes", () => {
  const random = prng(7);
  const view = new ContactView();
  const live = new Map<string, string>();
  const id = (n: number) => `01J${String(n).padStart(23, "0")}`;
  const expected = () =>
    [...live].map(([id, name]) => [fold(name), id] as [string, string])
      .sort((a, b) => compareCodePoints(a[0], b[0]) || compareCodePoints(a[1], b[1]));
  const listed = (limit: number) => {
    const out: Array<[string, string]> = [];
    let after: [string, string] | null = null;
    for (let page = 0; page < 10_000; page++) {
      const got = view.list(after, limit);
      for (const c of got.contacts()) out.push([fold(c.name), c.id]);
      if (!got.more) break;
      after = got.last;
    }
    return out;
  };
  for (let step = 0; step < 6000; step++) {
    const r = random();
    const n = Math.floor(random() * 3000);
    const name = `${NAMES[Math.floor(random() * NAMES.length)]} ${Math.floor(random() * 50)}`;
    if (r < 0.65) {
      view.put(contact(id(n), name), String(step).padStart(8, "0"));
      live.set(id(n), name);
    } else if (r < 0.9) {
      view.delete(id(n));
      live.delete(id(n));
    } else if (step % 500 === 0) {
      // A bulk load now and then, as at start: the same order from one sort.
      const again = new ContactView();
      again.startLoad();
      for (const [i, name] of live) again.put(contact(i, name), "01");
      again.endLoad();
      assert.deepEqual(
        again.list(null, 100_000).contacts().map((c) => c.id),
        expected().map(([, i]) => i),
      );
    }
  }
  assert.ok(live.size > 1000, `${live.size} contacts left`);
  assert.equal(view.size, live.size);
  assert.deepEqual(listed(97), expected());
  assert.deepEqual(listed(1000), expected());
  assert.deepEqual(view.verify(10).problems, []);
});

Deno.test("ContactView.audit() and verify() find a view that disagrees with a record", () => {
  const view = new ContactView();
  const ann = contact(A, "Ann Lee");
  view.put(ann, "00000000000000010000");
  assert.equal(view.audit(ann, "00000000000000010000"), null);
  assert.match(view.audit(ann, "00000000000000020000")!, /at version 00000000000000010000/);
  assert.match(view.audit({ ...ann, name: "Ann Park" }, "00000000000000010000")!, /under the name/);
  assert.match(view.audit({ ...ann, town: "Leeds" }, "00000000000000010000")!, /search terms/);
  assert.match(view.audit({ ...ann, notes: "x" }, "00000000000000010000")!, /copy of contact/);
  assert.match(view.audit(contact(B, "Bob"), "00000000000000010000")!, /lacks contact/);
  const { problems, entries } = view.verify(10);
  assert.deepEqual(problems, []);
  // Its place in the name order, and one per term (2 words, the phone's terms).
  const terms = contactTerms(ann);
  assert.equal(terms.words.length, 2);
  assert.equal(entries, 1 + terms.words.length + terms.phones.length);
});
