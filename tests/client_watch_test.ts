/**
 * `client watch` and the menu's notes, with the client task's exact flags against real
 * server processes.
 */
import assert from "node:assert/strict";
import { tempDir, TestServer } from "./helpers.ts";
import { ClientSession, runClient } from "./client_helpers.ts";

const MENU_PROMPT = "Choose an option [1-7, q to quit]: ";

// deno-lint-ignore no-explicit-any
type Json = any;

/** The JSON lines (stdout) among the session's output, which also holds stderr. */
function jsonLines(output: string): Json[] {
  return output.split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line));
}

Deno.test("client watch --json prints changes, reconnects after a restart, and misses none", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  await using first = await TestServer.start({ dataDir });
  const port = first.port;
  {
    using rpc = await first.connect();
    await rpc.result("add", { contact: { name: "Ann" } });
  }
  await using session = await ClientSession.start(["watch", "--json", "--since", "0"], {
    server: `127.0.0.1:${port}`,
  });
  await session.waitFor('"name":"Ann"'); // replayed from the log
  using rpc = await first.connect();
  const bob = await rpc.result("add", { contact: { name: "Bob" } });
  await session.waitFor('"name":"Bob"');
  rpc.close();
  await first.stop();
  await session.waitFor("reconnecting");
  await using second = await TestServer.start({ dataDir, args: ["--port", String(port)] });
  using again = await second.connect();
  // Changes while the client may still be away: it resumes after the last seq it printed.
  await again.result("update", {
    id: bob.id,
    version: bob.version,
    contact: { name: "Bob", town: "Springfield" },
  });
  await again.result("remove", { name: "Ann" });
  await session.waitFor('"type":"removed"');
  // The notice goes to stderr and the events to stdout: two pipes, read in either order.
  for (let i = 0; i < 400 && !session.output.includes("resuming after seq"); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.match(
    session.output,
    /addressbook: reconnected to 127\.0\.0\.1:\d+; resuming after seq 2/,
  );
  const events = jsonLines(session.output);
  assert.deepEqual(events.map((e) => [e.seq, e.type, e.name]), [
    [1, "added", "Ann"],
    [2, "added", "Bob"],
    [3, "updated", "Bob"],
    [4, "removed", "Ann"],
  ]);
  assert.deepEqual(Object.keys(events[1]).sort(), ["id", "name", "seq", "type", "version"]);
  assert.equal(events[1].version, bob.version);
});

Deno.test("client watch --query prints matching changes for people; a stale --since is refused", async () => {
  await using server = await TestServer.start();
  const address = `127.0.0.1:${server.port}`;
  {
    await using session = await ClientSession.start(["watch", "--query", "spring"], {
      server: address,
    });
    await session.waitFor(`Watching ${address} for changes matching "spring" after seq 0`);
    using rpc = await server.connect();
    await rpc.result("add", { contact: { name: "Bob", town: "Shelbyville" } });
    const ann = await rpc.result("add", { contact: { name: "Ann", town: "Springfield" } });
    const line = await session.waitFor(`(id ${ann.id})`);
    assert.match(line, /^2 {2}added {4}Ann {2}\(id \w+\)$/m);
    assert.ok(!session.output.includes("Bob"), session.output);
  }
  const ahead = await runClient(["watch", "--since", "99"], { server: address });
  assert.equal(ahead.code, 4);
  assert.match(ahead.stderr, /Since 99 is ahead of the change log, which ends at 2; reload/);
  assert.match(ahead.stderr, /\(BAD_REQUEST\)/);
  const usage = await runClient(["watch", "--since", "soon"], { server: address });
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--since "soon" is not a whole number/);
});

Deno.test("client menu: a note when a contact on screen is changed or deleted elsewhere", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const bob = await rpc.result("add", { contact: { name: "Bob Smith", town: "Springfield" } });
  const ann = await rpc.result("add", { contact: { name: "Ann Lee", town: "Ogdenville" } });
  await using session = await ClientSession.start([], { server: `127.0.0.1:${server.port}` });
  await session.waitFor(MENU_PROMPT);
  await session.send("4\n"); // list: both on screen
  await session.waitFor(MENU_PROMPT);
  await rpc.result("update", {
    id: bob.id,
    version: bob.version,
    contact: { name: "Robert Smith", town: "Springfield" },
  });
  await rpc.result("remove", { id: ann.id });
  await rpc.result("add", { contact: { name: "Cy Young" } }); // not on screen: no note
  // The notes come before the next prompt once the changes reach the client (they are
  // pushed, so a prompt may come first: ask again, a bounded number of times).
  let notes = "";
  for (let i = 0; i < 20 && !/Ann Lee was just deleted/.test(notes); i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    await session.send("\n");
    notes += await session.waitFor(MENU_PROMPT);
  }
  assert.match(
    notes,
    /\(Note: Bob Smith was just changed by someone else; it is now named Robert Smith; Find or List shows it as it is now\.\)/,
  );
  assert.match(notes, /\(Note: Ann Lee was just deleted by someone else\.\)/);
  assert.ok(!notes.includes("Cy Young"), notes);
  // The menu's own changes are not news.
  await session.send("6\n");
  await session.waitFor("Enter the name of the entry to edit: ");
  await session.send("Robert Smith\n");
  for (let i = 0; i < 15; i++) {
    await session.waitFor(": ");
    await session.send(i === 3 ? "Shelbyville\n" : "\n");
  }
  await session.waitFor("Saved Robert Smith.");
  await session.send("\n");
  const after = await session.waitFor(MENU_PROMPT);
  assert.ok(!after.includes("Note:"), after);
  await session.send("q\n");
  assert.equal(await session.finish(), 0);
});
