import assert from "node:assert/strict";
import { blankContact, type ContactFields } from "../model/contact.ts";
import {
  escapeText,
  foldLine,
  formatVCard,
  formatVCards,
  parseVCards,
  unescapeText,
  unfold,
  type VCardVersion,
} from "./vcard.ts";
import { uidForContact } from "./interop.ts";
import { contacts, contactsWithExtra, fc, text } from "../../tests/arbitraries.ts";

const fixture = (name: string) =>
  Deno.readFileSync(new URL(`../../tests/fixtures/${name}`, import.meta.url));

const encoder = new TextEncoder();
const VERSIONS: VCardVersion[] = ["3.0", "4.0"];

function contact(fields: Partial<ContactFields>): ContactFields {
  return { ...blankContact("Test"), ...fields };
}

function card(...lines: string[]): string {
  return ["BEGIN:VCARD", "VERSION:3.0", ...lines, "END:VCARD", ""].join("\r\n");
}

function only(input: string | Uint8Array): ContactFields {
  const result = parseVCards(input);
  assert.equal(result.contacts.length, 1, JSON.stringify(result));
  return result.contacts[0]!;
}

// Real-world samples ---------------------------------------------------------------------

Deno.test("parseVCards() reads an Android 2.1 export: quoted-printable, bare types, PHOTO", () => {
  const result = parseVCards(fixture("android-2.1.vcf"));
  assert.deepEqual(result.skipped, []);
  assert.deepEqual(result.warnings, []);
  const [john, yamada, numberOnly] = result.contacts;
  assert.equal(john!.name, "John Smith");
  assert.deepEqual(john!.phones, [
    { label: "mobile", number: "+1 555-123-4567" },
    { label: "home", number: "555-987-6543" },
    { label: "work fax", number: "555-987-0000" },
  ]);
  assert.deepEqual(john!.emails, [{ label: "home", address: "john@example.com" }]);
  assert.deepEqual([john!.house, john!.street, john!.town, john!.postcode], [
    "123",
    "Main St",
    "Springfield",
    "62701",
  ]);
  assert.deepEqual(john!.extra.address, { label: "home", region: "IL", country: "USA" });
  // The soft line break joined "before " and "7pm"; =0D=0A is a line break.
  assert.equal(john!.notes, "Allergic to peanuts.\nCall after 6pm, not before 7pm on Sundays.");
  // Android's own nickname property is the nickname.
  assert.equal(john!.nickname, "Johnny");
  const kept = john!.extra.vcard as string[];
  assert.equal(kept.length, 1);
  // A small photo fits the caps: kept, its 2.1 base64 turned into 3.0's ENCODING=b.
  assert.match(kept[0]!, /^PHOTO;ENCODING=b;TYPE=JPEG:\/9j\/[A-Za-z0-9+/=]+$/);
  assert.equal(yamada!.name, "山田太郎");
  assert.equal(yamada!.notes, "東京の友人です。");
  assert.deepEqual(yamada!.extra.vcardN, { name: "山田太郎", value: "山田;太郎;;;" });
  assert.equal(numberOnly!.name, "+44 7700 900123");
  assert.deepEqual(numberOnly!.extra, {});
});

Deno.test("parseVCards() reads an iPhone 3.0 export: item groups, X-ABLabel, large PHOTO skipped", () => {
  const result = parseVCards(fixture("ios-3.0.vcf"));
  const johnny = result.contacts[0]!;
  assert.equal(johnny.name, "Johnny Appleseed");
  assert.deepEqual(johnny.phones, [
    { label: "mobile", number: "+1 (408) 555-5270" },
    { label: "mobile iphone", number: "+1 408 555 1212" },
    { label: "Gym", number: "+1 555 0000" },
  ]);
  assert.deepEqual(johnny.emails, [
    { label: "home", address: "johnny@example.com" },
    { label: "work", address: "j.appleseed@apple.example" },
  ]);
  assert.equal(
    johnny.notes,
    "Loves apples 🍎, orchards and long walks. Prefers calls in the morning; texts any time.",
  );
  // ORG, and the URL with its Apple label, are fields; the ADR's country code stays.
  assert.equal(johnny.org, "Apple Inc.");
  assert.deepEqual(johnny.urls, [{ label: "home page", url: "https://example.com/johnny" }]);
  assert.deepEqual(johnny.extra.vcard, ["item2.X-ABADR:us"]);
  assert.equal(johnny.extra.vcardOrg, undefined); // the empty department is no department
  assert.equal(result.warnings.length, 1);
  const warning = result.warnings[0]!;
  assert.equal(warning.index, 0);
  assert.equal(warning.name, "Johnny Appleseed");
  assert.equal(warning.line, 19);
  assert.match(warning.reason, /^PHOTO is \d+ bytes, too large to keep: left out$/);
});

