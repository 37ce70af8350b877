/**
 * Integration tests: the real server process (started with the serve task's permission
 * flags, on port 0, with a temp data folder), real TCP, a real KV file.
 */
import assert from "node:assert/strict";
import { classic, hasPython, RpcConnection, serveCommand, tempDir, TestServer } from "./helpers.ts";

const encoder = new TextEncoder();

function contact(name: string, extra: Record<string, unknown> = {}) {
  return { name, ...extra };
}

Deno.test("server answers hello and ping over real TCP", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const hello = await client.result("hello");
  assert.deepEqual(hello, {
    server: "addressbook",
    version: hello.version,
    protocol: 1,
    connection: 1,
    auth: false,
    maxLine: 65536,
  });
  const ping = await client.result("ping");
  assert.equal(ping.connection, 1);
  assert.equal(ping.requests, 2);
  assert.match(ping.message, /connection number 1/);
  assert.ok(server.logs.some((line) => /info Connection 1 from 127\.0\.0\.1:\d+$/.test(line)));
});

Deno.test("every method works over TCP", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const added = await client.result("add", {
    contact: contact("Ann Smith", {
      house: "7",
      street: "Evergreen Terrace",
      town: "Springfield",
      postcode: "49007",
      phones: [{ label: "home", number: "555-0100" }],
      emails: [{ label: "work", address: "ann@example.com" }],
      notes: "Line one\nline two",
      uid: "urn:uuid:1234",
      extra: { bday: "1980-01-01" },
    }),
  });
  assert.match(added.id, /^[0-9A-Z]{26}$/);
  assert.equal(typeof added.version, "string");
  assert.equal(added.created, added.updated);
  assert.deepEqual(await client.result("get", { id: added.id }), added);
  assert.deepEqual((await client.result("find", { name: "ANN SMITH" })).contacts, [added]);
  for (const query of ["spring", "ann", "evergreen", "example", "555 0100", "smi ann"]) {
    const found = await client.result("search", { query });
    assert.deepEqual(found.contacts.map((c: { id: string }) => c.id), [added.id], query);
  }
  assert.deepEqual((await client.result("search", { query: "shelbyville" })).contacts, []);
  const updated = await client.result("update", {
    id: added.id,
    version: added.version,
    contact: { ...added, town: "Shelbyville" },
  });
  assert.equal(updated.town, "Shelbyville");
  assert.notEqual(updated.version, added.version);
  assert.equal(updated.created, added.created);
  assert.deepEqual((await client.result("search", { query: "spring" })).contacts, []);
  assert.equal((await client.result("search", { query: "shelby" })).contacts.length, 1);
  assert.deepEqual(await client.result("count"), { count: 1 });
  const stats = await client.result("stats");
  assert.deepEqual(stats.connections, { open: 1, total: 1 });
  assert.equal(stats.contacts, 1);
  assert.ok(stats.requests >= 12);
  assert.equal(typeof stats.uptime, "number");
  assert.deepEqual(await client.result("list"), { contacts: [updated], cursor: null });
  const removed = await client.result("remove", { id: added.id, version: updated.version });
  assert.deepEqual(removed, { removed: updated });
  assert.equal((await client.call("get", { id: added.id })).error.data.reason, "NOT_FOUND");
  assert.deepEqual(await client.result("count"), { count: 0 });
});

