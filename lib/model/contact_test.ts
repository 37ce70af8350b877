import assert from "node:assert/strict";
import {
  blankContact,
  CONTACT_LIMITS,
  fillMissingFields,
  isContactDate,
  storedBytes,
  validateContact,
  ValidationError,
  webAddress,
} from "./contact.ts";
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
      urls: [],
      org: "",
      title: "",
      nickname: "",
      birthday: "",
      anniversary: "",
      groups: [],
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
    assert.equal(fieldOf({ name: "A", nick: "x" }), "contact.nick");
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

/** The seventeen user fields as the 32 KiB cap counts them: every field, an absent one empty. */
function userFieldsBytes(input: Record<string, unknown>): number {
  const full = { ...blankContact(), ...input };
  return new TextEncoder().encode(JSON.stringify(full)).length;
}

Deno.test({
  name: "validateContact() caps a name's folded form in bytes, as the name index key holds it",
  permissions: "none",
  fn() {
    const fdfa = "\ufdfa"; // one character, 18 once folded (33 bytes of UTF-8)
    assert.equal(new TextEncoder().encode(fold(fdfa)).length, 33);
    assert.throws(
      () => validateContact({ name: fdfa.repeat(62) }),
      (error) =>
        error instanceof ValidationError && error.field === "contact.name" &&
        error.limit === CONTACT_LIMITS.foldedNameBytes && /2046 bytes/.test(error.message),
    );
    // 20 + 60 * 33 = 2000 bytes: at the cap, kept; one byte more, refused.
    assert.equal(validateContact({ name: "x".repeat(20) + fdfa.repeat(60) }).name.length, 80);
    assert.equal(fieldOf({ name: "x".repeat(21) + fdfa.repeat(60) }), "contact.name");
  },
});

Deno.test({
  name: "validateContact() counts the 32 KiB cap on the user fields as compact JSON in UTF-8",
  permissions: "none",
  fn() {
    const phones = Array.from({ length: 20 }, () => ({ label: "", number: "1".repeat(1000) }));
    const base = { name: "Big", phones, extra: { pad: "" } };
    const pad = CONTACT_LIMITS.contactBytes - userFieldsBytes(base);
    assert.ok(pad > 0 && pad < CONTACT_LIMITS.extraBytes - 20);
    const atCap = { ...base, extra: { pad: "é".repeat(pad / 2) + "x".repeat(pad % 2) } };
    assert.equal(userFieldsBytes(atCap), CONTACT_LIMITS.contactBytes);
    // Sent without the empty fields and with spaces to trim: counted as stored.
    const sent = { ...atCap, name: "  Big  ", phones: phones.map(({ number }) => ({ number })) };
    const stored = validateContact(sent);
    assert.equal(userFieldsBytes(stored as unknown as Record<string, unknown>), 32768);
    const over = { ...atCap, extra: { pad: atCap.extra.pad + "x" } };
    assert.throws(
      () => validateContact(over),
      (error) =>
        error instanceof ValidationError && error.field === "contact" &&
        error.limit === CONTACT_LIMITS.contactBytes && /32769 bytes/.test(error.message),
    );
  },
});

Deno.test({
  name: "validateContact() refuses a contact within 32 KiB that KV could not keep in one value",
  permissions: "none",
  fn() {
    // ASCII text with one character past U+00FF takes 2 bytes a character in KV's encoding,
    // and each 0.5 of extra 9: within 32 KiB of JSON, past 64 KiB as stored.
    const t = (n: number) => "Ā" + "a".repeat(n - 1);
    const input = {
      name: t(200),
      house: t(1000),
      street: t(1000),
      town: t(1000),
      postcode: t(1000),
      uid: t(1000),
      notes: t(1000),
      phones: Array.from({ length: 12 }, () => ({ label: "", number: "5" + t(999) })),
      extra: { a: Array.from({ length: 3300 }, () => 0.5) },
    };
    assert.ok(userFieldsBytes(input) <= CONTACT_LIMITS.contactBytes);
    assert.throws(
      () => validateContact(input),
      (error) =>
        error instanceof ValidationError && error.field === "contact" &&
        error.limit === CONTACT_LIMITS.storedBytes,
    );
    // The same text in Latin-1 takes a byte a character: kept.
    const latin = JSON.parse(JSON.stringify(input).replaceAll("Ā", "é"));
    assert.ok(storedBytes(validateContact(latin)) <= CONTACT_LIMITS.storedBytes);
  },
});

