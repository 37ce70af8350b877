/**
 * The client against a locked-down server, as a new user meets it: TLS with a self-signed
 * certificate made by openssl as the README says, protected mode (`--require-auth` makes a
 * loopback server behave as one on a LAN address) with read-write and read-only tokens. The
 * client always runs with the exact flags of `deno task client`.
 */
import assert from "node:assert/strict";
import { makeCertificate, tempDir, TestServer } from "./helpers.ts";
import { ClientSession, runClient } from "./client_helpers.ts";

const WRITE_TOKEN = "read-write-token-for-tests-0123";
const READ_TOKEN = "read-only-token-for-tests-0123";
const MENU_PROMPT = "Choose an option [1-7, q to quit]: ";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A protected TLS server: cert.pem and key.pem in its data folder, both tokens set. */
async function lockedServer(
  dataDir: string,
  args: string[] = [],
): Promise<TestServer> {
  return await TestServer.start({
    dataDir,
    args: ["--require-auth", ...args],
    env: { ADDRESSBOOK_TOKEN: WRITE_TOKEN, ADDRESSBOOK_READ_TOKEN: READ_TOKEN },
  });
}

Deno.test("client over TLS: --tls with ADDRESSBOOK_CA naming the file, or --ca with its text", async () => {
  await using data = await tempDir();
  await makeCertificate(data.path);
  const cert = `${data.path}/cert.pem`;
  await using server = await TestServer.start({ dataDir: data.path });
  const address = `127.0.0.1:${server.port}`;

  // The file named in ADDRESSBOOK_CA: the task grants read access to it (and no other).
  const byFile = { server: address, env: { ADDRESSBOOK_CA: cert } };
  const added = await runClient(
    ["--tls", "add", "Grace Hopper", "--town", "Arlington", "--json"],
    byFile,
  );
  assert.equal(added.code, 0, added.stderr);
  const grace: Json = JSON.parse(added.stdout);
  assert.equal(grace.name, "Grace Hopper");
  const found = await runClient(["--tls", "find", "grace hopper", "--json"], byFile);
  assert.equal(found.code, 0, found.stderr);
  assert.deepEqual(JSON.parse(found.stdout).contacts.map((c: Json) => c.id), [grace.id]);

  // The certificate's text with --ca needs no file access at all.
  const pem = await Deno.readTextFile(cert);
  const byText = await runClient(["--tls", "--ca", pem, "search", "arlington", "--json"], {
    server: address,
  });
  assert.equal(byText.code, 0, byText.stderr);
  assert.equal(JSON.parse(byText.stdout).contacts[0].name, "Grace Hopper");

  // ADDRESSBOOK_TLS=1 and ping (a new TLS connection per greeting).
  const ping = await runClient(["ping", "--count", "2", "--interval", "0", "--json"], {
    server: address,
    env: { ADDRESSBOOK_CA: cert, ADDRESSBOOK_TLS: "1" },
  });
  assert.equal(ping.code, 0, ping.stderr);
  const lines = ping.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((line) => line.seq), [1, 2]);
  assert.notEqual(lines[0].connection, lines[1].connection);

  // A path given with --ca is outside what the task may read: one sentence with the way out.
  const denied = await runClient(["--tls", "--ca", cert, "count"], { server: address });
  assert.equal(denied.code, 3);
  assert.equal(
    denied.stderr,
    `addressbook: Cannot reach the server at "${address}": not allowed to read the CA file ` +
      `${JSON.stringify(cert)}; "deno task client" may read only the file that ADDRESSBOOK_CA ` +
      "names (not one given with --ca), a compiled client only the one named when it was " +
      `built; or pass the certificate itself: ADDRESSBOOK_CA="$(cat cert.pem)"\n`,
  );
  assert.equal(denied.stdout, "");
});

Deno.test("deno task client takes the certificate's text in ADDRESSBOOK_CA, as its advice says", async () => {
  // The refusal above says `ADDRESSBOOK_CA="$(cat cert.pem)"`. The real task (not the tests'
  // emulation of it) once made --allow-read=<the PEM text>, split into words: Deno then tried
  // to import "CERTIFICATE-----..." as a module and stopped with a backtrace.
  await using data = await tempDir();
  const pem = await makeCertificate(data.path);
  await using server = await TestServer.start({ dataDir: data.path });
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "client", "count", "--json"],
    cwd: new URL("../", import.meta.url),
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      NO_COLOR: "1",
      ADDRESSBOOK_SERVER: `127.0.0.1:${server.port}`,
      ADDRESSBOOK_CA: pem,
    },
    stdin: "null",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stderr);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(output.stdout)), { count: 0 });
  assert.doesNotMatch(stderr, /failed|backtrace/i);
});

