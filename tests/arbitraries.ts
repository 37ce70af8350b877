/**
 * fast-check arbitraries shared by the vCard and CSV property tests: text full of the
 * characters that escaping, folding and quoting must survive, and valid contacts.
 *
 * @module
 */

import fc from "./fast_check.ts";
import { CONTACT_LIMITS, type ContactFields, validateContact } from "../lib/model/contact.ts";
import { multiLine, oneLine } from "../lib/formats/interop.ts";
import { fold } from "../lib/model/search_terms.ts";

export { fc };

/** One character: a troublemaker, or any Unicode scalar value (astral ones included). */
const char: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    ",",
    ";",
    ":",
    "\\",
    '"',
    " ",
    "\n",
    "\r\n",
    "\t",
    "=",
    "^",
    "n",
    "é",
    "e\u0301",
    "ß",
    "中",
    "😀",
    "\u2028",
    "tel:",
    "item1.",
  ),
  fc.integer({ min: 0x20, max: 0x10ffff })
    .filter((code) => code < 0xd800 || code > 0xdfff)
    .map((code) => String.fromCodePoint(code)),
);

/** Any text of the characters above. */
export function text(maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: char, maxLength });
}

function cut(value: string, max: number): string {
  return [...value].slice(0, max).join("").trim();
}

const labels = fc.oneof(
  fc.constantFrom(
    "",
    "mobile",
    "home",
    "work",
    "other",
    "work fax",
    "home fax",
    "fax",
    "pager",
    "main",
    "mobile work",
    "cell",
    "voice",
    "Gym",
    "x-custom",
    "Büro",
    "home home",
  ),
  text(12),
).map((label) => cut(oneLine(label), CONTACT_LIMITS.label));

const phone = fc.record({ label: labels, number: text(16) }).map(({ label, number }) => ({
  label,
  number: cut(oneLine(number), 30) + "1",
}));

// deno-lint-ignore no-control-regex
const emailPart = text(12).map((s) => s.replace(/[\s@\u0000-\u001f\u007f\u2028\u2029]/g, ""));
const email = fc.record({ label: labels, local: emailPart, domain: emailPart }).map((
  { label, local, domain },
) => ({ label, address: `${local || "a"}@${domain || "b.example"}` }));

function field(max: number): fc.Arbitrary<string> {
  return text(max).map((s) => cut(oneLine(s), max));
}

/** A contact date: none, or a real day with or without its year. */
export const contactDate: fc.Arbitrary<string> = fc.oneof(
  fc.constant(""),
  fc.record({
    year: fc.option(fc.integer({ min: 1, max: 9999 })),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 31 }),
  }).map(({ year, month, day }) => {
    const last = new Date(Date.UTC(year ?? 2000, month, 0)).getUTCDate();
    const yyyy = year === null ? "-" : String(year).padStart(4, "0");
    return `${yyyy}-${String(month).padStart(2, "0")}-${
      String(Math.min(day, last)).padStart(2, "0")
    }`;
  }),
);

const url = fc.record({
  label: labels,
  url: fc.webUrl({ withQueryParameters: true, withFragments: true }),
});

/** Group names: no commas, never Google's myContacts (which a vCard import drops). */
const group = field(20).map((name) => name.replaceAll(",", " ").trim()).filter((name) =>
  name !== "" && !/^mycontacts$/i.test(name)
);

/** Valid contacts with empty `extra`, every field free-form. */
export function contacts(): fc.Arbitrary<ContactFields> {
  return fc.record({
    name: field(40),
    house: field(12),
    street: field(30),
    town: field(20),
    postcode: field(10),
    phones: fc.array(phone, { maxLength: 4 }),
    emails: fc.array(email, { maxLength: 3 }),
    urls: fc.array(url, { maxLength: 3 }),
    org: field(30),
    title: field(30),
    nickname: field(20),
    birthday: contactDate,
    anniversary: contactDate,
    groups: fc.array(group, { maxLength: 4 }),
    notes: text(120).map(multiLine),
    uid: fc.oneof(fc.constant(""), field(30)),
  }).map((raw) =>
    // A name that folds to nothing (only marks and spaces) is refused: use a plain one.
    validateContact({ ...raw, name: fold(raw.name) !== "" ? raw.name : "Anon", extra: {} })
  );
}

/** A content line as `extra.vcard` holds one: a name, parameters, an escaped value. */
const keptLine = fc.record({
  name: fc.constantFrom("X-FOO", "BDAY", "item7.URL", "ORG", "item1.X-ABLabel", "CATEGORIES"),
  params: fc.constantFrom("", ";TYPE=work", ';X-P="a:b;c"', ";type=pref"),
  value: text(30),
}).map(({ name, params, value }) => {
  // deno-lint-ignore no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, "").replace(/\\/g, "\\\\");
  return `${name}${params}:${clean}`;
});

/** Valid contacts with vCard extras: kept lines, address parts, a structured N. */
export function contactsWithExtra(): fc.Arbitrary<ContactFields> {
  return fc.record({
    contact: contacts(),
    lines: fc.array(keptLine, { maxLength: 4 }),
    address: fc.record({
      label: labels,
      pobox: field(8),
      extended: field(12),
      region: field(8),
      country: field(8),
    }),
    n: fc.option(fc.array(field(8), { minLength: 5, maxLength: 5 })),
  }).map(({ contact, lines, address, n }) => {
    const extra: Record<string, unknown> = {};
    if (lines.length > 0) extra.vcard = lines;
    extra.address = address;
    if (n) {
      const value = n.map((part) => part.replace(/[\\;,]/g, (m) => "\\" + m)).join(";");
      extra.vcardN = { name: contact.name, value };
    }
    return validateContact({ ...contact, extra });
  });
}
