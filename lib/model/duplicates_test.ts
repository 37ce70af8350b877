import assert from "node:assert/strict";
import fc from "../../tests/fast_check.ts";
import type { ContactFields } from "./contact.ts";
import { blankContact } from "../client/contact_edit.ts";
import {
  DuplicateIndex,
  duplicateReason,
  emailKey,
  mergeInto,
  phoneKey,
  samePhone,
} from "./duplicates.ts";
import { setPhoneRegion } from "./phones.ts";

function person(name: string, phones: string[] = [], emails: string[] = []): ContactFields {
  return {
    ...blankContact(name),
    phones: phones.map((number) => ({ label: "", number })),
    emails: emails.map((address) => ({ label: "", address })),
  };
}

Deno.test("samePhone() compares digits, ignoring leading zeros and a country prefix", () => {
  assert.ok(samePhone("555-0123", "555 0123"));
  assert.ok(samePhone("(555) 012-3", "5550123"));
  assert.ok(samePhone("+44 20 7946 0958", "020 7946 0958"));
  assert.ok(samePhone("+1 (555) 010-0199", "555-010-0199"));
  assert.ok(!samePhone("555-0123", "555-0124"));
  assert.ok(!samePhone("0123", "555-0123"), "a short number does not match a longer one's end");
  assert.ok(!samePhone("123456", "99123456"), "6 digits are too few for a suffix match");
  assert.ok(samePhone("1234567", "99 1234567"));
  assert.ok(!samePhone("", ""), "no digits never match");
  assert.ok(!samePhone("ext", "ext"));
  assert.equal(phoneKey("00 44 20"), "4420");
});

Deno.test("samePhone() compares numbers in the canonical form search uses, under the region", () => {
  // Both international: equal E.164 digits, however written; another country is another number.
  assert.ok(samePhone("+44 (0)20 7946-0958", "+442079460958"));
  assert.ok(!samePhone("+1 202 555 0123", "+44 20 555 0123"), "the last 7 digits are not enough");
  assert.ok(!samePhone("+44 20 7946 0958", "+44 20 7946 0959"));
  setPhoneRegion("GB");
  try {
    assert.ok(samePhone("07700 900123", "+44 7700 900123"));
    assert.ok(samePhone("020 7946 0958", "+44 20 7946 0958"));
    assert.ok(!samePhone("020 7946 0958", "+1 207 946 0958"), "the same digits, two countries");
    // Without a canonical form (too short), digits as before.
    assert.ok(samePhone("555-0123", "(555) 012-3"));
  } finally {
    setPhoneRegion(null);
  }
  setPhoneRegion("US");
  try {
    assert.ok(samePhone("(202) 555-0123", "+1 202 555 0123"));
    assert.ok(!samePhone("(202) 555-0123", "+44 20 2555 0123"), "read as +1, not +44");
  } finally {
    setPhoneRegion(null);
  }
});

Deno.test("emailKey() ignores case, outer space and Unicode form", () => {
  assert.equal(emailKey(" Ann@Example.com"), "ann@example.com");
  assert.equal(emailKey("jose\u0301@example.com"), emailKey("josé@EXAMPLE.com"));
});

Deno.test("duplicateReason() needs the same name and a shared phone or email", () => {
  const ann = person("Ann Lee", ["555-0100"], ["ann@example.com"]);
  assert.equal(
    duplicateReason(ann, person("ANN  LEE", ["555 0100"])),
    'same name and phone "555-0100"',
  );
  assert.equal(
    duplicateReason(ann, person("ann lee", [], ["Ann@Example.COM"])),
    'same name and email "ann@example.com"',
  );
  assert.equal(
    duplicateReason(person("Zoë", ["555-0100"]), person("zoe", ["5550100"])) !== null,
    true,
  );
  assert.equal(duplicateReason(ann, person("Ann Lee")), null, "a name alone is not enough");
  assert.equal(duplicateReason(ann, person("Ann", ["555-0100"])), null, "another name");
  assert.equal(duplicateReason(ann, person("Ann Lee", ["555-0101"], ["ann@example.org"])), null);
});