Deno.test("client over TLS: a certificate it does not trust is one sentence and exit 3", async () => {
  await using data = await tempDir();
  await makeCertificate(data.path);
  await using other = await tempDir();
  await makeCertificate(other.path); // a certificate of the same name, from another "server"
  await using server = await TestServer.start({ dataDir: data.path });
  const address = `127.0.0.1:${server.port}`;
  const expected = `addressbook: Cannot reach the server at "${address}": the server's ` +
    "certificate is not trusted; pass that certificate with --ca (or ADDRESSBOOK_CA)\n";
  for (
    const [args, env] of [
      [["--tls", "count"], {}], // the system's roots only
      [["--tls", "count", "--json"], { ADDRESSBOOK_CA: `${other.path}/cert.pem` }], // not this one
    ] as Array<[string[], Record<string, string>]>
  ) {
    const result = await runClient(args, { server: address, env });
    assert.equal(result.code, 3, `${args.join(" ")}: ${result.stderr}`);
    assert.equal(result.stderr, expected);
    assert.equal(result.stdout, "");
  }
  // Without --tls, the TLS server closes the plain connection: the client says to add it.
  const plain = await runClient(["count"], { server: address });
  assert.equal(plain.code, 3);
  assert.equal(
    plain.stderr,
    `addressbook: Cannot reach the server at "${address}": the server closed the connection ` +
      "before answering; if it serves TLS (its log says so), add --tls, and --ca for a " +
      "self-signed certificate\n",
  );
  // And --tls against a plain server.
  await using plainServer = await TestServer.start();
  const tls = await runClient(["--tls", "count"], { server: `127.0.0.1:${plainServer.port}` });
  assert.equal(tls.code, 3);
  assert.match(tls.stderr, /does not speak TLS on that port; drop --tls/);
  assert.equal(tls.stderr.split("\n").length, 2, "one line");
});

Deno.test("client in protected mode: the right token works, by variable or --token", async () => {
  await using data = await tempDir();
  await makeCertificate(data.path);
  await using server = await lockedServer(data.path);
  const address = `127.0.0.1:${server.port}`;
  const options = {
    server: address,
    env: { ADDRESSBOOK_CA: `${data.path}/cert.pem`, ADDRESSBOOK_TOKEN: WRITE_TOKEN },
  };
  const added = await runClient(["add", "Ada Lovelace", "--town", "London", "--json"], options);
  assert.equal(added.code, 0, added.stderr);
  const ada: Json = JSON.parse(added.stdout);
  const found = await runClient(["find", "Ada Lovelace", "--json"], options);
  assert.equal(found.code, 0, found.stderr);
  assert.equal(JSON.parse(found.stdout).contacts[0].id, ada.id);
  // ping authenticates each of its connections.
  const ping = await runClient(["ping", "--count", "2", "--interval", "0"], options);
  assert.equal(ping.code, 0, ping.stderr);
  assert.equal(ping.stdout.trim().split("\n").length, 2);
  // --token instead of the variable.
  const flag = await runClient(["--token", WRITE_TOKEN, "count", "--json"], {
    server: address,
    env: { ADDRESSBOOK_CA: `${data.path}/cert.pem` },
  });
  assert.equal(flag.code, 0, flag.stderr);
  assert.deepEqual(JSON.parse(flag.stdout), { count: 1 });
  assert.ok(
    server.logs.some((line) => / authenticated \(read-write\)/.test(line)),
    server.logs.join("\n"),
  );
});

Deno.test("client in protected mode: no token or a wrong one is one sentence and exit 4", async () => {
  await using data = await tempDir();
  await using server = await lockedServer(data.path);
  const address = `127.0.0.1:${server.port}`;
  const missing = `addressbook: The server at "${address}" requires a token; set ` +
    "ADDRESSBOOK_TOKEN or pass --token, with the token from the server's data folder or from " +
    "its admin (UNAUTHORIZED)\n";
  const count = await runClient(["count"], { server: address });
  assert.equal(count.code, 4);
  assert.equal(count.stderr, missing);
  assert.equal(count.stdout, "");
  // The menu says the same before showing anything.
  const menu = await runClient([], { server: address, stdin: "4\nq\n" });
  assert.equal(menu.code, 4);
  assert.equal(menu.stderr, missing);
  assert.equal(menu.stdout, "");
  // --json also prints the error object for scripts.
  const json = await runClient(["add", "Eve", "--json"], { server: address });
  assert.equal(json.code, 4);
  assert.equal(JSON.parse(json.stdout).error.data.reason, "UNAUTHORIZED");

  const wrong = await runClient(["list"], {
    server: address,
    env: { ADDRESSBOOK_TOKEN: "not-the-token-0123456789" },
  });
  assert.equal(wrong.code, 4);
  assert.equal(
    wrong.stderr,
    `addressbook: The server at "${address}" did not accept the token; check ` +
      "ADDRESSBOOK_TOKEN or --token: it must be the server's read-write token or its read-only " +
      "one (UNAUTHORIZED)\n",
  );
  assert.ok(
    server.logs.some((line) => / failed auth attempt 1 of 5/.test(line)),
    "the server logged the failed attempt",
  );
  using rpc = await server.connect();
  await rpc.result("auth", { token: WRITE_TOKEN });
  assert.equal((await rpc.result("count")).count, 0, "nothing was added");
});