Deno.test("parseVCards() reads a Google Contacts 3.0 export; ORG names a card without FN", () => {
  const [jane, plumber] = parseVCards(fixture("google-3.0.vcf")).contacts;
  assert.equal(jane!.notes, "Met at the conference, 2019\nSecond line");
  assert.deepEqual(jane!.phones.map((p) => p.label), ["mobile", "work", ""]);
  assert.deepEqual([jane!.house, jane!.street, jane!.postcode], [
    "10",
    "Downing Street",
    "SW1A 2AA",
  ]);
  // Google escapes the URL's colon and gives it an empty label; myContacts is no group.
  assert.equal(jane!.org, "Example Corp");
  assert.deepEqual(jane!.urls, [{ label: "", url: "https://jane.example.org" }]);
  assert.deepEqual(jane!.groups, ["Friends"]);
  assert.equal(jane!.extra.vcard, undefined);
  assert.equal(plumber!.name, "Plumbing Ltd.");
  assert.equal(plumber!.org, "Plumbing Ltd.");
  assert.deepEqual(plumber!.phones, [{ label: "work", number: "0161 496 0000" }]);
});

Deno.test("parseVCards() reads an Outlook 2.1 export in Windows-1252 bytes", () => {
  const result = parseVCards(fixture("outlook-2.1.vcf"));
  const jurgen = result.contacts[0]!;
  assert.equal(jurgen.name, "Jürgen Müller");
  assert.equal(jurgen.street, "Königstraße 12"); // the number trails: no house split
  assert.equal(jurgen.house, "");
  assert.deepEqual(jurgen.emails, [{ label: "", address: "juergen.mueller@contoso.example" }]);
  assert.equal(jurgen.title, "Geschäftsführer");
  assert.equal(jurgen.org, "Contoso GmbH");
  // The quoted-printable LABEL (soft break included) is kept as 3.0 text.
  assert.ok(
    (jurgen.extra.vcard as string[]).includes(
      "LABEL;TYPE=WORK;TYPE=PREF:Königstraße 12\\n10117 Berlin",
    ),
  );
  // TITLE has no CHARSET: its bytes are not UTF-8, so they are read as Windows-1252, reported.
  assert.deepEqual(result.warnings.map((w) => [w.line, w.reason]), [
    [6, "TITLE is not valid UTF-8: read as Windows-1252"],
  ]);
});

Deno.test("parseVCards() reads a Thunderbird 4.0 export with LF line ends and a tel: URI", () => {
  const alice = only(fixture("thunderbird-4.0.vcf"));
  assert.equal(alice.name, "Alice Übermann-Österreicher");
  assert.deepEqual(alice.phones, [
    { label: "mobile", number: "+49 170 1234567" },
    { label: "home", number: "+49-30-1234567" },
  ]);
  assert.equal(
    alice.notes,
    "Grüße aus München! Zweite Zeile mit Umlauten: äöü ÄÖÜ ß – und noch mehr Text\nNeue Zeile.",
  );
  assert.equal(alice.uid, "8f6b5c1e-2d3a-4b5c-9d8e-7f6a5b4c3d2e");
  // The extended address (a house name) becomes the house when no number leads the street.
  assert.deepEqual([alice.house, alice.street, alice.town], [
    "Hinterhaus",
    "Hauptstraße 5",
    "München",
  ]);
  assert.equal(alice.birthday, "1985-04-12");
  assert.equal(alice.extra.vcard, undefined);
});