Deno.test("DuplicateIndex finds likely duplicates by name bucket, and forgets deleted ones", () => {
  const index = new DuplicateIndex<ContactFields & { id: string }>();
  const a = { ...person("Bob Smith", ["555-0123"]), id: "a" };
  const b = { ...person("Bob Smith", [], ["bob@example.com"]), id: "b" };
  const c = { ...person("Carol", ["555-0123"]), id: "c" };
  for (const contact of [a, b, c]) index.add(contact);
  const found = index.find(person("bob smith", ["(555) 012-3"], ["BOB@example.com"]));
  assert.deepEqual(found.map((f) => f.contact.id), ["a", "b"]);
  assert.match(found[0]!.reason, /phone/);
  assert.match(found[1]!.reason, /email/);
  assert.deepEqual(index.find(person("Carol", ["555 0123"])).map((f) => f.contact.id), ["c"]);
  assert.deepEqual(index.find(person("Dave", ["555-0123"])), []);
  assert.ok(index.delete(a));
  assert.ok(!index.delete(a));
  assert.deepEqual(index.find(person("Bob Smith", ["555-0123"])), []);
});

Deno.test("mergeInto() keeps the existing contact and adds only what is new", () => {
  const existing = {
    ...person("Bob", ["555-0123"], ["bob@example.com"]),
    town: "Springfield",
    notes: "Neighbour",
    uid: "u-1",
  };
  const incoming = {
    ...person("BOB", ["(555) 012-3", "555-0199"], ["Bob@Example.com", "bob@work.example"]),
    street: "Elm Street",
    notes: "neighbour",
  };
  const merged = mergeInto(existing, incoming);
  assert.deepEqual(merged.fields.phones.map((p) => p.number), ["555-0123", "555-0199"]);
  assert.deepEqual(merged.fields.emails.map((e) => e.address), [
    "bob@example.com",
    "bob@work.example",
  ]);
  assert.equal(merged.fields.notes, "Neighbour", "notes already there are not repeated");
  assert.equal(merged.notes, false);
  assert.equal(merged.fields.name, "Bob");
  assert.equal(merged.fields.uid, "u-1");
  assert.equal(merged.fields.street, "", "an existing address is not mixed with another");
  assert.deepEqual(merged.address, []);
  assert.deepEqual(existing.phones.length, 1, "the input is not changed");

  const noAddress = mergeInto(person("Bob"), { ...incoming, house: "12", town: "Shelbyville" });
  assert.deepEqual(noAddress.address, ["house", "street", "town"]);
  assert.equal(noAddress.fields.notes, "neighbour");
});

Deno.test("mergeInto() leaves out what would break the caps, and says so", () => {
  const full = person("Ann", Array.from({ length: 20 }, (_, i) => `555-01${10 + i}`));
  full.notes = "x".repeat(990);
  const merged = mergeInto(full, { ...person("Ann", ["555-9999"]), notes: "A long note here" });
  assert.equal(merged.fields.phones.length, 20);
  assert.equal(merged.fields.notes.length, 990);
  assert.equal(merged.leftOut.length, 2);
  assert.match(merged.leftOut[0]!, /^Phone "555-9999" left out: a contact has at most 20 phones$/);
  assert.match(merged.leftOut[1]!, /^Notes "A long note here" left out/);
});

Deno.test("duplicate rules are symmetric, and merging twice adds nothing (property)", () => {
  const digits = fc.stringMatching(/^[1-9][0-9]{2,11}$/);
  const phone = fc.tuple(digits, fc.constantFrom("", "+", "(", "0")).map(([d, p]) => p + d);
  const email = fc.constantFrom("a@x.org", "A@X.org", "b@y.net", "c@z.com");
  const contact = fc.record({
    name: fc.constantFrom("Ann", "ann", "Ánn", "Bob"),
    phones: fc.array(phone, { maxLength: 3 }),
    emails: fc.array(email, { maxLength: 2 }),
  }).map(({ name, phones, emails }) => person(name, phones, emails));
  fc.assert(
    fc.property(contact, contact, (a, b) => {
      assert.equal(duplicateReason(a, b) === null, duplicateReason(b, a) === null);
      const once = mergeInto(a, b).fields;
      assert.deepEqual(mergeInto(once, b).fields, once);
      if (b.phones.length + b.emails.length > 0 && once.phones.length < 20) {
        assert.notEqual(duplicateReason({ ...b, name: a.name }, once), null);
      }
    }),
    { numRuns: 500 },
  );
});
