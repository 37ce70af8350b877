import assert from "node:assert/strict";
import type { StoredContact } from "../model/contact.ts";
import { ContactView } from "./contact_view.ts";
import { JSON_TEXT } from "../protocol/jsonrpc.ts";

function contact(id: string, name: string): StoredContact {
  return {
    id,
    name,
    house: "",
    street: "",
    town: "",
    postcode: "",
    phones: [{ label: "", number: "555" }],
    emails: [],
    notes: "",
    uid: "",
    extra: {},
    created: "2024-01-01T00:00:00.000Z",
    updated: "2024-01-01T00:00:00.000Z",
  };
}

const A = "01J000000000000000000000AA", B = "01J000000000000000000000BB";
const C = "01J000000000000000000000CC";

Deno.test("ContactView.put() moves a contact between names when it is renamed", () => {
  const view = new ContactView();
  view.put(contact(A, "Bob Smith"), "01");
  view.put(contact(B, "bob  SMITH"), "02");
  assert.deepEqual(view.find("bob smith", null, 10).ids, [A, B]);
  view.put(contact(A, "Robert Smith"), "03");
  assert.deepEqual(view.find("bob smith", null, 10).ids, [B]);
  assert.deepEqual(view.find("robert smith", null, 10).ids, [A]);
  assert.equal(view.get(A)?.version, "03");
  assert.equal(view.size, 2);
});

Deno.test("ContactView.find() pages after an id and says whether more follow", () => {
  const view = new ContactView();
  for (const id of [C, A, B]) view.put(contact(id, "Ann"), "01");
  assert.deepEqual(view.find("ann", null, 2), { ids: [A, B], more: true });
  assert.deepEqual(view.find("ann", B, 2), { ids: [C], more: false });
  assert.deepEqual(view.find("ann", C, 2), { ids: [], more: false });
  view.delete(B);
  assert.deepEqual(view.find("ann", A, 2), { ids: [C], more: false });
  view.delete(A);
  view.delete(C);
  assert.deepEqual(view.find("ann", null, 2), { ids: [], more: false });
  assert.equal(view.delete(C), undefined);
});

Deno.test("ContactView holds frozen copies whose JSON text matches them", () => {
  const view = new ContactView();
  const input = contact(A, "Zoë");
  const held = view.put(input, "0000000000000001");
  assert.equal(held[JSON_TEXT], JSON.stringify(held));
  assert.equal(JSON.parse(held[JSON_TEXT]).version, "0000000000000001");
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
