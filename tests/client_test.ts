import assert from "node:assert/strict";
import { taskCommand, tempDir, TestServer } from "./helpers.ts";
import { clientCommand, ClientSession, runClient } from "./client_helpers.ts";
import { CLIENT_OPTIONS } from "../lib/client/config.ts";

const MENU_PROMPT = "Choose an option [1-7, q to quit]: ";

// deno-lint-ignore no-explicit-any
type Json = any;

function contact(fields: Record<string, unknown>) {
  return { contact: fields };
}

/** A port where nothing listens (it was free a moment ago). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

Deno.test("client menu: add, find, search, list, edit, delete among duplicates, quit (piped)", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const springfield = await rpc.result(
    "add",
    contact({
      name: "Bob Smith",
      house: "12",
      street: "High Street",
      town: "Springfield",
      phones: [{ number: "555-0123" }],
    }),
  );
  const shelbyville = await rpc.result("add", contact({ name: "Bob Smith", town: "Shelbyville" }));
  await rpc.result("add", contact({ name: "Carol", town: "Capital City" }));

  const input = [
    "9", // invalid
    "", // empty
    "1", // add
    "", // the name is required
    "Ann Lee",
    "7",
    "Low Road",
    "Ogdenville",
    "", // postcode
    "work: 555-7777",
    "not-an-email", // asked again
    "ann@example.com",
    "Acme",
    "Engineer",
    "",
    "1980-02-30", // asked again: no such day
    "--04-12",
    "",
    "ann.example",
    "Family, Chess club",
    "Met at the fair",
    "3", // find
    "ann lee",
    "5", // search
    "ogden",
    "4", // list: four entries make a table
    "2", // see the second in full
    "", // back
    "6", // edit
    "bob smith",
    "2", // the Shelbyville one (find sorts by id)
    "", // name kept
    "", // house kept (empty)
    "Elm Street",
    "", // town kept
    "", // postcode
    "mobile: 555-2222",
    "", // emails
    "", // organisation
    "", // job title
    "", // nickname
    "", // birthday
    "", // anniversary
    "", // web addresses
    "", // groups
    "", // notes
    "2", // delete
    "bob smith",
    "1", // the Springfield one
    "y",
    "7", // quit
  ].join("\n") + "\n";
  const result = await runClient([], { server: `127.0.0.1:${server.port}`, stdin: input });
  const out = result.stdout;
  assert.equal(result.code, 0, out + result.stderr);
  assert.equal(result.stderr, "");
  assert.match(out, /^Connected to addressbook \S+ at 127\.0\.0\.1:\d+: 3 entries\.$/m);
  for (const item of ["1) Add entry", "2) Delete entry", "3) Find entry", "4) List entries"]) {
    assert.ok(out.includes(`  ${item}\n`), item);
  }
  assert.ok(out.includes("  5) Search\n  6) Edit entry\n  7) Quit\n"));
  assert.ok(out.includes(`${MENU_PROMPT}9\nInvalid choice "9": choose a number from 1 to 7`));
  assert.ok(out.includes(`${MENU_PROMPT}\nPlease choose an option: a number from 1 to 7`));
  // Add, as the tutorial asked, then the optional fields.
  assert.ok(out.includes("Enter the name: \nThe name is required.\nEnter the name: Ann Lee\n"));
  for (
    const prompt of [
      "Enter the house number: 7",
      "Enter the street name: Low Road",
      "Enter the town: Ogdenville",
      "Enter the phone number: work: 555-7777",
      'Email address "not-an-email" is not valid; please try again.',
      "Enter the email address (optional): ann@example.com",
      "Enter the postcode (optional): ",
      "Enter the organisation (optional): Acme",
      "Enter the job title (optional): Engineer",
      'Birthday "1980-02-30" is not a date: write YYYY-MM-DD (1980-04-12), or --MM-DD without a year (--04-12); please try again.',
      "Enter the web address (optional): ann.example",
      "Enter the groups, Family, Work (optional): Family, Chess club",
      "Enter notes (optional): Met at the fair",
      "Added entry for Ann Lee.",
    ]
  ) {
    assert.ok(out.includes(prompt + "\n"), prompt);
  }
  // Find shows a card.
  assert.ok(
    out.includes(
      "Enter the name: ann lee\n\nAnn Lee\n  Work      Engineer, Acme\n" +
        "  Address   7 Low Road, Ogdenville\n  Phone     555-7777 (work)\n" +
        "  Email     ann@example.com\n  Web       https://ann.example\n" +
        "  Birthday  04-12 (no year)\n  Groups    Family, Chess club\n" +
        "  Notes     Met at the fair\n",
    ),
  );
  assert.ok(out.includes("Search for: ogden\n\nAnn Lee\n"));
  // List: a numbered table, then a card on request.
  assert.match(out, /^ {2}# {2}Name {7}Organisation {2}Address +Phone +Email$/m);
  assert.match(out, /^ {2}1 {2}Ann Lee {4}Acme {10}7 Low Road, Ogdenville/m);
  assert.match(out, /^ {2}4 {2}Carol {20}Capital City$/m);
  assert.ok(out.includes("4 entries. Number: see an entry · Enter: back: 2\n\nBob Smith\n"));
  // Edit picks among the two Bobs.
  assert.ok(out.includes("2 entries are named bob smith:\n"));
  assert.ok(out.includes("  1) Bob Smith · 12 High Street, Springfield · 555-0123\n"));
  assert.ok(out.includes("  2) Bob Smith · Shelbyville\n"));
  assert.ok(out.includes("Town [Shelbyville]: \n"));
  assert.ok(out.includes("Saved Bob Smith.\n"));
  assert.ok(out.includes("Delete Bob Smith? [y/N]: y\nDeleted entry for Bob Smith.\n"));
  assert.ok(out.endsWith(`${MENU_PROMPT}7\nBye.\n`), out.slice(-200));

  // What the server holds now.
  const list = await rpc.result("list");
  assert.deepEqual(list.contacts.map((c: Json) => c.name), ["Ann Lee", "Bob Smith", "Carol"]);
  const ann = list.contacts[0];
  assert.equal(ann.house, "7");
  assert.equal(ann.street, "Low Road");
  assert.equal(ann.town, "Ogdenville");
  assert.deepEqual(ann.phones, [{ label: "work", number: "555-7777" }]);
  assert.deepEqual(ann.emails, [{ label: "", address: "ann@example.com" }]);
  assert.equal(ann.notes, "Met at the fair");
  assert.deepEqual([ann.org, ann.title, ann.birthday], ["Acme", "Engineer", "--04-12"]);
  assert.deepEqual(ann.urls, [{ label: "", url: "https://ann.example" }]);
  assert.deepEqual(ann.groups, ["Family", "Chess club"]);
  const bob = list.contacts[1];
  assert.equal(bob.id, shelbyville.id);
  assert.equal(bob.street, "Elm Street");
  assert.equal(bob.town, "Shelbyville");
  assert.deepEqual(bob.phones, [{ label: "mobile", number: "555-2222" }]);
  const gone = await rpc.call("get", { id: springfield.id });
  assert.equal(gone.error.data.reason, "NOT_FOUND");
});

Deno.test("client menu: the end of input quits cleanly, even mid-question", async () => {
  await using server = await TestServer.start();
  const result = await runClient([], {
    server: `127.0.0.1:${server.port}`,
    stdin: "1\nZed\n",
  });
  assert.equal(result.code, 0);
  assert.equal(result.stderr, "");
  assert.ok(result.stdout.endsWith("Enter the house number: \nBye.\n"), result.stdout);
  using rpc = await server.connect();
  assert.equal((await rpc.result("count")).count, 0, "nothing half-added");
});

Deno.test("client menu in a real terminal: prompts render, Ctrl-C quits cleanly", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  await rpc.result("add", contact({ name: "Bob", town: "Springfield" }));
  await using session = await ClientSession.start([], {
    server: `127.0.0.1:${server.port}`,
    terminal: true,
  });
  const first = await session.waitFor(MENU_PROMPT);
  assert.match(first, /Connected to addressbook \S+ at 127\.0\.0\.1:\d+: 1 entry\./);
  assert.ok(first.includes("  1) Add entry\n"), first);
  assert.ok(first.includes("  7) Quit\n"), first);
  await session.send("3\n");
  await session.waitFor("Enter the name: ");
  await session.send("bob\n");
  const found = await session.waitFor(MENU_PROMPT);
  // The terminal echoes what was typed; the client does not echo it a second time.
  assert.ok(found.startsWith("bob\n\nBob\n  Address  Springfield\n"), JSON.stringify(found));
  await session.send("\x03"); // Ctrl-C, turned into SIGINT by the terminal
  await session.waitFor("Bye.");
  assert.equal(await session.finish(), 0);
  assert.doesNotMatch(session.output, /error|at .*\.ts:\d+/i);
});

Deno.test("client menu: a conflict during edit offers re-edit, mine and theirs", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const bob = await rpc.result("add", contact({ name: "Bob", town: "Springfield" }));
  await using session = await ClientSession.start([], { server: `127.0.0.1:${server.port}` });

  /** Starts editing Bob; once the client has read him, someone else changes him. */
  const editWhileTheyChange = async (theirs: Record<string, unknown>) => {
    await session.waitFor(MENU_PROMPT);
    await session.send("6\n");
    await session.waitFor("Enter the name of the entry to edit: ");
    await session.send("Bob\n");
    await session.waitFor("Name [Bob]: ");
    const current = await rpc.result("get", { id: bob.id });
    const { id: _i, version, created: _c, updated: _u, ...fields } = current;
    await rpc.result("update", { id: bob.id, version, contact: { ...fields, ...theirs } });
  };

  // 1: re-edit their version.
  await editWhileTheyChange({ town: "Shelbyville" });
  await session.send("\n\n\nOgdenville\n\n\n\n" + "\n".repeat(7) + "mine\n"); // town, notes
  const conflict = await session.waitFor("[m/t/r]: ");
  assert.ok(conflict.includes("Someone else changed Bob while you were editing it:\n"), conflict);
  assert.match(conflict, /^\s+Yours\s+Theirs \(saved now\)$/m);
  assert.match(conflict, /^ {2}Town\s+Ogdenville\s+Shelbyville$/m);
  assert.match(conflict, /^ {2}Notes\s+mine\s+\(empty\)$/m);
  await session.send("x\n");
  await session.waitFor("Invalid choice");
  await session.waitFor("[m/t/r]: ");
  await session.send("r\n");
  await session.waitFor("Name [Bob]: ");
  await session.send("\n".repeat(14) + "re-edited\n"); // keep all but the notes
  const saved = await session.waitFor("Saved Bob.");
  assert.ok(saved.includes("Town [Shelbyville]: "), saved);
  let now = await rpc.result("get", { id: bob.id });
  assert.equal(now.town, "Shelbyville");
  assert.equal(now.notes, "re-edited");

  // 2: keep mine.
  await editWhileTheyChange({ notes: "theirs" });
  await session.send("\n\n\nMy Town\n\n\n\n" + "\n".repeat(7) + "\n");
  await session.waitFor("[m/t/r]: ");
  await session.send("m\n");
  await session.waitFor("Saved Bob.");
  now = await rpc.result("get", { id: bob.id });
  assert.equal(now.town, "My Town");
  assert.equal(now.notes, "re-edited", "mine replaces theirs whole");

  // 3: keep theirs.
  await editWhileTheyChange({ town: "Their Town" });
  await session.send("\n\n\nAnother Town\n\n\n\n" + "\n".repeat(7) + "\n");
  await session.waitFor("[m/t/r]: ");
  await session.send("t\n");
  await session.waitFor("Kept their version of Bob.");
  now = await rpc.result("get", { id: bob.id });
  assert.equal(now.town, "Their Town");

  await session.waitFor(MENU_PROMPT);
  await session.send("q\n");
  assert.equal(await session.finish(), 0);
});

