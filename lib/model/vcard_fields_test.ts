import assert from "node:assert/strict";
import { blankContact, type ContactFields, validateContact } from "./contact.ts";
import {
  dateFromVCard,
  groupsFromVCard,
  liftExtraFields,
  orgFromVCard,
  textFromVCard,
} from "./vcard_fields.ts";

const withLines = (lines: unknown[], more: Partial<ContactFields> = {}): ContactFields => ({
  ...blankContact("Ann Lee"),
  ...more,
  extra: { vcard: lines },
});

Deno.test({
  name: "liftExtraFields() moves what older vCard imports kept into the new fields",
  permissions: "none",
  fn() {
    // The lines as lib/formats/vcard.ts kept them before issue 15: unfolded, QP decoded,
    // CHARSET dropped, values still escaped, a group prefix where the card had one.
    const old = withLines([
      "ORG:Acme\\, Inc.;Sales;EMEA",
      "TITLE:Head of R&D\\, Europe",
      "NICKNAME:Annie,Lee",
      "BDAY;VALUE=date:19800412",
      "X-ANNIVERSARY:2005-06-30",
      "URL;TYPE=WORK:https://acme.example/ann",
      "item2.URL:ann.example",
      "item2.X-ABLabel:_$!<HomePage>!$_",
      "URL:ftp://files.example",
      "CATEGORIES:Family,Chess club",
      "CATEGORIES:family,Work",
      "PHOTO;ENCODING=b;TYPE=JPEG:AAAA",
      "X-SKYPE:ann.lee",
    ], { town: "Leeds" });
    const { fields, lifted } = liftExtraFields(old);
    assert.equal(fields.org, "Acme, Inc.");
    assert.equal(fields.title, "Head of R&D, Europe");
    assert.equal(fields.nickname, "Annie, Lee");
    assert.equal(fields.birthday, "1980-04-12");
    assert.equal(fields.anniversary, "2005-06-30");
    assert.deepEqual(fields.urls, [
      { label: "work", url: "https://acme.example/ann" },
      { label: "home page", url: "https://ann.example" },
    ]);
    assert.deepEqual(fields.groups, ["Family", "Chess club", "Work"]);
    assert.equal(fields.town, "Leeds");
    // The departments stay beside the organisation, to be written back; the rest is kept.
    assert.deepEqual(fields.extra.vcardOrg, {
      org: "Acme, Inc.",
      value: "Acme\\, Inc.;Sales;EMEA",
    });
    assert.deepEqual(fields.extra.vcard, [
      "URL:ftp://files.example",
      "PHOTO;ENCODING=b;TYPE=JPEG:AAAA",
      "X-SKYPE:ann.lee",
    ]);
    assert.deepEqual(lifted, [
      "ORG",
      "TITLE",
      "NICKNAME",
      "BDAY",
      "X-ANNIVERSARY",
      "URL",
      "item2.URL",
      "CATEGORIES",
      "CATEGORIES",
    ]);
    assert.deepEqual(validateContact(fields), fields);
    // The input is not changed; a second lift finds nothing more to move.
    assert.equal((old.extra.vcard as string[]).length, 13);
    const again = liftExtraFields(fields);
    assert.equal(again.fields, fields);
    assert.deepEqual(again.lifted, []);
  },
});

Deno.test({
  name: "liftExtraFields() leaves a field that is set, and lines that do not fit, in extra",
  permissions: "none",
  fn() {
    const old = withLines([
      "ORG:Other Co",
      "TITLE:",
      "BDAY:1985-04",
      "BDAY;VALUE=text:circa 1800",
      "ANNIVERSARY:2023-02-29",
      "item1.URL:https://x.example",
      "item1.EMAIL:a@x.example",
      "item1.X-ABLabel:Shared",
      "ORG:" + "o".repeat(1001),
    ], { org: "Acme" });
    const { fields, lifted } = liftExtraFields(old);
    assert.equal(fields.org, "Acme");
    assert.equal(fields.birthday, "");
    assert.equal(fields.anniversary, "");
    assert.deepEqual(fields.urls, [{ label: "Shared", url: "https://x.example" }]);
    assert.deepEqual(lifted, ["item1.URL"]);
    // The label line is still the email's (lib/formats/vcard.ts reads it for that email).
    assert.deepEqual(
      fields.extra.vcard,
      (old.extra.vcard as string[]).filter((line) => line !== "item1.URL:https://x.example"),
    );
  },
});

Deno.test({
  name:
    "liftExtraFields() keeps caps: 20 URLs, 50 groups, and returns the fields untouched when nothing moves",
  permissions: "none",
  fn() {
    const urls = Array.from({ length: 22 }, (_, i) => `URL:https://${i}.example`);
    const lifted = liftExtraFields(withLines(urls));
    assert.equal(lifted.fields.urls.length, 20);
    assert.deepEqual(lifted.fields.extra.vcard, [
      "URL:https://20.example",
      "URL:https://21.example",
    ]);
    const many = Array.from({ length: 49 }, (_, i) => `g${i}`);
    const full = liftExtraFields(withLines(["CATEGORIES:a,b", "CATEGORIES:c"], { groups: many }));
    // a and b would pass the cap together: that line stays whole; c fits.
    assert.deepEqual(full.fields.groups.slice(49), ["c"]);
    assert.deepEqual(full.fields.extra.vcard, ["CATEGORIES:a,b"]);
    for (
      const extra of [{}, { vcard: [] }, { vcard: ["X-SKYPE:a", 5, null] }, { vcard: "ORG:x" }]
    ) {
      const fields = { ...blankContact("A"), extra };
      assert.equal(liftExtraFields(fields).fields, fields);
    }
    // Nothing else left in extra.vcard: the key goes.
    const only = liftExtraFields(withLines(["ORG:Acme"]));
    assert.deepEqual(only.fields.extra, {});
  },
});

Deno.test({
  name: "the vCard value readers: dates, ORG, text lists and CATEGORIES",
  permissions: "none",
  fn() {
    const dates: Array<[string, string | null]> = [
      ["1980-04-12", "1980-04-12"],
      ["19800412", "1980-04-12"],
      ["1980-04-12T10:00:00Z", "1980-04-12"],
      ["19800412T100000", "1980-04-12"],
      ["--0412", "--04-12"],
      ["--04-12", "--04-12"],
      ["--0229", "--02-29"],
      ["2023-02-29", null],
      ["1985-04", null],
      ["---12", null],
      ["April 12", null],
      ["", null],
    ];
    for (const [value, date] of dates) assert.equal(dateFromVCard(value), date, value);
    assert.equal(dateFromVCard("1604-04-12", "1604"), "--04-12");
    assert.equal(dateFromVCard("1980-04-12", "1604"), "1980-04-12");
    assert.deepEqual(orgFromVCard("Acme"), { org: "Acme", units: [] });
    assert.deepEqual(orgFromVCard(";Sales"), { org: "", units: ["Sales"] });
    assert.deepEqual(orgFromVCard("Acme, Inc."), { org: "Acme, Inc.", units: [] });
    assert.equal(textFromVCard("Dr\\nWho"), "Dr, Who");
    assert.equal(textFromVCard("a,b", false), "a,b");
    assert.deepEqual(groupsFromVCard(" a ,, b\\;c "), ["a", "b;c"]);
  },
});
