/**
 * Phone search through a real server (issue 15): digits found at the start, at the end of a
 * number or of one of its groups as written, and in one canonical form under --region, so the
 * national and international spellings of one number find each other; the duplicate warning
 * of `add` uses the same form.
 */
import assert from "node:assert/strict";
import { type RpcConnection, runServerToExit, tempDir, TestServer } from "./helpers.ts";
import { runClient } from "./client_helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const BOOK = [
  { name: "Ann Lee", phones: [{ label: "", number: "555-9999" }] },
  { name: "Bo Berg", phones: [{ label: "work", number: "+44 20 7946 0958" }] },
  { name: "Cy Cole", phones: [{ label: "", number: "020 7946 0958" }] },
  { name: "Di Dunn", phones: [{ label: "", number: "+1 202 555 0123" }] },
];

async function names(rpc: RpcConnection, query: string): Promise<string[]> {
  const page: Json = await rpc.result("search", { query });
  return page.contacts.map((c: Json) => c.name);
}

Deno.test({
  name: "search by phone: the start, the end of a number or a group, without a region",
}, async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  for (const contact of BOOK) await rpc.result("add", { contact });
  assert.deepEqual(await names(rpc, "9999"), ["Ann Lee"]);
  assert.deepEqual(await names(rpc, "7946"), ["Bo Berg", "Cy Cole"]);
  assert.deepEqual(await names(rpc, "0958"), ["Bo Berg", "Cy Cole"]);
  assert.deepEqual(await names(rpc, "0123"), ["Di Dunn"]);
  assert.deepEqual(await names(rpc, "555 99"), ["Ann Lee"]); // the start, as before
  assert.deepEqual(await names(rpc, "794"), []);
  // Without a region, a number without a country code is compared as written.
  assert.deepEqual(await names(rpc, "020 7946 0958"), ["Cy Cole"]);
  assert.deepEqual(await names(rpc, "+44 20 7946 0958"), ["Bo Berg"]);
  // watch --query matches as search does.
  const watched = await rpc.result("watch", { query: "7946" });
  assert.equal(typeof watched.seq, "number");
  await rpc.result("add", {
    contact: { name: "Ed Eve", phones: [{ number: "+44 (0)20 7946 1111" }] },
  });
  const event: Json = JSON.parse((await rpc.readLine())!);
  assert.equal(event.params.name, "Ed Eve");
});

Deno.test({
  name: "search by phone with --region GB: the national and international spellings match",
}, async () => {
  await using server = await TestServer.start({ args: ["--region", "GB"] });
  using rpc = await server.connect();
  for (const contact of BOOK) await rpc.result("add", { contact });
  assert.deepEqual(await names(rpc, "020 7946 0958"), ["Bo Berg", "Cy Cole"]);
  assert.deepEqual(await names(rpc, "+44 20 7946 0958"), ["Bo Berg", "Cy Cole"]);
  assert.deepEqual(await names(rpc, "020 7946"), ["Bo Berg", "Cy Cole"]); // being typed
  assert.deepEqual(await names(rpc, "+1 202 555 0123"), ["Di Dunn"]);
  // The duplicate warning of add compares the same canonical form.
  const add = await runClient(["add", "Cy Cole", "--phone", "+44 20 7946 0958"], {
    server: `127.0.0.1:${server.port}`,
  });
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stderr, /Cy Cole may already have been in the book/);
});

Deno.test("ADDRESSBOOK_REGION sets the region; one the phone library does not know is refused", async () => {
  await using server = await TestServer.start({ env: { ADDRESSBOOK_REGION: "GB" } });
  using rpc = await server.connect();
  await rpc.result("add", { contact: BOOK[2] });
  assert.deepEqual(await names(rpc, "+44 20 7946 0958"), ["Cy Cole"]);
  await using data = await tempDir();
  const refused = await runServerToExit({ dataDir: data.path, args: ["--region", "UK"] });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /Region "UK" is not a region code the phone library knows/);
});
