/**
 * Search normalisation: how names and words are folded (case- and accent-insensitive) and
 * which terms a contact is indexed under. Pure functions; the store decides the key layout.
 *
 * Phone numbers are found three ways, each a prefix lookup among a contact's phone terms
 * ({@link phoneTerms}), so an index of terms serves them without visiting every contact:
 * - by the digits as written: `555 01` finds 555-0123;
 * - by the canonical (E.164) digits of the number (`canonicalPhone` in `phones.ts`): a query
 *   `020 7946 0958` under region GB is `442079460958`, the digits of `+44 20 7946 0958`; a
 *   query typed in the region's national form and not complete (`020 7946`) is looked up in
 *   international form too (`44207946`);
 * - by digits at the end of the number or of one of its groups as written (`9999` finds
 *   555-9999, `7946` finds +44 20 7946 0958): each prefix of the number's digits that ends
 *   where a group of digits ends is indexed reversed, after {@link SUFFIX_MARK}
 *   (`~8590649702044`, `~6497024 4`...), and the query's digits are looked up reversed
 *   there: a prefix of a reversed term is a suffix of what it reverses.
 *
 * @module
 */

import { canonicalPhone, partialInternational, phoneRegion } from "./phones.ts";

/**
 * Longest word kept in the index, in characters (code points, so at most 128 bytes of UTF-8);
 * longer words are indexed by this prefix, which never splits a character.
 */
export const MAX_TERM_LENGTH = 32;
/** At most this many distinct words per contact are indexed (keeps one write within KV's limits). */
export const MAX_TERMS = 100;
/** At most this many phone terms per contact are indexed (20 phones of 10 terms). */
export const MAX_PHONE_TERMS = 200;
/** At most this many group ends of one number are indexed (the last ones). */
export const MAX_GROUP_ENDS = 8;
/**
 * Leads each reversed phone term ({@link phoneTerms}): not a digit, so a lookup of a
 * query's digits as written never meets one, nor a reversed lookup a term as written.
 */
export const SUFFIX_MARK = "~";

const NON_ASCII = /[^\t-~\s]/;

/**
 * Folds text for comparison: Unicode compatibility decomposition, marks removed, lower case,
 * runs of white space collapsed. The result is well-formed Unicode: a lone surrogate (which
 * only a query can hold; stored text is refused with one) becomes U+FFFD, as Deno KV would
 * turn it in a key, so a folded text means the same in memory and in KV.
 *
 * @example Accents and case do not matter
 * ```ts
 * import { fold } from "./search_terms.ts";
 * if (fold("  José  ÅSE ") !== "jose ase") throw new Error();
 * ```
 */
export function fold(text: string): string {
  // Printable ASCII and white space (which is collapsed anyway) are their own NFKD form and
  // have no marks: skip the (costly) normalisation.
  const bare = NON_ASCII.test(text)
    ? text.toWellFormed().normalize("NFKD").replace(/\p{M}+/gu, "")
    : text;
  return bare.toLowerCase().replace(/\s+/g, " ").trim();
}

/**
 * Splits text into folded words: runs of letters and digits.
 *
 * @example
 * ```ts
 * import { words } from "./search_terms.ts";
 * const w = words("Bob.Smith@Example.com, Zürich");
 * if (w.join(" ") !== "bob smith example com zurich") throw new Error();
 * ```
 */
export function words(text: string): string[] {
  return fold(text).match(/[\p{L}\p{N}]+/gu)?.map(termPrefix) ?? [];
}

/** A word's first {@link MAX_TERM_LENGTH} characters, whole (a pair of surrogates is one). */
function termPrefix(word: string): string {
  if (word.length <= MAX_TERM_LENGTH) return word;
  let end = 0;
  for (let count = 0; count < MAX_TERM_LENGTH && end < word.length; count++) {
    end += word.codePointAt(end)! > 0xffff ? 2 : 1;
  }
  return word.slice(0, end);
}

/**
 * The digits of a phone number or query, for matching by digits.
 *
 * @example
 * ```ts
 * import { digits } from "./search_terms.ts";
 * if (digits("(555) 012-3") !== "5550123") throw new Error();
 * ```
 */
export function digits(text: string): string {
  return text.replace(/\D+/g, "").slice(0, MAX_TERM_LENGTH);
}

function reversed(digitString: string): string {
  return digitString.split("").reverse().join("").slice(0, MAX_TERM_LENGTH);
}

/**
 * The terms a phone number is indexed under, each found by prefix: its digits as written, its
 * canonical (E.164) digits when it has them, and, after {@link SUFFIX_MARK}, reversed, each
 * prefix of its digits that ends where a group of digits ends (the last
 * {@link MAX_GROUP_ENDS}). `region` defaults to the process's (`setPhoneRegion`).
 *
 * @example
 * ```ts
 * import { phoneTerms } from "./search_terms.ts";
 * const terms = phoneTerms("+44 20 7946 0958", null);
 * if (terms.join(" ") !== "442079460958 ~44 ~0244 ~64970244 ~859064970244") {
 *   throw new Error(terms.join(" "));
 * }
 * ```
 */
export function phoneTerms(number: string, region: string | null = phoneRegion()): string[] {
  const written = digits(number);
  if (written === "") return [];
  const out = new Set([written]);
  const canonical = canonicalPhone(number, region);
  if (canonical !== null) out.add(canonical.slice(0, MAX_TERM_LENGTH));
  const ends: string[] = [];
  let prefix = "";
  for (const match of number.matchAll(/\d+/g)) {
    prefix += match[0];
    ends.push(prefix);
  }
  for (const end of ends.slice(-MAX_GROUP_ENDS)) out.add(SUFFIX_MARK + reversed(end));
  return [...out];
}

