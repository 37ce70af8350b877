/**
 * vCard import and export: versions 2.1 (read only), 3.0 (RFC 2426) and 4.0 (RFC 6350).
 * Pure functions: text or bytes in, contacts and a report out; contacts in, text out.
 *
 * What maps to what:
 * - FN is the name; N is used when FN is missing (then ORG, then the first EMAIL or TEL).
 *   The N value is kept in `extra.vcardN` (with the name it came with) when a simple
 *   "given family" split of the name would not give it back.
 * - TEL and EMAIL, each many times, with TYPE parameters as labels (`TYPE=CELL` is
 *   `mobile`, `TYPE=WORK,FAX` is `work fax`) or an Apple `X-ABLabel` in the same group.
 * - The first ADR: the street line gives house (a leading house number) and street, the
 *   locality the town, the postal code the postcode; a house name travels in the extended
 *   address. PO box, region, country and the label go to `extra.address`.
 * - NOTE (several are joined by line breaks) and UID.
 * - The first ORG: its first component is `org`; the departments after it are kept with it
 *   in `extra.vcardOrg` (`{org, value}`) and written back while `org` is unchanged. The
 *   first TITLE is `title`, the first NICKNAME `nickname` (a list of names joined by `, `).
 * - The first BDAY that is a whole date is `birthday`, the first ANNIVERSARY (4.0) or
 *   X-ANNIVERSARY (3.0) `anniversary`: `1980-04-12`, `19800412`, `--0412`, a time ignored;
 *   Apple's year 1604 with `X-APPLE-OMIT-YEAR=1604` is no year. Export writes BDAY, and
 *   ANNIVERSARY in 4.0 or X-ANNIVERSARY in 3.0, in that version's date form.
 * - Each URL that is a web address (see `webAddress` in `contact.ts`) is one of `urls`, its
 *   TYPE values or the `X-ABLabel` of its group the label; CATEGORIES (all of them) are
 *   `groups`, a comma (escaped or not) separating names (Google's `myContacts`, which every
 *   card of its export is in, is dropped). Android 2.1's nickname (`X-ANDROID-CUSTOM` of
 *   `vnd.android.cursor.item/nickname`) is `nickname` too.
 * - Everything else (PHOTO, further ADRs, ORGs and TITLEs, a BDAY that is not a whole date,
 *   a URL that is not a web address, X- properties) is kept as its unfolded content line in
 *   `extra.vcard` and written back on export, as long as it fits the contact caps; what does
 *   not fit (a large PHOTO) is left out and reported.
 *
 * @module
 */

import {
  decodeText,
  type Draft,
  type ExportContact,
  extraAddress,
  finishDraft,
  type ImportIssue,
  type ImportResult,
  joinStreet,
  multiLine,
  oneLine,
  pickName,
  quote,
  setExtraAddress,
  splitStreet,
  uidForContact,
} from "./interop.ts";
import {
  blankContact,
  CONTACT_LIMITS,
  type ContactFields,
  ValidationError,
  webAddress,
} from "../model/contact.ts";
import {
  addGroups,
  dateFromVCard,
  groupsFromVCard,
  liftExtraFields,
  orgFromVCard,
  param,
  parseProperty,
  type Property,
  splitValue,
  textFromVCard,
  unescapeValue,
} from "../model/vcard_fields.ts";

/** The vCard versions this module writes. */
export type VCardVersion = "3.0" | "4.0";

const CRLF = "\r\n";
/** Control characters a kept content line may not hold (tab is allowed). */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;
/** Longest physical line, in octets, without its line break (RFC 6350 section 3.2). */
const MAX_OCTETS = 75;

/**
 * Folds one content line into physical lines of at most 75 octets, joined by CRLF and a
 * space, never splitting a UTF-8 character. No line break is added at the end.
 *
 * @example A long line becomes two
 * ```ts
 * import { foldLine } from "./vcard.ts";
 * const folded = foldLine("NOTE:" + "é".repeat(40));
 * const [first, second] = folded.split("\r\n");
 * if (new TextEncoder().encode(first).length !== 75 || second !== " " + "é".repeat(5)) {
 *   throw new Error();
 * }
 * ```
 */
export function foldLine(line: string): string {
  let out = "";
  let used = 0;
  for (const char of line) {
    const code = char.codePointAt(0)!;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (used + size > MAX_OCTETS) {
      out += CRLF + " ";
      used = 1;
    }
    out += char;
    used += size;
  }
  return out;
}

