import assert from "node:assert/strict";
import {
  cardRows,
  differingFields,
  formatLabelled,
  importCounts,
  parseLabelled,
} from "./page_logic.ts";
import { APP_JS } from "./assets.ts";

Deno.test("parseLabelled() and formatLabelled() round-trip the editor's lines", () => {
  const rows = [
    { label: "mobile", value: "+44 7700 900123" },
    { label: "", value: "0113 496 0000" },
    { label: "work", value: "a@b.org" },
  ];
  assert.deepEqual(parseLabelled(formatLabelled(rows)), rows);
  // A URL's own colon is no label; blank lines and spaces go.
  assert.deepEqual(parseLabelled("  https://x.org/a  \n\n\t\n"), [
    { label: "", value: "https://x.org/a" },
  ]);
  // A "label" longer than a label can be is part of the value.
  const long = "x".repeat(60) + ": y";
  assert.deepEqual(parseLabelled(long), [{ label: "", value: long }]);
});

Deno.test("cardRows() lists the filled fields in order, text as given", () => {
  const rows = cardRows({
    name: "<b>Ann</b>",
    phones: [{ label: "", number: "1" }],
    emails: [{ label: "work", address: "<script>@x" }],
    urls: [{ label: "", url: "https://x.org" }],
    house: "12",
    street: "High St",
    town: "",
    postcode: "LS1",
    org: "Acme",
    birthday: "--04-12",
    groups: ["Family", "Work"],
    notes: "Line 1\nLine 2",
  });
  assert.deepEqual(rows, [
    ["Phone", "1"],
    ["Email (work)", "<script>@x"],
    ["Web", "https://x.org"],
    ["Address", "12, High St, LS1"],
    ["Organisation", "Acme"],
    ["Birthday", "04-12 (no year)"],
    ["Groups", "Family, Work"],
    ["Notes", "Line 1\nLine 2"],
  ]);
  assert.deepEqual(cardRows({ name: "Bare" }), []);
});

Deno.test("differingFields() names the user fields two versions disagree on", () => {
  const a = { name: "A", phones: [{ label: "", number: "1" }], town: "", notes: "x", version: "1" };
  const b = { name: "A", phones: [{ label: "", number: "2" }], notes: "x", version: "2" };
  assert.deepEqual(differingFields(a, b), ["phones"]);
  assert.deepEqual(differingFields(a, a), []);
});

Deno.test("importCounts() words an import's summary", () => {
  assert.equal(
    importCounts({ added: 1, updated: 2, unchanged: 3, skipped: [], warnings: [1, 2] }),
    "1 added, 2 updated, 3 unchanged, 0 skipped, 2 warnings",
  );
});

Deno.test("the page's module carries these functions and parses as a module", async () => {
  for (const name of ["parseLabelled", "formatLabelled", "cardRows", "differingFields"]) {
    assert.match(APP_JS, new RegExp(`function ${name}\\(`));
  }
  // Plain JavaScript: it must compile as a module (not run: it needs a DOM).
  assert.doesNotThrow(() =>
    new Function(`return async () => {${APP_JS.replace(/^\/\/.*$/m, "")}}`)
  );
  assert.doesNotMatch(APP_JS, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
  await Promise.resolve();
});
