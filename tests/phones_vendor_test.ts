/**
 * The vendored libphonenumber-js bundle answers as the npm package it was bundled from
 * (pinned with its integrity in tests/deno.lock), and stays the small metadata build with its
 * licences beside it.
 */
import assert from "node:assert/strict";
import * as npm from "./libphonenumber_npm.ts";
import * as vendored from "../vendor/libphonenumber-js@1.13.17/libphonenumber.js";

const NUMBERS = [
  "+44 20 7946 0958",
  "+44 (0)20 7946-0958 ext. 12",
  "020 7946 0958",
  "07700 900123",
  "0044 20 7946 0958",
  "020 7946",
  "(202) 555-0123",
  "555-0123",
  "+1 555 0100",
  "+49 30 1234567",
  "030 1234567",
  "+33 1 42 14 20 00",
  "01 42 14 20 00",
  "+81 3-1234-5678",
  "+354 555 1234",
  "+61 2 9876 5432",
  "06 1234 5678",
  "tel:+1-202-555-0123",
  "none",
  "",
];
const REGIONS = [undefined, "GB", "US", "DE", "FR", "IT", "JP", "AU"];

Deno.test("the vendored libphonenumber-js parses every number as the npm package does", () => {
  let compared = 0;
  for (const region of REGIONS) {
    for (const number of NUMBERS) {
      const a = npm.parsePhoneNumberFromString(number, region as never);
      const b = vendored.parsePhoneNumberFromString(number, region);
      const view = (p: typeof b) =>
        p === undefined
          ? undefined
          : [p.number, p.nationalNumber, p.countryCallingCode, p.ext, p.isPossible(), p.isValid()];
      assert.deepEqual(view(b), view(a as typeof b), `${number} in ${region}`);
      const typedA = new npm.AsYouType(region as never), typedB = new vendored.AsYouType(region);
      assert.equal(typedB.input(number), typedA.input(number));
      assert.deepEqual(view(typedB.getNumber()), view(typedA.getNumber() as typeof b));
      compared++;
    }
  }
  assert.equal(compared, NUMBERS.length * REGIONS.length);
  for (const code of ["GB", "US", "UK", "XX", "gb"]) {
    assert.equal(vendored.isSupportedCountry(code), npm.isSupportedCountry(code as never), code);
  }
});

Deno.test("the vendored bundle is the min metadata build, with its licences and its entry", async () => {
  const folder = new URL("../vendor/libphonenumber-js@1.13.17/", import.meta.url);
  const read = (name: string) => Deno.readTextFile(new URL(name, folder));
  const bundle = await read("libphonenumber.js");
  assert.match(bundle, /^\/\/ @ts-self-types="\.\/libphonenumber\.d\.ts"\n/);
  assert.ok(bundle.length < 400_000, `${bundle.length} characters`);
  // Nothing in it reaches outside the process: no imports, no Deno or network calls.
  assert.doesNotMatch(bundle, /^import |\bDeno\.|\bfetch\(|\brequire\(/m);
  assert.doesNotMatch(bundle, /\/root\/|\.cache\/deno/, "no build machine's paths");
  assert.match(await read("LICENSE"), /The MIT License/);
  assert.match(await read("LICENSE.Apache"), /Apache License/);
  assert.match(await read("entry.ts"), /npm:libphonenumber-js@1\.13\.17\/min/);
});