/**
 * Unfolds text: a line break (CRLF, LF or CR) followed by a space or a tab is removed.
 *
 * @example
 * ```ts
 * import { foldLine, unfold } from "./vcard.ts";
 * const line = "NOTE:" + "a".repeat(200);
 * if (unfold(foldLine(line)) !== line || unfold("A\n\tB") !== "AB") throw new Error();
 * ```
 */
export function unfold(text: string): string {
  return text.replace(/(?:\r\n|\r|\n)[ \t]/g, "");
}

/**
 * Escapes a text value: backslash, comma, semicolon and line breaks (as `\n`).
 *
 * @example
 * ```ts
 * import { escapeText } from "./vcard.ts";
 * if (escapeText("a,b;c\\d\ne") !== "a\\,b\\;c\\\\d\\ne") throw new Error();
 * ```
 */
export function escapeText(value: string): string {
  return value.replace(
    /\r\n|[\\;,\r\n]/g,
    (m) => m === "\\" || m === ";" || m === "," ? "\\" + m : "\\n",
  );
}

/**
 * Undoes {@link escapeText}: `\n` and `\N` are line breaks, `\\` `\,` `\;` `\:` are the
 * character itself; any other backslash stays as it is.
 *
 * @example
 * ```ts
 * import { unescapeText } from "./vcard.ts";
 * if (unescapeText("a\\,b\\;c\\\\d\\ne\\x") !== "a,b;c\\d\ne\\x") throw new Error();
 * ```
 */
export function unescapeText(value: string): string {
  return unescapeValue(value);
}

/** The components of a structured value (N, ADR), each unescaped, list items joined. */
function components(value: string, count: number, join: string): string[] {
  const parts = splitValue(value, ";").map((part) =>
    splitValue(part, ",").map(unescapeText).map((item) => item.trim()).filter(Boolean).join(
      join,
    )
  );
  while (parts.length < count) parts.push("");
  return parts;
}

// ---------------------------------------------------------------------------------------
// Reading

interface Line {
  parts: string[];
  line: number;
}

function types(property: Property): string[] {
  return property.params.filter((p) => p.name === "TYPE").flatMap((p) =>
    p.values.flatMap((v) => v.split(","))
  ).map((v) => v.trim()).filter(Boolean);
}

function isQuotedPrintable(property: Property): boolean {
  return property.params.some((p) =>
    p.name === "ENCODING" && p.values[0]?.toUpperCase() === "QUOTED-PRINTABLE"
  );
}

/** Splits text into logical lines: folded lines joined, quoted-printable soft breaks too. */
function logicalLines(text: string): Line[] {
  const physical = text.split(/\r\n|\r|\n/);
  const out: Line[] = [];
  let current: Line | null = null;
  for (let i = 0; i < physical.length; i++) {
    const raw = physical[i]!;
    if (current) {
      const last = current.parts[current.parts.length - 1]!;
      if (
        last.endsWith("=") && /^[^:]*QUOTED-PRINTABLE/i.test(current.parts[0]!) &&
        !/^END:VCARD\s*$/i.test(raw)
      ) {
        // A quoted-printable soft line break: the next line continues the value as is.
        current.parts[current.parts.length - 1] = last.slice(0, -1);
        current.parts.push(raw);
        continue;
      }
      if (raw[0] === " " || raw[0] === "\t") {
        current.parts.push(raw.slice(1));
        continue;
      }
      out.push(current);
    }
    current = raw.trim() === "" ? null : { parts: [raw], line: i + 1 };
  }
  if (current) out.push(current);
  return out;
}

const encoder = new TextEncoder();

function decodeQuotedPrintable(raw: string, binary: boolean): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const char = raw[i]!;
    if (char === "=") {
      const hex = raw.slice(i + 1, i + 3);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        bytes.push(parseInt(hex, 16));
        i += 2;
        continue;
      }
      if (i === raw.length - 1) continue; // a soft break at the very end
    }
    const code = char.charCodeAt(0);
    if (code < 0x80 || (binary && code < 0x100)) bytes.push(code);
    else bytes.push(...encoder.encode(char));
  }
  return new Uint8Array(bytes);
}

function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function latin1Text(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return out;
}

interface Reader {
  binary: boolean;
  warn: (reason: string) => void;
}

const decoders = new Map<string, TextDecoder | null>();

