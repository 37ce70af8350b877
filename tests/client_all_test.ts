import assert from "node:assert/strict";
import { TestServer } from "./helpers.ts";
import { runClient } from "./client_helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test("client list/find/search --all: every match once, --json as JSON Lines; without it one page and a cursor", async () => {
  await using server = await TestServer.start();
  await using rpc = await server.connect();
  const total = 260;
  const ids = new Set<string>();
  for (let i = 0; i < total; i++) {
    const name = i % 2 === 0 ? "Sam Even" : `Person ${String(i).padStart(3, "0")}`;
    const added: Json = await rpc.result("add", {
      contact: { name, town: i < 130 ? "Springfield" : "Shelbyville" },
    });
    ids.add(added.id);
  }
  const address = `127.0.0.1:${server.port}`;

  const all = await runClient(["list", "--all", "--json"], { server: address });
  assert.equal(all.code, 0, all.stderr);
  const lines = all.stdout.trimEnd().split("\n");
  assert.equal(lines.length, total);
  const seen = new Set(lines.map((line) => (JSON.parse(line) as Json).id as string));
  assert.equal(seen.size, total);
  assert.deepEqual([...seen].sort(), [...ids].sort());
  assert.equal(all.stderr, "");

  // --limit sets the page size of the requests; --all still reads to the end.
  const small = await runClient(["list", "--all", "--json", "--limit", "7"], { server: address });
  assert.equal(small.stdout.trimEnd().split("\n").length, total);

  const found = await runClient(["find", "Sam Even", "--all", "--json"], { server: address });
  assert.equal(found.code, 0, found.stderr);
  assert.equal(found.stdout.trimEnd().split("\n").length, total / 2);

  const searched = await runClient(["search", "shelbyville", "--all", "--json"], {
    server: address,
  });
  assert.equal(searched.stdout.trimEnd().split("\n").length, total - 130);

  // For people: one table, numbered on from page to page, its header once.
  const table = await runClient(["list", "--all"], { server: address });
  assert.equal(table.code, 0, table.stderr);
  const rows = table.stdout.trimEnd().split("\n");
  assert.equal(rows.filter((row) => /^\s+#\s+Name/.test(row)).length, 1);
  assert.ok(rows.some((row) => row.trimStart().startsWith(`${total}  `)), rows.at(-1));

  // Without --all: the first page and the cursor on standard error, as before.
  const page = await runClient(["list", "--json"], { server: address });
  const object: Json = JSON.parse(page.stdout);
  assert.equal(object.contacts.length, 100);
  assert.equal(typeof object.cursor, "string");

  const none = await runClient(["search", "nowhere", "--all", "--json"], { server: address });
  assert.equal(none.code, 1);
  assert.equal(none.stdout, "");
});