Deno.test({
  name: "storedBytes() is the size Deno KV counts against its 64 KiB value limit",
  permissions: "none",
  async fn() {
    using kv = await Deno.openKv(":memory:");
    const fits = async (value: unknown) => {
      try {
        await kv.set(["v"], value);
        return true;
      } catch {
        return false;
      }
    };
    for (const filler of ["a", "é", "Ā", "😀"]) {
      const at = (n: number) => ({ ...blankContact("A"), notes: "Ā" + filler.repeat(n) });
      // The largest n whose record fits, by bisection (17 steps at most).
      let low = 0, high = 70_000;
      for (let step = 0; low < high && step < 40; step++) {
        const mid = Math.ceil((low + high) / 2);
        const record = { id: "0".repeat(26), ...at(mid), created: "", updated: "" };
        record.created = record.updated = new Date().toISOString();
        if (await fits(record)) low = mid;
        else high = mid - 1;
      }
      assert.ok(storedBytes(at(low)) <= CONTACT_LIMITS.storedBytes, filler);
      assert.ok(storedBytes(at(low + 1)) > CONTACT_LIMITS.storedBytes, filler);
    }
  },
});

Deno.test({
  name: "validateContact() caps how deep extra nests, before anything recurses into it",
  permissions: "none",
  fn() {
    const nested = (depth: number) => JSON.parse("[".repeat(depth) + "]".repeat(depth));
    // extra itself is level 1: a value at 31 levels below it is at the cap.
    validateContact({ name: "A", extra: { a: nested(CONTACT_LIMITS.extraDepth - 1) } });
    for (const depth of [CONTACT_LIMITS.extraDepth, 5000, 100_000]) {
      assert.throws(
        () => validateContact({ name: "A", extra: { a: nested(depth) } }),
        (error) =>
          error instanceof ValidationError && error.field === "contact.extra" &&
          error.limit === CONTACT_LIMITS.extraDepth,
      );
    }
  },
});

Deno.test({
  name: "validateContact() cleans and keeps the fields of issue 15",
  permissions: "none",
  fn() {
    const c = validateContact({
      name: "Ann",
      org: "  Acme\u0301 ",
      title: " Chief ",
      nickname: "Annie",
      birthday: " 1980-04-12 ",
      anniversary: "--02-29",
      urls: [{ url: "example.com/ann" }, { label: "blog", url: "HTTPS://blog.example" }, {
        url: "mailto:ann@example.com",
      }],
      groups: [" Family ", "Chess club", "family", "FAMILY", "Chess Club"],
    });
    assert.equal(c.org, "Acmé");
    assert.equal(c.title, "Chief");
    assert.equal(c.nickname, "Annie");
    assert.equal(c.birthday, "1980-04-12");
    assert.equal(c.anniversary, "--02-29");
    assert.deepEqual(c.urls, [
      { label: "", url: "https://example.com/ann" },
      { label: "blog", url: "HTTPS://blog.example" },
      { label: "", url: "mailto:ann@example.com" },
    ]);
    // Duplicates folded (case, and accents too), the first spelling kept.
    assert.deepEqual(c.groups, ["Family", "Chess club"]);
    assert.deepEqual(validateContact({ name: "A", groups: ["Zoe", "Zoë"] }).groups, ["Zoe"]);
    // Empty dates and absent fields are none.
    const empty = validateContact({ name: "A", birthday: "", anniversary: null });
    assert.equal(empty.birthday, "");
    assert.equal(empty.anniversary, "");
    assert.deepEqual(empty.urls, []);
    assert.deepEqual(empty.groups, []);
  },
});

