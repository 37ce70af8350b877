/**
 * The vendored saxes bundle (the XML parser of the CardDAV door) is the npm package it was
 * bundled from: its files match the SHA-256 sums update.sh recorded, and it gives the same
 * events and the same errors as `npm:saxes@6.0.0` (pinned with its integrity in
 * tests/deno.lock) on WebDAV bodies and on hostile ones.
 */
import assert from "node:assert/strict";
import { assertVendorSums } from "./vendor_sums.ts";
import { SaxesParser as NpmParser } from "./saxes_npm.ts";
import { SaxesParser as VendoredParser } from "../vendor/saxes@6.0.0/saxes.js";

const FOLDER = new URL("../vendor/saxes@6.0.0/", import.meta.url);

const DOCUMENTS = [
  '<?xml version="1.0" encoding="utf-8"?><A:propfind xmlns:A="DAV:"><A:prop><A:getetag/>' +
  '<C:address-data xmlns:C="urn:ietf:params:xml:ns:carddav" version="4.0"/></A:prop></A:propfind>',
  '<propfind xmlns="DAV:"><allprop/></propfind>',
  '<x:a xmlns:x="urn:x">text &amp; &lt;more&gt; &#x263a; <![CDATA[<raw>]]></x:a>',
  '<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><l>&b;</l>',
  "<a><b></a>",
  "<a>&undefined;</a>",
  '<a xmlns:p="urn:p"><q:b/></a>',
  "",
  "<a/><b/>",
];

/** What a parser makes of a document: its events, or the first error. */
function events(Parser: typeof VendoredParser, text: string): string[] {
  const parser = new Parser({ xmlns: true, position: true });
  const seen: string[] = [];
  parser.on("opentag", (tag) => seen.push(`open ${tag.uri} ${tag.local}`));
  parser.on("closetag", (tag) => seen.push(`close ${tag.local}`));
  parser.on("text", (text) => seen.push(`text ${text}`));
  parser.on("cdata", (text) => seen.push(`cdata ${text}`));
  parser.on("doctype", (text) => seen.push(`doctype ${text}`));
  try {
    parser.write(text).close();
  } catch (error) {
    seen.push(`error ${(error as Error).message}`);
  }
  return seen;
}

Deno.test("the vendored saxes parses every document as the npm package does", () => {
  for (const text of DOCUMENTS) {
    assert.deepEqual(
      events(VendoredParser, text),
      events(NpmParser as unknown as typeof VendoredParser, text),
      text,
    );
  }
  // Entities a DTD defines are not expanded: "billion laughs" has nothing to grow.
  assert.ok(events(VendoredParser, DOCUMENTS[3]!).some((e) => e.startsWith("error ")));
});

Deno.test("the vendored saxes files match the SHA-256 sums update.sh recorded", async () => {
  await assertVendorSums(FOLDER, [
    "LICENSE",
    "LICENSE.xmlchars",
    "entry.ts",
    "saxes.d.ts",
    "saxes.js",
  ]);
  const bundle = await Deno.readTextFile(new URL("saxes.js", FOLDER));
  assert.match(bundle, /^\/\/ @ts-self-types="\.\/saxes\.d\.ts"\n/);
  // Nothing in it reaches outside the process: no imports, no Deno or network calls.
  assert.doesNotMatch(bundle, /^import |\bDeno\.|\bfetch\(|\brequire\("/m);
  assert.doesNotMatch(bundle, /\/root\/|\.cache\/deno/, "no build machine's paths");
  assert.match(await Deno.readTextFile(new URL("entry.ts", FOLDER)), /npm:saxes@6\.0\.0/);
});
