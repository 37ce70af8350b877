import assert from "node:assert/strict";
import { TestServer } from "./helpers.ts";
import { runClient } from "./client_helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A phone's export: cards without UID, one with a property the book keeps as it is. */
const PHONE_EXPORT = [
  "BEGIN:VCARD",
  "VERSION:3.0",
  "N:Lee;Ann;;;",
  "FN:Ann Lee",
  "TEL;TYPE=CELL:+44 20 7946 0958",
  "EMAIL;TYPE=HOME:ann@example.com",
  "ADR;TYPE=HOME:;;12 High Street;Springfield;;SP1 2AB;UK",
  "X-PHONETIC-FIRST-NAME:An",
  "END:VCARD",
  "BEGIN:VCARD",
  "VERSION:3.0",
  "N:Smith;Bob;;;",
  "FN:Bob Smith",
  "TEL:555-0123",
  "NOTE:Met at the chess club",
  "END:VCARD",
  "BEGIN:VCARD",
  "VERSION:3.0",
  "FN:Bob Smith",
  "TEL:555-0123",
  "NOTE:Met at the chess club",
  "END:VCARD",
  "",
].join("\r\n");

Deno.test("client import: the same file of cards without UID twice adds nothing the second time", async () => {
  await using server = await TestServer.start();
  const address = `127.0.0.1:${server.port}`;
  const first = await runClient(["import", "--json"], { server: address, stdin: PHONE_EXPORT });
  assert.equal(first.code, 0, first.stderr);
  const one: Json = JSON.parse(first.stdout);
  assert.equal(one.added, 3, first.stdout);

  const second = await runClient(["import", "--json"], { server: address, stdin: PHONE_EXPORT });
  assert.equal(second.code, 0, second.stderr);
  const two: Json = JSON.parse(second.stdout);
  assert.equal(two.added, 0, second.stdout);
  assert.equal(two.updated, 0, second.stdout);
  assert.equal(two.unchanged, 3, second.stdout);

  const count = await runClient(["count", "--json"], { server: address });
  assert.equal(JSON.parse(count.stdout).count, 3);

  // A card that differs from the stored one in a field is still added (no uid says which).
  const changed = PHONE_EXPORT.replace("NOTE:Met at the chess club", "NOTE:Moved away");
  const third = await runClient(["import", "--json"], { server: address, stdin: changed });
  const three: Json = JSON.parse(third.stdout);
  assert.equal(three.added, 1, third.stdout);
  assert.equal(three.unchanged, 2, third.stdout);
});

Deno.test("client import: a CSV without ids imported twice is unchanged the second time", async () => {
  await using server = await TestServer.start();
  const address = `127.0.0.1:${server.port}`;
  const csv = "name,town,phone\nCarol Jones,Capital City,555-0199\nDan Brown,Ogdenville,\n";
  const first: Json = JSON.parse(
    (await runClient(["import", "--json"], { server: address, stdin: csv })).stdout,
  );
  assert.equal(first.added, 2);
  const again = await runClient(["import", "--json"], { server: address, stdin: csv });
  const second: Json = JSON.parse(again.stdout);
  assert.equal(second.added, 0, again.stdout);
  assert.equal(second.unchanged, 2, again.stdout);
});
