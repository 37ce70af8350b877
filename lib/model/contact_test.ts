import assert from "node:assert/strict";
import { validateContact, ValidationError } from "./contact.ts";
import { fold } from "./search_terms.ts";

function fieldOf(input: unknown): unknown {
  try {
    validateContact(input);
  } catch (error) {
    assert.ok(error instanceof ValidationError);
    assert.doesNotMatch(error.message, /^Invalid params/);
    return error.field;
  }
  assert.fail("expected the contact to be refused");
}

Deno.test({
  name: "validateContact() trims, normalises to NFC and fills every field",
  permissions: "none",
  fn() {
    const c = validateContact({
      name: "  Jose\u0301  ",
      phones: [{ number: " 555 " }],
      emails: [{ label: "work", address: "j@x.org" }],
      notes: "a\n\tb",
      id: "ignored",
      version: "ignored",
    });
    assert.deepEqual(c, {
      name: "José",
      house: "",
      street: "",
      town: "",
      postcode: "",
      phones: [{ label: "", number: "555" }],
      emails: [{ label: "work", address: "j@x.org" }],
      notes: "a\n\tb",
      uid: "",
      extra: {},
    });
    assert.equal(c.name, "José".normalize("NFC"));
  },
});

Deno.test({
  name: "validateContact() names the field that is wrong",
  permissions: "none",
  fn() {
    assert.equal(fieldOf(null), "contact");
    assert.equal(fieldOf([]), "contact");
    assert.equal(fieldOf({}), "contact.name");
    assert.equal(fieldOf({ name: "   " }), "contact.name");
    assert.equal(fieldOf({ name: 5 }), "contact.name");
    assert.equal(fieldOf({ name: "x".repeat(201) }), "contact.name");
    assert.equal(fieldOf({ name: "A\nB" }), "contact.name");
    assert.equal(fieldOf({ name: "A", town: "x".repeat(1001) }), "contact.town");
    assert.equal(fieldOf({ name: "A", notes: "bell\u0007" }), "contact.notes");
    assert.equal(fieldOf({ name: "A", nickname: "x" }), "contact.nickname");
    assert.equal(fieldOf({ name: "A", phones: {} }), "contact.phones");
    assert.equal(fieldOf({ name: "A", phones: [{ number: "abc" }] }), "contact.phones[0].number");
    assert.equal(
      fieldOf({ name: "A", phones: [{ number: "1", kind: "x" }] }),
      "contact.phones[0].kind",
    );
    assert.equal(
      fieldOf({ name: "A", phones: Array.from({ length: 21 }, () => ({ number: "1" })) }),
      "contact.phones",
    );
    assert.equal(
      fieldOf({ name: "A", emails: [{ address: "a b@c" }] }),
      "contact.emails[0].address",
    );
    assert.equal(fieldOf({ name: "A", extra: [] }), "contact.extra");
    assert.equal(fieldOf({ name: "A", extra: { big: "x".repeat(17000) } }), "contact.extra");
  },
});

Deno.test({
  name: "validateContact() refuses a contact over 32 KiB of JSON",
  permissions: "none",
  fn() {
    const long = "y".repeat(1000);
    const contact = {
      name: "Big",
      phones: Array.from({ length: 20 }, () => ({ label: "l", number: "1" + long.slice(1) })),
      emails: Array.from({ length: 20 }, () => ({ label: "l", address: "a@" + long.slice(2) })),
    };
    assert.equal(fieldOf(contact), "contact");
  },
});

Deno.test({
  name: "validateContact() refuses a lone surrogate in any text, naming the field",
  permissions: "none",
  fn() {
    const lone = "Lone\ud800x";
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: lone }, "contact.name"],
      [{ name: "\udc00" }, "contact.name"],
      [{ name: "A", house: lone }, "contact.house"],
      [{ name: "A", street: lone }, "contact.street"],
      [{ name: "A", town: lone }, "contact.town"],
      [{ name: "A", postcode: lone }, "contact.postcode"],
      [{ name: "A", notes: lone }, "contact.notes"],
      [{ name: "A", uid: lone }, "contact.uid"],
      [{ name: "A", phones: [{ label: lone, number: "1" }] }, "contact.phones[0].label"],
      [{ name: "A", phones: [{ number: "1\ud800" }] }, "contact.phones[0].number"],
      [{ name: "A", emails: [{ label: lone, address: "a@b" }] }, "contact.emails[0].label"],
      [{ name: "A", emails: [{ address: "a\udfff@b" }] }, "contact.emails[0].address"],
      [{ name: "A", extra: { [lone]: 1 } }, "contact.extra"],
      [{ name: "A", extra: { note: lone } }, "contact.extra.note"],
      [
        { name: "A", extra: { vcard: ["ok", { "a b": [lone] }] } },
        'contact.extra.vcard[1]["a b"][0]',
      ],
    ];
    for (const [input, field] of cases) {
      assert.equal(fieldOf(input), field, JSON.stringify(input));
    }
    assert.throws(
      () => validateContact({ name: lone }),
      /lone surrogate \(\\ud800 at position 4\)/,
    );
    // Pairs are whole characters, and extra's other values are left alone.
    const ok = validateContact({ name: "𠀀 Ann", extra: { n: 1, t: true, z: null, s: "😀" } });
    assert.equal(ok.name, "𠀀 Ann");
  },
});

Deno.test({
  name: "validateContact() refuses a name that folds to nothing, and only such a name",
  permissions: "none",
  fn() {
    // Only combining marks, a spacing accent (NFKD: a space and a mark), marks and spaces.
    for (const name of ["\u0301\u0301", "\u00a8", "\u0301 \u0302", "\u3000\u20dd", "\u0488"]) {
      assert.equal(fold(name.normalize("NFC").trim()), "", JSON.stringify(name));
      assert.equal(fieldOf({ name }), "contact.name", JSON.stringify(name));
      assert.throws(() => validateContact({ name }), /a name needs a letter or digit/);
    }
    // Anything that folds to something is kept: it can be found by its own text.
    for (const name of ["e\u0301", "!", "\u200b", "\u0301a", "ǅ", "①"]) {
      const c = validateContact({ name });
      assert.notEqual(fold(c.name), "", JSON.stringify(name));
      assert.equal(fold(c.name), fold(name));
    }
  },
});
