/**
 * Phone numbers in one canonical form, so that the national and the international spellings
 * of one number match each other (`020 7946 0958` in the UK is `+44 20 7946 0958`): search
 * and the duplicate finder compare numbers by {@link canonicalPhone}.
 *
 * The rules of national numbers (trunk prefixes, lengths, country codes) differ in every
 * country and change every year, so they come from a library made for them:
 * libphonenumber-js 1.13.17 (MIT), the JavaScript port of Google's libphonenumber, with its
 * "min" metadata. It is vendored as one ESM bundle under `vendor/libphonenumber-js@1.13.17/`
 * (with its licences, the `entry.ts` it is bundled from, and the types used here) and
 * imported by relative path, so that the server and the client start with an empty cache
 * and no registry, as they always have; `tests/phones_vendor_test.ts` checks the bundle
 * against the npm package pinned with its integrity in `tests/deno.lock`.
 *
 * A number written with `+` (or, under a region, with that region's international prefix,
 * such as `00`) parses on its own; one without a country code parses only under the
 * region set with {@link setPhoneRegion} (the server's `--region`): without a region it
 * has no canonical form and is compared as written.
 *
 * @module
 */

import {
  AsYouType,
  isSupportedCountry,
  parsePhoneNumberFromString,
} from "../../vendor/libphonenumber-js@1.13.17/libphonenumber.js";

let region: string | null = null;

/**
 * Whether `code` is a region the phone metadata knows (ISO 3166-1 alpha-2, any case).
 *
 * @example
 * ```ts
 * import { isPhoneRegion } from "./phones.ts";
 * if (!isPhoneRegion("GB") || !isPhoneRegion("de") || isPhoneRegion("UK")) throw new Error();
 * ```
 */
export function isPhoneRegion(code: string): boolean {
  return /^[A-Za-z]{2}$/.test(code) && isSupportedCountry(code.toUpperCase());
}

/**
 * Sets the region that numbers without a country code are read in (`GB`), or none (`null`).
 * One per process, set before any number is compared (the server sets it from `--region`
 * before it opens the store, whose search terms depend on it). Throws a `RangeError` for a
 * code the metadata does not know.
 *
 * @example
 * ```ts
 * import { canonicalPhone, setPhoneRegion } from "./phones.ts";
 * setPhoneRegion("GB");
 * try {
 *   if (canonicalPhone("020 7946 0958") !== "442079460958") throw new Error();
 * } finally {
 *   setPhoneRegion(null);
 * }
 * if (canonicalPhone("020 7946 0958") !== null) throw new Error();
 * ```
 */
export function setPhoneRegion(code: string | null): void {
  if (code !== null && !isPhoneRegion(code)) {
    throw new RangeError(
      `Region ${JSON.stringify(code)} is not a region code the phone library knows: give ` +
        "an ISO 3166-1 two-letter code such as GB, US or DE",
    );
  }
  region = code === null ? null : code.toUpperCase();
}

/** The region set with {@link setPhoneRegion}, or null. */
export function phoneRegion(): string | null {
  return region;
}

/**
 * The canonical form of a phone number: its E.164 digits without the `+`
 * (`442079460958`), when the number parses and is a whole number: written with its country
 * code (`+`, or the region's international prefix), its length must be possible for that
 * country; written in national form, it must be valid there, or possible once the
 * region's trunk prefix was taken off (`07700 900123` is `447700900123`, but `020 7946`,
 * too short without its `0`, has none). Else null: it is compared as written. An extension
 * is not part of it.
 *
 * @example
 * ```ts
 * import { canonicalPhone } from "./phones.ts";
 * if (canonicalPhone("+44 (0)20 7946-0958") !== "442079460958") throw new Error();
 * if (canonicalPhone("tel:+1-202-555-0123") !== "12025550123") throw new Error();
 * if (canonicalPhone("555-0123") !== null || canonicalPhone("+44 12") !== null) throw new Error();
 * ```
 */
export function canonicalPhone(number: string, inRegion = region): string | null {
  // Without a region only an international number can parse: skip the library otherwise.
  const text = number.replace(/^tel:/i, "");
  if (inRegion === null && !/^\s*\+/.test(text)) return null;
  const parsed = parsePhoneNumberFromString(text, inRegion ?? undefined);
  if (parsed === undefined || !parsed.isPossible()) return null;
  const e164 = parsed.number.slice(1);
  if (/^\s*\+/.test(text) || parsed.isValid()) return e164;
  // Possible only: whole when a trunk (or international) prefix was taken off its digits.
  const written = text.replace(/\D+/g, "");
  return written.length > parsed.nationalNumber.length + (parsed.ext?.length ?? 0) ? e164 : null;
}

/**
 * The international digits (without `+`) of a number being typed in the region's national
 * form, such as a search for `020 7946`, when it starts with the region's trunk prefix (the
 * `0` of `020`): `447946` would not be, since `7946` is no national form. Null without a
 * region, for a number with `+`, or when nothing was stripped.
 *
 * @example
 * ```ts
 * import { partialInternational } from "./phones.ts";
 * if (partialInternational("020 7946", "GB") !== "44207946") throw new Error();
 * if (partialInternational("7946", "GB") !== null || partialInternational("020", null) !== null) {
 *   throw new Error();
 * }
 * ```
 */
export function partialInternational(number: string, inRegion = region): string | null {
  if (inRegion === null || /^\s*\+/.test(number)) return null;
  const typed = new AsYouType(inRegion);
  typed.input(number);
  const partial = typed.getNumber();
  const digits = number.replace(/\D+/g, "");
  if (partial === undefined) return null;
  const national = partial.nationalNumber;
  if (national === "" || national === digits || !digits.endsWith(national)) return null;
  return partial.number.slice(1);
}