/** A fatal decoder for a charset label, or null for a label no decoder knows. */
function decoderFor(label: string): TextDecoder | null {
  const key = label.toLowerCase();
  if (!decoders.has(key)) {
    try {
      decoders.set(key, new TextDecoder(key, { fatal: true }));
    } catch {
      decoders.set(key, null);
    }
  }
  return decoders.get(key)!;
}

function decodeBytes(bytes: Uint8Array, property: Property, reader: Reader): string {
  const label = param(property, "CHARSET") || "utf-8";
  let decoder = decoderFor(label);
  if (!decoder) {
    reader.warn(`${property.written} has an unknown CHARSET ${quote(label)}: read as UTF-8`);
    decoder = decoderFor("utf-8")!;
  }
  try {
    return decoder.decode(bytes);
  } catch {
    reader.warn(
      `${property.written} is not valid ${decoder.encoding.toUpperCase()}: read as Windows-1252`,
    );
    return new TextDecoder("windows-1252").decode(bytes);
  }
}

/** The value of a property as Unicode text, still vCard-escaped. */
function decodeValue(property: Property, reader: Reader): { text: string; qp: boolean } {
  if (isQuotedPrintable(property)) {
    return {
      text: decodeBytes(decodeQuotedPrintable(property.value, reader.binary), property, reader),
      qp: true,
    };
  }
  // deno-lint-ignore no-control-regex
  if (reader.binary && /[^\u0000-\u007f]/.test(property.value)) {
    return { text: decodeBytes(latin1Bytes(property.value), property, reader), qp: false };
  }
  return { text: property.value, qp: false };
}

/** The content line kept in `extra.vcard` for a property this module does not map. */
function keptLine(property: Property, reader: Reader): string {
  const { text, qp } = decodeValue(property, reader);
  const params = property.params.filter((p) =>
    p.name !== "CHARSET" &&
    !(p.name === "ENCODING" && /^(QUOTED-PRINTABLE|8BIT|7BIT)$/i.test(p.values[0] ?? ""))
  ).map((p) =>
    p.name === "ENCODING" && /^BASE64$/i.test(p.values[0] ?? "") ? "ENCODING=b" : p.text
  );
  const base64 = /^(B|BASE64)$/i.test(param(property, "ENCODING") ?? "");
  const value = base64 ? text.replace(/\s+/g, "") : qp ? text.replace(/\r\n|\r|\n/g, "\\n") : text;
  const group = property.group ? property.group + "." : "";
  return `${group}${property.written}${params.map((p) => ";" + p).join("")}:${value}`.normalize(
    "NFC",
  );
}

// Labels ------------------------------------------------------------------------------

type Kind = "tel" | "email" | "adr" | "url";

/** Known label words per kind, in the order a label lists them. */
const LABEL_WORDS: Record<Kind, string[]> = {
  tel: [
    "home",
    "work",
    "other",
    "main",
    "mobile",
    "iphone",
    "fax",
    "pager",
    "car",
    "video",
    "text",
    "textphone",
    "msg",
    "isdn",
    "bbs",
    "modem",
    "pcs",
  ],
  email: ["home", "work", "other"],
  adr: ["home", "work", "other"],
  url: ["home", "work", "other"],
};

/** TYPE values that say nothing a label needs. */
const IGNORED_TYPES: Record<Kind, Set<string>> = {
  tel: new Set(["pref", "voice"]),
  email: new Set(["pref", "internet", "x400"]),
  adr: new Set(["pref", "postal", "parcel", "dom", "intl"]),
  url: new Set(["pref", "internet"]),
};

const APPLE_LABELS: Record<string, string> = {
  mobile: "mobile",
  iphone: "iphone",
  homefax: "home fax",
  workfax: "work fax",
  otherfax: "other fax",
  homepage: "home page",
};

/**
 * The label for a TEL, EMAIL or ADR's TYPE values: lower case, `cell` read as `mobile`,
 * `pref`, `voice` and `internet` dropped, known words in a fixed order (`work fax`).
 */
function labelFromTypes(values: string[], kind: Kind): string {
  const order = LABEL_WORDS[kind];
  const seen = new Set<string>();
  for (const value of values) {
    let word = value.toLowerCase();
    if (IGNORED_TYPES[kind].has(word)) continue;
    if (kind === "tel" && word === "cell") word = "mobile";
    seen.add(word);
  }
  const known = order.filter((word) => seen.has(word));
  const unknown = [...seen].filter((word) => !order.includes(word));
  return [...known, ...unknown].join(" ");
}

