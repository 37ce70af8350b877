/**
 * CSV import and export. The reader is RFC 4180 (quoted fields with commas, quotes and line
 * breaks, CRLF or LF, a byte order mark) and recognises three header layouts: the plain one
 * this module writes, Google Contacts' export, and Outlook's. A column it does not know is
 * reported, never guessed. Pure functions only.
 *
 * @module
 */

import { blankContact, type ContactFields, isContactDate } from "../model/contact.ts";
import { liftExtraFields } from "../model/vcard_fields.ts";
import { escapeText } from "./vcard.ts";
import {
  decodeText,
  type Draft,
  type ExportContact,
  finishDraft,
  type ImportIssue,
  type ImportResult,
  multiLine,
  oneLine,
  pickName,
  quote,
  setExtraAddress,
  splitStreet,
  uidForContact,
} from "./interop.ts";
import { type CsvLayout, LAYOUTS, PLAIN_COLUMNS, type Rule } from "./csv_columns.ts";

/** The column tables, re-exported for callers that only import this module. */
export { type CsvLayout, PLAIN_COLUMNS };

/** Rows of fields, with the line each row starts on, and problems met on the way. */
export interface CsvRows {
  rows: string[][];
  lines: number[];
  warnings: ImportIssue[];
}

/**
 * Splits CSV text into rows of fields (RFC 4180). The delimiter is a comma, unless the first
 * line has none outside quotes and has semicolons or tabs (as some Outlook locales write).
 * Blank lines are skipped; an unterminated quote is reported and read to the end.
 *
 * @example Quotes, an embedded line break and CRLF
 * ```ts
 * import { parseCsvRows } from "./csv.ts";
 * const { rows } = parseCsvRows('\uFEFFa,b\r\n"x, ""y""","line 1\nline 2"\r\n');
 * if (rows[1]![0] !== 'x, "y"' || rows[1]![1] !== "line 1\nline 2") throw new Error();
 * ```
 */
export function parseCsvRows(text: string): CsvRows {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const delimiter = detectDelimiter(text);
  const rows: string[][] = [];
  const lines: number[] = [];
  const warnings: ImportIssue[] = [];
  let row: string[] = [];
  let field = "";
  let line = 1;
  let rowLine = 1;
  let i = 0;
  const endRow = () => {
    row.push(field);
    field = "";
    if (row.length > 1 || row[0] !== "") {
      rows.push(row);
      lines.push(rowLine);
    }
    row = [];
  };
  while (i < text.length) {
    const char = text[i]!;
    if (char === '"' && field === "") {
      // A quoted field: up to the next quote that is not doubled.
      const start = line;
      let j = i + 1;
      let closed = false;
      while (j < text.length) {
        const next = text.indexOf('"', j);
        if (next < 0) break;
        field += text.slice(j, next);
        if (text[next + 1] === '"') {
          field += '"';
          j = next + 2;
          continue;
        }
        j = next + 1;
        closed = true;
        break;
      }
      if (!closed) {
        field += text.slice(j);
        j = text.length;
        warnings.push({ line: start, reason: `The quote opened on line ${start} is never closed` });
      }
      line += countLineBreaks(text, i, j);
      i = j;
      continue;
    }
    if (char === delimiter) {
      row.push(field);
      field = "";
      i++;
    } else if (char === "\r" || char === "\n") {
      endRow();
      i += char === "\r" && text[i + 1] === "\n" ? 2 : 1;
      line++;
      rowLine = line;
    } else {
      // Plain characters up to the next delimiter, line break or quote.
      let j = i + 1;
      while (j < text.length) {
        const c = text[j];
        if (c === delimiter || c === "\r" || c === "\n" || c === '"') break;
        j++;
      }
      if (text[j] === '"') j++; // a quote inside an unquoted field is taken literally
      field += text.slice(i, j);
      i = j;
    }
  }
  if (field !== "" || row.length > 0) endRow();
  return { rows, lines, warnings };
}

