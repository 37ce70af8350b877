/**
 * Protected mode, tried without leaving loopback: `--require-auth` makes a loopback server
 * behave exactly as one bound to a LAN address (the address test is in lib/auth_test.ts).
 */
import assert from "node:assert/strict";
import { classic, runServerToExit, tempDir, TestServer } from "./helpers.ts";

const READ_TOKEN = "read-only-token-for-tests-0123";
const WRITE_TOKEN = "read-write-token-for-tests-0123";

function unauthorized(response: { error?: { code: number; data: { reason: string } } }) {
  assert.equal(response.error?.code, -32006, JSON.stringify(response));
  assert.equal(response.error?.data.reason, "UNAUTHORIZED");
}

Deno.test("protected mode: a generated token, printed once, stored with mode 0600", async () => {
  await using data = await tempDir();
  const dataDir = data.path;
  let token: string;
  {
    const server = await TestServer.start({ dataDir, args: ["--require-auth"] });
    try {
      const printed = server.logs.filter((line) => line.includes("shown only this once"));
      assert.equal(printed.length, 1, server.logs.join("\n"));
      token = (await Deno.readTextFile(`${dataDir}/token`)).trim();
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(printed[0]!.includes(token), "the printed token is the stored one");
      assert.match(printed[0]!, /To rotate it, stop the server, delete .*token and start again/);
      assert.equal((await Deno.stat(`${dataDir}/token`)).mode! & 0o777, 0o600);
      assert.ok(server.logs.some((line) => / listening on .*auth required/.test(line)));
    } finally {
      await server.close();
    }
  }
  {
    await using server = await TestServer.start({ dataDir, args: ["--require-auth"] });
    assert.ok(!server.logs.some((line) => line.includes(token)), "not printed a second time");
    using client = await server.connect();
    assert.deepEqual(await client.result("auth", { token }), { access: "read-write" });
  }
});

Deno.test("protected mode: only hello and auth before auth, then everything", async () => {
  await using server = await TestServer.start({
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN },
  });
  await assert.rejects(Deno.stat(`${server.dataDir}/token`), Deno.errors.NotFound);
  using client = await server.connect();
  assert.equal((await client.result("hello")).auth, true);
  for (const method of ["ping", "count", "list", "stats"]) {
    unauthorized(await client.call(method));
  }
  const add = await client.call("add", { contact: { name: "Eve" } });
  unauthorized(add);
  assert.match(add.error.message, /requires a token; call auth \{token\} before "add"/);
  assert.deepEqual(await client.result("auth", { token: WRITE_TOKEN }), {
    access: "read-write",
  });
  await client.result("add", { contact: { name: "Ada" } });
  assert.equal((await client.result("count")).count, 1);
  // Each connection authenticates on its own.
  using other = await server.connect();
  unauthorized(await other.call("count"));
});

Deno.test("protected mode: a failed auth is refused, delayed and logged with the peer", async () => {
  await using server = await TestServer.start({
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN },
  });
  using client = await server.connect();
  const { port } = client.conn.localAddr as Deno.NetAddr;
  const failed = await client.call("auth", { token: WRITE_TOKEN.slice(0, -1) + "X" });
  unauthorized(failed);
  assert.equal(failed.error.message, "Unauthorized: the token is not valid");
  assert.ok(
    server.logs.some((line) =>
      line.includes(`warn Connection 1 from 127.0.0.1:${port}: failed auth attempt 1 of 5`)
    ),
    server.logs.join("\n"),
  );
  unauthorized(await client.call("count"));
  assert.deepEqual(await client.result("auth", { token: WRITE_TOKEN }), {
    access: "read-write",
  });
});

Deno.test("protected mode: five failed auth attempts close the connection", async () => {
  await using server = await TestServer.start({
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN },
  });
  using client = await server.connect();
  // Pipelined: the server answers each after its pause, then closes.
  let lines = "";
  for (let id = 1; id <= 6; id++) {
    lines +=
      JSON.stringify({ jsonrpc: "2.0", id, method: "auth", params: { token: `wrong-${id}` } }) +
      "\n";
  }
  await client.send(lines);
  for (let id = 1; id <= 5; id++) {
    const reply = await client.readJson(20_000);
    assert.equal(reply.id, id);
    unauthorized(reply);
  }
  assert.equal(await client.closedByServer(20_000), true);
  assert.ok(await server.waitForLog(/closed: 5 failed auth attempts/));
});

