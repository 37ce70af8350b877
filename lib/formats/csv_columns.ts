/**
 * CSV's column tables: the header layouts the CSV reader recognises (the plain one it writes,
 * Google Contacts' export, Outlook's), each header name and what field it maps to. Data and
 * the lookups over it only; the reader and the writer are in `csv.ts`.
 *
 * @module
 */

/** The columns of the plain layout, in the order `formatCsv` (`csv.ts`) writes them. */
export const PLAIN_COLUMNS = [
  "name",
  "house",
  "street",
  "town",
  "postcode",
  "phones",
  "emails",
  "notes",
  "uid",
  "org",
  "title",
  "nickname",
  "birthday",
  "anniversary",
  "urls",
  "groups",
] as const;

/** The header layouts `parseCsv` (`csv.ts`) recognises. */
export type CsvLayout = "plain" | "google" | "outlook";

/** A part of an address a column holds (`label` names the address, Google's type). */
export type AddressPart =
  | "label"
  | "formatted"
  | "street"
  | "street2"
  | "street3"
  | "city"
  | "region"
  | "postcode"
  | "country"
  | "pobox"
  | "extended";

/** The plain layout's columns that hold one field each, as `formatCsv` writes them. */
export type PlainField =
  | "house"
  | "street"
  | "town"
  | "postcode"
  | "phones"
  | "emails"
  | "org"
  | "title"
  | "nickname"
  | "birthday"
  | "anniversary"
  | "urls"
  | "groups";

/** What a known column maps to: a field, a part of one, or nothing (ignored or unmapped). */
export type Rule =
  | { kind: "name" }
  | { kind: "part"; part: 0 | 1 | 2 | 3 | 4 } // prefix, given, additional, family, suffix
  | { kind: "org" }
  | { kind: "notes" }
  | { kind: "uid" }
  | { kind: "plain"; field: PlainField }
  | { kind: "phone" | "email" | "url"; label: string } // one column per phone or email (Outlook)
  | {
    kind: "phoneValue" | "phoneLabel" | "emailValue" | "emailLabel" | "urlValue" | "urlLabel";
    n: number;
  } // Google
  | { kind: "text"; field: "title" | "nickname" }
  | { kind: "department" } // joins the organisation as a vCard ORG unit (extra.vcardOrg)
  | { kind: "date"; field: "birthday" | "anniversary" }
  | { kind: "eventValue" | "eventLabel"; n: number } // Google: an "Anniversary" is one
  | { kind: "groups"; style: "google" | "outlook" }
  | { kind: "address"; group: string; label: string; part: AddressPart }
  | { kind: "ignore" } // known, holds nothing a person entered
  | { kind: "unmapped" }; // known, no field of its own: reported when it has values

const GOOGLE_NAMES: Record<string, Rule> = {
  "name": { kind: "name" },
  "name prefix": { kind: "part", part: 0 },
  "given name": { kind: "part", part: 1 },
  "first name": { kind: "part", part: 1 },
  "additional name": { kind: "part", part: 2 },
  "middle name": { kind: "part", part: 2 },
  "family name": { kind: "part", part: 3 },
  "last name": { kind: "part", part: 3 },
  "name suffix": { kind: "part", part: 4 },
  "notes": { kind: "notes" },
  "organization 1 - name": { kind: "org" },
  "organization name": { kind: "org" },
  "organization 1 - title": { kind: "text", field: "title" },
  "organization title": { kind: "text", field: "title" },
  "organization 1 - department": { kind: "department" },
  "organization department": { kind: "department" },
  "nickname": { kind: "text", field: "nickname" },
  "birthday": { kind: "date", field: "birthday" },
  "group membership": { kind: "groups", style: "google" },
  "labels": { kind: "groups", style: "google" },
  "initials": { kind: "ignore" },
  "file as": { kind: "ignore" },
  "sensitivity": { kind: "ignore" },
  "priority": { kind: "ignore" },
};

const GOOGLE_UNMAPPED = new Set([
  "yomi name",
  "given name yomi",
  "additional name yomi",
  "family name yomi",
  "phonetic first name",
  "phonetic middle name",
  "phonetic last name",
  "short name",
  "maiden name",
  "gender",
  "location",
  "billing information",
  "directory server",
  "mileage",
  "occupation",
  "hobby",
  "subject",
  "language",
  "photo",
]);

const GOOGLE_ADDRESS_PARTS: Record<string, AddressPart> = {
  "type": "label",
  "label": "label",
  "formatted": "formatted",
  "street": "street",
  "city": "city",
  "po box": "pobox",
  "region": "region",
  "postal code": "postcode",
  "country": "country",
  "extended address": "extended",
};

/** A table's own entry for a header (a header named "constructor" is no entry). */
function own<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

function googleRule(header: string): Rule | null {
  const h = header.toLowerCase();
  const named = own(GOOGLE_NAMES, h);
  if (named) return named;
  if (GOOGLE_UNMAPPED.has(h)) return { kind: "unmapped" };
  let m = /^(phone|e-mail|website|event) (\d+) - (type|label|value)$/.exec(h);
  if (m) {
    const n = Number(m[2]);
    const value = m[3] === "value";
    if (m[1] === "phone") return { kind: value ? "phoneValue" : "phoneLabel", n };
    if (m[1] === "website") return { kind: value ? "urlValue" : "urlLabel", n };
    if (m[1] === "event") return { kind: value ? "eventValue" : "eventLabel", n };
    return { kind: value ? "emailValue" : "emailLabel", n };
  }
  m = /^address (\d+) - (.+)$/.exec(h);
  const googlePart = m ? own(GOOGLE_ADDRESS_PARTS, m[2]!) : undefined;
  if (m && googlePart) {
    return { kind: "address", group: m[1]!, label: "", part: googlePart };
  }
  if (
    /^(organization|website|relation|event|im|custom field|external id|jot|calendar link|location|hobby|interest|client|user defined field|sip address|miscellaneous) \d+ - /
      .test(h)
  ) {
    return { kind: "unmapped" };
  }
  return null;
}

