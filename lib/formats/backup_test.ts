import assert from "node:assert/strict";
import { formatJsonLine, parseJsonLines } from "./backup.ts";
import { fillMissingFields } from "../model/contact.ts";

const ID_A = "01J0000000000000000000000A";
const ID_B = "01J0000000000000000000000B";

const stored = (id: string, name: string) => ({
  id,
  name,
  house: "12",
  street: "High Street",
  town: "Springfield",
  postcode: "",
  phones: [{ label: "mobile", number: "555-0123" }],
  emails: [],
  urls: [{ label: "work", url: "https://bob.example" }],
  org: "Acme",
  title: "Plumber",
  nickname: "Bobby",
  birthday: "1970-01-01",
  anniversary: "--06-30",
  groups: ["Family", "Chess club"],
  notes: "Line 1\nLine 2",
  uid: "",
  extra: { vcard: ["BDAY:1970-01-01"] },
  created: "2024-01-01T00:00:00.000Z",
  updated: "2024-01-02T00:00:00.000Z",
  version: "00000000000000010000",
});

Deno.test("parseJsonLines() reads what formatJsonLine() writes: fields and ids, not server fields", () => {
  const text = formatJsonLine(stored(ID_A, "Bob")) + "\r\n" + formatJsonLine(stored(ID_B, "Zoë"));
  const result = parseJsonLines(text);
  assert.deepEqual(result.skipped, []);
  assert.deepEqual(result.warnings, []);
  assert.equal(result.contacts.length, 2);
  const { created: _c, updated: _u, version: _v, ...expected } = stored(ID_A, "Bob");
  assert.deepEqual(result.contacts[0], expected);
  assert.equal(result.contacts[1]!.id, ID_B);
});

Deno.test("parseJsonLines() reads a backup written before issue 15: the new fields empty", () => {
  const {
    org: _o,
    title: _t,
    nickname: _n,
    birthday: _b,
    anniversary: _a,
    urls: _u,
    groups: _g,
    ...old
  } = stored(ID_A, "Bob");
  const result = parseJsonLines(formatJsonLine(old));
  assert.deepEqual(result.warnings, []);
  const { created: _c, updated: _up, version: _v, ...fields } = old;
  assert.deepEqual(result.contacts[0], fillMissingFields(fields));
  assert.equal(result.contacts[0]!.org, "");
  assert.deepEqual(result.contacts[0]!.groups, []);
});

Deno.test("parseJsonLines() takes an array, a page, and a pretty-printed contact", () => {
  const array = JSON.stringify([stored(ID_A, "Bob"), { name: "Ann" }], null, 2);
  assert.deepEqual(parseJsonLines(array).contacts.map((c) => c.name), ["Bob", "Ann"]);
  const page = JSON.stringify({ contacts: [stored(ID_A, "Bob")], cursor: null });
  assert.deepEqual(parseJsonLines(page + "\n" + page).contacts.map((c) => c.id), [ID_A, ID_A]);
  const pretty = JSON.stringify({ name: "Carol", town: "Ogdenville" }, null, 2);
  assert.equal(parseJsonLines("\uFEFF" + pretty).contacts[0]!.town, "Ogdenville");
  assert.deepEqual(parseJsonLines(""), { contacts: [], skipped: [], warnings: [] });
});

Deno.test("parseJsonLines() skips bad records with the line and reason, and keeps going", () => {
  const text = [
    '{"name":"Ann"}',
    "{not json",
    '{"name":""}',
    "42",
    '{"name":"Eve","phones":[{"number":"none"}]}',
    '{"name":"Bob","nick":"B","id":"nope"}',
  ].join("\n");
  const result = parseJsonLines(text);
  assert.deepEqual(result.contacts.map((c) => c.name), ["Ann", "Bob"]);
  assert.equal(result.contacts[1]!.id, undefined);
  assert.deepEqual(
    result.skipped.map((s) => [s.index, s.line, s.name, s.reason.slice(0, 40)]),
    [
      [1, 2, undefined, "Line 2 is not JSON: Expected property na"],
      [2, 3, undefined, "The contact's name is empty"],
      [3, 4, undefined, "The record is not a JSON object"],
      [4, 5, "Eve", 'Phone number "none" has no digits'],
    ],
  );
  assert.deepEqual(result.warnings.map((w) => [w.line, w.name, w.reason]), [
    [6, "Bob", '"nick" is not a contact field: left out'],
    [6, "Bob", '"nope" is not a contact id: added with a new id'],
  ]);
});
