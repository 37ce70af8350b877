import assert from "node:assert/strict";
import { applyPatch, blankContact, checkFields } from "./contact_edit.ts";

Deno.test("checkFields() names the field to ask again, with the server's own rules", () => {
  const base = blankContact("Bob");
  assert.deepEqual(checkFields({ ...base, name: " " }), {
    ok: false,
    field: "name",
    message: "The name is empty",
  });
  const email = checkFields({ ...base, emails: [{ label: "", address: "bob" }] });
  assert.equal(email.ok, false);
  if (!email.ok) assert.equal(email.field, "emails");
  const long = checkFields({ ...base, town: "x".repeat(1001) });
  assert.equal(long.ok, false);
  if (!long.ok) assert.equal(long.message, "Town is 1001 characters long, more than 1000");
  const ok = checkFields({ ...base, town: "  Zürich " });
  assert.ok(ok.ok);
  if (ok.ok) assert.equal(ok.fields.town, "Zürich");
});

Deno.test("applyPatch() replaces only the fields given, lists whole", () => {
  const before = { ...blankContact("Bob"), phones: [{ label: "", number: "1" }], uid: "u" };
  const after = applyPatch(before, { phones: [] });
  assert.deepEqual(after.phones, []);
  assert.equal(after.uid, "u");
  assert.equal(after.name, "Bob");
});