function countLineBreaks(text: string, from: number, to: number): number {
  let count = 0;
  for (let k = from; k < to; k++) {
    const c = text[k];
    if (c === "\n" || (c === "\r" && text[k + 1] !== "\n")) count++;
  }
  return count;
}

function detectDelimiter(text: string): string {
  let quoted = false;
  const counts: Record<string, number> = { ",": 0, ";": 0, "\t": 0 };
  for (const char of text.slice(0, 64 * 1024)) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && (char === "\n" || char === "\r")) break;
    else if (!quoted && char in counts) counts[char]!++;
  }
  if (counts[","]! > 0) return ",";
  if (counts[";"]! > 0 || counts["\t"]! > 0) return counts[";"]! >= counts["\t"]! ? ";" : "\t";
  return ",";
}

/**
 * Writes rows as CSV (RFC 4180): fields with a comma, a quote, a line break, a semicolon or a
 * tab (so that no reader takes those for the delimiter), or white space at either end are
 * quoted, quotes doubled, rows ended by CRLF.
 *
 * @example
 * ```ts
 * import { formatCsvRows } from "./csv.ts";
 * if (formatCsvRows([["a", 'b "c"', "d,e"]]) !== 'a,"b ""c""","d,e"\r\n') throw new Error();
 * ```
 */
export function formatCsvRows(rows: Iterable<readonly string[]>): string {
  let out = "";
  for (const row of rows) {
    out += row.map((field) =>
      /[",;\t\r\n]|^\s|\s$/.test(field) ? `"${field.replaceAll('"', '""')}"` : field
    ).join(",") + "\r\n";
  }
  return out;
}

// Plain multi-values: "label:value; label:value" ---------------------------------------

function escapeMulti(text: string): string {
  return text.replace(/[\\;:]/g, (m) => "\\" + m);
}

function formatMulti(items: Array<[label: string, value: string]>): string {
  return items.map(([label, value]) =>
    label === "" ? escapeMulti(value) : `${escapeMulti(label)}:${escapeMulti(value)}`
  ).join("; ");
}

function parseMulti(text: string): Array<[label: string, value: string]> {
  const items: Array<[string, string]> = [];
  let label: string | null = null;
  let current = "";
  const push = () => {
    const value = current.trim();
    if (label !== null || value !== "") items.push([label?.trim() ?? "", value]);
    label = null;
    current = "";
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === "\\" && i + 1 < text.length) current += text[++i];
    else if (char === ";") push();
    else if (char === ":" && label === null) {
      label = current;
      current = "";
    } else current += char;
  }
  push();
  return items;
}

// Layouts (the column tables are in csv_columns.ts) -------------------------------------

/**
 * Recognises a CSV header: the layout that knows the most of its columns and has a name
 * column (a tie goes to plain, then Google, then Outlook), or null when none fits.
 *
 * @example
 * ```ts
 * import { detectCsvLayout } from "./csv.ts";
 * if (detectCsvLayout(["Name", "Phone 1 - Type", "Phone 1 - Value"]) !== "google") {
 *   throw new Error();
 * }
 * if (detectCsvLayout(["First Name", "Last Name", "Mobile Phone"]) !== "outlook") {
 *   throw new Error();
 * }
 * if (detectCsvLayout(["name", "phones"]) !== "plain") throw new Error();
 * if (detectCsvLayout(["Full name", "Telephone"]) !== null) throw new Error();
 * ```
 */
export function detectCsvLayout(header: readonly string[]): CsvLayout | null {
  let best: CsvLayout | null = null;
  let bestScore = 0;
  for (const [layout, rule] of LAYOUTS) {
    const rules = header.map((h) => rule(h.trim()));
    const named = rules.some((r) => r?.kind === "name" || r?.kind === "part" || r?.kind === "org");
    const score = rules.filter((r) => r !== null).length;
    if (named && score > bestScore) {
      best = layout;
      bestScore = score;
    }
  }
  return best;
}

// Reading -------------------------------------------------------------------------------

