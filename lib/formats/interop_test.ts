import { blankContact } from "../model/contact.ts";
import assert from "node:assert/strict";
import {
  decodeText,
  detectFormat,
  type Draft,
  finishDraft,
  joinStreet,
  oneLine,
  splitStreet,
  uidForContact,
} from "./interop.ts";

function draft(fields: Partial<Draft>): Draft {
  return { ...blankContact("Test"), ...fields };
}

Deno.test("uidForContact() turns a ULID into the urn:uuid of the same 128 bits", () => {
  assert.equal(
    uidForContact({ id: "00000000000000000000000001" }),
    "urn:uuid:00000000-0000-0000-0000-000000000001",
  );
  assert.equal(
    uidForContact({ id: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ" }),
    "urn:uuid:ffffffff-ffff-ffff-ffff-ffffffffffff",
  );
  assert.equal(uidForContact({ id: "not-a-ulid" }), "not-a-ulid");
  assert.notEqual(uidForContact({}), uidForContact({}));
});

Deno.test("decodeText() reads UTF-16 big endian and reports Windows-1252 fallback", () => {
  assert.deepEqual(decodeText(new Uint8Array([0xfe, 0xff, 0x00, 0x41, 0x00, 0xe9])), {
    text: "Aé",
    fallback: false,
  });
  assert.deepEqual(decodeText(new Uint8Array([0x80])), { text: "€", fallback: true });
});

Deno.test("detectFormat() tells vCard, JSON Lines and CSV apart", () => {
  assert.equal(detectFormat("BEGIN:VCARD\r\n"), "vcard");
  assert.equal(detectFormat("  \n[1]"), "json");
  assert.equal(detectFormat(""), "csv");
});

Deno.test("splitStreet() and joinStreet() agree on house numbers and house names", () => {
  const cases: Array<[string, string, string, string, string]> = [
    // street line, extended, house, street, extended left
    ["12 High Street", "", "12", "High Street", ""],
    ["12-14 High Street", "Flat 2", "12-14", "High Street", "Flat 2"],
    ["12/3 Calle Mayor", "", "12/3", "Calle Mayor", ""],
    ["1st Avenue", "", "", "1st Avenue", ""],
    ["12, rue de la Paix", "", "", "12, rue de la Paix", ""],
    ["7", "", "7", "", ""],
    ["", "Rose Cottage", "Rose Cottage", "", ""],
  ];
  for (const [line, extended, house, street, rest] of cases) {
    assert.deepEqual(splitStreet(line, extended), { house, street, extended: rest }, line);
    const joined = joinStreet(house, street, rest);
    assert.deepEqual(splitStreet(joined.street, joined.extended), {
      house,
      street,
      extended: rest,
    });
  }
});

Deno.test("oneLine() joins lines with commas and removes control characters", () => {
  assert.equal(oneLine("\r\n a\n\nb\u0007c \n"), "a, b c");
});

Deno.test("finishDraft() leaves out fields over their caps and keeps the contact", () => {
  const notes: string[] = [];
  const contact = finishDraft(
    draft({ town: "t".repeat(1001), uid: "u".repeat(1001), notes: "ok" }),
    (r) => notes.push(r),
  );
  assert.ok(typeof contact !== "string");
  assert.deepEqual([contact.town, contact.uid, contact.notes], ["", "", "ok"]);
  assert.deepEqual(notes, [
    "Town is 1001 characters long, more than 1000: left out",
    "Uid is 1001 characters long, more than 1000: left out",
  ]);
});

Deno.test("finishDraft() drops the largest extra lines until the whole contact fits", () => {
  // Every field at its cap in multi-byte text: past the 32 KiB contact cap without extras.
  const long = "€".repeat(1000);
  const notes: string[] = [];
  const contact = finishDraft(
    draft({
      house: long,
      street: long,
      town: long,
      postcode: long,
      notes: long,
      uid: long,
      phones: Array.from({ length: 4 }, () => ({ label: "", number: "1" + long.slice(1) })),
      extra: { vcard: ["X-A:" + "a".repeat(8000), "X-B:b"] },
    }),
    (r) => notes.push(r),
  );
  assert.ok(typeof contact !== "string");
  assert.deepEqual(contact.extra.vcard, ["X-B:b"]);
  assert.deepEqual(notes, ["X-A does not fit in the contact: left out"]);
});

Deno.test("finishDraft() gives a reason when the name itself is unusable", () => {
  assert.equal(
    finishDraft(draft({ name: "" }), () => {}),
    "The contact's name is empty",
  );
});

Deno.test({
  name: "splitStreet() keeps a number-like extended address, so joinStreet() round-trips it",
  permissions: "none",
  fn() {
    const split = splitStreet("High Street", "0");
    assert.deepEqual(split, { house: "", street: "High Street", extended: "0" });
    assert.deepEqual(joinStreet(split.house, split.street, split.extended), {
      street: "High Street",
      extended: "0",
    });
  },
});
