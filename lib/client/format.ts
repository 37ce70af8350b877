/**
 * Human output for contacts: readable cards for a few, a compact numbered table for many,
 * a one-line summary for choosing among several, and a side-by-side view of two versions.
 * Pure functions returning text.
 *
 * @module
 */

import type { Contact, ContactFields, Email, Phone, Url } from "../model/contact.ts";

/**
 * The fields of a contact shown to people. The fields of issue 15 are optional here: a
 * contact from an older server lacks them (shown as empty).
 */
export type ShownContact =
  & Pick<
    ContactFields,
    "name" | "house" | "street" | "town" | "postcode" | "phones" | "emails" | "notes"
  >
  & Partial<
    Pick<
      ContactFields,
      "org" | "title" | "nickname" | "birthday" | "anniversary" | "urls" | "groups"
    >
  >;

/**
 * A contact's address on one line: house and street, town, postcode.
 *
 * @example
 * ```ts
 * import { formatAddress } from "./format.ts";
 * const line = formatAddress({ house: "12", street: "High Street", town: "Springfield", postcode: "" });
 * if (line !== "12 High Street, Springfield") throw new Error(line);
 * ```
 */
export function formatAddress(
  contact: Pick<ContactFields, "house" | "street" | "town" | "postcode">,
): string {
  const first = [contact.house, contact.street].filter(Boolean).join(" ");
  return [first, contact.town, contact.postcode].filter(Boolean).join(", ");
}

/**
 * A phone as `number (label)`, or the number alone.
 *
 * @example
 * ```ts
 * import { formatPhone } from "./format.ts";
 * if (formatPhone({ label: "mobile", number: "555-0123" }) !== "555-0123 (mobile)") throw new Error();
 * ```
 */
export function formatPhone(phone: Phone): string {
  return phone.label ? `${phone.number} (${phone.label})` : phone.number;
}

/**
 * An email as `address (label)`, or the address alone.
 *
 * @example
 * ```ts
 * import { formatEmail } from "./format.ts";
 * if (formatEmail({ label: "", address: "bob@example.com" }) !== "bob@example.com") throw new Error();
 * ```
 */
export function formatEmail(email: Email): string {
  return email.label ? `${email.address} (${email.label})` : email.address;
}

/**
 * A web address as `url (label)`, or the address alone.
 *
 * @example
 * ```ts
 * import { formatUrl } from "./format.ts";
 * if (formatUrl({ label: "blog", url: "https://ann.example" }) !== "https://ann.example (blog)") {
 *   throw new Error();
 * }
 * ```
 */
export function formatUrl(url: Url): string {
  return url.label ? `${url.url} (${url.label})` : url.url;
}

/**
 * A date as a contact holds it, for people: `1980-04-12`, or `04-12 (no year)`.
 *
 * @example
 * ```ts
 * import { formatDate } from "./format.ts";
 * if (formatDate("--04-12") !== "04-12 (no year)" || formatDate("1980-04-12") !== "1980-04-12") {
 *   throw new Error();
 * }
 * ```
 */
export function formatDate(date: string): string {
  return date.startsWith("--") ? `${date.slice(2)} (no year)` : date;
}

/**
 * A labelled list as typed in the menu and on the command line: `label: value, value`.
 *
 * @example
 * ```ts
 * import { formatLabelled } from "./format.ts";
 * const text = formatLabelled([{ label: "work", number: "555-0123" }, { label: "", number: "555-9" }]);
 * if (text !== "work: 555-0123, 555-9") throw new Error(text);
 * ```
 */
export function formatLabelled(items: Array<Phone | Email | Url>): string {
  return items.map((item) => {
    const value = "number" in item ? item.number : "address" in item ? item.address : item.url;
    return item.label ? `${item.label}: ${value}` : value;
  }).join(", ");
}

/**
 * A contact as a card: the name, then one labelled line per field that has a value (and
 * the id, with `{ id: true }`).
 *
 * @example
 * ```ts
 * import { formatCard } from "./format.ts";
 * const card = formatCard({ name: "Bob", house: "12", street: "High Street", town: "Springfield",
 *   postcode: "", phones: [{ label: "", number: "555-0123" }], emails: [], notes: "" });
 * if (card !== "Bob\n  Address  12 High Street, Springfield\n  Phone    555-0123") throw new Error(card);
 * ```
 */
