import assert from "node:assert/strict";
import type { Contact, ContactFields } from "../model/contact.ts";
import { blankContact } from "./contact_edit.ts";
import { derivedUid, planImport, sameFields } from "./import_plan.ts";

const ID_A = "01J0000000000000000000000A";
const ID_B = "01J0000000000000000000000B";
const ID_C = "01J0000000000000000000000C";

function stored(id: string, fields: Partial<ContactFields> & { name: string }): Contact {
  return {
    ...blankContact(fields.name),
    ...fields,
    id,
    version: "v-" + id,
    created: "2024-01-01T00:00:00.000Z",
    updated: "2024-01-01T00:00:00.000Z",
  };
}

function fields(name: string, more: Partial<ContactFields> = {}): ContactFields {
  return { ...blankContact(name), ...more };
}

Deno.test("planImport() matches a backup's records by id: unchanged, updated, restored", () => {
  const ann = stored(ID_A, { name: "Ann", town: "Springfield" });
  const bob = stored(ID_B, { name: "Bob" });
  const plan = planImport([
    { record: 0, contact: { ...fields("Ann", { town: "Springfield" }), id: ID_A } },
    { record: 1, contact: { ...fields("Bob", { town: "Shelbyville" }), id: ID_B } },
    { record: 2, contact: { ...fields("Carol"), id: ID_C } },
  ], [ann, bob]);
  assert.deepEqual(plan.steps.map((s) => s.kind), ["unchanged", "update", "add"]);
  const [, update, add] = plan.steps;
  assert.ok(update?.kind === "update" && update.target === bob);
  assert.equal(update.fields.town, "Shelbyville");
  assert.ok(add?.kind === "add" && add.id === ID_C, "a free id is restored");
  assert.deepEqual(plan.warnings, []);
});

Deno.test("planImport() matches vCard and CSV records by uid, own or derived from the id", () => {
  const ann = stored(ID_A, { name: "Ann", uid: "ann@phone" });
  const bob = stored(ID_B, { name: "Bob" }); // exported with UID urn:uuid:<its id>
  const plan = planImport([
    { record: 0, contact: fields("Ann", { uid: "ann@phone", town: "Ogdenville" }) },
    { record: 1, contact: fields("Bob", { uid: derivedUid(ID_B) }) },
    { record: 2, contact: fields("Dan", { uid: "dan@phone" }) },
  ], [ann, bob]);
  assert.deepEqual(plan.steps.map((s) => s.kind), ["update", "unchanged", "add"]);
  const add = plan.steps[2]!;
  assert.ok(add.kind === "add" && add.id === undefined && add.fields.uid === "dan@phone");
});

Deno.test("planImport() matches a backup's id against a uid taken from an earlier vCard export", () => {
  // Store B got Ann from a vCard export of store A: her uid is the one derived from A's id.
  const annInB = stored(ID_B, { name: "Ann", uid: derivedUid(ID_A) });
  const plan = planImport([{ record: 0, contact: { ...fields("Ann"), id: ID_A } }], [annInB]);
  const [step] = plan.steps;
  assert.ok(step?.kind === "update" && step.target === annInB);
});

Deno.test("planImport() treats repeats within the input as one contact, the later one wins", () => {
  const plan = planImport([
    { record: 0, contact: fields("Ann", { uid: "u1", town: "A" }) },
    { record: 1, contact: fields("Bob") },
    { record: 2, contact: fields("Ann", { uid: "u1", town: "B" }) },
  ], []);
  assert.deepEqual(plan.steps.map((s) => s.kind), ["add", "add"]);
  const first = plan.steps[0]!;
  assert.ok(first.kind === "add" && first.fields.town === "B" && first.record === 2);
  assert.deepEqual(plan.warnings, [{
    index: 2,
    name: "Ann",
    reason: "Record 3 is the same contact as record 1 (same uid): the later one is used",
  }]);
});

