/**
 * puppeteer-core from npm, pinned here and nowhere else (its integrity in `tests/deno.lock`,
 * which only the test and check commands use), to drive Debian's `chromium` in the web
 * page's browser tests (`tests/web_browser_test.ts`). Imported by its full `npm:` specifier
 * so that `deno task serve` never needs npm. It downloads no browser: it is pointed at
 * `/usr/bin/chromium`.
 *
 * @module
 */
export { default as puppeteer } from "npm:puppeteer-core@25.16.0";
export type { Browser, Page } from "npm:puppeteer-core@25.16.0";
