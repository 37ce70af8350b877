/**
 * Issue 15 as a new user tries it, with the client task's exact flags against a real server:
 * a card exported from a phone or Google with an organisation, a title, a birthday, a web site
 * and two groups comes in through `import`, shows them in the card and in `get --json`, is
 * edited from flags, found by its organisation and by a group, and goes back out in vCard
 * 3.0, 4.0 and CSV with nothing lost.
 */
import assert from "node:assert/strict";
import { runClient } from "./client_helpers.ts";
import { TestServer } from "./helpers.ts";
import { parseVCards } from "../lib/formats/vcard.ts";
import { parseCsv } from "../lib/formats/csv.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A card as Google Contacts exports one (escaped URL colon, myContacts), folded, CRLF. */
const GOOGLE_CARD = [
  "BEGIN:VCARD",
  "VERSION:3.0",
  "FN:Ann Lee",
  "N:Lee;Ann;;;",
  "NICKNAME:Annie",
  "EMAIL;TYPE=INTERNET;TYPE=WORK:ann@acme.example",
  "TEL;TYPE=CELL:+44 7700 900123",
  "TEL;TYPE=WORK:555-0123",
  "ORG:Acme Ltd.;Research",
  "TITLE:Chief Engineer",
  "BDAY:--04-12",
  "item1.URL:https\\://ann.example/blog",
  "item1.X-ABLabel:Blog",
  "CATEGORIES:myContacts,Family,Chess club",
  "END:VCARD",
  "",
].join("\r\n");

const FIELDS = ["org", "title", "nickname", "birthday", "anniversary", "urls", "groups"];

Deno.test("a card with an organisation, title, birthday, web site and two groups, end to end", async () => {
  await using server = await TestServer.start();
  const client = (args: string[], stdin = "") =>
    runClient(args, { server: `127.0.0.1:${server.port}`, stdin });

  const imported = await client(["import", "-", "--json"], GOOGLE_CARD);
  assert.equal(imported.code, 0, imported.stdout + imported.stderr);
  const summary = JSON.parse(imported.stdout.trim());
  assert.equal(summary.added, 1);
  assert.deepEqual(summary.warnings, [], "nothing left out");

  // get --json: the fields, not extra.
  const got = await client(["get", "Ann Lee", "--json"]);
  assert.equal(got.code, 0, got.stderr);
  const ann: Json = JSON.parse(got.stdout);
  assert.deepEqual(
    [ann.org, ann.title, ann.nickname, ann.birthday, ann.urls, ann.groups],
    [
      "Acme Ltd.",
      "Chief Engineer",
      "Annie",
      "--04-12",
      [{ label: "Blog", url: "https://ann.example/blog" }],
      ["Family", "Chess club"],
    ],
  );
  assert.equal(ann.extra.vcard, undefined, "nothing kept as a raw line");

  // The card, for people.
  const card = await client(["get", "Ann Lee"]);
  for (
    const line of [
      "  Nickname  Annie",
      "  Work      Chief Engineer, Acme Ltd.",
      "  Web       https://ann.example/blog (Blog)",
      "  Birthday  04-12 (no year)",
      "  Groups    Family, Chess club",
    ]
  ) {
    assert.ok(card.stdout.includes(line + "\n"), `${line}\n${card.stdout}`);
  }

  // Found by its organisation and its nickname, and by group.
  // ... and by the last four digits of either number (0123 of 555-0123, 0123 of
  // +44 7700 900123), and a middle group (7700).
  for (const query of ["acme", "annie", "chess", "0123", "900123", "7700"]) {
    const found = await client(["search", query, "--json"]);
    assert.deepEqual(JSON.parse(found.stdout).contacts.map((c: Json) => c.id), [ann.id], query);
  }
  const inGroup = await client(["list", "--group", "family", "--json"]);
  assert.deepEqual(JSON.parse(inGroup.stdout).contacts.map((c: Json) => c.id), [ann.id]);
  const searchGroup = await client(["search", "--group", "Chess club", "ann", "--json"]);
  assert.deepEqual(JSON.parse(searchGroup.stdout).contacts.map((c: Json) => c.id), [ann.id]);
  const otherGroup = await client(["list", "--group", "Work"]);
  assert.equal(otherGroup.code, 1);
  assert.equal(otherGroup.stderr, 'addressbook: No contact is in the group "Work"\n');

  // Edited from flags: a list flag replaces the list, "" empties it.
  const edited = await client([
    "edit",
    "Ann Lee",
    "--title",
    "CTO",
    "--anniversary",
    "2005-06-30",
    "--url",
    "work:acme.example/ann",
    "--url",
    "https://ann.example/blog",
    "--group",
    "Family,Work",
    "--json",
  ]);
  assert.equal(edited.code, 0, edited.stderr);
  const after: Json = JSON.parse(edited.stdout);
  assert.deepEqual([after.title, after.anniversary, after.org], ["CTO", "2005-06-30", "Acme Ltd."]);
  assert.deepEqual(after.urls, [
    { label: "work", url: "https://acme.example/ann" },
    { label: "", url: "https://ann.example/blog" },
  ]);
  assert.deepEqual(after.groups, ["Family", "Work"]);
  const bad = await client(["edit", "Ann Lee", "--birthday", "1980-02-30"]);
  assert.equal(bad.code, 4, bad.stderr);
  assert.match(bad.stderr, /Birthday "1980-02-30" is not a date/);

  // Back out in vCard 3.0 and 4.0 and CSV, with nothing lost: each reads back the same.
  for (
    const [args, read] of [
      [["--format", "vcard", "--vcard-version", "3.0"], parseVCards],
      [["--format", "vcard", "--vcard-version", "4.0"], parseVCards],
      [["--format", "csv"], parseCsv],
    ] as const
  ) {
    const out = await client(["export", ...args]);
    assert.equal(out.code, 0, out.stderr);
    const back = read(out.stdout);
    assert.deepEqual(back.warnings, [], args.join(" "));
    const [copy] = back.contacts;
    for (const field of FIELDS) {
      assert.deepEqual((copy as Json)[field], after[field], `${args.join(" ")}: ${field}`);
    }
    if (args[1] === "vcard") {
      // The department came in with the organisation and goes back out with it.
      assert.ok(out.stdout.includes("\r\nORG:Acme Ltd.;Research\r\n"), out.stdout);
    }
  }

  // Added from flags too, and the menu's table shows the organisation.
  const added = await client([
    "add",
    "Bo Berg",
    "--org",
    "Contoso",
    "--nickname",
    "Bobo",
    "--birthday",
    "1980-04-12",
    "--url",
    "mailto:bo@contoso.example",
    "--group",
    "Work",
    "--json",
  ]);
  assert.equal(added.code, 0, added.stderr);
  const bo: Json = JSON.parse(added.stdout);
  assert.deepEqual([bo.org, bo.nickname, bo.birthday, bo.groups], [
    "Contoso",
    "Bobo",
    "1980-04-12",
    ["Work"],
  ]);
  const work = await client(["list", "--group", "work"]);
  assert.match(work.stdout, /Ann Lee/);
  assert.match(work.stdout, /Bo Berg/);
});