Deno.test("planImport() reports likely duplicates of added records, stored or earlier in the input", () => {
  const bob = stored(ID_A, { name: "Bob Smith", phones: [{ label: "", number: "555-0123" }] });
  const plan = planImport([
    { record: 0, contact: fields("bob smith", { phones: [{ label: "", number: "(555) 012-3" }] }) },
    { record: 1, contact: fields("Eve", { emails: [{ label: "", address: "eve@example.com" }] }) },
    { record: 2, contact: fields("EVE", { emails: [{ label: "", address: "Eve@Example.com" }] }) },
    { record: 3, contact: fields("Bob Smith") }, // a name alone is not a duplicate
  ], [bob]);
  const dups = plan.steps.map((s) => s.kind === "add" ? s.duplicates : null);
  assert.deepEqual(dups, [
    [{ id: ID_A, name: "Bob Smith", reason: 'same name and phone "(555) 012-3"' }],
    [],
    [{ record: 1, name: "Eve", reason: 'same name and email "Eve@Example.com"' }],
    [],
  ]);
});

Deno.test("sameFields() compares every user field", () => {
  const a = fields("Ann", { phones: [{ label: "", number: "1" }], extra: { a: { b: 1, c: 2 } } });
  assert.ok(sameFields(a, { ...a, extra: { a: { c: 2, b: 1 } } }));
  assert.ok(!sameFields(a, { ...a, phones: [{ label: "work", number: "1" }] }));
  assert.ok(!sameFields(a, { ...a, uid: "x" }));
});

Deno.test("planImport() keeps the stored extra keys a vCard or CSV cannot carry", () => {
  const ann = stored(ID_A, {
    name: "Ann",
    uid: "u1",
    extra: { vcard: ["X-SKYPE:ann"], blob: { kept: true } },
  });
  const csv = planImport(
    [{ record: 0, contact: fields("Ann", { uid: "u1" }) }],
    [ann],
    { carries: ["address"] },
  );
  assert.equal(csv.steps[0]!.kind, "unchanged");
  const vcard = planImport(
    [{ record: 0, contact: fields("Ann", { uid: "u1" }) }],
    [ann],
    { carries: ["vcard", "vcardN", "address"] },
  );
  const step = vcard.steps[0]!;
  assert.ok(step.kind === "update");
  assert.deepEqual(
    step.fields.extra,
    { blob: { kept: true } },
    "the X-SKYPE line went with the card",
  );
  const json = planImport([{ record: 0, contact: { ...fields("Ann", { uid: "u1" }), id: ID_A } }], [
    ann,
  ]);
  const replace = json.steps[0]!;
  assert.ok(replace.kind === "update" && Object.keys(replace.fields.extra).length === 0);
});

Deno.test("planImport() compares a contact stored before issue 15 as its export writes it", () => {
  // An older vCard import kept BDAY and ORG as lines; the CSV that export writes has them as
  // columns: the same contact, unchanged, and an update never keeps the lines beside them.
  const old = stored(ID_A, {
    name: "Ann",
    uid: "u1",
    extra: { vcard: ["BDAY:1970-01-01", "ORG:Acme", "X-SKYPE:ann"] },
  });
  const record = fields("Ann", { uid: "u1", birthday: "1970-01-01", org: "Acme" });
  const same = planImport([{ record: 0, contact: record }], [old], { carries: ["address"] });
  assert.equal(same.steps[0]!.kind, "unchanged");
  const moved = planImport(
    [{ record: 0, contact: { ...record, town: "Leeds" } }],
    [old],
    { carries: ["address"] },
  );
  const step = moved.steps[0]!;
  assert.ok(step.kind === "update");
  assert.deepEqual(step.fields.extra, { vcard: ["X-SKYPE:ann"] });
  assert.deepEqual([step.fields.org, step.fields.birthday], ["Acme", "1970-01-01"]);
});

Deno.test("planImport() finds a record without id or uid equal to a stored contact unchanged, once", () => {
  const ann = stored(ID_A, { name: "Ann", town: "Leeds" });
  const plan = planImport([
    { record: 0, contact: fields("Ann", { town: "Leeds" }) },
    { record: 1, contact: fields("Ann", { town: "Leeds" }) }, // a second Ann: nothing left
    { record: 2, contact: fields("Ann", { town: "York" }) },
  ], [ann]);
  assert.deepEqual(plan.steps.map((step) => step.kind), ["unchanged", "add", "add"]);
  const first = plan.steps[0]!;
  assert.ok(first.kind === "unchanged" && first.target.id === ID_A);
  assert.deepEqual(plan.warnings, []);
});
