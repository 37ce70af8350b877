/**
 * The vCard properties that have a contact field of their own since issue 15 (ORG, TITLE,
 * NICKNAME, BDAY, ANNIVERSARY and X-ANNIVERSARY, URL, CATEGORIES): their values read as
 * field values, shared by the vCard importer (`lib/formats/vcard.ts`) and by
 * {@link liftExtraFields}, which moves such properties out of an older record's
 * `extra.vcard` (where imports kept them before) into the fields. Pure functions; in the
 * model so that the store's migration can use them.
 *
 * @module
 */

import {
  CONTACT_LIMITS,
  type ContactFields,
  isContactDate,
  validateContact,
  ValidationError,
  webAddress,
} from "./contact.ts";
import { fold } from "./search_terms.ts";

/**
 * Undoes vCard text escaping: `\n` and `\N` are line breaks, `\\` `\,` `\;` `\:` are the
 * character itself; any other backslash stays as it is.
 *
 * @example
 * ```ts
 * import { unescapeValue } from "./vcard_fields.ts";
 * if (unescapeValue("a\\,b\\;c\\\\d\\ne\\x") !== "a,b;c\\d\ne\\x") throw new Error();
 * ```
 */
export function unescapeValue(value: string): string {
  return value.replace(/\\([\s\S])/g, (whole, char: string) => {
    if (char === "n" || char === "N") return "\n";
    if (char === "\\" || char === "," || char === ";" || char === ":") return char;
    return whole;
  });
}

/**
 * Splits a still-escaped value on `separator` where it is not escaped.
 *
 * @example
 * ```ts
 * import { splitValue } from "./vcard_fields.ts";
 * if (splitValue("Acme\\;Co;Sales", ";").join("|") !== "Acme\\;Co|Sales") throw new Error();
 * ```
 */
export function splitValue(value: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (char === "\\") i++;
    else if (char === separator) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** One line of text: trimmed, line breaks as `", "`, other control characters as spaces. */
function line(text: string): string {
  return text.trim().replace(/\s*(?:\r\n|\r|\n)+\s*/g, ", ")
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u001f\u007f]/g, " ")
    .trim()
    .normalize("NFC");
}

/**
 * A TITLE or NICKNAME value as one line of text (a NICKNAME list's names joined by `, `).
 *
 * @example
 * ```ts
 * import { textFromVCard } from "./vcard_fields.ts";
 * if (textFromVCard("Bob,Bobby") !== "Bob, Bobby" || textFromVCard("R\\&D\\, EMEA") !== "R\\&D, EMEA") {
 *   throw new Error();
 * }
 * ```
 */
export function textFromVCard(value: string, list = true): string {
  const items = list ? splitValue(value, ",") : [value];
  return items.map((item) => line(unescapeValue(item))).filter(Boolean).join(", ");
}

/**
 * An ORG value: its first component is the organisation; `units` are the rest (departments),
 * which the importer keeps in `extra.vcardOrg` (`{org, value}`) to write them back.
 *
 * @example
 * ```ts
 * import { orgFromVCard } from "./vcard_fields.ts";
 * const { org, units } = orgFromVCard("Acme\\, Inc.;Sales;EMEA");
 * if (org !== "Acme, Inc." || units.join("/") !== "Sales/EMEA") throw new Error();
 * ```
 */
export function orgFromVCard(value: string): { org: string; units: string[] } {
  const [first = "", ...rest] = splitValue(value, ";").map((part) => line(unescapeValue(part)));
  return { org: first, units: rest.filter(Boolean) };
}

