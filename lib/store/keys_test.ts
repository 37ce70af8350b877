import assert from "node:assert/strict";
import { CONTACT_LIMITS, type StoredContact, validateContact } from "../model/contact.ts";
import { contactTerms, fold, MAX_TERMS } from "../model/search_terms.ts";
import { logged } from "./change_log.ts";
import { changeKey, contactKey, HEAD_KEY } from "./keys.ts";

/** A word of 32 letters outside the BMP (4 bytes of UTF-8 each), the `n`th of its kind. */
function astralWord(n: number): string {
  return Array.from({ length: 32 }, (_, i) => String.fromCodePoint(0x20000 + n * 32 + i)).join("");
}

Deno.test({
  name: "every row the store writes for a valid contact fits Deno KV, at the caps",
  permissions: "none",
  async fn() {
    const words = (from: number, count: number, join: string) =>
      Array.from({ length: count }, (_, i) => astralWord(from + i)).join(join);
    const fields = validateContact({
      // Folds to exactly the cap: 20 bytes and 60 times U+FDFA's 33.
      name: "x".repeat(20) + "\ufdfa".repeat(60),
      street: words(0, 30, " "),
      town: words(30, 30, " "),
      emails: [60, 90].map((from) => ({
        address: words(from, 15, ".") + "@" + words(from + 15, 14, "."),
      })),
      phones: Array.from({ length: 20 }, (_, i) => ({ number: String(i).padStart(32, "5") })),
    });
    const folded = new TextEncoder().encode(fold(fields.name)).length;
    assert.equal(folded, CONTACT_LIMITS.foldedNameBytes);
    const now = new Date().toISOString();
    const stored: StoredContact = {
      id: "01J0000000000000000000000B",
      ...fields,
      created: now,
      updated: now,
    };
    const terms = contactTerms(stored);
    assert.equal(terms.words.length, MAX_TERMS);
    assert.ok(terms.phones.length >= 20);
    // A change that logs the most terms: an update's old and new ones, all different.
    const entry = logged("updated", stored, now, {
      words: [...terms.words, ...terms.words.map((w) => w.slice(1))],
      phones: [...terms.phones, ...terms.phones.map((p) => p.slice(1))],
    });
    using kv = await Deno.openKv(":memory:");
    const op = kv.atomic()
      .set(contactKey(stored.id), stored)
      .set(changeKey(Number.MAX_SAFE_INTEGER), entry)
      .set(HEAD_KEY, Number.MAX_SAFE_INTEGER);
    assert.equal((await op.commit()).ok, true);
    assert.ok((await kv.get(contactKey(stored.id))).versionstamp);
    assert.ok((await kv.get(changeKey(Number.MAX_SAFE_INTEGER))).versionstamp);
  },
});