Deno.test("client menu: a server that goes away is reported, and the menu reconnects", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  await using first = await TestServer.start({ dataDir });
  const port = first.port;
  {
    using rpc = await first.connect();
    await rpc.result("add", contact({ name: "Bob", town: "Springfield" }));
  }
  await using session = await ClientSession.start([], { server: `127.0.0.1:${port}` });
  await session.waitFor(MENU_PROMPT);
  await first.close();
  await session.send("4\n");
  const lost = await session.waitFor("Reconnect? [Y/n]: ");
  assert.match(lost, /^Cannot reach the server at "127\.0\.0\.1:\d+": connection refused\.$/m);
  assert.ok(!lost.includes("may not have been saved"), "nothing was under way");
  await session.send("y\n"); // still down
  const down = await session.waitFor("Reconnect? [Y/n]: ");
  assert.match(down, /Cannot reach the server at "127\.0\.0\.1:\d+": connection refused\./);
  await using second = await TestServer.start({ dataDir, args: ["--port", String(port)] });
  await session.send("\n"); // yes is the default
  await session.waitFor("Reconnected to 127.0.0.1:");
  await session.waitFor(MENU_PROMPT);
  await session.send("4\n");
  const list = await session.waitFor(MENU_PROMPT);
  assert.ok(list.includes("Bob\n  Address  Springfield\n"), list);
  await second.stop();
  await session.send("4\n");
  await session.waitFor("Reconnect? [Y/n]: ");
  await session.send("n\n");
  await session.waitFor("Bye.");
  assert.equal(await session.finish(), 3);
});