Deno.test({
  name: "validateContact() names the new field that is wrong, with the cap it passed",
  permissions: "none",
  fn() {
    const refused = (input: Record<string, unknown>) => {
      try {
        validateContact({ name: "A", ...input });
      } catch (error) {
        assert.ok(error instanceof ValidationError);
        return { field: error.field, limit: error.limit, message: error.message };
      }
      assert.fail(`accepted ${JSON.stringify(input)}`);
    };
    const long = "x".repeat(CONTACT_LIMITS.field + 1);
    for (const field of ["org", "title", "nickname"]) {
      assert.deepEqual(
        { ...refused({ [field]: long }), message: "" },
        { field: `contact.${field}`, limit: CONTACT_LIMITS.field, message: "" },
      );
      assert.equal(refused({ [field]: 5 }).field, `contact.${field}`);
      assert.equal(refused({ [field]: "a\nb" }).field, `contact.${field}`);
      assert.equal(refused({ [field]: "a\ud800" }).field, `contact.${field}`);
    }
    // Dates: the form, then a real day.
    for (
      const bad of [
        "1980-4-12",
        "12/04/1980",
        "1980-02-30",
        "2023-02-29",
        "1900-02-29",
        "--13-01",
        "--04-31",
        "1980-04",
        "19800412",
        "yesterday",
      ]
    ) {
      const r = refused({ birthday: bad });
      assert.equal(r.field, "contact.birthday", bad);
      assert.match(r.message, /is not a date: write YYYY-MM-DD/);
    }
    assert.equal(refused({ anniversary: "2001-00-10" }).field, "contact.anniversary");
    // URLs: like phones and emails, and only web addresses.
    assert.deepEqual(refused({ urls: Array.from({ length: 21 }, () => ({ url: "a.example" })) }), {
      field: "contact.urls",
      limit: 20,
      message: "contact.urls has 21 entries, more than 20",
    });
    assert.equal(refused({ urls: {} }).field, "contact.urls");
    assert.equal(refused({ urls: ["a.example"] }).field, "contact.urls[0]");
    assert.equal(
      refused({ urls: [{ url: "a.example", kind: "x" }] }).field,
      "contact.urls[0].kind",
    );
    assert.equal(refused({ urls: [{ url: "" }] }).field, "contact.urls[0].url");
    for (
      const bad of [
        "ftp://x.example",
        "javascript:alert(1)",
        "localhost",
        "http://",
        "a b.example",
        "/about",
        "x.example:port",
      ]
    ) {
      assert.equal(
        refused({ urls: [{ url: "ok.example" }, { url: bad }] }).field,
        "contact.urls[1].url",
        bad,
      );
    }
    assert.equal(
      refused({ urls: [{ url: "https://" + long }] }).limit,
      CONTACT_LIMITS.field,
    );
    assert.equal(
      refused({ urls: [{ label: "l".repeat(51), url: "a.example" }] }).field,
      "contact.urls[0].label",
    );
    // Groups: a list of names, each capped, no commas, none empty.
    const groups = Array.from({ length: 51 }, (_, i) => `g${i}`);
    assert.deepEqual(
      { ...refused({ groups }), message: "" },
      { field: "contact.groups", limit: 50, message: "" },
    );
    assert.equal(refused({ groups: "Family" }).field, "contact.groups");
    assert.equal(refused({ groups: ["a", 5] }).field, "contact.groups[1]");
    assert.equal(refused({ groups: ["a", "  "] }).field, "contact.groups[1]");
    assert.match(refused({ groups: ["Work, Sales"] }).message, /holds a comma/);
    assert.deepEqual(
      { ...refused({ groups: ["g".repeat(101)] }), message: "" },
      { field: "contact.groups[0]", limit: CONTACT_LIMITS.group, message: "" },
    );
    // 50 names at the cap, each 100 characters: kept.
    const most = Array.from({ length: 50 }, (_, i) => String(i).padStart(100, "g"));
    assert.equal(validateContact({ name: "A", groups: most }).groups.length, 50);
  },
});

Deno.test({
  name: "validateContact() counts the new fields in the 32 KiB and stored-bytes caps",
  permissions: "none",
  fn() {
    const base = {
      name: "Big",
      org: "o".repeat(1000),
      title: "t".repeat(1000),
      nickname: "n".repeat(1000),
      urls: Array.from(
        { length: 20 },
        (_, i) => ({ label: "", url: `https://${i}.example/${"u".repeat(900)}` }),
      ),
      extra: { pad: "" },
    };
    const pad = CONTACT_LIMITS.contactBytes - userFieldsBytes(base);
    assert.ok(pad > 0 && pad < CONTACT_LIMITS.extraBytes, String(pad));
    const atCap = { ...base, extra: { pad: "x".repeat(pad) } };
    assert.equal(
      userFieldsBytes(validateContact(atCap) as unknown as Record<string, unknown>),
      32768,
    );
    assert.throws(
      () => validateContact({ ...atCap, groups: ["g"] }),
      (error) =>
        error instanceof ValidationError && error.field === "contact" &&
        error.limit === CONTACT_LIMITS.contactBytes && /32771 bytes/.test(error.message),
    );
    // Text past U+00FF takes 2 bytes a character as stored, and each 0.5 of extra 9: a
    // contact just within the stored cap goes over it with a title and a group.
    const wide = (n: number) => "Ā" + "a".repeat(n - 1);
    const input = (halves: number) => ({
      name: wide(200),
      house: wide(1000),
      street: wide(1000),
      town: wide(1000),
      notes: wide(1000),
      phones: Array.from({ length: 12 }, () => ({ label: "", number: "5" + wide(999) })),
      extra: { a: Array.from({ length: halves }, () => 0.5) },
    });
    let halves = 0;
    while (storedBytes(validateContact(input(halves + 10))) < CONTACT_LIMITS.storedBytes - 100) {
      halves += 10;
      assert.ok(halves < 10_000);
    }
    const under = input(halves);
    assert.ok(storedBytes(validateContact(under)) <= CONTACT_LIMITS.storedBytes);
    const over = { ...under, title: wide(150), groups: [wide(100)] };
    assert.ok(userFieldsBytes(over) <= CONTACT_LIMITS.contactBytes, String(userFieldsBytes(over)));
    assert.throws(
      () => validateContact(over),
      (error) =>
        error instanceof ValidationError && error.field === "contact" &&
        error.limit === CONTACT_LIMITS.storedBytes,
    );
  },
});