/** The TYPE values that give back `label`, or null when only an X-ABLabel can carry it. */
function typesForLabel(label: string, kind: Kind): string[] | null {
  if (label === "") return [];
  const words = label.split(" ");
  if (!words.every((word) => LABEL_WORDS[kind].includes(word))) return null;
  const values = words.map((word) => word === "mobile" ? "cell" : word);
  return labelFromTypes(values, kind) === label ? values : null;
}

/** An Apple label: `_$!<HomeFAX>!$_` is `home fax`; a custom label is kept as written. */
function appleLabel(value: string): string {
  const match = /^_\$!<(.*)>!\$_$/.exec(value.trim());
  if (!match) return oneLine(value);
  const inner = match[1]!;
  return APPLE_LABELS[inner.toLowerCase()] ??
    inner.replace(/([a-z])([A-Z])/g, "$1 $2").toLowerCase();
}

// Cards -----------------------------------------------------------------------------------

/**
 * Parses vCard text (or bytes: then CHARSET parameters of vCard 2.1 apply to 8-bit values,
 * and invalid UTF-8 is read as Windows-1252 with a warning) into validated contacts.
 * A card without any usable name is skipped; whatever a card holds that breaks the contact
 * caps (a large PHOTO, a 21st phone, an invalid email) is left out with a warning, the rest
 * of the contact kept.
 *
 * @example Two phones, a folded note, a birthday and an unknown property
 * ```ts
 * import { parseVCards } from "./vcard.ts";
 * const { contacts, skipped } = parseVCards([
 *   "BEGIN:VCARD", "VERSION:3.0", "FN:Bob Smith", "N:Smith;Bob;;;",
 *   "TEL;TYPE=CELL:+1 555 0100", "TEL;TYPE=WORK,FAX:+1 555 0199",
 *   "NOTE:Met at the\\, er\\,", "  conference", "BDAY:1980-01-01", "X-SKYPE:bob", "END:VCARD",
 * ].join("\r\n"));
 * const bob = contacts[0]!;
 * if (bob.name !== "Bob Smith" || bob.phones[1]!.label !== "work fax") throw new Error();
 * if (bob.notes !== "Met at the, er, conference" || skipped.length !== 0) throw new Error();
 * if (bob.birthday !== "1980-01-01" || (bob.extra.vcard as string[])[0] !== "X-SKYPE:bob") {
 *   throw new Error();
 * }
 * ```
 */
export function parseVCards(input: string | Uint8Array): ImportResult {
  let text: string;
  let binary = false;
  if (typeof input === "string") {
    text = input.replace(/^\uFEFF/, "");
  } else if ((input[0] === 0xff && input[1] === 0xfe) || (input[0] === 0xfe && input[1] === 0xff)) {
    text = decodeText(input).text;
  } else {
    binary = true;
    const bom = input[0] === 0xef && input[1] === 0xbb && input[2] === 0xbf;
    text = latin1Text(bom ? input.subarray(3) : input);
  }
  const result: ImportResult = { contacts: [], skipped: [], warnings: [] };
  let card: Line[] | null = null;
  let start = 0;
  let nested = 0;
  let outside = 0;
  let firstOutside = 0;
  let index = 0;
  for (const line of logicalLines(text)) {
    const joined = line.parts.join("");
    const keyword = joined.trim().toUpperCase();
    if (card === null) {
      if (keyword === "BEGIN:VCARD") {
        card = [];
        start = line.line;
      } else if (outside++ === 0) {
        firstOutside = line.line;
      }
    } else if (keyword === "BEGIN:VCARD") {
      nested++;
    } else if (keyword === "END:VCARD") {
      if (nested > 0) {
        if (--nested === 0) {
          result.warnings.push({
            index,
            line: line.line,
            reason: "A vCard nested in another (a 2.1 AGENT) is not imported",
          });
        }
      } else {
        buildCard(card, index++, start, binary, result);
        card = null;
      }
    } else if (nested === 0) {
      card.push({ parts: [joined], line: line.line });
    }
  }
  if (card !== null) {
    result.warnings.push({
      index,
      line: start,
      reason: "The last card has no END:VCARD: read up to the end of the input",
    });
    buildCard(card, index++, start, binary, result);
  }
  if (outside > 0) {
    result.warnings.push({
      line: firstOutside,
      reason: index === 0
        ? "No BEGIN:VCARD found: the input is not vCard"
        : `${outside} line${
          outside === 1 ? " is" : "s are"
        } outside BEGIN:VCARD and END:VCARD: ignored`,
    });
  }
  return result;
}

