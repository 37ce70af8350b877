import assert from "node:assert/strict";
import { dispatch, dispatchNow, GROUP_SCAN, standaloneContext } from "./methods.ts";
import { validateContact } from "../model/contact.ts";
import { ContactStore } from "../store/mod.ts";
import { tempDir } from "../../tests/helpers.ts";

Deno.test("dispatch() answers INTERNAL when the store fails, and leaks no detail", async () => {
  const store = await ContactStore.open(":memory:");
  const logged: string[] = [];
  const context = { ...standaloneContext(store) };
  context.log = { ...context.log, error: (m: string) => logged.push(m) };
  store.close(); // every KV call now throws
  const response = await dispatch(
    { id: 1, method: "add", params: { contact: { name: "Lost" } } },
    context,
  );
  assert.ok(response && "error" in response);
  assert.equal(response.error.code, -32603);
  assert.equal(response.error.data.reason, "INTERNAL");
  assert.doesNotMatch(response.error.message, /kv|Kv|closed/);
  assert.equal(logged.length, 1);
  assert.match(logged[0]!, /Internal error in add/);
});

Deno.test("dispatch() returns nothing for a notification, even one that fails", async () => {
  await using store = await ContactStore.open(":memory:");
  const context = standaloneContext(store);
  assert.equal(await dispatch({ method: "count", params: {} }, context), undefined);
  assert.equal(await dispatch({ method: "nope", params: {} }, context), undefined);
});

Deno.test("dispatch() refuses inherited names as methods", async () => {
  await using store = await ContactStore.open(":memory:");
  for (const method of ["toString", "__proto__", "constructor", "hasOwnProperty"]) {
    const response = await dispatch({ id: 1, method, params: {} }, standaloneContext(store));
    assert.ok(response && "error" in response);
    assert.equal(response.error.code, -32601, method);
  }
});

Deno.test("dispatch() remove takes id or name, not both", async () => {
  await using store = await ContactStore.open(":memory:");
  const response = await dispatch(
    { id: 1, method: "remove", params: { id: "01ARZ3NDEKTSV4RRFFQ69G5FAV", name: "x" } },
    standaloneContext(store),
  );
  assert.ok(response && "error" in response);
  assert.equal(response.error.data.field, "name");
  const neither = await dispatch({ id: 2, method: "remove", params: {} }, standaloneContext(store));
  assert.ok(neither && "error" in neither);
  assert.equal(neither.error.code, -32602);
  assert.equal(neither.error.message, "Invalid params: id or name is required");
  assert.equal(neither.error.data.field, "id");
});

Deno.test("dispatch() answers the model's validation errors as BAD_REQUEST naming the field", async () => {
  await using store = await ContactStore.open(":memory:");
  const long = await dispatch(
    { id: 1, method: "add", params: { contact: { name: "Al", town: "x".repeat(1001) } } },
    standaloneContext(store),
  );
  assert.ok(long && "error" in long);
  assert.equal(long.error.code, -32602);
  assert.equal(
    long.error.message,
    "Invalid params: contact.town is 1001 characters long, more than 1000",
  );
  assert.deepEqual(long.error.data, { reason: "BAD_REQUEST", field: "contact.town", limit: 1000 });
  const empty = await dispatch(
    { id: 2, method: "add", params: { contact: { name: " " } } },
    standaloneContext(store),
  );
  assert.ok(empty && "error" in empty);
  assert.equal(empty.error.message, "Invalid params: the contact's name is empty");
  assert.deepEqual(empty.error.data, { reason: "BAD_REQUEST", field: "contact.name" });
  assert.equal(await store.count(), 0);
});

Deno.test("dispatch() words a bad cursor as the other params errors", async () => {
  await using store = await ContactStore.open(":memory:");
  const response = await dispatch(
    { id: 1, method: "list", params: { cursor: "garbage" } },
    standaloneContext(store),
  );
  assert.ok(response && "error" in response);
  assert.equal(response.error.message, 'Invalid params: cursor "garbage" is not valid');
  assert.equal(response.error.data.field, "cursor");
});