const KNOWN_LABELS = new Set([
  "mobile",
  "home",
  "work",
  "other",
  "main",
  "home fax",
  "work fax",
  "other fax",
  "fax",
  "pager",
  "work mobile",
  "work pager",
  "car",
  "iphone",
  "google voice",
  "isdn",
  "callback",
  "radio",
  "telex",
  "assistant",
  "company main",
  "home page",
  "blog",
  "profile",
]);

/** A Google type: `* Mobile` is `mobile` (the star marks the primary one); custom kept. */
function googleLabel(type: string): string {
  const label = oneLine(type).replace(/^\*\s*/, "");
  return KNOWN_LABELS.has(label.toLowerCase()) ? label.toLowerCase() : label;
}

/**
 * Parses CSV text or bytes (UTF-8, UTF-16 with a byte order mark, or Windows-1252 as Outlook
 * writes, with a warning) into validated contacts. The header decides the layout
 * ({@link detectCsvLayout}); each column the layout does not know is reported once, and
 * each known column that has no field here is reported once when some row has a value in it.
 *
 * @example A Google Contacts export
 * ```ts
 * import { parseCsv } from "./csv.ts";
 * const { contacts, warnings } = parseCsv([
 *   "Name,Given Name,Family Name,Birthday,Phone 1 - Type,Phone 1 - Value,Fav",
 *   "Ann Lee,Ann,Lee,1990-02-03,* Mobile,555-0100 ::: 555-0101,x",
 * ].join("\r\n"));
 * const ann = contacts[0]!;
 * if (ann.name !== "Ann Lee" || ann.phones.length !== 2 || ann.phones[0]!.label !== "mobile") {
 *   throw new Error();
 * }
 * if (ann.birthday !== "1990-02-03" || warnings.length !== 1 || !/Fav/.test(warnings[0]!.reason)) {
 *   throw new Error();
 * }
 * ```
 */
export function parseCsv(input: string | Uint8Array): ImportResult {
  const result: ImportResult = { contacts: [], skipped: [], warnings: [] };
  let text: string;
  if (typeof input === "string") text = input;
  else {
    const decoded = decodeText(input);
    text = decoded.text;
    if (decoded.fallback) {
      result.warnings.push({ reason: "The input is not valid UTF-8: read as Windows-1252" });
    }
  }
  const { rows, lines, warnings } = parseCsvRows(text);
  result.warnings.push(...warnings);
  const header = (rows[0] ?? []).map((h) => h.trim());
  if (header.length === 0) return result;
  const layout = detectCsvLayout(header);
  if (layout === null) {
    result.skipped.push({
      line: lines[0],
      reason: `Unknown CSV header ${quote(header.join(","))}: expected the plain layout (${
        PLAIN_COLUMNS.join(",")
      }), a Google Contacts export or an Outlook export`,
    });
    return result;
  }
  const resolve = LAYOUTS.find(([name]) => name === layout)![1];
  const rules = header.map((h) => resolve(h));
  header.forEach((h, column) => {
    if (rules[column] === null) {
      result.warnings.push({
        line: lines[0],
        reason: `Unknown column ${quote(h)} in the ${layout} layout: not imported`,
      });
    }
  });
  const unused = new Map<number, number>();
  for (let r = 1; r < rows.length; r++) {
    const index = r - 1;
    const row = rows[r]!;
    const line = lines[r]!;
    const reasons: string[] = [];
    if (row.length > header.length) {
      reasons.push(
        `The row has ${row.length} fields, the header ${header.length}: the last ${
          row.length - header.length
        } ignored`,
      );
    }
    const draft = readRow(row, rules, unused, reasons.push.bind(reasons));
    const contact = typeof draft === "string" ? draft : finishDraft(draft, (r) => reasons.push(r));
    const name = typeof draft === "string" ? undefined : draft.name;
    for (const reason of reasons) {
      result.warnings.push({ index, line, ...(name ? { name } : {}), reason });
    }
    if (typeof contact === "string") {
      result.skipped.push({ index, line, ...(name ? { name } : {}), reason: contact });
    } else {
      result.contacts.push(contact);
    }
  }
  for (const [column, count] of [...unused].sort(([a], [b]) => a - b)) {
    result.warnings.push({
      line: lines[0],
      reason: `Column ${quote(header[column]!)} is not imported: ${count} row${
        count === 1 ? " has a value" : "s have values"
      } in it`,
    });
  }
  return result;
}