Deno.test("list and find page through every contact in name order", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  // 150 contacts pipelined in one write; 3 share a name.
  const names = Array.from({ length: 147 }, (_, i) => `Person ${String(i).padStart(3, "0")}`);
  names.push("Zed", "zed", "ZED");
  const lines = names.map((name, i) =>
    JSON.stringify({ jsonrpc: "2.0", id: i, method: "add", params: { contact: { name } } })
  );
  await client.send(lines.join("\n") + "\n");
  for (let i = 0; i < names.length; i++) assert.equal((await client.readJson()).id, i);

  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const page: { contacts: { name: string }[]; cursor: string | null } = await client.result(
      "list",
      { cursor, limit: 40 },
    );
    seen.push(...page.contacts.map((c) => c.name));
    cursor = page.cursor;
    pages++;
  } while (cursor !== null && pages < 10);
  assert.equal(pages, 4);
  assert.equal(seen.length, 150);
  assert.deepEqual(seen.slice(0, 147), names.slice(0, 147));

  const first = await client.result("find", { name: "zed", limit: 2 });
  assert.equal(first.contacts.length, 2);
  assert.equal(typeof first.cursor, "string");
  const second = await client.result("find", { name: "zed", cursor: first.cursor, limit: 2 });
  assert.equal(second.contacts.length, 1);
  assert.equal(second.cursor, null);
  const all = [...first.contacts, ...second.contacts].map((c: { name: string }) => c.name);
  assert.deepEqual(all.sort(), ["ZED", "Zed", "zed"]);

  const ambiguous = await client.call("remove", { name: "Zed" });
  assert.equal(ambiguous.error.code, -32003);
  assert.equal(ambiguous.error.data.candidates.length, 3);
  const limit = await client.result("list", { limit: 1000 });
  assert.equal(limit.contacts.length, 100);
  const badCursor = await client.call("list", { cursor: "not-a-cursor" });
  assert.equal(badCursor.error.data.field, "cursor");
});

Deno.test("100 pipelined requests in one write are answered in order", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const requests = Array.from({ length: 100 }, (_, i) =>
    JSON.stringify(
      i % 2
        ? { jsonrpc: "2.0", id: i, method: "add", params: { contact: { name: `P${i}` } } }
        : { jsonrpc: "2.0", id: i, method: "count" },
    ));
  await client.send(requests.join("\n") + "\n");
  for (let i = 0; i < 100; i++) {
    const reply = await client.readJson();
    assert.equal(reply.id, i);
    // Requests on one connection run in order: each count sees the adds before it.
    if (i % 2 === 0) assert.deepEqual(reply.result, { count: i / 2 });
    else assert.equal(reply.result.name, `P${i}`);
  }
});

Deno.test("a batch gets an array of responses, notifications none", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  await client.send(
    JSON.stringify([
      { jsonrpc: "2.0", id: "a", method: "add", params: { contact: { name: "Bob" } } },
      { jsonrpc: "2.0", method: "add", params: { contact: { name: "Bob" } } },
      { jsonrpc: "2.0", id: "c", method: "count" },
      42,
    ]) + "\n",
  );
  const replies = await client.readJson();
  assert.equal(replies.length, 3);
  assert.equal(replies[0].id, "a");
  assert.deepEqual(replies[1], { jsonrpc: "2.0", id: "c", result: { count: 2 } });
  assert.equal(replies[2].error.code, -32600);
  await client.send('[{"jsonrpc":"2.0","method":"ping"},{"jsonrpc":"2.0","method":"ping"}]\n');
  await client.send('{"jsonrpc":"2.0","id":"after","method":"ping"}\n');
  assert.equal((await client.readJson()).id, "after");
});

