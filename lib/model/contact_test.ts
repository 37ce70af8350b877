import assert from "node:assert/strict";
import { validateContact, ValidationError } from "./contact.ts";

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
