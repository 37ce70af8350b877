/**
 * Search normalisation: how names and words are folded (case- and accent-insensitive) and
 * which terms a contact is indexed under. Pure functions; the store decides the key layout.
 *
 * @module
 */

/**
 * Longest word kept in the index, in characters (code points, so at most 128 bytes of UTF-8);
 * longer words are indexed by this prefix, which never splits a character.
 */
export const MAX_TERM_LENGTH = 32;
/** At most this many distinct words per contact are indexed (keeps one write within KV's limits). */
export const MAX_TERMS = 100;

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
}

/** The index terms of a contact: its words and its phones' digits. */
export interface Terms {
  words: string[];
  phones: string[];
}

/**
 * The distinct terms a contact is found by: word prefixes over name, town, street and
 * emails; digits over phone numbers.
 *
 * @example
 * ```ts
 * import { contactTerms } from "./search_terms.ts";
 * const t = contactTerms({ name: "José Núñez", town: "Springfield", street: "", phones: [{ label: "", number: "555-0123" }], emails: [] });
 * if (!t.words.includes("jose") || t.phones[0] !== "5550123") throw new Error();
 * ```
 */
export function contactTerms(contact: TermFields): Terms {
  const all = new Set<string>();
  for (const text of [contact.name, contact.town, contact.street]) {
    for (const word of words(text)) all.add(word);
  }
  for (const email of contact.emails) {
    for (const word of words(email.address)) all.add(word);
  }
  const phones = new Set<string>();
  for (const phone of contact.phones) {
    const d = digits(phone.number);
    if (d !== "") phones.add(d);
  }
  return { words: [...all].slice(0, MAX_TERMS), phones: [...phones] };
}

/** A parsed search query. */
export interface Query {
  /** Every word must prefix-match one of a contact's words. */
  words: string[];
  /** When the query looks like a phone number: its digits, matched as a prefix of a phone's. */
  phone: string | null;
}

/**
 * Parses a search query: its words, and its digits when it looks like a phone number.
 *
 * @example
 * ```ts
 * import { parseQuery } from "./search_terms.ts";
 * const q = parseQuery("555 0123");
 * if (q.phone !== "5550123" || q.words.length !== 2) throw new Error();
 * ```
 */
export function parseQuery(query: string): Query {
  const phoneLike = /^[\d\s()+\-./]+$/.test(query.trim()) && /\d/.test(query);
  return { words: [...new Set(words(query))], phone: phoneLike ? digits(query) : null };
}

/**
 * Whether a contact with these terms matches a parsed query, by the rules of `search`: every
 * query word prefix-matches one of its words, or the query's phone digits prefix-match one of
 * its phones' digits. A query with neither words nor digits matches nothing.
 *
 * @example
 * ```ts
 * import { contactTerms, matchesQuery, parseQuery } from "./search_terms.ts";
 * const terms = contactTerms({ name: "José Núñez", town: "Springfield", street: "",
 *   phones: [{ label: "", number: "(555) 012-3" }], emails: [] });
 * if (!matchesQuery(parseQuery("jos spring"), terms)) throw new Error();
 * if (!matchesQuery(parseQuery("555 01"), terms)) throw new Error();
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
  const phone = query.phone;
  return phone !== null && phone !== "" && terms.phones.some((term) => term.startsWith(phone));
}