/**
 * A BDAY or ANNIVERSARY value as a contact date (`YYYY-MM-DD`, or `--MM-DD` without a year),
 * or null when it is not a whole date (`1985-04`, a text value, a date that does not exist).
 * Reads vCard 3.0's `1980-04-12` and 4.0's `19800412`, `--0412` and `--04-12`, a time after
 * `T` ignored; `omitYear` is Apple's `X-APPLE-OMIT-YEAR` parameter (a card without a year
 * carries the year 1604 and that parameter).
 *
 * @example
 * ```ts
 * import { dateFromVCard } from "./vcard_fields.ts";
 * if (dateFromVCard("19800412") !== "1980-04-12" || dateFromVCard("--0412") !== "--04-12") {
 *   throw new Error();
 * }
 * if (dateFromVCard("1604-04-12", "1604") !== "--04-12" || dateFromVCard("1985-04") !== null) {
 *   throw new Error();
 * }
 * ```
 */
export function dateFromVCard(value: string, omitYear?: string): string | null {
  const day = value.trim().replace(/T.*$/i, "");
  const match = /^(\d{4}|--)-?(\d{2})-?(\d{2})$/.exec(day);
  if (!match) return null;
  const year = match[1] === "--" || match[1] === omitYear ? "-" : match[1];
  const date = `${year}-${match[2]}-${match[3]}`;
  return isContactDate(date) ? date : null;
}

/**
 * A CATEGORIES value as group names: split on commas (an escaped `\,` too, since a group
 * name holds no comma), unescaped, trimmed, empty ones dropped.
 *
 * @example
 * ```ts
 * import { groupsFromVCard } from "./vcard_fields.ts";
 * if (groupsFromVCard("Family, Chess club,,Work\\,Sales").join("|") !== "Family|Chess club|Work|Sales") {
 *   throw new Error();
 * }
 * ```
 */
export function groupsFromVCard(value: string): string[] {
  return unescapeValue(value).split(",").map(line).filter(Boolean);
}

/**
 * Adds group names to a list, as validation would keep them: names already there (folded
 * alike) skipped, at most `CONTACT_LIMITS.groups`; returns the names that did not fit
 * (too many, or too long).
 */
export function addGroups(groups: string[], names: string[]): string[] {
  const seen = new Set(groups.map(fold));
  const left: string[] = [];
  for (const name of names) {
    const key = fold(name);
    if (seen.has(key)) continue;
    if (groups.length >= CONTACT_LIMITS.groups || [...name].length > CONTACT_LIMITS.group) {
      left.push(name);
      continue;
    }
    seen.add(key);
    groups.push(name);
  }
  return left;
}

