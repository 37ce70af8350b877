import assert from "node:assert/strict";
import { isClassicStart, parseClassic, parseDetails, runClassic } from "./classic.ts";
import { standaloneContext } from "./methods.ts";
import { blankContact } from "../model/contact.ts";
import { ContactStore } from "../store/mod.ts";

Deno.test({
  name: "parseClassic() splits on the first colon and the first comma",
  permissions: "none",
  fn() {
    assert.deepEqual(parseClassic("add:A: B,x, y"), { op: "add", name: "A: B", details: "x, y" });
    assert.deepEqual(parseClassic("add:Solo"), { op: "add", name: "Solo", details: "" });
    assert.deepEqual(parseClassic("fnd:a:b"), { op: "fnd", name: "a:b" });
    assert.deepEqual(parseClassic("zap:x"), { op: "unknown", command: "zap" });
    assert.deepEqual(parseClassic("ADD:x"), { op: "unknown", command: "ADD" });
  },
});

Deno.test({
  name: "parseDetails() reads the tutorial's shape and keeps anything else as notes",
  permissions: "none",
  fn() {
    assert.deepEqual(parseDetails(" High Street, Springfield, 555"), {
      house: "",
      street: "High Street",
      town: "Springfield",
      phones: [{ label: "", number: "555" }],
    });
    assert.deepEqual(parseDetails("somewhere"), { notes: "somewhere" });
    assert.deepEqual(parseDetails("a, b, no phone"), { notes: "a, b, no phone" });
    assert.deepEqual(parseDetails(""), {});
  },
});

Deno.test({
  name: "isClassicStart() tells classic from JSON-RPC",
  permissions: "none",
  fn() {
    assert.ok(isClassicStart("add:x"));
    assert.ok(isClassicStart("xyz:"));
    assert.ok(!isClassicStart('{"jsonrpc"'));
    assert.ok(!isClassicStart("[1]"));
    assert.ok(!isClassicStart("add"));
  },
});

Deno.test("runClassic() answers bad input with the tutorial's errors", async () => {
  await using store = await ContactStore.open(":memory:");
  const context = standaloneContext(store);
  assert.equal(await runClassic("fnd:", context), "ERROR: The name is empty");
  assert.equal(await runClassic("add:,x", context), "ERROR: The contact's name is empty");
  assert.equal(
    await runClassic(`add:${"n".repeat(300)},x`, context),
    "ERROR: The name is 300 characters long, more than 200",
  );
  assert.equal(await runClassic("hello", context), "ERROR: Unrecognised command: hello");
});

Deno.test("runClassic() goes through the methods' access checks: a read-only session only finds", async () => {
  await using store = await ContactStore.open(":memory:");
  await store.add({ ...blankContact("Bob"), town: "Springfield" });
  const context = {
    ...standaloneContext(store),
    session: {
      required: true,
      access: "read" as const,
      authenticate: () => Promise.reject(new Error("no auth on classic")),
    },
  };
  assert.equal(await runClassic("fnd:Bob", context), "Bob: Springfield");
  assert.equal(
    await runClassic("add:Eve,1 Evil Road, Town", context),
    "ERROR: Read-only: only fnd: is served on this address, not add:",
  );
  assert.equal(
    await runClassic("rem:Bob", context),
    "ERROR: Read-only: only fnd: is served on this address, not rem:",
  );
  assert.equal(await store.count(), 1);
});