for (
  const name of [
    "android-2.1.vcf",
    "ios-3.0.vcf",
    "google-3.0.vcf",
    "outlook-2.1.vcf",
    "thunderbird-4.0.vcf",
  ]
) {
  for (const version of VERSIONS) {
    Deno.test(`formatVCards() ${version}: ${name} export -> import -> export is stable`, () => {
      const first = parseVCards(fixture(name)).contacts;
      const exported = formatVCards(first, version);
      const again = parseVCards(exported);
      assert.deepEqual(again.skipped, []);
      assert.deepEqual(again.warnings, []);
      // Only the UID is new: every export writes one.
      assert.deepEqual(
        again.contacts.map((c) => ({ ...c, uid: "" })),
        first.map((c) => ({ ...c, uid: "" })),
      );
      assert.ok(again.contacts.every((c) => c.uid !== ""));
      assert.equal(formatVCards(again.contacts, version), exported);
    });
  }
}

// The fields of issue 15 -----------------------------------------------------------------

Deno.test("parseVCards() reads ORG, TITLE, NICKNAME, BDAY, ANNIVERSARY, URL and CATEGORIES as fields", () => {
  const result = parseVCards(card(
    "FN:Ann Lee",
    "N:Lee;Ann;;;",
    "NICKNAME:Annie",
    "ORG:Acme\\, Inc.;Research;Lab 2",
    "TITLE:Engineer",
    "BDAY;X-APPLE-OMIT-YEAR=1604:1604-04-12",
    "X-ANNIVERSARY:2005-06-30",
    "item1.URL:https\\://ann.example",
    "item1.X-ABLabel:_$!<HomePage>!$_",
    "URL;TYPE=WORK:acme.example/ann",
    "URL:ftp://files.example/ann",
    "CATEGORIES:Family,Chess club",
    "CATEGORIES:family,myContacts",
    "TITLE:Second title",
    "BDAY:1980-04",
  ));
  assert.deepEqual(result.warnings, []);
  const ann = result.contacts[0]!;
  assert.deepEqual(
    [ann.nickname, ann.org, ann.title, ann.birthday, ann.anniversary],
    ["Annie", "Acme, Inc.", "Engineer", "--04-12", "2005-06-30"],
  );
  assert.deepEqual(ann.urls, [
    { label: "home page", url: "https://ann.example" },
    { label: "work", url: "https://acme.example/ann" },
  ]);
  assert.deepEqual(ann.groups, ["Family", "Chess club"]);
  // What has no field of its own stays in extra.vcard, and goes back out on export.
  assert.deepEqual(ann.extra.vcardOrg, { org: "Acme, Inc.", value: "Acme\\, Inc.;Research;Lab 2" });
  assert.deepEqual(ann.extra.vcard, [
    "URL:ftp://files.example/ann",
    "TITLE:Second title",
    "BDAY:1980-04",
  ]);
  // 4.0's ANNIVERSARY and date forms read the same.
  const four = only(card("FN:Bo", "BDAY:19800412", "ANNIVERSARY:--0630"));
  assert.deepEqual([four.birthday, four.anniversary], ["1980-04-12", "--06-30"]);
  const text = only(card("FN:Bo", "BDAY;VALUE=text:circa 1800"));
  assert.deepEqual([text.birthday, text.extra.vcard], ["", ["BDAY;VALUE=text:circa 1800"]]);
});

Deno.test("formatVCard() writes the new fields in each version's own form, and reads them back", () => {
  const ann = contact({
    name: "Ann Lee",
    nickname: "Annie, Lee",
    org: "Acme; Inc.",
    title: "Engineer",
    birthday: "--04-12",
    anniversary: "2005-06-30",
    urls: [{ label: "", url: "https://ann.example" }, {
      label: "Portfolio",
      url: "mailto:a@b.example",
    }],
    groups: ["Family", "Chess; club"],
  });
  const three = formatVCard(ann, "3.0").split("\r\n");
  for (
    const line of [
      "NICKNAME:Annie\\, Lee",
      "ORG:Acme\\; Inc.",
      "TITLE:Engineer",
      "BDAY:--04-12",
      "X-ANNIVERSARY:2005-06-30",
      "URL:https://ann.example",
      "item1.URL:mailto:a@b.example",
      "item1.X-ABLabel:Portfolio",
      "CATEGORIES:Family,Chess\\; club",
    ]
  ) assert.ok(three.includes(line), line);
  const four = formatVCard(ann, "4.0").split("\r\n");
  assert.ok(four.includes("BDAY:--0412") && four.includes("ANNIVERSARY:20050630"));
  for (const version of VERSIONS) {
    const back = only(formatVCard(ann, version));
    assert.deepEqual({ ...back, uid: "" }, ann);
  }
  // An organisation's departments go back out while the organisation is unchanged.
  const depts = only(card("FN:Bo", "ORG:Acme;Sales"));
  assert.ok(formatVCard(depts).includes("\r\nORG:Acme;Sales\r\n"));
  assert.ok(formatVCard({ ...depts, org: "Other" }).includes("\r\nORG:Other\r\n"));
});

