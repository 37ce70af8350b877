import assert from "node:assert/strict";
import { contactTerms, fold, matchesQuery, MAX_TERMS, parseQuery, words } from "./search_terms.ts";

Deno.test({
  name: "fold() ignores case, accents and extra spaces",
  permissions: "none",
  fn() {
    assert.equal(fold("JOSÉ"), fold("jose"));
    assert.equal(fold("Åsa  Øberg"), "asa øberg"); // Ø has no decomposition: kept
    assert.equal(fold("ﬁle"), "file"); // compatibility ligature
    assert.equal(fold("Ｂｏｂ"), "bob"); // full-width
  },
});

Deno.test({
  name: "words() splits on anything but letters and digits",
  permissions: "none",
  fn() {
    assert.deepEqual(words("O'Brien-Smith, 12b"), ["o", "brien", "smith", "12b"]);
    assert.deepEqual(words("  "), []);
    assert.equal(words("x".repeat(100))[0]!.length, 32);
  },
});

Deno.test({
  name: "contactTerms() caps the number of indexed words",
  permissions: "none",
  fn() {
    const street = Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ");
    const terms = contactTerms({ name: "A", town: "", street, phones: [], emails: [] });
    assert.equal(terms.words.length, MAX_TERMS);
  },
});

Deno.test({
  name: "parseQuery() treats phone-like queries by digits",
  permissions: "none",
  fn() {
    assert.deepEqual(parseQuery("+1 (555) 012-3"), {
      words: ["1", "555", "012", "3"],
      phone: "15550123",
    });
    assert.deepEqual(parseQuery("Bob 555"), { words: ["bob", "555"], phone: null });
    assert.deepEqual(parseQuery("bob bob"), { words: ["bob"], phone: null });
  },
});

Deno.test({
  name: "matchesQuery() follows search: every word a prefix, or phone digits as a prefix",
  permissions: "none",
  fn() {
    const terms = contactTerms({
      name: "Åsa Öberg",
      town: "Springfield",
      street: "Mill Lane",
      phones: [{ label: "", number: "+44 20 7946 0958" }],
      emails: [{ label: "", address: "asa@example.com" }],
    });
    assert.ok(matchesQuery(parseQuery("ASA"), terms));
    assert.ok(matchesQuery(parseQuery("oberg spr"), terms));
    assert.ok(matchesQuery(parseQuery("example"), terms));
    assert.ok(matchesQuery(parseQuery("+44 20 79"), terms));
    assert.ok(!matchesQuery(parseQuery("20 7946"), terms)); // digits match a phone's start only
    assert.ok(!matchesQuery(parseQuery("asa shelbyville"), terms));
    assert.ok(!matchesQuery(parseQuery("!!!"), terms));
  },
});

Deno.test({
  name: "words() keeps 32 whole characters of a long word, never half of a surrogate pair",
  permissions: "none",
  fn() {
    const [word] = words("a" + "𠀀".repeat(40));
    assert.ok(word!.isWellFormed());
    assert.equal([...word!].length, 32);
    assert.equal(word, "a" + "𠀀".repeat(31));
    assert.deepEqual(parseQuery("a" + "𠀀".repeat(40)).words, [word]);
  },
});

Deno.test({
  name: "fold() turns a lone surrogate into U+FFFD, as a KV key would hold it",
  permissions: "none",
  fn() {
    assert.equal(fold("Lone\ud800X"), "lone\ufffdx");
    assert.ok(fold("\udc00\u0301").isWellFormed());
  },
});