const OUTLOOK_PHONES: Record<string, string> = {
  "home phone": "home",
  "home phone 2": "home",
  "business phone": "work",
  "business phone 2": "work",
  "mobile phone": "mobile",
  "car phone": "car",
  "other phone": "other",
  "primary phone": "main",
  "pager": "pager",
  "business fax": "work fax",
  "home fax": "home fax",
  "other fax": "fax",
  "company main phone": "company main",
  "callback": "callback",
  "radio phone": "radio",
  "telex": "telex",
  "tty/tdd phone": "textphone",
  "isdn": "isdn",
  "assistant's phone": "assistant",
};

const OUTLOOK_NAMES: Record<string, Rule> = {
  "title": { kind: "part", part: 0 },
  "first name": { kind: "part", part: 1 },
  "middle name": { kind: "part", part: 2 },
  "last name": { kind: "part", part: 3 },
  "suffix": { kind: "part", part: 4 },
  "company": { kind: "org" },
  "department": { kind: "department" },
  "job title": { kind: "text", field: "title" },
  "nickname": { kind: "text", field: "nickname" },
  "birthday": { kind: "date", field: "birthday" },
  "anniversary": { kind: "date", field: "anniversary" },
  "web page": { kind: "url", label: "" },
  "personal web page": { kind: "url", label: "home" },
  "categories": { kind: "groups", style: "outlook" },
  "notes": { kind: "notes" },
  "e-mail address": { kind: "email", label: "" },
  "e-mail 2 address": { kind: "email", label: "" },
  "e-mail 3 address": { kind: "email", label: "" },
  "e-mail type": { kind: "ignore" },
  "e-mail 2 type": { kind: "ignore" },
  "e-mail 3 type": { kind: "ignore" },
  "e-mail display name": { kind: "ignore" },
  "e-mail 2 display name": { kind: "ignore" },
  "e-mail 3 display name": { kind: "ignore" },
  "gender": { kind: "ignore" },
  "priority": { kind: "ignore" },
  "sensitivity": { kind: "ignore" },
  "private": { kind: "ignore" },
  "initials": { kind: "ignore" },
};

const OUTLOOK_UNMAPPED = new Set([
  "given yomi",
  "surname yomi",
  "company yomi",
  "office location",
  "manager's name",
  "assistant's name",
  "account",
  "billing information",
  "children",
  "directory server",
  "government id number",
  "hobby",
  "internet free busy",
  "keywords",
  "language",
  "location",
  "mileage",
  "organizational id number",
  "profession",
  "referred by",
  "spouse",
  "schools",
  "user 1",
  "user 2",
  "user 3",
  "user 4",
  "imaddress",
]);

const OUTLOOK_GROUPS: Record<string, string> = { home: "home", business: "work", other: "other" };
const OUTLOOK_ADDRESS_PARTS: Record<string, AddressPart> = {
  "street": "street",
  "street 2": "street2",
  "street 3": "street3",
  "city": "city",
  "state": "region",
  "postal code": "postcode",
  "country/region": "country",
  "country": "country",
  "address po box": "pobox",
};

function outlookRule(header: string): Rule | null {
  const h = header.toLowerCase();
  const named = own(OUTLOOK_NAMES, h);
  if (named) return named;
  const phone = own(OUTLOOK_PHONES, h);
  if (phone) return { kind: "phone", label: phone };
  if (OUTLOOK_UNMAPPED.has(h)) return { kind: "unmapped" };
  const m = /^(home|business|other) (.+)$/.exec(h);
  const outlookPart = m ? own(OUTLOOK_ADDRESS_PARTS, m[2]!) : undefined;
  if (m && outlookPart) {
    const label = OUTLOOK_GROUPS[m[1]!]!;
    return { kind: "address", group: m[1]!, label, part: outlookPart };
  }
  return null;
}

function plainRule(header: string): Rule | null {
  switch (header.toLowerCase()) {
    case "name":
      return { kind: "name" };
    case "notes":
      return { kind: "notes" };
    case "uid":
      return { kind: "uid" };
    case "house":
    case "street":
    case "town":
    case "postcode":
    case "phones":
    case "emails":
    case "org":
    case "title":
    case "nickname":
    case "birthday":
    case "anniversary":
    case "urls":
    case "groups":
      return { kind: "plain", field: header.toLowerCase() as PlainField };
    default:
      return null;
  }
}

/**
 * Each layout with the rule of a header in it (null: a column it does not know), in the order
 * that breaks a tie when recognising a header.
 *
 * @example Google numbers its phone columns; Outlook names one column per kind of phone
 * ```ts
 * import { LAYOUTS } from "./csv_columns.ts";
 * const rule = (layout: string, header: string) =>
 *   LAYOUTS.find(([name]) => name === layout)![1](header);
 * if (rule("google", "Phone 2 - Value")?.kind !== "phoneValue") throw new Error();
 * if (rule("outlook", "Mobile Phone")?.kind !== "phone") throw new Error();
 * if (rule("plain", "Birthday")?.kind !== "plain" || rule("plain", "Fax") !== null) throw new Error();
 * ```
 */
export const LAYOUTS: Array<[CsvLayout, (header: string) => Rule | null]> = [
  ["plain", plainRule],
  ["google", googleRule],
  ["outlook", outlookRule],
];