function readRow(
  row: string[],
  rules: Array<Rule | null>,
  unused: Map<number, number>,
  warn: (reason: string) => void,
): Draft | string {
  const draft: Draft = blankContact("");
  let name = "";
  let org = "";
  const parts = ["", "", "", "", ""];
  const notes: string[] = [];
  const phones = new Map<number, { label: string; value: string }>();
  const emails = new Map<number, { label: string; value: string }>();
  const urls = new Map<number, { label: string; value: string }>();
  // Google's events: one labelled "Anniversary" is the anniversary; the others have no field.
  const events = new Map<number, { label: string; value: string; column: number }>();
  const departments: string[] = [];
  // Per group: its label, its parts, and the columns they came from.
  const addresses = new Map<
    string,
    { label: string; parts: Record<string, string>; columns: number[] }
  >();
  const note = (column: number) => unused.set(column, (unused.get(column) ?? 0) + 1);
  rules.forEach((rule, column) => {
    const raw = row[column] ?? "";
    if (rule === null || raw.trim() === "") return;
    const value = oneLine(raw);
    switch (rule.kind) {
      case "name":
        name = value;
        break;
      case "part":
        parts[rule.part] = value;
        break;
      case "org":
        if (org === "") org = value;
        if (draft.org === "") draft.org = value;
        break;
      case "notes":
        notes.push(multiLine(raw));
        break;
      case "uid":
        draft.uid = value;
        break;
      case "plain":
        if (rule.field === "phones") {
          for (const [label, number] of parseMulti(raw)) draft.phones.push({ label, number });
        } else if (rule.field === "emails") {
          for (const [label, address] of parseMulti(raw)) draft.emails.push({ label, address });
        } else if (rule.field === "urls") {
          for (const [label, url] of parseMulti(raw)) draft.urls.push({ label, url });
        } else if (rule.field === "groups") {
          for (const [label, name] of parseMulti(raw)) {
            draft.groups.push(label === "" ? name : `${label}:${name}`);
          }
        } else draft[rule.field] = value;
        break;
      case "phone":
        draft.phones.push({ label: rule.label, number: value });
        break;
      case "email":
        draft.emails.push({ label: rule.label, address: value });
        break;
      case "url":
        draft.urls.push({ label: rule.label, url: value });
        break;
      case "text":
        if (draft[rule.field] === "") draft[rule.field] = value;
        break;
      case "department":
        departments.push(value);
        break;
      case "date": {
        if (emptyDate(value)) break;
        const date = csvDate(value);
        if (date === null) {
          warn(`${dateName(rule.field)} ${quote(value)} is not a date: left out`);
        } else if (draft[rule.field] === "") draft[rule.field] = date;
        break;
      }
      case "groups":
        draft.groups.push(...csvGroups(raw, rule.style));
        break;
      case "eventValue":
      case "eventLabel": {
        const entry = events.get(rule.n) ?? { label: "", value: "", column };
        if (rule.kind === "eventValue") {
          entry.value = value;
          entry.column = column;
        } else entry.label = googleLabel(raw);
        events.set(rule.n, entry);
        break;
      }
      case "phoneValue":
      case "phoneLabel":
      case "emailValue":
      case "emailLabel":
      case "urlValue":
      case "urlLabel": {
        const map = rule.kind.startsWith("phone")
          ? phones
          : rule.kind.startsWith("email")
          ? emails
          : urls;
        const entry = map.get(rule.n) ?? { label: "", value: "" };
        if (rule.kind.endsWith("Value")) entry.value = raw;
        else entry.label = googleLabel(raw);
        map.set(rule.n, entry);
        break;
      }
      case "address": {
        const entry = addresses.get(rule.group) ?? { label: rule.label, parts: {}, columns: [] };
        if (rule.part === "label") entry.label = googleLabel(raw);
        else {
          entry.parts[rule.part] = rule.part === "formatted" ? raw : value;
          entry.columns.push(column);
        }
        addresses.set(rule.group, entry);
        break;
      }
      case "unmapped":
        if (!/^0[/.-]0[/.-]0{2,4}$/.test(value)) note(column); // Outlook's empty date

        break;
      case "ignore":
        break;
    }
  });
  for (const map of [phones, emails, urls]) {
    const list = [...map].sort(([a], [b]) => a - b);
    for (const [, { label, value }] of list) {
      for (const item of value.split(" ::: ")) {
        const clean = oneLine(item);
        if (clean === "") continue;
        if (map === phones) draft.phones.push({ label, number: clean });
        else if (map === emails) draft.emails.push({ label, address: clean });
        else draft.urls.push({ label, url: clean });
      }
    }
  }
  for (const [, { label, value, column }] of [...events].sort(([a], [b]) => a - b)) {
    if (value === "") continue;
    const date = label.toLowerCase() === "anniversary" ? csvDate(value) : null;
    if (date !== null && draft.anniversary === "") draft.anniversary = date;
    else note(column);
  }
  if (departments.length > 0 && draft.org !== "") {
    // The departments go with the organisation, as vCard's ORG carries them.
    const value = [draft.org, ...departments].map(escapeText).join(";");
    draft.extra.vcardOrg = { org: draft.org, value };
  } else if (departments.length > 0) {
    warn(`Department ${quote(departments.join(", "))} left out: the row has no organisation`);
  }
  // One address per contact: the first group with a value (Google's 1, Outlook's home).
  const groups = [...addresses.keys()].sort((a, b) => groupOrder(a) - groupOrder(b));
  const chosen = groups.find((g) => Object.keys(addresses.get(g)!.parts).length > 0);
  for (const group of groups) {
    if (group === chosen) continue;
    for (const column of addresses.get(group)!.columns) note(column);
  }
  if (chosen !== undefined) {
    const { label, parts: a } = addresses.get(chosen)!;
    let street = [a.street, a.street2, a.street3].filter(Boolean).join(", ");
    if (street === "" && !a.city && !a.postcode && a.formatted) street = oneLine(a.formatted);
    const split = splitStreet(street, a.extended ?? "");
    draft.house = split.house;
    draft.street = split.street;
    draft.town = a.city ?? "";
    draft.postcode = a.postcode ?? "";
    setExtraAddress(draft.extra, {
      label,
      pobox: a.pobox,
      extended: split.extended,
      region: a.region,
      country: a.country,
    });
  }
  draft.notes = notes.join("\n");
  const [prefix, given, additional, family, suffix] = parts;
  draft.name = pickName([
    ["Name", name],
    ["The name parts", [prefix, given, additional, family, suffix].filter(Boolean).join(" ")],
    ["Company", org],
    ["E-mail", draft.emails[0]?.address ?? ""],
    ["Phone", draft.phones[0]?.number ?? ""],
  ], warn);
  if (draft.name === "") {
    return row.every((field) => field.trim() === "")
      ? "The row is empty"
      : "The row has no usable name: no name, company, e-mail or phone";
  }
  return draft;
}