Deno.test("bad requests get clear errors and the connection stays open", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const cases: Array<[string, number, string | undefined]> = [
    ['{"jsonrpc":"2.0","id":1,"method":"find"', -32700, undefined],
    ['{"jsonrpc":"1.0","id":1,"method":"find"}', -32600, undefined],
    ['{"jsonrpc":"2.0","id":{"x":1},"method":"find"}', -32600, undefined],
    ['{"jsonrpc":"2.0","id":1,"method":"find","extra":1}', -32600, undefined],
    ['{"jsonrpc":"2.0","id":1,"method":"teleport"}', -32601, undefined],
    ['{"jsonrpc":"2.0","id":1,"method":"find"}', -32602, "name"],
    ['{"jsonrpc":"2.0","id":1,"method":"find","params":{"name":7}}', -32602, "name"],
    ['{"jsonrpc":"2.0","id":1,"method":"find","params":{"nmae":"Bob"}}', -32602, "nmae"],
    ['{"jsonrpc":"2.0","id":1,"method":"find","params":"Bob"}', -32602, "params"],
    ['{"jsonrpc":"2.0","id":1,"method":"get","params":{"id":"nope"}}', -32602, "id"],
    ['{"jsonrpc":"2.0","id":1,"method":"list","params":{"limit":-3}}', -32602, "limit"],
    ['{"jsonrpc":"2.0","id":1,"method":"add","params":{}}', -32602, "contact"],
    [
      '{"jsonrpc":"2.0","id":1,"method":"add","params":{"contact":{"name":""}}}',
      -32602,
      "contact.name",
    ],
    [
      '{"jsonrpc":"2.0","id":1,"method":"add","params":{"contact":{"name":"A","emails":[{"address":"no-at"}]}}}',
      -32602,
      "contact.emails[0].address",
    ],
    [
      `{"jsonrpc":"2.0","id":1,"method":"add","params":{"contact":{"name":"${"x".repeat(201)}"}}}`,
      -32602,
      "contact.name",
    ],
    [
      '{"jsonrpc":"2.0","id":1,"method":"update","params":{"id":"01ARZ3NDEKTSV4RRFFQ69G5FAV","version":"1","contact":{"name":"A"}}}',
      -32001,
      undefined,
    ],
  ];
  for (const [line, code, field] of cases) {
    await client.send(line + "\n");
    const reply = await client.readJson();
    assert.equal(reply.jsonrpc, "2.0");
    assert.equal(reply.error?.code, code, line);
    assert.equal(typeof reply.error.message, "string");
    assert.ok(reply.error.message.length > 10, reply.error.message);
    assert.ok(reply.error.data.reason, line);
    assert.equal(reply.error.data.field, field, line);
  }
  // Not UTF-8, and raw binary with a newline: parse errors, still open.
  await client.send(new Uint8Array([0xff, 0xfe, 0x00, 0x80, 10]));
  assert.equal((await client.readJson()).error.code, -32700);
  assert.equal((await client.result("count")).count, 0);
});

Deno.test("a 1 MiB line gets TOO_LARGE and a close; others keep being served", async () => {
  await using server = await TestServer.start();
  using other = await server.connect();
  using client = await server.connect();
  const huge = '{"jsonrpc":"2.0","id":1,"method":"find","params":{"name":"' + "x".repeat(1 << 20);
  client.send(huge + '"}}\n').catch(() => {}); // the server may close before all is written
  const reply = await client.readJson();
  assert.equal(reply.id, null);
  assert.equal(reply.error.code, -32004);
  assert.equal(reply.error.data.reason, "TOO_LARGE");
  assert.equal(reply.error.data.limit, 65536);
  assert.ok(await client.closedByServer());
  assert.equal((await other.result("ping")).connection, 1);
});

Deno.test("binary garbage without newlines is cut off at the line cap", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const garbage = new Uint8Array(200_000);
  for (let i = 0; i < garbage.length; i += 65536) {
    crypto.getRandomValues(garbage.subarray(i, Math.min(i + 65536, garbage.length)));
  }
  for (let i = 0; i < garbage.length; i++) if (garbage[i] === 10) garbage[i] = 0;
  garbage[0] = 0x7b; // "{": the JSON-RPC side, not a classic command word
  client.send(garbage).catch(() => {});
  assert.equal((await client.readJson()).error.data.reason, "TOO_LARGE");
  assert.ok(await client.closedByServer());
  using again = await server.connect();
  assert.equal((await again.result("count")).count, 0);
});

Deno.test("100 malformed lines in a row close the connection", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  await client.send("junk\n".repeat(150));
  let errors = 0;
  while (true) {
    const line = await client.readLine();
    if (line === null) break;
    assert.equal(JSON.parse(line).error.data.reason, "BAD_REQUEST");
    errors++;
  }
  assert.equal(errors, 101); // 100 parse errors, then one saying why the connection closes
  using other = await server.connect();
  assert.equal((await other.result("count")).count, 0);
});

