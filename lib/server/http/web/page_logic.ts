/**
 * The web page's logic that has no DOM in it, as plain functions the page's script is built
 * from (`assets.ts` puts each one's source into the module the browser runs), so the same code
 * is unit-tested here. Each function stands alone: no imports, no outside names.
 *
 * @module
 */

/** A labelled value of a contact (a phone, an email, a web address). */
export interface Labelled {
  label: string;
  value: string;
}

/**
 * Parses the lines of a textarea (`mobile: +44 7700 900123`, or just the value) into
 * labelled values; blank lines are skipped, a label is the text before the first `: `.
 *
 * @example
 * ```ts
 * import { parseLabelled } from "./page_logic.ts";
 * const rows = parseLabelled("mobile: 0123\n\n 456 ");
 * if (rows.length !== 2 || rows[0]!.label !== "mobile" || rows[1]!.value !== "456") throw new Error();
 * ```
 */
export function parseLabelled(text: string): Labelled[] {
  const rows: Labelled[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const at = line.indexOf(": ");
    const label = at > 0 && at <= 50 ? line.slice(0, at).trim() : "";
    rows.push({ label, value: label === "" ? line : line.slice(at + 2).trim() });
  }
  return rows;
}

/**
 * The textarea text of labelled values: one per line, `label: value` or the value alone.
 *
 * @example
 * ```ts
 * import { formatLabelled } from "./page_logic.ts";
 * if (formatLabelled([{ label: "home", value: "1" }, { label: "", value: "2" }]) !== "home: 1\n2") throw new Error();
 * ```
 */
export function formatLabelled(rows: Labelled[]): string {
  return rows.map((row) => (row.label ? row.label + ": " : "") + row.value).join("\n");
}

/** A contact as the page sees it (the wire's shape; every field optional). */
export interface PageContact {
  [field: string]: unknown;
}

/**
 * The rows of a contact's card, in display order: `[label, text]`, empty fields left out.
 * The page puts each text in with `textContent`, never as HTML.
 *
 * @example
 * ```ts
 * import { cardRows } from "./page_logic.ts";
 * const rows = cardRows({ name: "Ann", phones: [{ label: "mobile", number: "0123" }], town: "Leeds" });
 * if (rows[0]![0] !== "Phone (mobile)" || rows[0]![1] !== "0123") throw new Error(JSON.stringify(rows));
 * ```
 */
export function cardRows(contact: PageContact): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  const str = (value: unknown) => typeof value === "string" ? value : "";
  const list = (value: unknown) => Array.isArray(value) ? value : [];
  const labelled = (title: string, label: unknown) =>
    str(label) ? title + " (" + label + ")" : title;
  for (const phone of list(contact.phones)) {
    rows.push([labelled("Phone", phone.label), str(phone.number)]);
  }
  for (const email of list(contact.emails)) {
    rows.push([labelled("Email", email.label), str(email.address)]);
  }
  for (const url of list(contact.urls)) rows.push([labelled("Web", url.label), str(url.url)]);
  const address = [
    str(contact.house),
    str(contact.street),
    str(contact.town),
    str(contact.postcode),
  ]
    .filter((part) => part !== "").join(", ");
  if (address) rows.push(["Address", address]);
  const simple: Array<[string, string]> = [
    ["Organisation", "org"],
    ["Job title", "title"],
    ["Nickname", "nickname"],
    ["Birthday", "birthday"],
    ["Anniversary", "anniversary"],
  ];
  for (const [title, field] of simple) {
    const value = str(contact[field]);
    if (value) rows.push([title, value.startsWith("--") ? value.slice(2) + " (no year)" : value]);
  }
  const groups = list(contact.groups).filter((group) => typeof group === "string");
  if (groups.length > 0) rows.push(["Groups", groups.join(", ")]);
  if (str(contact.notes)) rows.push(["Notes", str(contact.notes)]);
  return rows;
}

/**
 * The user fields where two versions of a contact differ (for a conflict: what the page
 * was saving against what another client saved meanwhile).
 *
 * @example
 * ```ts
 * import { differingFields } from "./page_logic.ts";
 * const fields = differingFields({ name: "A", town: "X", id: "1" }, { name: "A", town: "Y", id: "2" });
 * if (fields.join() !== "town") throw new Error();
 * ```
 */
export function differingFields(mine: PageContact, theirs: PageContact): string[] {
  const fields = [
    "name",
    "phones",
    "emails",
    "urls",
    "house",
    "street",
    "town",
    "postcode",
    "org",
    "title",
    "nickname",
    "birthday",
    "anniversary",
    "groups",
    "notes",
  ];
  const empty = (value: unknown) =>
    value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
  return fields.filter((field) => {
    const a = mine[field];
    const b = theirs[field];
    if (empty(a) && empty(b)) return false;
    return JSON.stringify(a) !== JSON.stringify(b);
  });
}

/**
 * The line an import's summary starts with: `3 added, 1 updated, 0 unchanged, 2 skipped`
 * (and the warnings, when there are some).
 *
 * @example
 * ```ts
 * import { importCounts } from "./page_logic.ts";
 * const line = importCounts({ added: 3, updated: 1, unchanged: 0, skipped: [{ reason: "x" }], warnings: [] });
 * if (line !== "3 added, 1 updated, 0 unchanged, 1 skipped") throw new Error(line);
 * ```
 */
export function importCounts(summary: {
  added: number;
  updated: number;
  unchanged: number;
  skipped: unknown[];
  warnings: unknown[];
}): string {
  const parts = [
    summary.added + " added",
    summary.updated + " updated",
    summary.unchanged + " unchanged",
    summary.skipped.length + " skipped",
  ];
  if (summary.warnings.length > 0) {
    parts.push(
      summary.warnings.length + (summary.warnings.length === 1 ? " warning" : " warnings"),
    );
  }
  return parts.join(", ");
}