Deno.test("formatVCard() writes a contact stored before issue 15 with its kept ORG, BDAY, URL as fields", () => {
  const old = contact({
    name: "Old Timer",
    extra: {
      vcard: ["ORG:Acme", "BDAY:1970-01-01", "URL:old.example", "CATEGORIES:Golf", "X-A:b"],
    },
  });
  const text = formatVCard(old, "4.0");
  const lines = text.split("\r\n");
  for (
    const line of [
      "ORG:Acme",
      "BDAY:19700101",
      "URL:https://old.example",
      "CATEGORIES:Golf",
      "X-A:b",
    ]
  ) {
    assert.ok(lines.includes(line), line);
  }
  assert.equal(lines.filter((line) => line.startsWith("ORG")).length, 1);
  const back = only(text);
  assert.deepEqual([back.org, back.birthday, back.groups, back.extra.vcard], [
    "Acme",
    "1970-01-01",
    ["Golf"],
    ["X-A:b"],
  ]);
});

Deno.test("parseVCards() reports the CATEGORIES past 50 groups, and keeps a URL past 20", () => {
  const names = Array.from({ length: 52 }, (_, i) => `g${i}`).join(",");
  const urls = Array.from({ length: 21 }, (_, i) => `URL:https://${i}.example`);
  const result = parseVCards(card("FN:Many", `CATEGORIES:${names}`, ...urls));
  const many = result.contacts[0]!;
  assert.equal(many.groups.length, 50);
  assert.equal(many.urls.length, 20);
  assert.deepEqual(many.extra.vcard, ["URL:https://20.example"]);
  assert.deepEqual(result.warnings.map((w) => w.reason), [
    'CATEGORIES "g50" left out: a contact is in at most 50 groups, each name at most 100 characters',
    'CATEGORIES "g51" left out: a contact is in at most 50 groups, each name at most 100 characters',
  ]);
});

// Reading details ------------------------------------------------------------------------

Deno.test("parseVCards() unfolds CRLF, LF and CR followed by a space or a tab", () => {
  const text = ["BEGIN:VCARD", "FN:Bo", "NOTE:one ", " two", "\tthree", "END:VCARD"];
  for (const eol of ["\r\n", "\n", "\r"]) {
    assert.equal(only(text.join(eol)).notes, "one twothree");
  }
});

Deno.test("parseVCards() takes N when FN is missing, and reports an FN over the name cap", () => {
  assert.equal(only(card("N:Lovelace;Ada;King;Lady;")).name, "Lady Ada King Lovelace");
  const result = parseVCards(card(`FN:${"x".repeat(201)}`, "N:Lovelace;Ada;;;"));
  assert.equal(result.contacts[0]!.name, "Ada Lovelace");
  assert.match(result.warnings[0]!.reason, /^FN "x+\.\.\." is 201 characters long, more than 200/);
});

Deno.test("parseVCards() skips a card with no name, EMAIL or TEL, and says why", () => {
  const result = parseVCards(card("NOTE:just a note") + card("FN:Kept"));
  assert.deepEqual(result.contacts.map((c) => c.name), ["Kept"]);
  assert.deepEqual(result.skipped, [{
    index: 0,
    line: 1,
    reason: "The card has no usable name: no FN, N, ORG, EMAIL or TEL",
  }]);
});

Deno.test("parseVCards() keeps 20 phones, leaves out the rest and bad values, reports each", () => {
  const tels = Array.from({ length: 23 }, (_, i) => `TEL:555-${String(i).padStart(4, "0")}`);
  const result = parseVCards(card("FN:Many", "TEL:no digits", ...tels, "EMAIL:not-an-email"));
  const many = result.contacts[0]!;
  assert.equal(many.phones.length, 20);
  assert.equal(many.phones[0]!.number, "555-0000");
  assert.deepEqual(many.emails, []);
  const reasons = result.warnings.map((w) => w.reason);
  assert.ok(reasons.some((r) => /"no digits" has no digits: left out/.test(r)), reasons.join());
  assert.ok(reasons.some((r) => /"not-an-email" is not valid: left out/.test(r)), reasons.join());
  assert.ok(
    reasons.some((r) => /has 23 entries, more than 20: left out 3/.test(r)),
    reasons.join(),
  );
});

