/**
 * libphonenumber-js from npm, pinned here and nowhere else (its integrity in
 * `tests/deno.lock`, which only the test and check commands use), to check the bundle the
 * product imports (`vendor/libphonenumber-js@1.13.17/`, see `lib/model/phones.ts`) against
 * the package it was made from. Like `fast_check.ts`, imported by its full `npm:` specifier
 * so that `deno task serve` never needs the npm registry.
 *
 * @module
 */
export {
  AsYouType,
  isSupportedCountry,
  parsePhoneNumberFromString,
} from "npm:libphonenumber-js@1.13.17/min";
