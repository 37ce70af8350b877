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

/** The user fields, each with its empty value: what a contact holds when nothing is set. */
const EMPTY: Record<string, unknown> = {
  name: "",
  house: "",
  street: "",
  town: "",
  postcode: "",
  phones: [],
  emails: [],
  urls: [],
  org: "",
  title: "",
  nickname: "",
  birthday: "",
  anniversary: "",
  groups: [],
  notes: "",
  uid: "",
  extra: {},
};

/** UTF-8 bytes of the user fields of `contact` as compact JSON, absent ones empty. */
function userFieldsBytes(contact: Record<string, unknown>): number {
  const fields = Object.fromEntries(Object.keys(EMPTY).map((k) => [k, contact[k] ?? EMPTY[k]]));
  return new TextEncoder().encode(JSON.stringify(fields)).length;
}

Deno.test("a name that folds past 2,000 bytes (62 x U+FDFA) is refused naming it, not INTERNAL; one at the cap is found and removed", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const fdfa = "\ufdfa"; // one character; folded, 18 (33 bytes of UTF-8)
  // 62 characters, 2,046 bytes folded: the name index key would pass KV's 2,048.
  const error = assertBadRequest(
    await client.call("add", { contact: { name: fdfa.repeat(62) } }),
    "contact.name",
    2000,
  );
  assert.match(error.message, /2046 bytes of UTF-8 once folded/);
  assertBadRequest(
    await client.call("add", { contact: { name: "x".repeat(21) + fdfa.repeat(60) } }),
    "contact.name",
    2000,
  );
  // At the cap (2,000 bytes folded): stored, found and removed by name.
  const name = "x".repeat(20) + fdfa.repeat(60);
  const added = await client.result("add", { contact: { name } });
  assertBadRequest(
    await client.call("update", {
      id: added.id,
      version: added.version,
      contact: { name: fdfa.repeat(62) },
    }),
    "contact.name",
    2000,
  );
  const found = await client.result("find", { name });
  assert.deepEqual(found.contacts.map((c: { id: string }) => c.id), [added.id]);
  // A find or search whose folded text no stored name could have is answered, not INTERNAL.
  assert.deepEqual((await client.result("find", { name: fdfa.repeat(2000) })).contacts, []);
  const search = await client.result("search", { query: fdfa.repeat(2000) });
  assert.ok(Array.isArray(search.contacts));
  const removed = await client.result("remove", { name });
  assert.equal(removed.removed.id, added.id);
  await assertSound(client, 0);
});

Deno.test("extra nested deeper than 32 is refused naming it, not INTERNAL", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  // Nested 5,000 deep (10 KB, within extra's 16 KiB): KV's encoder overflowed its stack.
  const deep = "[".repeat(5000) + "]".repeat(5000);
  await client.send(
    `{"jsonrpc":"2.0","id":"deep","method":"add","params":{"contact":{"name":"Deep",` +
      `"extra":{"a":${deep}}}}}\n`,
  );
  assertBadRequest(await client.readJson(), "contact.extra", 32);
  await assertSound(client, 0);
});

Deno.test("a contact within 32 KiB that KV cannot keep in one value is refused, not INTERNAL", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  // Within 32 KiB of JSON, past KV's 64 KiB value as stored: ASCII text with one character
  // past U+00FF takes 2 bytes a character there, and each 0.5 of extra 9.
  const t = (n: number) => "Ā" + "a".repeat(n - 1);
  const wide = {
    name: t(200),
    house: t(1000),
    street: t(1000),
    town: t(1000),
    postcode: t(1000),
    uid: t(1000),
    notes: t(1000),
    phones: Array.from({ length: 12 }, () => ({ label: "", number: "5" + t(999) })),
    extra: { a: Array.from({ length: 3300 }, () => 0.5) },
  };
  assert.ok(userFieldsBytes(wide) <= 32768);
  const wideError = assertBadRequest(await client.call("add", { contact: wide }), "contact", 65536);
  assert.match(wideError.message, /as the store keeps it/);
  // The same text in Latin-1 takes a byte a character there: kept.
  const latin = JSON.parse(JSON.stringify(wide).replaceAll("Ā", "é"));
  assert.ok(userFieldsBytes(latin) <= 32768);
  await client.result("add", { contact: latin });
  await assertSound(client, 1);
});

Deno.test("the 32 KiB cap counts the user fields as compact JSON in UTF-8, server fields not: at the cap kept, a byte over refused", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const phones = Array.from({ length: 20 }, () => ({ label: "", number: "1".repeat(1000) }));
  const base = { name: "Big", phones, extra: { pad: "" } };
  const pad = 32768 - userFieldsBytes(base);
  const atCap = { ...base, extra: { pad: "é".repeat(pad >> 1) + "x".repeat(pad & 1) } };
  assert.equal(userFieldsBytes(atCap), 32768);
  // Sent with spaces to trim and without the empty fields: counted as stored.
  const sent = { ...atCap, name: "  Big  ", phones: phones.map(({ number }) => ({ number })) };
  const kept = await client.result("add", { contact: sent });
  assert.equal(userFieldsBytes(kept), 32768);
  const reply = new TextEncoder().encode(JSON.stringify(kept)).length;
  assert.ok(reply > 32768, `the reply, with id, version, created and updated: ${reply} bytes`);
  const over = { ...atCap, extra: { pad: atCap.extra.pad + "x" } };
  const error = assertBadRequest(await client.call("add", { contact: over }), "contact", 32768);
  assert.match(error.message, /32769 bytes/);
  assertBadRequest(
    await client.call("update", { id: kept.id, version: kept.version, contact: over }),
    "contact",
    32768,
  );
  await assertSound(client, 1);
});

Deno.test("watch with a since no seq can be says what since must be, not null", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  for (const since of ["1e999", "-1e999", "1.5", "-1", '"5"']) {
    await client.send(
      `{"jsonrpc":"2.0","id":1,"method":"watch","params":{"since":${since}}}\n`,
    );
    const error = assertBadRequest(await client.readJson(), "since");
    assert.match(error.message, /since must be a whole number from 0 to the last seq/, since);
    assert.doesNotMatch(error.message, /null/, since);
  }
});