Deno.test("parseVCards() leaves out a NOTE over the field cap and keeps the rest", () => {
  const result = parseVCards(card("FN:Long", `NOTE:${"a".repeat(1001)}`, "TEL:555"));
  assert.equal(result.contacts[0]!.notes, "");
  assert.equal(result.contacts[0]!.phones.length, 1);
  assert.match(
    result.warnings[0]!.reason,
    /^Notes is 1001 characters long, more than 1000: left out$/,
  );
});

Deno.test("parseVCards() keeps the smallest unknown properties when they do not all fit", () => {
  const big = "X-BIG:" + "b".repeat(10_000);
  const result = parseVCards(card("FN:Fit", big, "X-SMALL:s", big.replace("BIG", "BIG2")));
  assert.deepEqual(result.contacts[0]!.extra.vcard, [big, "X-SMALL:s"]);
  assert.equal(result.warnings.length, 1);
  assert.match(result.warnings[0]!.reason, /^X-BIG2 is 10007 bytes, too large to keep/);
  assert.equal(result.warnings[0]!.line, 6);
});

Deno.test("parseVCards() decodes quoted-printable with CHARSET, soft breaks and a literal =", () => {
  const latin = new Uint8Array([
    ...encoder.encode("BEGIN:VCARD\r\nVERSION:2.1\r\nFN;CHARSET=ISO-8859-1:Ren"),
    0xe9,
    ...encoder.encode(
      "\r\nNOTE;QUOTED-PRINTABLE;CHARSET=ISO-8859-1:caf=E9 =\r\n au lait=0D=0A2=3D2 =\r\nEND:VCARD\r\n",
    ),
  ]);
  const rene = only(latin);
  assert.equal(rene.name, "René");
  assert.equal(rene.notes, "café  au lait\n2=2");
});

Deno.test("parseVCards() reports an unknown CHARSET and reads the value as UTF-8", () => {
  const result = parseVCards(card("FN;CHARSET=x-klingon;ENCODING=QUOTED-PRINTABLE:K=C3=A4"));
  assert.equal(result.contacts[0]!.name, "Kä");
  assert.match(result.warnings[0]!.reason, /unknown CHARSET "x-klingon": read as UTF-8/);
});

Deno.test("parseVCards() reads UTF-16 and UTF-8 byte order marks", () => {
  const text = card("FN:Zoë");
  const utf16 = new Uint8Array(2 + text.length * 2);
  utf16.set([0xff, 0xfe]);
  for (let i = 0; i < text.length; i++) utf16[2 + 2 * i] = text.charCodeAt(i);
  assert.equal(only(utf16).name, "Zoë");
  assert.equal(only(new Uint8Array([0xef, 0xbb, 0xbf, ...encoder.encode(text)])).name, "Zoë");
  assert.equal(only("\uFEFF" + text).name, "Zoë");
});

Deno.test("parseVCards() reports a missing END, a nested AGENT card and stray lines", () => {
  const text = [
    "junk before",
    "BEGIN:VCARD",
    "FN:Boss",
    "AGENT:",
    "BEGIN:VCARD",
    "FN:Assistant",
    "END:VCARD",
    "END:VCARD",
    "BEGIN:VCARD",
    "FN:Cut off",
  ].join("\r\n");
  const result = parseVCards(text);
  assert.deepEqual(result.contacts.map((c) => c.name), ["Boss", "Cut off"]);
  assert.deepEqual(result.warnings.map((w) => [w.line, w.reason]), [
    [7, "A vCard nested in another (a 2.1 AGENT) is not imported"],
    [9, "The last card has no END:VCARD: read up to the end of the input"],
    [1, "1 line is outside BEGIN:VCARD and END:VCARD: ignored"],
  ]);
  assert.deepEqual(parseVCards("name,phone\r\nBob,555\r\n").warnings, [{
    line: 1,
    reason: "No BEGIN:VCARD found: the input is not vCard",
  }]);
});

