/**
 * Likely duplicates on add: the `add` subcommand warns, the menu's Add offers to merge. A real
 * server process and the client with the exact flags of `deno task client`, stdin piped.
 */

import assert from "node:assert/strict";
import { runClient } from "./client_helpers.ts";
import { TestServer } from "./helpers.ts";

const MERGE_ONE = "Merge into it [m], add anyway [a], or cancel [c]? [m/a/c]: ";

Deno.test("client add warns of a likely duplicate on standard error, and adds it", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const bob = await rpc.result("add", {
    contact: { name: "Bob Smith", town: "Springfield", phones: [{ number: "555-0123" }] },
  });
  const serverAddress = `127.0.0.1:${server.port}`;
  const result = await runClient(
    ["add", "bob smith", "--phone", "work:(555) 012-3", "--json"],
    { server: serverAddress },
  );
  assert.equal(result.code, 0, result.stderr);
  const added = JSON.parse(result.stdout);
  assert.equal(added.name, "bob smith", "standard output is the contact alone");
  assert.equal(
    result.stderr,
    "addressbook: bob smith may already have been in the book (added all the same):\n" +
      `  ${bob.id}  Bob Smith · Springfield · 555-0123 (same name and phone "(555) 012-3")\n`,
  );
  // Same name, nothing shared: no warning.
  const other = await runClient(["add", "Bob Smith", "--phone", "555-9999"], {
    server: serverAddress,
  });
  assert.equal(other.code, 0);
  assert.equal(other.stderr, "");
  assert.equal((await rpc.result("count")).count, 3);
});

Deno.test("client menu: Add finds a likely duplicate and merges into it, adds anyway, or cancels", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const bob = await rpc.result("add", {
    contact: {
      name: "Bob Smith",
      street: "High Street",
      town: "Springfield",
      phones: [{ label: "", number: "555-0123" }],
      notes: "Neighbour",
    },
  });
  const addBob = (phone: string, email: string, notes: string) => [
    "1",
    "BOB SMITH",
    "", // house
    "", // street
    "", // town
    "", // postcode
    phone,
    email,
    ...Array.from({ length: 7 }, () => ""), // organisation ... groups
    notes,
  ];
  const input = [
    ...addBob("mobile: 555-0199, (555) 012-3", "bob@example.com", "Plays chess"),
    "x", // invalid
    "m",
    ...addBob("555 0123", "", ""), // nothing new
    "m",
    ...addBob("555-0123", "", ""),
    "c",
    ...addBob("555-0123", "", ""),
    "a",
    ...addBob("555-0123", "b2@example.com", ""), // now two likely duplicates
    "2",
    "7",
  ].join("\n") + "\n";
  const result = await runClient([], { server: `127.0.0.1:${server.port}`, stdin: input });
  const out = result.stdout;
  assert.equal(result.code, 0, out + result.stderr);
  assert.ok(
    out.includes(
      "BOB SMITH may already be in the book:\n" +
        '  1) Bob Smith · High Street, Springfield · 555-0123 (same name and phone "(555) 012-3")\n' +
        MERGE_ONE + "x\n" +
        'Invalid choice "x": m merges, a adds anyway, c cancels.\n' + MERGE_ONE + "m\n",
    ),
    out,
  );
  assert.ok(
    out.includes(
      "Merged into Bob Smith: added phone 555-0199 (mobile), email bob@example.com, the notes.\n",
    ),
    out,
  );
  assert.ok(out.includes("Bob Smith already has all of that: nothing changed.\n"));
  assert.ok(out.includes(MERGE_ONE + "c\nNot added.\n"));
  assert.ok(out.includes("Added entry for BOB SMITH.\n"));
  assert.ok(out.includes("Merge into one [1-2], add anyway [a], or cancel [c]? 2\n"), out);

  const stored = (await rpc.result("find", { name: "bob smith" })).contacts;
  assert.equal(stored.length, 2, "one merge target, one added anyway");
  const merged = await rpc.result("get", { id: bob.id });
  assert.deepEqual(merged.phones, [
    { label: "", number: "555-0123" },
    { label: "mobile", number: "555-0199" },
  ]);
  assert.deepEqual(merged.emails, [{ label: "", address: "bob@example.com" }]);
  assert.equal(merged.notes, "Neighbour\nPlays chess");
  assert.equal(merged.street, "High Street");
  const second = stored.find((c: { id: string }) => c.id !== bob.id);
  assert.deepEqual(second.phones, [{ label: "", number: "555-0123" }]);
  assert.deepEqual(
    second.emails,
    [{ label: "", address: "b2@example.com" }],
    "the last Add merged its email into the second entry",
  );
});
