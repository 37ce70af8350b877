/**
 * Input validation against a real server process: text that is not well-formed Unicode, names
 * that fold to nothing or to more than a KV key holds, and the size caps, each refused
 * `BAD_REQUEST` naming the field (never `INTERNAL`), with `check` finding nothing wrong after.
 */
import assert from "node:assert/strict";
import { type RpcConnection, TestServer } from "./helpers.ts";

/** Asserts a BAD_REQUEST reply naming `field` (and `limit` when given); returns the error. */
// deno-lint-ignore no-explicit-any
function assertBadRequest(response: any, field: string, limit?: number) {
  const where = JSON.stringify(response).slice(0, 400);
  assert.ok(response.error, `expected an error: ${where}`);
  assert.equal(response.error.data?.reason, "BAD_REQUEST", where);
  assert.equal(response.error.data?.field, field, where);
  if (limit !== undefined) assert.equal(response.error.data?.limit, limit, where);
  return response.error;
}

/** Asserts `check` finds the store sound, with `contacts` contacts. */
async function assertSound(client: RpcConnection, contacts: number) {
  const report = await client.result("check");
  assert.deepEqual(report.problems, []);
  assert.equal(report.ok, true);
  assert.equal(report.contacts, contacts);
}

Deno.test("add and update refuse a lone surrogate in any text field, naming it; check stays ok", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const lone = "Lone\ud800x";
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ name: lone }, "contact.name"],
    [{ name: "A", house: lone }, "contact.house"],
    [{ name: "A", street: lone }, "contact.street"],
    [{ name: "A", town: lone }, "contact.town"],
    [{ name: "A", postcode: lone }, "contact.postcode"],
    [{ name: "A", notes: lone }, "contact.notes"],
    [{ name: "A", uid: lone }, "contact.uid"],
    [{ name: "A", phones: [{ label: lone, number: "1" }] }, "contact.phones[0].label"],
    [{ name: "A", phones: [{ number: "555\udc00" }] }, "contact.phones[0].number"],
    [{ name: "A", emails: [{ label: lone, address: "a@b" }] }, "contact.emails[0].label"],
    [{ name: "A", emails: [{ address: "a\ud800@b" }] }, "contact.emails[0].address"],
    [{ name: "A", extra: { [lone]: "key" } }, "contact.extra"],
    [{ name: "A", extra: { list: ["ok", lone] } }, "contact.extra.list[1]"],
  ];
  for (const [contact, field] of cases) {
    // JSON.stringify sends a lone surrogate as its \ud800 escape, the only way JSON can.
    const error = assertBadRequest(await client.call("add", { contact }), field);
    assert.match(error.message, /lone surrogate/);
  }
  const ann = await client.result("add", { contact: { name: "Ann 𠀀" } });
  for (const [contact, field] of cases) {
    assertBadRequest(
      await client.call("update", { id: ann.id, version: ann.version, contact }),
      field,
    );
  }
  // A lone surrogate in a read is answered, never INTERNAL: no stored name or word has one.
  const find = await client.result("find", { name: lone });
  assert.deepEqual(find.contacts, []);
  const search = await client.result("search", { query: "ann \ud800" });
  assert.deepEqual(search.contacts.map((c: { id: string }) => c.id), [ann.id]);
  const remove = await client.call("remove", { name: lone });
  assert.equal(remove.error?.data?.reason, "NOT_FOUND", JSON.stringify(remove));
  assert.equal((await client.result("count")).count, 1);
  await assertSound(client, 1);
});

Deno.test("a long word of characters outside the BMP is indexed by whole characters; check stays ok", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  // 33 UTF-16 units and more: cutting the word at 32 units would split a surrogate pair.
  const name = "a" + "𠀀".repeat(40);
  const added = await client.result("add", { contact: { name } });
  const found = await client.result("search", { query: "a" + "𠀀".repeat(31) });
  assert.deepEqual(found.contacts.map((c: { id: string }) => c.id), [added.id]);
  await assertSound(client, 1);
});

Deno.test("a name of only combining marks or spaces is refused, naming it; any other name can be found and removed", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  for (const name of ["\u0301\u0301", "\u00a8", " \u0301 \u0302 "]) {
    const error = assertBadRequest(await client.call("add", { contact: { name } }), "contact.name");
    assert.match(error.message, /a name needs a letter or digit/);
  }
  assert.equal((await client.result("count")).count, 0);
  for (const name of ["e\u0301", "!", "①"]) {
    const added = await client.result("add", { contact: { name } });
    const found = await client.result("find", { name });
    assert.deepEqual(found.contacts.map((c: { id: string }) => c.id), [added.id], name);
    const removed = await client.result("remove", { name });
    assert.equal(removed.removed.id, added.id);
  }
  await assertSound(client, 0);
});
