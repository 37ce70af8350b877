import assert from "node:assert/strict";
import {
  contactTerms,
  fold,
  matchesQuery,
  MAX_PHONE_TERMS,
  MAX_TERMS,
  parseQuery,
  phoneTerms,
  type Query,
  SUFFIX_MARK,
  type Terms,
  words,
} from "./search_terms.ts";
import { setPhoneRegion } from "./phones.ts";

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
      phoneTerms: ["15550123", "~32105551"],
    });
    assert.deepEqual(parseQuery("Bob 555"), { words: ["bob", "555"], phone: null, phoneTerms: [] });
    assert.deepEqual(parseQuery("bob bob"), { words: ["bob"], phone: null, phoneTerms: [] });
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
    assert.ok(matchesQuery(parseQuery("20 7946"), terms)); // ends where a group ends
    assert.ok(!matchesQuery(parseQuery("20 794"), terms)); // neither a start nor a group end
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

/**
 * The contacts of `numbers` (one number each) that a query finds, looked up as a prefix index
 * does: the terms in order, and for each of the query's phone terms the run of terms it
 * starts (found by binary search).
 */
function found(numbers: string[], query: string, region: string | null = null): string[] {
  const entries = numbers.flatMap((number, at) =>
    phoneTerms(number, region).map((term) => [term, at] as const)
  ).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const parsed = parseQuery(query, region);
  const hits = new Set<number>();
  for (const prefix of parsed.phoneTerms) {
    let low = 0, high = entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (entries[mid]![0] < prefix) low = mid + 1;
      else high = mid;
    }
    for (let i = low; i < entries.length && entries[i]![0].startsWith(prefix); i++) {
      hits.add(entries[i]![1]);
    }
  }
  // The view's lookups agree with matchesQuery, contact by contact.
  numbers.forEach((number, at) => {
    const terms: Terms = { words: [], phones: phoneTerms(number, region) };
    assert.equal(matchesQuery(parsed, terms), hits.has(at), `${query} vs ${number}`);
  });
  return [...hits].map((at) => numbers[at]!).sort();
}

const NUMBERS = [
  "555-9999",
  "+44 20 7946 0958",
  "020 7946 0958",
  "(555) 012-3",
  "+1 202 555 0123",
  "07700 900123",
  "+44 (0)7700 900123",
  "99 99",
];

Deno.test({
  name: "phone queries find digits at the start, and at the end of the number or of a group",
  permissions: "none",
  fn() {
    assert.deepEqual(found(NUMBERS, "9999"), ["555-9999", "99 99"]);
    assert.deepEqual(found(NUMBERS, "7946"), ["+44 20 7946 0958", "020 7946 0958"]);
    assert.deepEqual(found(NUMBERS, "0958"), ["+44 20 7946 0958", "020 7946 0958"]);
    assert.deepEqual(found(NUMBERS, "7946 0958"), ["+44 20 7946 0958", "020 7946 0958"]);
    assert.deepEqual(found(NUMBERS, "555"), ["(555) 012-3", "+1 202 555 0123", "555-9999"]);
    assert.deepEqual(found(NUMBERS, "555 01"), ["(555) 012-3"]); // a start, as before
    // 0123 ends the group 900123 too.
    assert.deepEqual(found(NUMBERS, "0123"), [
      "(555) 012-3",
      "+1 202 555 0123",
      "+44 (0)7700 900123",
      "07700 900123",
    ]);
    // Not at a start nor at a group's end: not found.
    assert.deepEqual(found(NUMBERS, "794"), []);
    assert.deepEqual(found(NUMBERS, "46 09"), []);
    // Without a region, a national number is compared as written: the spellings differ.
    assert.deepEqual(found(NUMBERS, "020 7946 0958"), ["020 7946 0958"]);
    assert.deepEqual(found(NUMBERS, "+44 20 7946 0958"), ["+44 20 7946 0958"]);
    // A + number has its canonical form anyway: "(0)" and spacing do not matter.
    assert.deepEqual(found(NUMBERS, "+447700900123"), ["+44 (0)7700 900123"]);
  },
});