export function formatCard(
  contact: ShownContact & Partial<Pick<Contact, "id">>,
  options: { id?: boolean } = {},
): string {
  const rows: Array<[string, string]> = [];
  if (contact.nickname) rows.push(["Nickname", contact.nickname]);
  const work = [contact.title, contact.org].filter(Boolean).join(", ");
  if (work) rows.push([contact.org ? "Work" : "Title", work]);
  const address = formatAddress(contact);
  if (address) rows.push(["Address", address]);
  for (const phone of contact.phones) rows.push(["Phone", formatPhone(phone)]);
  for (const email of contact.emails) rows.push(["Email", formatEmail(email)]);
  for (const url of contact.urls ?? []) rows.push(["Web", formatUrl(url)]);
  if (contact.birthday) rows.push(["Birthday", formatDate(contact.birthday)]);
  if (contact.anniversary) rows.push(["Anniversary", formatDate(contact.anniversary)]);
  if (contact.groups?.length) rows.push(["Groups", contact.groups.join(", ")]);
  if (contact.notes) rows.push(["Notes", contact.notes]);
  if (options.id && contact.id) rows.push(["Id", contact.id]);
  const width = Math.max(0, ...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) =>
    `  ${label.padEnd(width)}  ${value.replaceAll("\n", "\n" + " ".repeat(width + 4))}`
  );
  return [contact.name, ...lines].join("\n");
}

/**
 * A contact on one line, to choose it among others: name, organisation, address, first phone.
 *
 * @example
 * ```ts
 * import { formatSummary } from "./format.ts";
 * const line = formatSummary({ name: "Bob", house: "", street: "", town: "Springfield",
 *   postcode: "", phones: [], emails: [], notes: "" });
 * if (line !== "Bob · Springfield") throw new Error(line);
 * ```
 */
export function formatSummary(contact: ShownContact): string {
  const phone = contact.phones[0]?.number;
  const email = contact.emails[0]?.address;
  return [contact.name, contact.org ?? "", formatAddress(contact), phone ?? email ?? ""]
    .filter(Boolean).join(" · ");
}

/** Cuts text to `width` characters, marking the cut with `…`. */
function fit(text: string, width: number): string {
  const chars = [...text.replaceAll("\n", " ")];
  if (chars.length <= width) return chars.join("").padEnd(width);
  return chars.slice(0, Math.max(0, width - 1)).join("") + "…";
}

/**
 * Contacts as a compact table, one numbered row each, within `columns` characters: name,
 * organisation (a column only when one of them has one), address, first phone, first email.
 *
 * @example
 * ```ts
 * import { formatTable } from "./format.ts";
 * const bob = { name: "Bob", house: "12", street: "High Street", town: "Springfield",
 *   postcode: "", phones: [{ label: "", number: "555-0123" }], emails: [], notes: "" };
 * const table = formatTable([bob, { ...bob, name: "Ann" }], { first: 1 });
 * const lines = table.split("\n");
 * if (lines.length !== 3 || !lines[0]!.startsWith("  #  Name") || !lines[2]!.startsWith("  2  Ann")) {
 *   throw new Error(table);
 * }
 * ```
 */
export function formatTable(
  contacts: ShownContact[],
  options: { first?: number; columns?: number } = {},
): string {
  const first = options.first ?? 1;
  const columns = Math.max(60, options.columns ?? 100);
  const numberWidth = String(first + contacts.length - 1).length;
  const rows = contacts.map((contact) => ({
    name: contact.name,
    org: contact.org ?? "",
    address: formatAddress(contact),
    phone: contact.phones[0]?.number ?? "",
    email: contact.emails[0]?.address ?? "",
  }));
  const widest = (key: keyof (typeof rows)[number], header: string) =>
    Math.max(header.length, ...rows.map((row) => [...row[key]].length));
  // Name, organisation, phone and email get what they need up to a cap; the address the rest.
  const name = Math.min(widest("name", "Name"), 28);
  const org = rows.some((row) => row.org !== "") ? Math.min(widest("org", "Organisation"), 20) : 0;
  const phone = Math.min(widest("phone", "Phone"), 18);
  const email = Math.min(widest("email", "Email"), 28);
  const fixed = 2 + numberWidth + 2 + name + 2 + (org ? org + 2 : 0) + 2 + phone + 2 + email;
  const address = Math.max(10, Math.min(widest("address", "Address"), columns - fixed));
  const line = (n: string, r: (typeof rows)[number]) =>
    (`  ${n.padStart(numberWidth)}  ${fit(r.name, name)}  ${org ? fit(r.org, org) + "  " : ""}` +
      `${fit(r.address, address)}  ${fit(r.phone, phone)}  ${fit(r.email, email)}`).trimEnd();
  return [
    line("#", {
      name: "Name",
      org: "Organisation",
      address: "Address",
      phone: "Phone",
      email: "Email",
    }),
    ...rows.map((row, i) => line(String(first + i), row)),
  ].join("\n");
}