function buildCard(
  lines: Line[],
  index: number,
  start: number,
  binary: boolean,
  result: ImportResult,
): void {
  const reasons: Array<{ line?: number; reason: string }> = [];
  let at = start;
  const reader: Reader = { binary, warn: (reason) => reasons.push({ line: at, reason }) };
  const properties: Array<{ property: Property; line: number }> = [];
  for (const line of lines) {
    const text = line.parts.join("");
    const property = parseProperty(text);
    if (!property) {
      reasons.push({
        line: line.line,
        reason: `Line ${line.line} is not a vCard property: ${quote(text)} left out`,
      });
      continue;
    }
    properties.push({ property, line: line.line });
  }
  let version = "3.0";
  const claimedGroups = new Set<string>();
  let firstAdr: Property | null = null;
  for (const { property } of properties) {
    if (property.name === "VERSION") version = property.value.trim();
    if (property.name === "ADR" && !firstAdr) firstAdr = property;
    if (
      property.group &&
      (property.name === "TEL" || property.name === "EMAIL" || property.name === "URL" ||
        property === firstAdr)
    ) {
      claimedGroups.add(property.group.toLowerCase());
    }
  }
  const groupLabels = new Map<string, string>();
  for (const { property } of properties) {
    if (property.name === "X-ABLABEL" && claimedGroups.has(property.group.toLowerCase())) {
      groupLabels.set(
        property.group.toLowerCase(),
        appleLabel(unescapeText(decodeValue(property, reader).text)),
      );
    }
  }
  const label = (property: Property, kind: Kind) => {
    const fromGroup = groupLabels.get(property.group.toLowerCase());
    const text = fromGroup || labelFromTypes(types(property), kind);
    if ([...text].length > CONTACT_LIMITS.label) {
      reader.warn(
        `${property.written} label ${
          quote(text)
        } is longer than ${CONTACT_LIMITS.label} characters: left out`,
      );
      return "";
    }
    return text;
  };

  let fn: string | undefined;
  let n: string | undefined;
  let orgValue: string | undefined;
  let uid = "";
  const notes: string[] = [];
  const kept: string[] = [];
  const keptAt = new Map<string, number>();
  const keep = (property: Property) => {
    const text = keptLine(property, reader);
    kept.push(text);
    if (!keptAt.has(text)) keptAt.set(text, at);
  };
  const draft: Draft = blankContact("");
  for (const { property, line } of properties) {
    at = line;
    switch (property.name) {
      case "VERSION":
      case "PRODID":
        break;
      case "FN":
        if (fn === undefined) fn = unescapeText(decodeValue(property, reader).text);
        else keep(property);
        break;
      case "N":
        if (n === undefined) n = decodeValue(property, reader).text;
        else keep(property);
        break;
      case "TEL": {
        let value = unescapeText(decodeValue(property, reader).text);
        const valueType = param(property, "VALUE")?.toLowerCase();
        if (valueType === "uri" || (valueType === undefined && /^tel:/i.test(value))) {
          value = value.replace(/^tel:/i, "");
        }
        const number = oneLine(value);
        if (number) draft.phones.push({ label: label(property, "tel"), number });
        break;
      }
      case "EMAIL": {
        const address = oneLine(unescapeText(decodeValue(property, reader).text)).replace(
          /^mailto:/i,
          "",
        );
        if (address) draft.emails.push({ label: label(property, "email"), address });
        break;
      }
      case "ADR":
        if (property === firstAdr) readAddress(property, label(property, "adr"), draft, reader);
        else keep(property);
        break;
      case "NOTE": {
        const note = multiLine(unescapeText(decodeValue(property, reader).text));
        if (note) notes.push(note);
        break;
      }
      case "UID": {
        if (uid !== "") break;
        const value = decodeValue(property, reader).text;
        const uri = version.startsWith("4") && param(property, "VALUE")?.toLowerCase() !== "text";
        uid = oneLine(uri ? value : unescapeText(value));
        break;
      }
      case "X-ABLABEL":
        if (!claimedGroups.has(property.group.toLowerCase())) {
          keep(property);
        }
        break;
      case "ORG": {
        const value = decodeValue(property, reader).text;
        const { org } = orgFromVCard(value);
        if (orgValue === undefined && org !== "") {
          orgValue = value.replace(/\r\n|\r|\n/g, "\\n");
          draft.org = org;
        } else keep(property);
        break;
      }
      case "TITLE":
      case "NICKNAME": {
        const field = property.name === "TITLE" ? "title" : "nickname";
        const value = textFromVCard(decodeValue(property, reader).text, field === "nickname");
        if (draft[field] === "" && value !== "") draft[field] = value;
        else if (value !== "") keep(property);
        break;
      }
      case "BDAY":
      case "ANNIVERSARY":
      case "X-ANNIVERSARY": {
        const field = property.name === "BDAY" ? "birthday" : "anniversary";
        const date = param(property, "VALUE")?.toLowerCase() === "text"
          ? null
          : dateFromVCard(decodeValue(property, reader).text, param(property, "X-APPLE-OMIT-YEAR"));
        if (draft[field] === "" && date !== null) draft[field] = date;
        else keep(property);
        break;
      }
      case "URL": {
        const url = webUrl(oneLine(unescapeText(decodeValue(property, reader).text)));
        if (url === null || draft.urls.length >= CONTACT_LIMITS.urls) keep(property);
        else draft.urls.push({ label: label(property, "url"), url });
        break;
      }
      case "CATEGORIES": {
        // Google puts every card of its export in "myContacts": no group a person made.
        const names = groupsFromVCard(decodeValue(property, reader).text).filter((name) =>
          !/^mycontacts$/i.test(name)
        );
        for (const name of addGroups(draft.groups, names)) {
          reader.warn(
            `CATEGORIES ${
              quote(name)
            } left out: a contact is in at most ${CONTACT_LIMITS.groups} ` +
              `groups, each name at most ${CONTACT_LIMITS.group} characters`,
          );
        }
        break;
      }
      case "X-ANDROID-CUSTOM": {
        // Android 2.1 writes a nickname as vnd.android.cursor.item/nickname;NAME;TYPE;...
        const value = decodeValue(property, reader).text;
        const [kind, nick = ""] = splitValue(value, ";");
        const nickname = textFromVCard(nick);
        if (kind === "vnd.android.cursor.item/nickname" && nickname && draft.nickname === "") {
          draft.nickname = nickname;
        } else keep(property);
        break;
      }
      default:
        keep(property);
    }
  }
  at = start;
  const nParts = n === undefined ? [] : components(n, 5, " ");
  const [family = "", given = "", additional = "", prefix = "", suffix = ""] = nParts;
  const nName = [prefix, given, additional, family, suffix].filter(Boolean).join(" ");
  draft.name = pickName([
    ["FN", fn ?? ""],
    ["N", nName],
    ["ORG", draft.org],
    ["EMAIL", draft.emails[0]?.address ?? ""],
    ["TEL", draft.phones[0]?.number ?? ""],
  ], reader.warn);
  const name = draft.name || oneLine(fn ?? "").slice(0, 60) || undefined;
  if (draft.name === "") {
    result.skipped.push({
      index,
      line: start,
      ...(name ? { name } : {}),
      reason: "The card has no usable name: no FN, N, ORG, EMAIL or TEL",
    });
    for (const r of reasons) {
      result.warnings.push({ index, line: r.line, ...(name ? { name } : {}), reason: r.reason });
    }
    return;
  }
  draft.notes = notes.join("\n");
  draft.uid = uid;
  if (orgValue !== undefined && orgFromVCard(orgValue).units.length > 0) {
    draft.extra.vcardOrg = { org: draft.org, value: orgValue };
  }
  if (n !== undefined && nParts.some(Boolean)) {
    const value = n.replace(/\r\n|\r|\n/g, "\\n");
    if (value.replace(/;+$/, "") !== deriveN(draft.name).replace(/;+$/, "")) {
      draft.extra.vcardN = { name: draft.name, value };
    }
  }
  const clean = kept.filter((line) => {
    if (!CONTROL.test(line)) return true;
    reader.warn(`${/^[^;:]*/.exec(line)![0]} contains a control character: left out`);
    return false;
  });
  if (clean.length > 0) draft.extra.vcard = clean;
  const contact = finishDraft(draft, (reason, line) => {
    reasons.push({ line: (line !== undefined ? keptAt.get(line) : undefined) ?? start, reason });
  });
  for (const r of reasons) {
    result.warnings.push({ index, line: r.line, name: draft.name, reason: r.reason });
  }
  if (typeof contact === "string") {
    result.skipped.push({ index, line: start, name: draft.name, reason: contact });
  } else {
    result.contacts.push(contact);
  }
}