Deno.test("dispatch() add with an id restores that id; an id in use is CONFLICT", async () => {
  await using store = await ContactStore.open(":memory:");
  const context = standaloneContext(store);
  const id = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
  const added = await dispatch(
    { id: 1, method: "add", params: { id, contact: { name: "Ann", id: "ignored" } } },
    context,
  );
  assert.ok(added && "result" in added);
  assert.equal((added.result as { id: string }).id, id);
  assert.equal((await store.get(id)).name, "Ann");
  assert.deepEqual((await store.find("ann")).contacts.map((c) => c.id), [id]);
  assert.equal(await store.count(), 1);

  const again = await dispatch(
    { id: 2, method: "add", params: { id, contact: { name: "Bob" } } },
    context,
  );
  assert.ok(again && "error" in again);
  assert.equal(again.error.data.reason, "CONFLICT");
  assert.equal((again.error.data.current as { name: string }).name, "Ann");
  assert.equal(await store.count(), 1);

  const bad = await dispatch(
    { id: 3, method: "add", params: { id: "not-an-id", contact: { name: "Eve" } } },
    context,
  );
  assert.ok(bad && "error" in bad);
  assert.equal(bad.error.data.field, "id");
  assert.equal(await store.count(), 1);
});

Deno.test("dispatchNow() gives dispatch()'s answer for view reads, and defers the rest", async () => {
  await using dir = await tempDir();
  const path = `${dir.path}/store.kv`;
  await using cached = await ContactStore.open(path);
  const context = standaloneContext(cached);
  const ann = await dispatch(
    { id: 0, method: "add", params: { contact: { name: "Ann Lee", town: "Leeds" } } },
    context,
  );
  assert.ok(ann && "result" in ann);
  const annId = (ann.result as { id: string }).id;
  const reads: Array<[string, Record<string, unknown>]> = [
    ["find", { name: "ann lee" }],
    ["find", { name: "Ann Lee", limit: 1, cursor: "not-a-cursor" }],
    ["find", { name: "" }],
    ["get", { id: annId }],
    ["get", { id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" }],
    ["get", { id: "nope" }],
    ["search", { query: "lee leeds" }],
    ["count", {}],
    ["hello", {}],
    ["ping", {}],
    ["find", { name: "Ann", extra: 1 }],
    ["nope", {}],
  ];
  for (const [method, params] of reads) {
    const now = dispatchNow({ id: 1, method, params }, context);
    assert.notEqual(now, false, method);
    assert.deepEqual(now, await dispatch({ id: 1, method, params }, context), method);
  }
  assert.equal(dispatchNow({ method: "count", params: {} }, context), undefined);
  for (const method of ["add", "update", "remove", "list", "export", "check", "auth", "watch"]) {
    assert.equal(dispatchNow({ id: 1, method, params: {} }, context), false, method);
  }
  // A store opened shared (as for KV Connect) has its view too: answered at once, the same.
  await using shared = await ContactStore.open(path, { shared: true });
  const sharedContext = standaloneContext(shared);
  for (const [method, params] of reads) {
    const now = dispatchNow({ id: 1, method, params }, sharedContext);
    assert.notEqual(now, false, method);
    assert.deepEqual(now, await dispatch({ id: 1, method, params }, context), method);
  }
});

Deno.test("dispatch() runs one check at a time per store: another meanwhile is BUSY", async () => {
  await using store = await ContactStore.open(":memory:");
  const context = standaloneContext(store);
  const first = dispatch({ id: 1, method: "check", params: {} }, context);
  const second = await dispatch({ id: 2, method: "check", params: {} }, context);
  assert.ok(second && "error" in second);
  assert.equal(second.error.data.reason, "BUSY");
  assert.match(second.error.message, /check is already running.*try again/);
  const report = await first;
  assert.ok(report && "result" in report);
  // Once it is done, the next check runs.
  const third = await dispatch({ id: 3, method: "check", params: {} }, context);
  assert.ok(third && "result" in third, JSON.stringify(third));
});

Deno.test("dispatch() does not run a check nobody will receive: a notification, a closed connection", async () => {
  const store = await ContactStore.open(":memory:");
  const logged: string[] = [];
  const context = { ...standaloneContext(store) };
  context.log = { ...context.log, error: (m: string) => logged.push(m) };
  store.close(); // a check that ran would now fail, and be logged
  assert.equal(await dispatch({ method: "check", params: {} }, context), undefined);
  assert.deepEqual(logged, []);
  await using open = await ContactStore.open(":memory:");
  const controller = new AbortController();
  controller.abort();
  const gone = { ...standaloneContext(open), log: context.log, signal: controller.signal };
  const response = await dispatch({ id: 1, method: "check", params: {} }, gone);
  assert.ok(response && "error" in response);
  assert.match(response.error.message, /Check abandoned/);
  assert.deepEqual(logged, []);
});

Deno.test("list and search with group: only the group's members, page by page, cursors kept", async () => {
  await using store = await ContactStore.open(":memory:");
  const context = standaloneContext(store);
  const call = async (method: string, params: Record<string, unknown>) => {
    const response = await dispatch({ id: 1, method, params }, context);
    assert.ok(response && "result" in response, JSON.stringify(response));
    return response.result as { contacts: Array<{ name: string }>; cursor: string | null };
  };
  // 30 members of Family among 60, a namesake ("Family Doctor") who is not one, and a member
  // spelled otherwise (accents and case).
  for (let i = 0; i < 60; i++) {
    const groups = i % 2 === 0 ? ["Family", "Chess"] : ["Work"];
    await store.add(validateContact({ name: `P${String(i).padStart(2, "0")}`, groups }));
  }
  await store.add(validateContact({ name: "Family Doctor", phones: [{ number: "555-9999" }] }));
  await store.add(
    validateContact({ name: "Zoë", groups: ["FAMÍLY"], phones: [{ number: "555 9999" }] }),
  );
  const names: string[] = [];
  let cursor: string | null = null;
  for (let round = 0; round < 10; round++) {
    const page = await call("list", { group: "family", limit: 7, ...(cursor ? { cursor } : {}) });
    assert.ok(page.contacts.length <= 7);
    names.push(...page.contacts.map((c) => c.name));
    cursor = page.cursor;
    if (cursor === null) break;
  }
  assert.equal(cursor, null);
  assert.deepEqual(names, [
    ...Array.from({ length: 30 }, (_, i) => `P${String(i * 2).padStart(2, "0")}`),
    "Zoë",
  ]);
  // search with group: the words narrowed to the members; a phone query filtered.
  const chess = await call("search", { query: "p1", group: "Family" });
  assert.deepEqual(chess.contacts.map((c) => c.name), ["P10", "P12", "P14", "P16", "P18"]);
  const phone = await call("search", { query: "555 99", group: "family" });
  assert.deepEqual(phone.contacts.map((c) => c.name), ["Zoë"]);
  const none = await call("search", { query: "555 99", group: "Work" });
  assert.deepEqual(none, { contacts: [], cursor: null });
  // The synchronous path answers the same.
  const now = dispatchNow(
    { id: 1, method: "search", params: { query: "555 99", group: "family" } },
    context,
  );
  assert.ok(now && "result" in now);
  assert.deepEqual(
    (now.result as { contacts: Array<{ name: string }> }).contacts.map((c) => c.name),
    ["Zoë"],
  );
  // An empty group name is refused naming the param.
  const bad = await dispatch({ id: 1, method: "list", params: { group: " " } }, context);
  assert.ok(bad && "error" in bad);
  assert.equal(bad.error.data.field, "group");
});

Deno.test("list with a group looks at no more than GROUP_SCAN contacts a call", async () => {
  await using store = await ContactStore.open(":memory:");
  const context = standaloneContext(store);
  // A group name without letters or digits has no words: its list is filtered page by page.
  for (let i = 0; i < GROUP_SCAN + 150; i++) {
    const groups = i === GROUP_SCAN + 100 ? ["#"] : [];
    await store.add(validateContact({ name: `N${String(i).padStart(5, "0")}`, groups }));
  }
  const first = await dispatch({ id: 1, method: "list", params: { group: "#" } }, context);
  assert.ok(first && "result" in first);
  const page1 = first.result as { contacts: unknown[]; cursor: string | null };
  assert.deepEqual(page1.contacts, []);
  assert.ok(page1.cursor !== null, "not the last page: a cursor to go on");
  const second = await dispatch({
    id: 2,
    method: "list",
    params: { group: "#", cursor: page1.cursor },
  }, context);
  assert.ok(second && "result" in second);
  const page2 = second.result as { contacts: Array<{ name: string }>; cursor: string | null };
  assert.deepEqual(page2.contacts.map((c) => c.name), [
    `N${String(GROUP_SCAN + 100).padStart(5, "0")}`,
  ]);
  assert.equal(page2.cursor, null);
});