Deno.test({
  name: "isContactDate() takes real dates, the year optional, and nothing else",
  permissions: "none",
  fn() {
    for (
      const ok of [
        "0001-01-01",
        "1980-04-12",
        "2000-02-29",
        "2024-02-29",
        "9999-12-31",
        "--02-29",
        "--12-31",
        "--01-01",
        "1600-02-29",
      ]
    ) {
      assert.ok(isContactDate(ok), ok);
    }
    for (
      const bad of [
        "",
        "1980-04-12T00:00",
        "1700-02-29",
        "2100-02-29",
        "1980-06-31",
        "--02-30",
        "---12",
        "1980-04-1",
        "+1980-04-12",
        "١٩٨٠-04-12",
      ]
    ) {
      assert.ok(!isContactDate(bad), bad);
    }
  },
});

Deno.test({
  name: "webAddress() keeps http(s) and mailto as written and gives a bare host https://",
  permissions: "none",
  fn() {
    assert.equal(webAddress("www.example.com"), "https://www.example.com");
    assert.equal(webAddress("example.com:8080/a?b#c"), "https://example.com:8080/a?b#c");
    assert.equal(webAddress("bücher.de"), "https://bücher.de");
    assert.equal(webAddress("http://localhost:8080/"), "http://localhost:8080/");
    assert.equal(
      webAddress("https://user@example.com/x y".replace(" ", "%20")),
      "https://user@example.com/x%20y",
    );
    assert.equal(webAddress("MAILTO:Ann@Example.com"), "MAILTO:Ann@Example.com");
    for (
      const bad of [
        "mailto:",
        "https:example.com",
        "data:text/html,x",
        "file:///etc/passwd",
        "-x.example",
        "x..example",
        "x.example/a b",
      ]
    ) {
      assert.throws(() => webAddress(bad), ValidationError, bad);
    }
  },
});

Deno.test({
  name: "fillMissingFields() reads a record stored before issue 15 like a new one",
  permissions: "none",
  fn() {
    const fresh = {
      id: "01J0000000000000000000000A",
      ...validateContact({ name: "Ann", town: "Leeds" }),
      created: "c",
      updated: "u",
      version: "v",
    };
    const old: Record<string, unknown> = { ...fresh };
    for (const key of ["org", "title", "nickname", "birthday", "anniversary", "urls", "groups"]) {
      delete old[key];
    }
    const read = fillMissingFields(old);
    assert.equal(JSON.stringify(read), JSON.stringify(fresh));
    assert.notEqual(read, old);
    assert.equal(fillMissingFields(fresh), fresh);
    // A field stored as undefined (V8's encoding keeps it) reads as empty too.
    const holey = fillMissingFields({ ...fresh, groups: undefined });
    assert.deepEqual(holey.groups, []);
    // Fields only: no id is invented.
    const { id: _id, created: _c, updated: _u, version: _v, ...fields } = old;
    assert.equal(
      JSON.stringify(fillMissingFields(fields)),
      JSON.stringify(validateContact({ name: "Ann", town: "Leeds" })),
    );
    // Each fill is a new list: filling two records never shares one.
    const a = fillMissingFields({ name: "A" }), b = fillMissingFields({ name: "B" });
    a.groups.push("x");
    assert.deepEqual(b.groups, []);
  },
});