function readAddress(property: Property, label: string, draft: Draft, reader: Reader): void {
  const [pobox, extended, street, town, region, postcode, country] = components(
    decodeValue(property, reader).text,
    7,
    ", ",
  ).map((part) => oneLine(part).normalize("NFC"));
  const split = splitStreet(street!, extended!);
  draft.house = split.house;
  draft.street = split.street;
  draft.town = town!;
  draft.postcode = postcode!;
  setExtraAddress(draft.extra, { label, pobox, extended: split.extended, region, country });
}

/** A URL value as `urls` keeps it, or null when it is not a web address (then it is kept). */
function webUrl(value: string): string | null {
  try {
    return webAddress(value);
  } catch (error) {
    if (error instanceof ValidationError) return null;
    throw error;
  }
}

/** The N value a name gives without help: the last word is the family name. */
function deriveN(name: string): string {
  const words = name.split(" ").filter(Boolean);
  if (words.length <= 1) return `${escapeText(name)};;;;`;
  const family = words.pop()!;
  return `${escapeText(family)};${escapeText(words.join(" "))};;;`;
}

// ---------------------------------------------------------------------------------------
// Writing

/** Properties that `extra.vcard` may not carry: the export writes them itself. */
const RESERVED = new Set(["BEGIN", "END", "VERSION", "PRODID", "UID", "TEL", "EMAIL", "NOTE"]);
const KEPT_LINE = /^(?:([A-Za-z0-9_-]+)\.)?([A-Za-z0-9_-]+)[;:]/;