Deno.test("client menu: its watching connection outlives the idle timeout; after a restart, the next action reconnects", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  await using first = await TestServer.start({ dataDir, args: ["--idle-timeout", "1"] });
  {
    using rpc = await first.connect();
    await rpc.result("add", contact({ name: "Bob", town: "Springfield" }));
  }
  await using session = await ClientSession.start([], { server: `127.0.0.1:${first.port}` });
  await session.waitFor(MENU_PROMPT);
  // Another connection, idle as long as the menu, is closed; the menu's (subscribed) is not.
  using idle = await first.connect();
  await idle.result("ping");
  assert.ok(await idle.closedByServer(20_000));
  await session.send("4\n");
  const listed = await session.waitFor(MENU_PROMPT);
  assert.ok(!listed.includes("reconnected"), listed);
  // A restart closes it: the next action reconnects quietly and says so.
  await first.stop();
  await using _second = await TestServer.start({ dataDir, args: ["--port", String(first.port)] });
  await session.send("4\n");
  const list = await session.waitFor(MENU_PROMPT);
  assert.match(
    list,
    /^\(The server had closed the connection; reconnected to 127\.0\.0\.1:\d+\.\)$/m,
  );
  assert.ok(list.includes("Bob\n  Address  Springfield\n"), list);
  assert.ok(!list.includes("Reconnect?"), list);
  await session.send("q\n");
  assert.equal(await session.finish(), 0);
});