/** Outlook's empty date: `0/0/00`, `0/0/0000`, `00.00.0000`. */
function emptyDate(value: string): boolean {
  return /^0{1,2}[/.-]0{1,2}[/.-]0{2,4}$/.test(value);
}

function dateName(field: "birthday" | "anniversary"): string {
  return field === "birthday" ? "Birthday" : "Anniversary";
}

/**
 * A date as Google and Outlook write one, as a contact date: `1980-04-12` or `--04-12`
 * (Google), `19800412`, or `4/12/1980` (Outlook in English: month first, unless the first
 * number is past 12), a time after the date ignored; null when it is none of these or not a
 * real day.
 *
 * @example
 * ```ts
 * import { csvDate } from "./csv.ts";
 * if (csvDate("4/12/1980") !== "1980-04-12" || csvDate("25/12/1980") !== "1980-12-25") {
 *   throw new Error();
 * }
 * if (csvDate("--04-12") !== "--04-12" || csvDate("1980-02-30") !== null) throw new Error();
 * ```
 */
export function csvDate(text: string): string | null {
  const value = text.trim().replace(/[T ]\d{1,2}:\d{2}.*$/, "");
  let date: string | null = null;
  let m = /^(\d{4}|-)-?(\d{2})-?(\d{2})$/.exec(value);
  if (m) date = `${m[1] === "-" ? "-" : m[1]}-${m[2]}-${m[3]}`;
  m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(value);
  if (m) {
    let [month, day] = [Number(m[1]), Number(m[2])];
    if (month > 12 && day <= 12) [month, day] = [day, month];
    date = `${m[3]}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
  }
  return date !== null && isContactDate(date) ? date : null;
}

/**
 * Group names from Google's `Labels` (or older `Group Membership`) or Outlook's `Categories`:
 * Google separates them with ` ::: ` and marks its own groups with `* ` (`* myContacts`, which
 * every contact is in, is dropped; `* starred` is `starred`); Outlook with `;`. A comma
 * separates names too, since a group name holds none.
 */
function csvGroups(raw: string, style: "google" | "outlook"): string[] {
  const parts = style === "google" ? raw.split(":::") : raw.split(";");
  const names: string[] = [];
  for (const part of parts) {
    let name = oneLine(part);
    if (style === "google") {
      if (/^(\*\s*my\s*contacts|system group:\s*my contacts)$/i.test(name)) continue;
      name = name.replace(/^\*\s*/, "").replace(/^system group:\s*/i, "");
    }
    for (const piece of name.split(",")) {
      const clean = piece.trim();
      if (clean !== "") names.push(clean);
    }
  }
  return names;
}

function groupOrder(group: string): number {
  if (/^\d+$/.test(group)) return Number(group);
  return ["home", "business", "other"].indexOf(group);
}

// Writing -------------------------------------------------------------------------------

/**
 * Writes contacts as plain CSV: a header of {@link PLAIN_COLUMNS}, one row per contact,
 * phones, emails and web addresses as `label:value` joined by `"; "` (a `\`, `;` or `:`
 * inside is escaped with a backslash, so `https\://`), groups joined the same way, dates as
 * stored, and the UID an export writes ({@link uidForContact}). A contact stored before
 * issue 15 has what an import kept in `extra.vcard` written as its fields. {@link parseCsv}
 * reads it back.
 *
 * @example
 * ```ts
 * import { formatCsv, parseCsv } from "./csv.ts";
 * import { blankContact } from "../model/contact.ts";
 * const text = formatCsv([{ ...blankContact("Bob"), house: "12", street: "High St",
 *   phones: [{ label: "mobile", number: "555-0100" }, { label: "", number: "555-0199" }],
 *   notes: "Line 1\nLine 2", uid: "u1" }]);
 * if (!text.includes('Bob,12,High St,,,"mobile:555-0100; 555-0199",,"Line 1\nLine 2",u1')) {
 *   throw new Error(text);
 * }
 * if (parseCsv(text).contacts[0]!.phones[1]!.number !== "555-0199") throw new Error();
 * ```
 */
export function formatCsv(contacts: Iterable<ExportContact>): string {
  const rows: string[][] = [[...PLAIN_COLUMNS]];
  for (const given of contacts) {
    const c: ExportContact = { ...given, ...liftExtraFields(given).fields };
    rows.push([
      c.name,
      c.house,
      c.street,
      c.town,
      c.postcode,
      formatMulti(c.phones.map((p) => [p.label, p.number])),
      formatMulti(c.emails.map((e) => [e.label, e.address])),
      c.notes,
      uidForContact(c),
      c.org,
      c.title,
      c.nickname,
      c.birthday,
      c.anniversary,
      formatMulti(c.urls.map((u) => [u.label, u.url])),
      formatMulti(c.groups.map((g) => ["", g])),
    ]);
  }
  return formatCsvRows(rows);
}

/** Re-exported for callers that only import this module. */
export type { ContactFields, ImportIssue, ImportResult };