Deno.test("parseVCards() maps TYPE values and Apple labels to labels", () => {
  const bob = only(card(
    "FN:Bob",
    "TEL;TYPE=VOICE:1",
    "TEL;TYPE=FAX,WORK;TYPE=PREF:2",
    'TEL;TYPE="home,cell":3',
    "TEL;TYPE=X-Boat:4",
    "item1.TEL:5",
    "item1.X-ABLabel:_$!<WorkFAX>!$_",
    "item2.TEL:6",
    `item2.X-ABLabel:${"L".repeat(51)}`,
    "EMAIL;TYPE=INTERNET,pref:a@b.example",
    "EMAIL;TYPE=internet;TYPE=work:c@d.example",
  ));
  assert.deepEqual(bob.phones.map((p) => p.label), [
    "",
    "work fax",
    "home mobile",
    "x-boat",
    "work fax",
    "",
  ]);
  assert.deepEqual(bob.emails.map((e) => e.label), ["", "work"]);
});

Deno.test("parseVCards() keeps a UID, and a 4.0 URI UID as written", () => {
  assert.equal(only(card("FN:A", "UID:abc\\,def")).uid, "abc,def");
  const v4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nUID:urn:x:a\\b\r\nEND:VCARD\r\n";
  assert.equal(only(v4).uid, "urn:x:a\\b");
});

// Writing details ------------------------------------------------------------------------

Deno.test("formatVCard() writes a UID for every contact: uid, else derived from id, else new", () => {
  const id = "01HZY0Q4J8V3M6T0W9X2B5C7D1";
  const withId = formatVCard({ ...contact({}), id });
  assert.ok(withId.includes(`UID:${uidForContact({ id })}\r\n`));
  assert.equal(formatVCard({ ...contact({}), id }), withId);
  assert.ok(formatVCard({ ...contact({ uid: "mine" }), id }).includes("UID:mine\r\n"));
  assert.ok(
    formatVCard(contact({ uid: "plain text" }), "4.0").includes("UID;VALUE=text:plain text"),
  );
  const fresh = /UID:(urn:uuid:[0-9a-f-]{36})\r\n/.exec(formatVCard(contact({})));
  assert.ok(fresh);
});

Deno.test("formatVCard() writes labels as TYPE values or as X-ABLabel in a free group", () => {
  const text = formatVCard(
    contact({
      phones: [
        { label: "work fax", number: "1" },
        { label: "fax work", number: "2" },
        { label: "", number: "tel:3" },
      ],
      emails: [{ label: "Büro", address: "a@b.example" }],
      urls: [{ label: "work", url: "https://w.example" }, {
        label: "blog",
        url: "https://b.example",
      }],
      extra: { vcard: ["item1.X-SOCIALPROFILE:https://x.example", "item1.X-ABLabel:site"] },
    }),
    "4.0",
  );
  const lines = text.split("\r\n");
  assert.ok(lines.includes("TEL;TYPE=work,fax:1"));
  assert.ok(lines.includes("item2.TEL:2") && lines.includes("item2.X-ABLabel:fax work"));
  assert.ok(lines.includes("TEL;VALUE=text:tel:3"));
  assert.ok(lines.includes("item3.EMAIL:a@b.example") && lines.includes("item3.X-ABLabel:Büro"));
  assert.ok(lines.includes("URL;TYPE=work:https://w.example"));
  assert.ok(
    lines.includes("item4.URL:https://b.example") && lines.includes("item4.X-ABLabel:blog"),
  );
  const back = only(text);
  assert.deepEqual(back.phones.map((p) => [p.label, p.number]), [
    ["work fax", "1"],
    ["fax work", "2"],
    ["", "tel:3"],
  ]);
  assert.deepEqual(back.emails, [{ label: "Büro", address: "a@b.example" }]);
  assert.deepEqual(back.urls, [
    { label: "work", url: "https://w.example" },
    { label: "blog", url: "https://b.example" },
  ]);
});

Deno.test("formatVCard() writes the house before the street, a house name as extended address", () => {
  const numbered = formatVCard(contact({ house: "221B", street: "Baker Street", town: "London" }));
  assert.ok(numbered.includes("\r\nADR:;;221B Baker Street;London;;;\r\n"));
  const named = formatVCard(contact({ house: "Rose Cottage", street: "Lane End", postcode: "X1" }));
  assert.ok(named.includes("\r\nADR:;Rose Cottage;Lane End;;;X1;\r\n"));
  assert.deepEqual([only(named).house, only(named).street], ["Rose Cottage", "Lane End"]);
});