Deno.test("client subcommands with --json: add, get, find, search, list, edit, rm, count, stats, ping", async () => {
  await using server = await TestServer.start();
  const address = `127.0.0.1:${server.port}`;
  const run = async (args: string[], expectedCode = 0) => {
    const result = await runClient([...args, "--json"], { server: address });
    assert.equal(result.code, expectedCode, `${args.join(" ")}: ${result.stdout}${result.stderr}`);
    return result;
  };
  const json = async (args: string[], expectedCode = 0): Promise<Json> =>
    JSON.parse((await run(args, expectedCode)).stdout);

  const bob = await json([
    "add",
    "--name",
    "Bob Smith",
    "--house",
    "12",
    "--street",
    "High Street",
    "--town",
    "Springfield",
    "--postcode",
    "SP1 2AB",
    "--phone",
    "mobile:555-0123",
    "--phone",
    "555-0199",
    "--email",
    "bob@example.com",
    "--notes",
    "Likes tea",
  ]);
  assert.match(bob.id, /^[0-9A-Z]{26}$/);
  assert.equal(bob.name, "Bob Smith");
  assert.equal(bob.postcode, "SP1 2AB");
  assert.deepEqual(bob.phones, [
    { label: "mobile", number: "555-0123" },
    { label: "", number: "555-0199" },
  ]);
  assert.deepEqual(bob.emails, [{ label: "", address: "bob@example.com" }]);
  assert.equal(typeof bob.version, "string");
  const jose = await json(["add", "José", "Núñez", "--town", "Zürich"]);
  assert.equal(jose.name, "José Núñez");

  assert.deepEqual(await json(["get", bob.id]), bob);
  assert.deepEqual(await json(["get", "josé núñez"]), jose);

  const found = await json(["find", "bob smith"]);
  assert.deepEqual(found, { contacts: [bob], cursor: null });
  const searched = await json(["search", "jose"]);
  assert.deepEqual(searched.contacts.map((c: Json) => c.id), [jose.id]);
  assert.deepEqual((await json(["search", "555 01"])).contacts.map((c: Json) => c.id), [bob.id]);

  const page1 = await json(["list", "--limit", "1"]);
  assert.equal(page1.contacts.length, 1);
  assert.equal(page1.contacts[0].id, bob.id);
  assert.equal(typeof page1.cursor, "string");
  const page2 = await json(["list", "--limit", "1", "--cursor", page1.cursor]);
  assert.deepEqual(page2.contacts.map((c: Json) => c.id), [jose.id]);

  const edited = await json(["edit", bob.id, "--town", "Shelbyville", "--phone", ""]);
  assert.equal(edited.town, "Shelbyville");
  assert.deepEqual(edited.phones, []);
  assert.equal(edited.street, "High Street", "fields not given are kept");
  assert.equal(edited.notes, "Likes tea");
  assert.notEqual(edited.version, bob.version);

  assert.deepEqual(await json(["count"]), { count: 2 });
  const stats = await json(["stats"]);
  assert.equal(stats.contacts, 2);
  assert.ok(stats.connections.total >= 10);
  assert.equal(typeof stats.uptime, "number");

  const pings = (await run(["ping", "--count", "3", "--interval", "0"])).stdout.trim().split("\n")
    .map((line) => JSON.parse(line));
  assert.equal(pings.length, 3);
  assert.deepEqual(pings.map((p) => p.seq), [1, 2, 3]);
  for (const ping of pings) {
    assert.equal(ping.message, `Thank you! Processed connection number ${ping.connection}`);
    assert.equal(typeof ping.ms, "number");
  }
  assert.equal(pings[1].connection, pings[0].connection + 1, "each ping on a new connection");
  assert.equal(pings[2].connection, pings[1].connection + 1);

  // rm: by id; by an ambiguous name (refused, with the candidates); by a unique name.
  await json(["add", "Twin", "--town", "A"]);
  await json(["add", "Twin", "--town", "B"]);
  const ambiguous = await run(["rm", "Twin"], 4);
  const refusal = JSON.parse(ambiguous.stdout);
  assert.equal(refusal.error.data.reason, "AMBIGUOUS");
  assert.equal(refusal.error.data.candidates.length, 2);
  assert.match(
    ambiguous.stderr,
    /^addressbook: 2 contacts are named "Twin"; remove one by id \(AMBIGUOUS\)$/m,
  );
  assert.match(ambiguous.stderr, /^ {2}[0-9A-Z]{26} {2}Twin · A$/m);
  const removed = await json(["rm", jose.id]);
  assert.equal(removed.removed.id, jose.id);
  assert.equal((await json(["rm", "bob smith"])).removed.id, bob.id);
  assert.deepEqual(await json(["count"]), { count: 2 });

  // Nothing found: exit 1, with the result (or the error) still printed as JSON.
  assert.deepEqual(await json(["find", "nobody"], 1), { contacts: [], cursor: null });
  assert.deepEqual(await json(["search", "zzz"], 1), { contacts: [], cursor: null });
  const missing = await json(["get", bob.id], 1);
  assert.equal(missing.error.data.reason, "NOT_FOUND");
  assert.equal((await json(["edit", "nobody", "--town", "X"], 1)).error.data.reason, "NOT_FOUND");
  // The server refuses: exit 4, its reason printed.
  const bad = await run(["add", "Bad", "--phone", "none"], 4);
  assert.equal(JSON.parse(bad.stdout).error.data.field, "contact.phones[0].number");
  assert.match(bad.stderr, /Phone number "none" has no digits \(BAD_REQUEST\)/);
  assert.equal((await json(["get", "Twin"], 4)).error.data.reason, "AMBIGUOUS");
});