Deno.test("client with a read-only token: reads work, writes get UNAUTHORIZED and exit 4", async () => {
  await using data = await tempDir();
  await using server = await lockedServer(data.path);
  const address = `127.0.0.1:${server.port}`;
  {
    using rpc = await server.connect();
    await rpc.result("auth", { token: WRITE_TOKEN });
    await rpc.result("add", { contact: { name: "Bob Smith", town: "Springfield" } });
  }
  const reader = { server: address, env: { ADDRESSBOOK_TOKEN: READ_TOKEN } };
  for (
    const args of [["find", "Bob Smith"], ["search", "spring"], ["list"], ["get", "Bob Smith"]]
  ) {
    const result = await runClient([...args, "--json"], reader);
    assert.equal(result.code, 0, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stdout, /"Bob Smith"/);
  }
  const refused = (method: string) =>
    `addressbook: Unauthorized: this connection is read-only; "${method}" needs the ` +
    "read-write token (UNAUTHORIZED)\n";
  const add = await runClient(["add", "Mallory"], reader);
  assert.equal(add.code, 4);
  assert.equal(add.stderr, refused("add"));
  const rm = await runClient(["rm", "Bob Smith", "--json"], reader);
  assert.equal(rm.code, 4);
  assert.equal(rm.stderr, refused("remove"));
  assert.equal(JSON.parse(rm.stdout).error.data.reason, "UNAUTHORIZED");
  // The menu says it is read-only, and lists. Add, Edit and Delete are refused at once, before
  // any question: "Mallory" is taken as a menu choice, not as a name.
  const menu = await runClient([], { ...reader, stdin: "4\n1\nMallory\n6\n2\nq\n" });
  assert.equal(menu.code, 0, menu.stderr);
  assert.match(menu.stdout, /^Connected to addressbook \S+ at \S+ \(read-only token\): 1 entry\./);
  assert.match(menu.stdout, /Bob Smith/);
  const readOnly = "Your token is read-only: you can find, list and search, but not add, edit or " +
    "delete. Ask the server's admin for the read-write token.";
  assert.equal(menu.stdout.split(readOnly).length - 1, 3, menu.stdout);
  assert.match(menu.stdout, /Invalid choice "Mallory"/);
  assert.doesNotMatch(menu.stdout, /Enter the name/);
  using rpc = await server.connect();
  await rpc.result("auth", { token: READ_TOKEN });
  assert.equal((await rpc.result("count")).count, 1, "nothing was written");
});

Deno.test("client menu over TLS in protected mode: reconnecting authenticates again", async () => {
  await using data = await tempDir();
  await makeCertificate(data.path);
  await using first = await lockedServer(data.path);
  await using session = await ClientSession.start([], {
    server: `127.0.0.1:${first.port}`,
    env: { ADDRESSBOOK_CA: `${data.path}/cert.pem`, ADDRESSBOOK_TOKEN: WRITE_TOKEN },
  });
  const greeting = await session.waitFor(MENU_PROMPT);
  assert.match(greeting, /^Connected to addressbook \S+ at 127\.0\.0\.1:\d+: 0 entries\./m);
  await session.send(
    "1\nBob\n12\nHigh Street\nSpringfield\n\n555-0123\n\n" + "\n".repeat(7) + "\n",
  );
  const added = await session.waitFor(MENU_PROMPT);
  assert.match(added, /Added entry for Bob\./);
  // The server restarts, closing the menu's connection (a watching menu is never idle); the
  // next action connects, authenticates, lists.
  await first.stop();
  await using server = await lockedServer(data.path, ["--port", String(first.port)]);
  await session.send("4\n");
  const list = await session.waitFor(MENU_PROMPT);
  assert.match(list, /\(The server had closed the connection; reconnected to 127\.0\.0\.1:\d+\.\)/);
  assert.ok(list.includes("Bob\n  Address  12 High Street, Springfield\n"), list);
  assert.ok(!list.includes("UNAUTHORIZED"), list);
  await session.send("q\n");
  assert.equal(await session.finish(), 0);
  const auths = [...first.logs, ...server.logs]
    .filter((line) => / authenticated \(read-write\)/.test(line)).length;
  assert.ok(auths >= 2, `one auth per connection, ${auths} in all`);
});