/** An Apple label (`_$!<HomePage>!$_` is `home page`); a custom one as written. */
export function appleLabelText(value: string): string {
  const match = /^_\$!<(.*)>!\$_$/.exec(value.trim());
  if (!match) return line(value);
  return match[1]!.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

/** The label of a URL from its TYPE values: lower case, `pref` and `internet` dropped. */
export function urlLabelFromTypes(values: string[]): string {
  const words: string[] = [];
  for (const value of values) {
    const word = value.trim().toLowerCase();
    if (word === "" || word === "pref" || word === "internet" || words.includes(word)) continue;
    words.push(word);
  }
  return words.join(" ");
}

/** One parameter of a content line. */
export interface Param {
  /** Upper-case name; a 2.1 bare value is a TYPE (or an ENCODING). */
  name: string;
  values: string[];
  /** The parameter as written back: `TYPE=HOME` for a 2.1 bare `HOME`. */
  text: string;
}

/** A content line: its group, name, parameters and still-escaped value. */
export interface Property {
  group: string;
  /** Upper-case name. */
  name: string;
  /** Name as written. */
  written: string;
  params: Param[];
  value: string;
}

const ENCODINGS = new Set(["QUOTED-PRINTABLE", "BASE64", "B", "8BIT", "7BIT"]);

/** Reads one parameter (`TYPE=HOME,WORK`, a 2.1 bare `HOME`, `"quoted"` values). */
export function parseParam(raw: string): Param {
  const eq = raw.indexOf("=");
  if (eq < 0) {
    const bare = raw.trim();
    if (ENCODINGS.has(bare.toUpperCase())) {
      return { name: "ENCODING", values: [bare.toUpperCase()], text: `ENCODING=${bare}` };
    }
    return { name: "TYPE", values: [bare], text: `TYPE=${bare}` };
  }
  const name = raw.slice(0, eq).trim().toUpperCase();
  const values: string[] = [];
  let current = "";
  let quoted = false;
  for (const char of raw.slice(eq + 1)) {
    if (char === '"') quoted = !quoted;
    else if (char === "," && !quoted) {
      values.push(current);
      current = "";
    } else current += char;
  }
  values.push(current);
  return { name, values: values.map((v) => v.trim()), text: raw };
}

/** Parses one unfolded content line, `group.NAME;PARAM=V:value`; null if it is not one. */
export function parseProperty(text: string): Property | null {
  const head = /^(?:([A-Za-z0-9_-]+)\.)?([A-Za-z0-9_-]+)/.exec(text);
  if (!head) return null;
  let i = head[0].length;
  const params: Param[] = [];
  while (text[i] === ";") {
    const start = ++i;
    let quoted = false;
    for (; i < text.length; i++) {
      const char = text[i];
      if (char === '"') quoted = !quoted;
      else if (!quoted && (char === ";" || char === ":")) break;
    }
    const raw = text.slice(start, i);
    if (raw.trim() !== "") params.push(parseParam(raw));
  }
  if (text[i] !== ":") return null;
  return {
    group: head[1] ?? "",
    name: head[2]!.toUpperCase(),
    written: head[2]!,
    params,
    value: text.slice(i + 1),
  };
}

/** The first value of the named parameter, if the property has it. */
export function param(property: Property, name: string): string | undefined {
  return property.params.find((p) => p.name === name)?.values[0];
}

/** What {@link liftExtraFields} did: the fields after, and the properties it moved. */
export interface LiftResult {
  fields: ContactFields;
  /** The properties moved into fields, in order (`ORG`, `BDAY`, `item1.URL`, ...). */
  lifted: string[];
}

/**
 * Moves what older imports kept in `extra.vcard` into the fields issue 15 added: the first
 * ORG (its other components kept as `extra.vcardOrg`), TITLE and NICKNAME into `org`,
 * `title`, `nickname` when those are empty; the first BDAY and ANNIVERSARY (or
 * X-ANNIVERSARY) that is a whole date into `birthday` and `anniversary` when empty; each URL
 * that is a web address into `urls` (its TYPE, or the `X-ABLabel` of its group, as the
 * label; the label line goes too), up to 20; CATEGORIES into `groups` when all its names
 * fit. A line that does not fit stays in `extra.vcard`, where export still writes it. The
 * result is validated; if it would not pass (it always should: a field takes no more room
 * than its line), the fields are returned as they were and `lifted` is empty. Returns the
 * same `fields` object when there is nothing to move.
 *
 * For the store's migration of records stored before issue 15, and for export, so that an
 * older record exports its ORG once.
 *
 * @example An older import's ORG, BDAY, URL and CATEGORIES
 * ```ts
 * import { blankContact } from "./contact.ts";
 * import { liftExtraFields } from "./vcard_fields.ts";
 * const old = { ...blankContact("Ann"), extra: { vcard: ["ORG:Acme;Sales", "BDAY:1980-04-12",
 *   "item1.URL:https://ann.example", "item1.X-ABLabel:_$!<HomePage>!$_",
 *   "CATEGORIES:Family,Chess", "X-SKYPE:ann"] } };
 * const { fields, lifted } = liftExtraFields(old);
 * if (fields.org !== "Acme" || fields.birthday !== "1980-04-12") throw new Error();
 * if (fields.urls[0]!.label !== "home page" || fields.groups.join() !== "Family,Chess") {
 *   throw new Error();
 * }
 * if ((fields.extra.vcard as string[]).join() !== "X-SKYPE:ann" || lifted.length !== 4) {
 *   throw new Error(lifted.join());
 * }
 * ```
 */
export function liftExtraFields(fields: ContactFields): LiftResult {
  const lines = fields.extra.vcard;
  if (!Array.isArray(lines) || lines.length === 0) return { fields, lifted: [] };
  const parsed = lines.map((text) => typeof text === "string" ? parseProperty(text) : null);
  if (!parsed.some((p) => p !== null && LIFTED.has(p.name))) return { fields, lifted: [] };
  const out: ContactFields = {
    ...fields,
    urls: [...fields.urls],
    groups: [...fields.groups],
    extra: { ...fields.extra },
  };
  const drop = new Set<number>();
  const lifted: string[] = [];
  const labels = new Map<string, number>();
  parsed.forEach((p, at) => {
    if (p?.name === "X-ABLABEL" && p.group) labels.set(p.group.toLowerCase(), at);
  });
  const take = (at: number, p: Property) => {
    drop.add(at);
    lifted.push(p.group ? `${p.group}.${p.name}` : p.name);
  };
  parsed.forEach((p, at) => {
    if (p === null) return;
    const textValue = param(p, "VALUE")?.toLowerCase() === "text";
    switch (p.name) {
      case "ORG": {
        if (out.org !== "") return;
        const { org, units } = orgFromVCard(p.value);
        if (org === "" || [...org].length > CONTACT_LIMITS.field) return;
        out.org = org;
        if (units.length > 0) out.extra.vcardOrg = { org, value: p.value };
        take(at, p);
        return;
      }
      case "TITLE":
      case "NICKNAME": {
        const field = p.name === "TITLE" ? "title" : "nickname";
        if (out[field] !== "") return;
        const value = textFromVCard(p.value, field === "nickname");
        if (value === "" || [...value].length > CONTACT_LIMITS.field) return;
        out[field] = value;
        take(at, p);
        return;
      }
      case "BDAY":
      case "ANNIVERSARY":
      case "X-ANNIVERSARY": {
        const field = p.name === "BDAY" ? "birthday" : "anniversary";
        if (out[field] !== "" || textValue) return;
        const date = dateFromVCard(p.value, param(p, "X-APPLE-OMIT-YEAR"));
        if (date === null) return;
        out[field] = date;
        take(at, p);
        return;
      }
      case "URL": {
        if (out.urls.length >= CONTACT_LIMITS.urls) return;
        let url: string;
        try {
          url = webAddress(line(unescapeValue(p.value)));
        } catch (error) {
          if (error instanceof ValidationError) return;
          throw error;
        }
        if ([...url].length > CONTACT_LIMITS.field) return;
        const labelAt = p.group ? labels.get(p.group.toLowerCase()) : undefined;
        const types = p.params.filter((q) => q.name === "TYPE").flatMap((q) => q.values);
        const label = labelAt !== undefined
          ? appleLabelText(unescapeValue(parsed[labelAt]!.value))
          : urlLabelFromTypes(types);
        if ([...label].length > CONTACT_LIMITS.label) return;
        out.urls.push({ label, url });
        take(at, p);
        if (labelAt !== undefined && sharedBy(parsed, p.group) === 1) drop.add(labelAt);
        return;
      }
      case "CATEGORIES": {
        const trial = [...out.groups];
        if (addGroups(trial, groupsFromVCard(p.value)).length > 0) return;
        out.groups = trial;
        take(at, p);
        return;
      }
    }
  });
  if (lifted.length === 0) return { fields, lifted: [] };
  const rest = lines.filter((_, at) => !drop.has(at));
  if (rest.length > 0) out.extra.vcard = rest;
  else delete out.extra.vcard;
  try {
    return { fields: validateContact(out), lifted };
  } catch (error) {
    if (error instanceof ValidationError) return { fields, lifted: [] };
    throw error;
  }
}

const LIFTED = new Set([
  "ORG",
  "TITLE",
  "NICKNAME",
  "BDAY",
  "ANNIVERSARY",
  "X-ANNIVERSARY",
  "URL",
  "CATEGORIES",
]);

/** How many lines other than X-ABLabel are in `group`. */
function sharedBy(parsed: Array<Property | null>, group: string): number {
  const key = group.toLowerCase();
  return parsed.filter((p) => p !== null && p.group.toLowerCase() === key && p.name !== "X-ABLABEL")
    .length;
}