/**
 * The fields of a contact (`ContactFields` in `contact.ts`, which imports this module) that
 * its terms come from.
 */
export interface TermFields {
  name: string;
  town: string;
  street: string;
  phones: ReadonlyArray<{ label?: string; number: string }>;
  emails: ReadonlyArray<{ label?: string; address: string }>;
  /** Absent in a record stored before issue 15: no words. */
  org?: string;
  nickname?: string;
  groups?: ReadonlyArray<string>;
}

/** The index terms of a contact: its words, and its phones' terms ({@link phoneTerms}). */
export interface Terms {
  words: string[];
  phones: string[];
}

/**
 * The distinct terms a contact is found by: word prefixes over name, town, street, emails,
 * organisation, nickname and group names; {@link phoneTerms} of each phone number (under
 * the process's phone region).
 *
 * @example
 * ```ts
 * import { contactTerms } from "./search_terms.ts";
 * const t = contactTerms({ name: "José Núñez", town: "Springfield", street: "", phones: [{ label: "", number: "555-0123" }], emails: [],
 *   org: "Acme Plumbing", nickname: "Pepe", groups: ["Chess club"] });
 * if (!t.words.includes("jose") || t.phones[0] !== "5550123" || !t.phones.includes("~3210555")) {
 *   throw new Error();
 * }
 * if (!["acme", "plumbing", "pepe", "chess", "club"].every((w) => t.words.includes(w))) throw new Error();
 * ```
 */
export function contactTerms(contact: TermFields): Terms {
  const all = new Set<string>();
  for (const text of [contact.name, contact.town, contact.street, contact.org, contact.nickname]) {
    if (text) { for (const word of words(text)) all.add(word); }
  }
  for (const email of contact.emails) {
    for (const word of words(email.address)) all.add(word);
  }
  for (const group of contact.groups ?? []) {
    for (const word of words(group)) all.add(word);
  }
  const phones = new Set<string>();
  const region = phoneRegion();
  for (const phone of contact.phones) {
    for (const term of phoneTerms(phone.number, region)) phones.add(term);
  }
  return { words: [...all].slice(0, MAX_TERMS), phones: [...phones].slice(0, MAX_PHONE_TERMS) };
}

/** A parsed search query. */
export interface Query {
  /** Every word must prefix-match one of a contact's words. */
  words: string[];
  /** When the query looks like a phone number: its digits. */
  phone: string | null;
  /**
   * When the query looks like a phone number: the prefixes to look up among the contacts'
   * phone terms (a contact matches when one of its terms starts with one of these): the
   * digits, their canonical or international form when they have one, and the digits
   * reversed after {@link SUFFIX_MARK} (a match at the end of a number or of a group).
   * Empty otherwise.
   */
  phoneTerms: string[];
}

/**
 * Parses a search query: its words, and, when it looks like a phone number, its digits and
 * the phone terms to look up (see {@link Query}). `region` defaults to the process's.
 *
 * @example
 * ```ts
 * import { parseQuery } from "./search_terms.ts";
 * const q = parseQuery("555 0123", null);
 * if (q.phone !== "5550123" || q.words.length !== 2) throw new Error();
 * if (q.phoneTerms.join(" ") !== "5550123 ~3210555") throw new Error(q.phoneTerms.join(" "));
 * const uk = parseQuery("020 7946 0958", "GB");
 * if (!uk.phoneTerms.includes("442079460958")) throw new Error();
 * ```
 */
export function parseQuery(query: string, region: string | null = phoneRegion()): Query {
  const phoneLike = /^[\d\s()+\-./]+$/.test(query.trim()) && /\d/.test(query);
  const parsed: Query = { words: [...new Set(words(query))], phone: null, phoneTerms: [] };
  if (!phoneLike) return parsed;
  const d = digits(query);
  parsed.phone = d;
  const terms = new Set([d]);
  const international = canonicalPhone(query, region) ?? partialInternational(query, region);
  if (international !== null) terms.add(international.slice(0, MAX_TERM_LENGTH));
  terms.add(SUFFIX_MARK + reversed(d));
  parsed.phoneTerms = [...terms];
  return parsed;
}

/**
 * Whether a contact with these terms matches a parsed query, by the rules of `search`: every
 * query word prefix-matches one of its words, or one of the query's phone terms prefixes one
 * of its phone terms. A query with neither words nor digits matches nothing.
 *
 * @example
 * ```ts
 * import { contactTerms, matchesQuery, parseQuery } from "./search_terms.ts";
 * const terms = contactTerms({ name: "José Núñez", town: "Springfield", street: "",
 *   phones: [{ label: "", number: "(555) 012-3" }], emails: [] });
 * if (!matchesQuery(parseQuery("jos spring"), terms)) throw new Error();
 * if (!matchesQuery(parseQuery("555 01"), terms)) throw new Error();
 * if (!matchesQuery(parseQuery("0123"), terms)) throw new Error(); // the end of a group
 * if (matchesQuery(parseQuery("jose shelby"), terms)) throw new Error();
 * ```
 */
export function matchesQuery(query: Query, terms: Terms): boolean {
  if (
    query.words.length > 0 &&
    query.words.every((word) => terms.words.some((term) => term.startsWith(word)))
  ) {
    return true;
  }
  return query.phoneTerms.some((prefix) =>
    prefix !== "" && terms.phones.some((term) => term.startsWith(prefix))
  );
}