/**
 * The fields shown to people with their labels, in the order they are asked and shown.
 *
 * @example
 * ```ts
 * import { FIELD_LABELS } from "./format.ts";
 * if (FIELD_LABELS[1]?.join("=") !== "house=House number") throw new Error();
 * ```
 */
export const FIELD_LABELS: ReadonlyArray<readonly [keyof ShownContact, string]> = [
  ["name", "Name"],
  ["house", "House number"],
  ["street", "Street"],
  ["town", "Town"],
  ["postcode", "Postcode"],
  ["phones", "Phones"],
  ["emails", "Emails"],
  ["org", "Organisation"],
  ["title", "Job title"],
  ["nickname", "Nickname"],
  ["birthday", "Birthday"],
  ["anniversary", "Anniversary"],
  ["urls", "Web addresses"],
  ["groups", "Groups"],
  ["notes", "Notes"],
];

/**
 * A field's value as text, as the menu shows it and takes it back: lists as
 * `label: value, value`, groups joined by `, `, an absent field as "".
 *
 * @example
 * ```ts
 * import { fieldText } from "./format.ts";
 * const bo = { name: "Bo", house: "", street: "", town: "", postcode: "", phones: [], emails: [],
 *   notes: "", groups: ["Family", "Chess club"] };
 * if (fieldText(bo, "groups") !== "Family, Chess club" || fieldText(bo, "org") !== "") throw new Error();
 * ```
 */
export function fieldText(contact: ShownContact, field: keyof ShownContact): string {
  const value = contact[field];
  if (value === undefined) return "";
  if (field === "groups") return (value as string[]).join(", ");
  return Array.isArray(value)
    ? formatLabelled(value as Array<Phone | Email | Url>)
    : value as string;
}

/**
 * The fields where two versions of a contact differ, side by side: for a conflict, what you
 * typed against what someone else saved. Empty when they agree.
 *
 * @example
 * ```ts
 * import { formatDifferences } from "./format.ts";
 * const base = { name: "Bob", house: "", street: "", town: "Springfield", postcode: "",
 *   phones: [], emails: [], notes: "" };
 * const text = formatDifferences(base, { ...base, town: "Shelbyville" }, ["Yours", "Theirs"]);
 * const lines = text.split("\n");
 * if (lines.length !== 2 || !/^  Town +Springfield +Shelbyville$/.test(lines[1]!)) throw new Error(text);
 * ```
 */
export function formatDifferences(
  left: ShownContact,
  right: ShownContact,
  headers: [string, string],
): string {
  const rows: Array<[string, string, string]> = FIELD_LABELS
    .map(([field, label]): [string, string, string] => [
      label,
      fieldText(left, field),
      fieldText(right, field),
    ])
    .filter(([, a, b]) => a !== b)
    .map(([label, a, b]) => [label, a || "(empty)", b || "(empty)"]);
  if (rows.length === 0) return "";
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const leftWidth = Math.min(36, Math.max(headers[0].length, ...rows.map(([, a]) => a.length)));
  const all: Array<[string, string, string]> = [["", ...headers], ...rows];
  return all.map(([label, a, b]) =>
    `  ${label.padEnd(labelWidth)}  ${fit(a, leftWidth)}  ${b.replaceAll("\n", " ")}`
  ).join("\n");
}
