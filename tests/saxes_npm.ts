/**
 * saxes from npm, pinned here and nowhere else (its integrity in `tests/deno.lock`, which
 * only the test and check commands use), to check the bundle the product imports
 * (`vendor/saxes@6.0.0/`, see `lib/server/http/xml.ts`) against the package it was made
 * from. Imported by its full `npm:` specifier so that `deno task serve` never needs npm.
 *
 * @module
 */
export { SaxesParser } from "npm:saxes@6.0.0";