Deno.test("client subcommands print for people without --json", async () => {
  await using server = await TestServer.start();
  const address = `127.0.0.1:${server.port}`;
  const added = await runClient(["add", "Bob", "--town", "Springfield", "--phone", "555-0123"], {
    server: address,
  });
  assert.equal(added.code, 0);
  assert.match(added.stdout, /^Added Bob \(id [0-9A-Z]{26}\)\n$/);
  const got = await runClient(["get", "bob"], { server: address });
  assert.match(
    got.stdout,
    /^Bob\n {2}Address {2}Springfield\n {2}Phone {4}555-0123\n {2}Id {7}\S+\n$/,
  );
  assert.equal((await runClient(["count"], { server: address })).stdout, "1 contact\n");
  const ping = await runClient(["ping"], { server: address });
  assert.match(ping.stdout, /^Thank you! Processed connection number \d+ \([\d.]+ ms\)\n$/);
  const none = await runClient(["find", "nobody"], { server: address });
  assert.equal(none.code, 1);
  assert.equal(none.stdout, "");
  assert.equal(none.stderr, 'addressbook: No contact is named "nobody"\n');
});

Deno.test("client: an unreachable server gets one sentence and exit code 3", async () => {
  const port = closedPort();
  const expected =
    `addressbook: Cannot reach the server at "127.0.0.1:${port}": connection refused; ` +
    `start a server with "deno task serve", or point to a running one with --host and --port ` +
    `(or ADDRESSBOOK_SERVER=host:port)\n`;
  for (const args of [[], ["list", "--json"], ["ping", "--count", "2", "--interval", "0"]]) {
    const result = await runClient(args, { server: `127.0.0.1:${port}` });
    assert.equal(result.code, 3, args.join(" "));
    if (args[0] !== "ping") {
      assert.equal(result.stderr, expected, args.join(" "));
      assert.equal(result.stdout, "");
    } else {
      assert.equal(result.stderr, expected + expected, "each ping reports its own failure");
    }
  }
  // The flags beat ADDRESSBOOK_SERVER.
  const flags = await runClient(["--host", "127.0.0.1", "--port", String(port), "count"], {
    server: "127.0.0.1:1",
  });
  assert.equal(flags.code, 3);
  assert.equal(flags.stderr, expected);
});

