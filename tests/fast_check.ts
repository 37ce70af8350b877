/**
 * fast-check, the property-testing library, pinned here and nowhere else (its integrity in
 * `tests/deno.lock`, which only the test and check commands use). It is imported by its full
 * `npm:` specifier rather than from `deno.json`: `deno task` installs every npm package the
 * config or its lockfile names before running any task, so a test-only package there made
 * `deno task serve` need the npm registry on a machine with an empty cache.
 *
 * @module
 */
export { default } from "npm:fast-check@4.10.2";