/**
 * Writes one contact as a vCard 3.0 or 4.0, lines folded at 75 octets and ended by CRLF.
 * It always has a UID ({@link uidForContact}), FN and N; phones, emails and web addresses
 * carry their labels as TYPE values, or as an `X-ABLabel` in an `itemN` group when no TYPE
 * value gives the label back; `extra.vcard` lines are written back as they are. A contact
 * stored before issue 15, whose ORG, TITLE, BDAY, URL... an import kept in `extra.vcard`,
 * is written as if they were its fields (`liftExtraFields` in `lib/model/vcard_fields.ts`).
 *
 * @example A contact with a custom phone label
 * ```ts
 * import { formatVCard } from "./vcard.ts";
 * import { blankContact } from "../model/contact.ts";
 * const text = formatVCard({
 *   ...blankContact("Bob Smith"), house: "12", street: "High Street", town: "Springfield",
 *   phones: [{ label: "mobile", number: "555-0100" }, { label: "Gym", number: "555-0111" }],
 *   id: "01HZY0Q4J8V3M6T0W9X2B5C7D1",
 * }, "3.0");
 * for (const line of ["FN:Bob Smith", "TEL;TYPE=CELL:555-0100", "item1.X-ABLabel:Gym",
 *   "ADR:;;12 High Street;Springfield;;;"]) {
 *   if (!text.includes(line + "\r\n")) throw new Error(line);
 * }
 * ```
 */