Deno.test({
  name: "phone queries under a region match a number's national and international spellings",
  permissions: "none",
  fn() {
    assert.deepEqual(found(NUMBERS, "020 7946 0958", "GB"), ["+44 20 7946 0958", "020 7946 0958"]);
    assert.deepEqual(found(NUMBERS, "+44 20 7946 0958", "GB"), [
      "+44 20 7946 0958",
      "020 7946 0958",
    ]);
    // A national number being typed is looked up in international form too.
    assert.deepEqual(found(NUMBERS, "020 7946", "GB"), ["+44 20 7946 0958", "020 7946 0958"]);
    assert.deepEqual(found(NUMBERS, "07700 900123", "GB"), ["+44 (0)7700 900123", "07700 900123"]);
    // Digits that are no national form are not given a country code: 7946 is not +44 7946.
    assert.deepEqual(found(NUMBERS, "7946", "GB"), ["+44 20 7946 0958", "020 7946 0958"]);
    assert.deepEqual(found(["+447946123456", "+44 20 7946 0958"], "7946", "GB"), [
      "+44 20 7946 0958",
    ]);
    // Under another region the national form is another number.
    assert.deepEqual(found(NUMBERS, "020 7946 0958", "DE"), ["020 7946 0958"]);
  },
});

Deno.test({
  name: "phoneTerms() indexes the digits, the canonical digits and the reversed group ends",
  permissions: "none",
  fn() {
    assert.deepEqual(phoneTerms("555-9999", null), ["5559999", "~555", "~9999555"]);
    assert.deepEqual(phoneTerms("020 7946 0958", "GB"), [
      "02079460958",
      "442079460958",
      "~020",
      "~6497020",
      "~85906497020",
    ]);
    assert.deepEqual(phoneTerms("none", null), []);
    // A number of many groups: its last 8 group ends; a long one: 32 digits at most.
    const many = Array.from({ length: 20 }, (_, i) => String(i % 10)).join(" ");
    const terms = phoneTerms(many, null);
    assert.equal(terms.filter((t) => t.startsWith(SUFFIX_MARK)).length, 8);
    assert.ok(terms.every((t) => t.replace(SUFFIX_MARK, "").length <= 32));
    const long = phoneTerms("1".repeat(40) + " 23", null);
    assert.ok(long.includes(SUFFIX_MARK + "32" + "1".repeat(30)));
    // Twenty numbers of many groups stay within the contact's cap.
    const phones = Array.from({ length: 20 }, (_, i) => ({ label: "", number: `${i} ${many}` }));
    const capped = contactTerms({ name: "A", town: "", street: "", phones, emails: [] });
    assert.equal(capped.phones.length, 20 * 9); // each: its digits and 8 group ends
    assert.ok(capped.phones.length <= MAX_PHONE_TERMS);
  },
});

Deno.test({
  name: "contactTerms() reads the process's phone region, and parseQuery() too",
  permissions: "none",
  fn() {
    const fields = {
      name: "A",
      town: "",
      street: "",
      phones: [{ label: "", number: "+44 20 7946 0958" }],
      emails: [],
    };
    const terms = contactTerms(fields);
    let query: Query;
    setPhoneRegion("GB");
    try {
      query = parseQuery("020 7946 0958");
    } finally {
      setPhoneRegion(null);
    }
    assert.ok(matchesQuery(query, terms));
    assert.ok(!matchesQuery(parseQuery("020 7946 0958"), terms));
  },
});

Deno.test({
  name: "contactTerms() finds a contact by organisation, nickname and group words",
  permissions: "none",
  fn() {
    const terms = contactTerms({
      name: "Ann Lee",
      town: "",
      street: "",
      phones: [],
      emails: [],
      org: "Société Générale",
      nickname: "Annie",
      groups: ["Chess club", "Family"],
    });
    for (const query of ["societe", "gen", "annie", "chess", "club fam", "ann chess"]) {
      assert.ok(matchesQuery(parseQuery(query), terms), query);
    }
    assert.ok(!matchesQuery(parseQuery("golf"), terms));
    // A record stored before issue 15 has none of them: no words, no error.
    const old = contactTerms({ name: "Old", town: "", street: "", phones: [], emails: [] });
    assert.deepEqual(old.words, ["old"]);
  },
});