Deno.test("formatVCard() never lets extra.vcard break the card or duplicate mapped properties", () => {
  const text = formatVCard(contact({
    notes: "real",
    extra: {
      vcard: [
        "END:VCARD",
        "UID:other",
        "TEL:999",
        "NOTE:fake",
        "X-OK:yes",
        "X-BAD:a\r\nBEGIN:VCARD",
        42,
        "no colon here",
      ],
    },
  }));
  assert.equal(text.match(/END:VCARD/g)!.length, 1);
  assert.equal(text.match(/^UID:/gm)!.length, 1);
  // (Not just "999": the random UID of a contact without an id may hold those digits.)
  assert.ok(!text.includes("TEL:999") && !text.includes("fake") && text.includes("X-OK:yes\r\n"));
});

Deno.test("formatVCard() uses extra.vcardN only for the name it came with", () => {
  const extra = { vcardN: { name: "Dr. Ada Lovelace", value: "Lovelace;Ada;;Dr.;" } };
  assert.ok(
    formatVCard(contact({ name: "Dr. Ada Lovelace", extra })).includes("N:Lovelace;Ada;;Dr.;\r\n"),
  );
  assert.ok(formatVCard(contact({ name: "Ada King", extra })).includes("\r\nN:King;Ada;;;\r\n"));
});

Deno.test("formatVCard() folds every line to at most 75 octets", () => {
  const text = formatVCard(
    contact({ name: "Ünïcödé ".repeat(20).trim(), notes: "😀".repeat(100) }),
  );
  for (const line of text.split("\r\n")) assert.ok(encoder.encode(line).length <= 75, line);
  assert.equal(only(text).notes, "😀".repeat(100));
});

// Properties -----------------------------------------------------------------------------

Deno.test("foldLine() property: lines of at most 75 octets, whole characters, unfold restores", () => {
  fc.assert(
    fc.property(text(400), (value) => {
      const line = "NOTE:" + value.replace(/[\r\n]/g, "");
      const folded = foldLine(line);
      const parts = folded.split("\r\n");
      for (const [i, part] of parts.entries()) {
        const bytes = encoder.encode(part);
        assert.ok(bytes.length <= 75);
        assert.ok(part.isWellFormed(), "a character was split");
        if (i > 0) assert.ok(part.startsWith(" ") && part.length > 1);
      }
      assert.equal(unfold(folded), line);
    }),
    { numRuns: 300 },
  );
});

Deno.test("escapeText() property: unescapeText() gives the text back, no bare separators", () => {
  fc.assert(
    fc.property(text(80), (value) => {
      const plain = value.replace(/\r\n?/g, "\n");
      const escaped = escapeText(plain);
      assert.ok(!/[\r\n]/.test(escaped));
      assert.ok(!/(^|[^\\])(\\\\)*[;,]/.test(escaped), escaped);
      assert.equal(unescapeText(escaped), plain);
    }),
    { numRuns: 300 },
  );
});

Deno.test("formatVCard() property: import gives back every field of the contact", () => {
  // House numbers lead the street line, so the street must not start with one here.
  const simple = contacts().map((c) => ({
    ...c,
    house: /^\d/.test(c.house) ? "" : c.house,
    street: c.street.replace(/^[\d\s,]+/, ""),
  }));
  fc.assert(
    fc.property(simple, fc.constantFrom(...VERSIONS), (c, version) => {
      const back = only(formatVCard(c, version));
      assert.deepEqual(back, { ...c, uid: back.uid });
      assert.equal(back.uid, c.uid || back.uid);
    }),
    { numRuns: 300 },
  );
});

Deno.test("formatVCard() property: export -> import -> export is stable, extras included", () => {
  fc.assert(
    fc.property(contactsWithExtra(), fc.constantFrom(...VERSIONS), (c, version) => {
      const id = "01HZY0Q4J8V3M6T0W9X2B5C7D1";
      const first = formatVCard({ ...c, id }, version);
      const result = parseVCards(first);
      assert.deepEqual(result.skipped, []);
      assert.deepEqual(result.warnings, []);
      assert.equal(formatVCard(result.contacts[0]!, version), first);
      // Bytes, LF line ends, and CRLF all read the same.
      assert.deepEqual(parseVCards(encoder.encode(first)), result);
      assert.deepEqual(parseVCards(first.replaceAll("\r\n", "\n")), result);
    }),
    { numRuns: 300 },
  );
});