Deno.test("client: usage errors exit 2; --help and --version exit 0", async () => {
  const server = "127.0.0.1:1";
  const bad = await runClient(["frobnicate"], { server });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^addressbook: Unknown command "frobnicate"; commands are add, get/);
  assert.equal((await runClient(["count", "--port", "x"], { server })).code, 2);
  const help = await runClient(["--help"], { server });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Exit codes:/);
  assert.match(help.stdout, /--timeout SECONDS/);
  const version = await runClient(["--version"], { server });
  assert.match(version.stdout, /^addressbook client \d+\.\d+\.\d+\n$/);
});

Deno.test("the client task has least privilege: net, its own variables, a CA file if named", async () => {
  const [, ...flags] = await clientCommand();
  const env = "--allow-env=ADDRESSBOOK_SERVER,ADDRESSBOOK_TOKEN,ADDRESSBOOK_TLS,ADDRESSBOOK_CA";
  assert.deepEqual(flags, ["run", "--no-prompt", "--allow-net", env, "client.ts"]);
  const [, ...withCa] = await clientCommand({ ADDRESSBOOK_CA: "/etc/addressbook/ca.pem" });
  assert.deepEqual(withCa, [
    "run",
    "--no-prompt",
    "--allow-net",
    "--allow-read=/etc/addressbook/ca.pem",
    env,
    "client.ts",
  ]);
  for (const flag of [...flags, ...withCa]) {
    assert.doesNotMatch(
      flag,
      /^(-A|--allow-all|--allow-run|--allow-ffi|--allow-sys|--allow-write|--allow-read$)/,
    );
  }
});

Deno.test("the client task grants exactly the variables --help documents", async () => {
  const documented = CLIENT_OPTIONS.flatMap((o) => o.env.match(/ADDRESSBOOK_\w+/g) ?? []);
  for (const task of ["client", "compile:client"]) {
    const argv = await taskCommand(task, {});
    const granted = argv.find((w) => w.startsWith("--allow-env="))?.slice(12).split(",");
    assert.deepEqual(granted?.sort(), [...new Set(documented)].sort(), task);
  }
  const help = (await runClient(["--help"], { server: "127.0.0.1:1" })).stdout;
  for (const name of documented) assert.ok(help.includes(`env ${name}`), name);
});