Deno.test("200 concurrent clients each add and find their own contacts", async () => {
  await using server = await TestServer.start();
  const clients = 200, each = 3;
  await Promise.all(Array.from({ length: clients }, async (_, c) => {
    using client = await server.connect();
    for (let i = 0; i < each; i++) {
      const name = `Client ${c} contact ${i}`;
      const added = await client.result("add", { contact: { name, town: `Town${c}` } });
      const found = await client.result("find", { name });
      assert.deepEqual(found.contacts.map((x: { id: string }) => x.id), [added.id]);
    }
  }));
  using check = await server.connect();
  assert.equal((await check.result("count")).count, clients * each);
  const town = await check.result("search", { query: "town137" });
  assert.equal(town.contacts.length, each);
});

Deno.test("contacts survive a restart on the same data folder", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  const first = await TestServer.start({ dataDir });
  let id: string;
  {
    using client = await first.connect();
    id = (await client.result("add", { contact: { name: "Persistent Pat" } })).id;
  }
  assert.equal(await first.stop(), 0);
  await using second = await TestServer.start({ dataDir });
  using client = await second.connect();
  assert.equal((await client.result("get", { id })).name, "Persistent Pat");
  assert.equal((await client.result("count")).count, 1);
});

Deno.test("SIGTERM answers every request already read, then exits 0", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  const server = await TestServer.start({ dataDir });
  using client = await server.connect();
  const n = 300;
  const lines = Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id: i,
      method: "add",
      params: { contact: { name: `Inflight ${i}` } },
    }));
  await client.send(lines.join("\n") + "\n");
  const first = await client.readJson();
  assert.equal(first.id, 0);
  const stopped = server.stop("SIGTERM");
  const acknowledged = [first.result.id];
  while (true) {
    const line = await client.readLine();
    if (line === null) break;
    const reply = JSON.parse(line);
    assert.equal(reply.id, acknowledged.length); // in order, none skipped
    acknowledged.push(reply.result.id);
  }
  assert.equal(await stopped, 0);
  assert.ok(server.logs.some((line) => line.includes("SIGTERM: shutting down")));
  // Everything acknowledged is stored.
  await using again = await TestServer.start({ dataDir });
  using check = await again.connect();
  assert.equal((await check.result("count")).count, acknowledged.length);
  for (const id of acknowledged.slice(-5)) assert.ok((await check.result("get", { id })).name);
});