export function formatVCard(given: ExportContact, version: VCardVersion = "3.0"): string {
  const contact: ExportContact = { ...given, ...liftExtraFields(given).fields };
  const lower = version === "4.0";
  const typeCase = (value: string) => lower ? value.toLowerCase() : value.toUpperCase();
  const extra = contact.extra ?? {};
  const keptLines = (Array.isArray(extra.vcard) ? extra.vcard : []).filter(
    (line): line is string => {
      if (typeof line !== "string") return false;
      const match = KEPT_LINE.exec(line);
      return !!match && !RESERVED.has(match[2]!.toUpperCase()) && !CONTROL.test(line);
    },
  );
  const usedGroups = new Set(
    keptLines.map((line) => KEPT_LINE.exec(line)![1]?.toLowerCase()).filter(Boolean),
  );
  let item = 0;
  const nextGroup = () => {
    do item++; while (usedGroups.has(`item${item}`));
    return `item${item}`;
  };
  const out: string[] = ["BEGIN:VCARD", `VERSION:${version}`];
  const uid = uidForContact(contact);
  if (!lower) out.push(`UID:${escapeText(uid)}`);
  else if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(uid)) out.push(`UID:${uid}`);
  else out.push(`UID;VALUE=text:${escapeText(uid)}`);
  out.push(`FN:${escapeText(contact.name)}`);
  const n = extra.vcardN as { name?: unknown; value?: unknown } | undefined;
  const nValue = typeof n === "object" && n !== null && n.name === contact.name &&
      typeof n.value === "string" && !CONTROL.test(n.value) && !n.value.includes("\t") &&
      components(n.value, 5, " ").some(Boolean)
    ? n.value
    : deriveN(contact.name);
  out.push(`N:${nValue}`);
  if (contact.nickname) out.push(`NICKNAME:${escapeText(contact.nickname)}`);
  const labelled = (name: string, label: string, kind: Kind, params: string, value: string) => {
    const values = typesForLabel(label, kind);
    if (values) {
      const type = values.length > 0 ? `;TYPE=${values.map(typeCase).join(",")}` : "";
      out.push(`${name}${type}${params}:${value}`);
    } else {
      const group = nextGroup();
      out.push(`${group}.${name}${params}:${value}`, `${group}.X-ABLabel:${escapeText(label)}`);
    }
  };
  for (const phone of contact.phones) {
    const params = /^tel:/i.test(phone.number) ? ";VALUE=text" : "";
    labelled("TEL", phone.label, "tel", params, escapeText(phone.number));
  }
  for (const email of contact.emails) {
    labelled("EMAIL", email.label, "email", "", escapeText(email.address));
  }
  const address = extraAddress(extra);
  const { street, extended } = joinStreet(contact.house, contact.street, address.extended ?? "");
  const parts = [
    address.pobox ?? "",
    extended,
    street,
    contact.town,
    address.region ?? "",
    contact.postcode,
    address.country ?? "",
  ];
  if (parts.some((part) => part !== "")) {
    labelled("ADR", address.label ?? "", "adr", "", parts.map(escapeText).join(";"));
  }
  if (contact.org) {
    const kept = extra.vcardOrg as { org?: unknown; value?: unknown } | undefined;
    const value = typeof kept === "object" && kept !== null && kept.org === contact.org &&
        typeof kept.value === "string" && !CONTROL.test(kept.value) && !kept.value.includes("\t")
      ? kept.value
      : escapeText(contact.org);
    out.push(`ORG:${value}`);
  }
  if (contact.title) out.push(`TITLE:${escapeText(contact.title)}`);
  if (contact.birthday) out.push(`BDAY:${vcardDate(contact.birthday, version)}`);
  if (contact.anniversary) {
    out.push(`${lower ? "" : "X-"}ANNIVERSARY:${vcardDate(contact.anniversary, version)}`);
  }
  for (const url of contact.urls) labelled("URL", url.label, "url", "", url.url);
  if (contact.groups.length > 0) {
    out.push(`CATEGORIES:${contact.groups.map(escapeText).join(",")}`);
  }
  if (contact.notes) out.push(`NOTE:${escapeText(contact.notes)}`);
  out.push(...keptLines, "END:VCARD");
  return out.map((line) => foldLine(line.normalize("NFC"))).join(CRLF) + CRLF;
}

/**
 * A contact date in a version's form: 3.0 `1980-04-12` and `--04-12` (ISO 8601's extended
 * form, which RFC 2426 names), 4.0 `19800412` and `--0412` (RFC 6350's basic form).
 */
function vcardDate(date: string, version: VCardVersion): string {
  if (version !== "4.0") return date;
  return date.startsWith("--") ? "--" + date.slice(2).replace("-", "") : date.replaceAll("-", "");
}

/**
 * Writes contacts as one vCard file ({@link formatVCard} for each, in order).
 *
 * @example
 * ```ts
 * import { formatVCards, parseVCards } from "./vcard.ts";
 * import { blankContact } from "../model/contact.ts";
 * const text = formatVCards([blankContact("Ann"), blankContact("Bo")], "4.0");
 * if (parseVCards(text).contacts.map((c) => c.name).join() !== "Ann,Bo") throw new Error();
 * ```
 */
export function formatVCards(
  contacts: Iterable<ExportContact>,
  version: VCardVersion = "3.0",
): string {
  let out = "";
  for (const contact of contacts) out += formatVCard(contact, version);
  return out;
}

/** Re-exported for callers that only import this module. */
export type { ContactFields, ImportIssue, ImportResult };
