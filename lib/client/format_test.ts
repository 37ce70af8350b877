import assert from "node:assert/strict";
import {
  formatCard,
  formatDifferences,
  formatSummary,
  formatTable,
  type ShownContact,
} from "./format.ts";

const bob: ShownContact = {
  name: "Bob Smith",
  house: "12",
  street: "High Street",
  town: "Springfield",
  postcode: "AB1 2CD",
  phones: [{ label: "mobile", number: "555-0123" }, { label: "", number: "555-0199" }],
  emails: [{ label: "work", address: "bob@example.com" }],
  notes: "Line one\nline two",
};

Deno.test("formatCard() shows every field with a value, notes indented", () => {
  assert.equal(
    formatCard({ ...bob, id: "01J0000000000000000000000A" }, { id: true }),
    [
      "Bob Smith",
      "  Address  12 High Street, Springfield, AB1 2CD",
      "  Phone    555-0123 (mobile)",
      "  Phone    555-0199",
      "  Email    bob@example.com (work)",
      "  Notes    Line one",
      "           line two",
      "  Id       01J0000000000000000000000A",
    ].join("\n"),
  );
  assert.equal(
    formatCard({
      ...bob,
      phones: [],
      emails: [],
      notes: "",
      house: "",
      street: "",
      town: "",
      postcode: "",
    }),
    "Bob Smith",
  );
});

Deno.test("formatTable() keeps every row within the width, cutting long values", () => {
  const long = { ...bob, name: "N".repeat(80), street: "S".repeat(200) };
  const rows = Array.from(
    { length: 12 },
    (_, i) => i === 5 ? long : { ...bob, name: `Person ${i}` },
  );
  const table = formatTable(rows, { first: 91, columns: 80 });
  const lines = table.split("\n");
  assert.equal(lines.length, 13);
  for (const line of lines) assert.ok([...line].length <= 80, `${[...line].length}: ${line}`);
  assert.match(lines[0]!, /^ {4}# {2}Name/);
  assert.match(lines[1]!, /^ {3}91 {2}Person 0 /);
  assert.match(lines[12]!, /^ {2}102 {2}Person 11 /);
  assert.match(lines[6]!, /N…/);
});

Deno.test("formatSummary() shows what tells same-named contacts apart", () => {
  assert.equal(formatSummary(bob), "Bob Smith · 12 High Street, Springfield, AB1 2CD · 555-0123");
});

Deno.test("formatDifferences() lists only the fields that differ, empties marked", () => {
  const theirs = { ...bob, town: "Shelbyville", notes: "" };
  const text = formatDifferences(bob, theirs, ["Yours", "Theirs"]);
  const lines = text.split("\n");
  assert.equal(lines.length, 3);
  assert.match(lines[0]!, /^\s+Yours\s+Theirs$/);
  assert.match(lines[1]!, /^ {2}Town\s+Springfield\s+Shelbyville$/);
  assert.match(lines[2]!, /^ {2}Notes\s+Line one line two\s+\(empty\)$/);
  assert.equal(formatDifferences(bob, { ...bob }, ["Yours", "Theirs"]), "");
});