Deno.test("the connection cap answers BUSY and serves again once others leave", async () => {
  await using server = await TestServer.start({
    args: ["--max-connections", "2", "--max-per-peer", "2"],
  });
  using a = await server.connect();
  const b = await server.connect();
  await a.result("ping");
  await b.result("ping");
  using c = await server.connect();
  const busy = await c.readJson();
  assert.equal(busy.id, null);
  assert.equal(busy.error.code, -32005);
  assert.equal(busy.error.data.reason, "BUSY");
  assert.equal(busy.error.data.limit, 2);
  assert.ok(await c.closedByServer());
  b.close();
  // The server notices b's close asynchronously: retry a few times.
  let served = false;
  for (let attempt = 0; attempt < 50 && !served; attempt++) {
    using d = await server.connect();
    const reply = JSON.parse(
      await (async () => {
        await d.send('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
        return (await d.readLine()) ?? "{}";
      })(),
    );
    served = reply.result !== undefined;
    if (!served) await new Promise((r) => setTimeout(r, 20));
  }
  assert.ok(served);
});

Deno.test("an idle connection is closed after the idle timeout", async () => {
  await using server = await TestServer.start({ args: ["--idle-timeout", "1"] });
  using client = await server.connect();
  await client.result("ping");
  assert.ok(await client.closedByServer(10_000));
  assert.ok(await server.waitForLog(/Connection 1 closed: idle timeout/));
});

Deno.test("classic protocol: the tutorial's messages, no newline needed", async () => {
  await using server = await TestServer.start();
  const { port } = server;
  assert.equal(
    await classic(port, "add:Bob,12 High Street, Springfield, 555-0123"),
    "Added entry for Bob",
  );
  assert.equal(await classic(port, "fnd:Bob"), "Bob: 12 High Street, Springfield, 555-0123");
  assert.equal(
    await classic(port, "add:Bob,14 High Street, Springfield, 555-0124"),
    "Updated entry for Bob",
  );
  assert.equal(await classic(port, "fnd:bob"), "Bob: 14 High Street, Springfield, 555-0124");
  assert.equal(
    await classic(port, "add:Odd: Name,Lives at the mill, by the river"),
    "Added entry for Odd: Name",
  );
  assert.equal(await classic(port, "fnd:Odd: Name"), "Odd: Name: Lives at the mill, by the river");
  assert.equal(await classic(port, "xyz:foo"), "ERROR: Unrecognised command: xyz");
  assert.equal(await classic(port, "rem:Nobody"), "Sorry, no entry for Nobody");
  assert.equal(await classic(port, "fnd:Nobody"), "Sorry, no entry for Nobody");
  // Several newline-separated commands in one read are each answered.
  assert.equal(
    await classic(port, "add:Cat,1 Main Street, Ogdenville, 555-0001\nfnd:Cat\n"),
    "Added entry for Cat\nCat: 1 Main Street, Ogdenville, 555-0001\n",
  );
  // Two contacts with the same name (added over JSON-RPC) make rem: ambiguous.
  using client = await server.connect();
  await client.result("add", { contact: { name: "Cat", town: "Shelbyville" } });
  assert.equal(
    await classic(port, "rem:Cat"),
    "ERROR: 2 entries are named Cat; remove one with the client",
  );
  assert.equal(await classic(port, "rem:Bob"), "Removed entry for Bob");
  assert.equal(await classic(port, "fnd:Bob"), "Sorry, no entry for Bob");
  // The classic side and the JSON-RPC side see one store.
  const found = await client.result("find", { name: "Odd: Name" });
  assert.equal(found.contacts[0].notes, "Lives at the mill, by the river");
});

Deno.test("the tutorial's own client works against this server", {
  ignore: !hasPython(),
}, async () => {
  await using server = await TestServer.start();
  const script = new URL("./fixtures/tutorial_client.py", import.meta.url).pathname;
  const input = [
    "1",
    "Alice",
    "42",
    "Acacia Avenue",
    "Springfield",
    "555-0199",
    "3",
    "Alice",
    "2",
    "Alice",
    "3",
    "Alice",
    "4",
  ].join("\n") + "\n";
  const child = new Deno.Command("python3", {
    args: [script, String(server.port)],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(input));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(out, /Added entry for Alice/);
  assert.match(out, /Alice: 42 Acacia Avenue, Springfield, 555-0199/);
  assert.match(out, /Removed entry for Alice/);
  assert.match(out, /Sorry, no entry for Alice/);
});

Deno.test("an old-layout store is migrated; a newer one is refused", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  // A layout-1 store: records only, no indexes, no count, no layout key.
  const kv = await Deno.openKv(`${dataDir}/addressbook.kv`);
  const old = {
    id: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    name: "Olga Old",
    house: "",
    street: "Mill Lane",
    town: "Oldtown",
    postcode: "",
    phones: [{ label: "", number: "555-0042" }],
    emails: [],
    notes: "",
    uid: "",
    extra: {},
    created: "2020-01-01T00:00:00.000Z",
    updated: "2020-01-01T00:00:00.000Z",
  };
  await kv.set(["contacts", old.id], old);
  kv.close();
  {
    const server = await TestServer.start({ dataDir });
    assert.ok(server.logs.some((line) => line.includes("Migrated the store from layout 1 to 5")));
    const client = await server.connect();
    assert.equal((await client.result("count")).count, 1);
    assert.equal((await client.result("find", { name: "olga old" })).contacts[0].id, old.id);
    assert.equal((await client.result("search", { query: "oldt" })).contacts.length, 1);
    assert.equal((await client.result("search", { query: "5550042" })).contacts.length, 1);
    // The change log starts at the migration: the next change is seq 1.
    assert.deepEqual(await client.result("watch", {}), { seq: 0 });
    client.close();
    assert.equal(await server.stop(), 0);
  }
  // A layout-2 store (index rows, no change log): migrated to 5, its contacts kept, the log
  // started, the index rows gone.
  const two = await Deno.openKv(`${dataDir}/addressbook.kv`);
  await two.set(["meta", "layout"], 2);
  await two.delete(["changes_head"]);
  await two.set(["by_name", "olga old", old.id], null);
  await two.set(["by_word", "oldtown", old.id], "olga old");
  two.close();
  {
    const server = await TestServer.start({ dataDir });
    assert.ok(server.logs.some((line) => line.includes("Migrated the store from layout 2 to 5")));
    const client = await server.connect();
    assert.equal((await client.result("count")).count, 1);
    assert.deepEqual(await client.result("watch", {}), { seq: 0 });
    client.close();
    assert.equal(await server.stop(), 0);
  }
  const migrated = await Deno.openKv(`${dataDir}/addressbook.kv`);
  assert.equal((await migrated.get(["meta", "layout"])).value, 5);
  assert.equal((await migrated.get(["changes_head"])).value, 0);
  for (const index of ["by_name", "by_word"]) {
    for await (const row of migrated.list({ prefix: [index] })) assert.fail(String(row.key));
  }
  migrated.close();
  // A layout from the future: refused with a clear message, exit 1, no stack trace.
  const future = await Deno.openKv(`${dataDir}/addressbook.kv`);
  await future.set(["meta", "layout"], 99);
  future.close();
  const [cmd, ...args] = await serveCommand({ ADDRESSBOOK_DATA: dataDir });
  const result = await new Deno.Command(cmd!, {
    args: [...args, "--port", "0"],
    env: { ADDRESSBOOK_DATA: dataDir },
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(result.stderr);
  assert.equal(result.code, 1);
  assert.match(stderr, /has layout 99, newer than this server understands \(5\)/);
  assert.doesNotMatch(stderr, /\n\s+at /);
});

Deno.test("startup problems are one clear sentence, never a stack trace", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  const env = { ADDRESSBOOK_DATA: dataDir };
  const [cmd, ...args] = await serveCommand(env);
  const run = async (extra: string[]) => {
    const result = await new Deno.Command(cmd!, {
      args: [...args, ...extra],
      env,
      cwd: new URL("../", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: result.code,
      out: new TextDecoder().decode(result.stdout),
      err: new TextDecoder().decode(result.stderr),
    };
  };
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  for (
    const word of [
      "--host",
      "ADDRESSBOOK_HOST",
      "--port",
      "2007",
      "--data",
      "--db",
      "--max-connections",
      "1024",
      "--idle-timeout",
      "300",
      "--log-level",
      "--max-line",
    ]
  ) {
    assert.ok(help.out.includes(word), `--help lacks ${word}`);
  }
  const badPort = await run(["--port", "seventy"]);
  assert.equal(badPort.code, 2);
  assert.match(badPort.err, /--port "seventy" is not a whole number/);
  const badFlag = await run(["--colour"]);
  assert.equal(badFlag.code, 2);
  // A specific LAN address (TEST-NET-1: refused before any bind) needs ADDRESSBOOK_HOST.
  const lan = await run(["--port", "0", "--host", "192.0.2.10"]);
  assert.equal(lan.code, 1);
  assert.match(
    lan.err,
    /Not allowed to listen on 192\.0\.2\.10:0: run ADDRESSBOOK_HOST=192\.0\.2\.10 deno task serve/,
  );
  assert.doesNotMatch(lan.err, /\n\s+at /);
  // Port in use: start one server, then a second on its port.
  await using server = await TestServer.start();
  const clash = await run(["--port", String(server.port), "--db", ":memory:"]);
  assert.equal(clash.code, 1);
  assert.match(clash.err, /already in use/);
});

Deno.test("a connection that leaves mid-request does not disturb the server", async () => {
  await using server = await TestServer.start();
  for (let i = 0; i < 20; i++) {
    const conn = await RpcConnection.open(server.port);
    await conn.send('{"jsonrpc":"2.0","id":1,"method":"add","params":{"contact":{"name":"Half');
    if (i % 2) await conn.conn.closeWrite();
    conn.close();
  }
  using client = await server.connect();
  assert.equal((await client.result("count")).count, 0);
  assert.equal((await client.result("stats")).connections.total, 21);
});

Deno.test("a half-closed connection gets every reply, a last line without newline included", async () => {
  await using server = await TestServer.start();
  using conn = await RpcConnection.open(server.port);
  // As `printf '...' | nc -N host port` sends: the last request has no newline.
  await conn.send(
    '{"jsonrpc":"2.0","id":1,"method":"add","params":{"contact":{"name":"Ann"}}}\n' +
      '{"jsonrpc":"2.0","id":2,"method":"count"}',
  );
  await conn.conn.closeWrite();
  const replies: string[] = [];
  for (let line; (line = await conn.readLine()) !== null;) replies.push(line);
  assert.deepEqual(replies.map((line) => JSON.parse(line).id), [1, 2]);
  assert.deepEqual(JSON.parse(replies[1]!).result, { count: 1 });
});

Deno.test("the accept loop survives running out of file descriptors", async () => {
  await using dir = await tempDir();
  const env = { ADDRESSBOOK_DATA: dir.path };
  const command = await serveCommand(env);
  const quoted = [...command, "--port", "0"].map((a) => `'${a}'`).join(" ");
  // A hard limit of 64 descriptors: Deno cannot raise it, so accept() hits EMFILE.
  const server = new Deno.Command("bash", {
    args: ["-c", `ulimit -n 64 && exec ${quoted}`],
    env,
    cwd: new URL("../", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let logs = "";
  const conns: RpcConnection[] = [];
  try {
    while (!/listening on .*:(\d+) /.test(logs)) {
      const { value, done } = await stderr.read();
      if (done) throw new Error(`server exited: ${logs}`);
      logs += value;
    }
    const port = Number(/listening on .*:(\d+) /.exec(logs)![1]);
    for (let i = 0; i < 100; i++) conns.push(await RpcConnection.open(port));
    while (!logs.includes("Cannot accept a connection")) {
      const { value, done } = await stderr.read();
      if (done) break;
      logs += value;
    }
    assert.match(logs, /warn Cannot accept a connection/);
    for (const conn of conns.splice(0)) conn.close();
    // Once descriptors are free again, new clients are served.
    let served = false;
    for (let attempt = 0; attempt < 100 && !served; attempt++) {
      using client = await RpcConnection.open(port);
      served = await client.call("ping").then((r) => r.result !== undefined, () => false);
      if (!served) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(served, "the server did not serve again after running out of descriptors");
  } finally {
    for (const conn of conns) conn.close();
    server.kill("SIGTERM");
    assert.equal((await server.status).code, 0);
    await stderr.cancel();
  }
});

Deno.test("a client that never reads its replies is disconnected; others are served", async () => {
  await using server = await TestServer.start({ args: ["--write-timeout", "1"] });
  using setup = await server.connect();
  const big = "x".repeat(900);
  const adds = Array.from({ length: 100 }, (_, i) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id: i,
      method: "add",
      params: { contact: { name: `Wordy ${i}`, notes: big } },
    }));
  await setup.send(adds.join("\n") + "\n");
  for (let i = 0; i < 100; i++) await setup.readJson();
  // Each list reply is about 100 KiB; ask for 2,000 of them and read none.
  using greedy = await server.connect();
  const list = '{"jsonrpc":"2.0","id":1,"method":"list"}\n'.repeat(2000);
  greedy.send(list).catch(() => {}); // the server stops reading, then closes
  const closed = () => server.logs.some((l) => l.includes("client is not reading its replies"));
  for (let i = 0; i < 300 && !closed(); i++) {
    assert.equal((await setup.result("count")).count, 100); // still served meanwhile
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(closed(), "the server did not drop the client that does not read");
});