Deno.test("protected mode: a read-only token reads but cannot write", async () => {
  await using server = await TestServer.start({
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN, ADDRESSBOOK_READ_TOKEN: READ_TOKEN },
  });
  using writer = await server.connect();
  await writer.result("auth", { token: WRITE_TOKEN });
  const ada = await writer.result("add", { contact: { name: "Ada Lovelace", town: "London" } });

  using reader = await server.connect();
  assert.deepEqual(await reader.result("auth", { token: READ_TOKEN }), { access: "read-only" });
  assert.equal((await reader.result("find", { name: "Ada Lovelace" })).contacts.length, 1);
  assert.equal((await reader.result("get", { id: ada.id })).name, "Ada Lovelace");
  assert.equal((await reader.result("search", { query: "london" })).contacts.length, 1);
  assert.equal((await reader.result("count")).count, 1);
  const writes: Array<[string, Record<string, unknown>]> = [
    ["add", { contact: { name: "Mallory" } }],
    ["update", { id: ada.id, version: ada.version, contact: { name: "Ada" } }],
    ["remove", { id: ada.id }],
  ];
  for (const [method, params] of writes) {
    const reply = await reader.call(method, params);
    unauthorized(reply);
    assert.match(reply.error.message, /read-only; ".*" needs the read-write token/);
  }
  assert.equal((await writer.result("count")).count, 1, "nothing changed");
  // The read-write token still upgrades a read-only connection.
  await reader.result("auth", { token: WRITE_TOKEN });
  assert.equal((await reader.result("remove", { id: ada.id })).removed.id, ada.id);
});

Deno.test("loopback without --require-auth needs no token (the simple case stays simple)", async () => {
  await using server = await TestServer.start({ env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN } });
  using client = await server.connect();
  assert.equal((await client.result("hello")).auth, false);
  assert.equal((await client.result("count")).count, 0);
  assert.deepEqual(await client.result("auth", { token: "anything-at-all" }), {
    access: "read-write",
  });
  assert.equal(
    await classic(server.port, "add:Bob,1 Main Street, Town, 555"),
    "Added entry for Bob",
  );
});

Deno.test("protected mode refuses the classic protocol; --classic-lan serves fnd: only", async () => {
  {
    await using server = await TestServer.start({
      args: ["--require-auth"],
      env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN },
    });
    assert.match(
      await classic(server.port, "fnd:Bob"),
      /^ERROR: The classic protocol is not served on this address because it cannot authenticate/,
    );
    assert.ok(server.logs.some((line) => line.includes("classic protocol refused")));
  }
  {
    await using server = await TestServer.start({
      args: ["--require-auth", "--classic-lan"],
      env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN },
    });
    using client = await server.connect();
    await client.result("auth", { token: WRITE_TOKEN });
    await client.result("add", {
      contact: { name: "Bob", house: "12", street: "High Street", town: "Springfield" },
    });
    assert.equal(await classic(server.port, "fnd:Bob"), "Bob: 12 High Street, Springfield");
    assert.equal(
      await classic(server.port, "add:Eve,1 Evil Road, Town, 666"),
      "ERROR: Read-only: only fnd: is served on this address, not add:",
    );
    assert.equal(
      await classic(server.port, "rem:Bob"),
      "ERROR: Read-only: only fnd: is served on this address, not rem:",
    );
    assert.equal((await client.result("count")).count, 1);
  }
});

Deno.test("a bad --token is refused at startup in one sentence", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  const { code, stderr } = await runServerToExit({
    dataDir,
    args: ["--require-auth", "--token", "short"],
  });
  assert.equal(code, 2);
  assert.match(stderr, /^addressbook: --token is shorter than 16 characters/m);
});

/** Compares a reply with the documented one; `"$_"` matches anything. */
function sameShape(expected: unknown, actual: unknown, path = "reply"): void {
  if (expected === "$_") return;
  if (typeof expected === "object" && expected !== null) {
    assert.ok(typeof actual === "object" && actual !== null, `${path}: expected an object`);
    const e = expected as Record<string, unknown>, a = actual as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${path}: keys differ`);
    for (const key of Object.keys(e)) sameShape(e[key], a[key], `${path}.${key}`);
    return;
  }
  assert.deepEqual(actual, expected, path);
}

Deno.test("PROTOCOL.md's protected-mode conversation holds against a real server", async () => {
  const text = await Deno.readTextFile(new URL("../PROTOCOL.md", import.meta.url));
  const blocks = [...text.matchAll(/```protected\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.equal(blocks.length, 1);
  await using server = await TestServer.start({
    args: ["--require-auth"],
    env: {
      ADDRESSBOOK_TOKEN: "rw-token-0123456789",
      ADDRESSBOOK_READ_TOKEN: "ro-token-0123456789",
    },
  });
  using client = await server.connect();
  for (const line of blocks[0]!.split("\n").filter(Boolean)) {
    if (line.startsWith("--> ")) await client.send(line.slice(4) + "\n");
    else if (line.startsWith("<-- ")) sameShape(JSON.parse(line.slice(4)), await client.readJson());
    else assert.fail(`neither --> nor <--: ${line}`);
  }
});
