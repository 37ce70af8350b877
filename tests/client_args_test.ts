import assert from "node:assert/strict";
import { tempDir, TestServer } from "./helpers.ts";
import { runClient } from "./client_helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test("client: help, -v and --version print and exit 0", async () => {
  for (const args of [["help"], ["-h"]]) {
    const result = await runClient(args, { server: "127.0.0.1:1" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^addressbook client: /);
    assert.match(result.stdout, /Exit codes:/);
  }
  for (const args of [["-v"], ["--version"]]) {
    const result = await runClient(args, { server: "127.0.0.1:1" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^addressbook client \d+\.\d+\.\d+\n$/);
  }
});

Deno.test("client: --host HOST:PORT and [v6]:PORT give the port; a second, different --port is refused", async () => {
  await using server = await TestServer.start();
  await using rpc = await server.connect();
  await rpc.result("add", { contact: { name: "Ann" } });
  const ok = await runClient(["--host", `127.0.0.1:${server.port}`, "count"], { server: "" });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, "1 contact\n");
  // [::1]:PORT is parsed as that address and port (no server listens on ::1 here, so the
  // sentence names the address as it was meant, not "[[::1]:PORT]:2007").
  const v6 = await runClient(["--host", `[::1]:${server.port}`, "count"], { server: "" });
  assert.ok(v6.stderr.includes(`"[::1]:${server.port}"`) || v6.code === 0, v6.stderr);
  assert.ok(!v6.stderr.includes("FQDN"), v6.stderr);
  const both = await runClient(
    ["--host", `127.0.0.1:${server.port}`, "--port", "1", "count"],
    { server: "" },
  );
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /give the port once/);
});

Deno.test("client: a CA file that does not exist is a usage error naming it (exit 2)", async () => {
  await using dir = await tempDir();
  const missing = `${dir.path}/no-such-ca.pem`;
  const result = await runClient(["count"], {
    server: "127.0.0.1:1",
    env: { ADDRESSBOOK_CA: missing },
  });
  assert.equal(result.code, 2, result.stderr);
  assert.ok(result.stderr.includes(JSON.stringify(missing)), result.stderr);
  assert.match(result.stderr, /does not exist/);
});

Deno.test("client: a stray word after a flag's value is a usage error naming it, with the quoting hint", async () => {
  await using server = await TestServer.start();
  const address = `127.0.0.1:${server.port}`;
  const stray = await runClient(
    ["add", "Zed", "--phone", "+44", "20", "7946", "0958", "--town", "Foo"],
    { server: address },
  );
  assert.equal(stray.code, 2, stray.stderr);
  assert.match(stray.stderr, /Unexpected word "20" after --phone "\+44"/);
  assert.match(stray.stderr, /quote a value that has spaces/);
  for (
    const args of [
      ["edit", "Zed", "--town", "Foo", "Bar"],
      ["find", "Zed", "--limit", "5", "Smith"],
      ["edit", "--town", "Foo", "Zed"],
      ["add", "--name", "Zed", "Smith"],
    ]
  ) {
    const result = await runClient(args, { server: address });
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, /Unexpected word/);
  }
  // Nothing was stored; the quoted form works, and the command may follow connection options.
  const quoted = await runClient(
    ["--port", String(server.port), "add", "Zed", "--phone", "+44 20 7946 0958", "--json"],
    { server: address },
  );
  assert.equal(quoted.code, 0, quoted.stderr);
  const zed: Json = JSON.parse(quoted.stdout);
  assert.equal(zed.name, "Zed");
  assert.equal(zed.phones[0].number, "+44 20 7946 0958");
  const count = await runClient(["count"], { server: address });
  assert.equal(count.stdout, "1 contact\n");
  // Outside add and edit, a word after a flag's value and before any other word is the query.
  const search = await runClient(["search", "--limit", "5", "zed", "--json"], { server: address });
  assert.equal(search.code, 0, search.stderr);
  assert.equal(JSON.parse(search.stdout).contacts[0].name, "Zed");
});

Deno.test("client add with the id of a contact in the book says so and adds nothing (exit 2)", async () => {
  await using server = await TestServer.start();
  await using rpc = await server.connect();
  const ann: Json = await rpc.result("add", { contact: { name: "Ann Lee" } });
  const address = `127.0.0.1:${server.port}`;
  const result = await runClient(["add", ann.id, "--town", "Leeds"], { server: address });
  assert.equal(result.code, 2, result.stderr);
  assert.ok(result.stderr.includes(`"${ann.id}" is the id of Ann Lee`), result.stderr);
  assert.match(result.stderr, /already in the book/);
  assert.ok(!result.stderr.includes("changed by someone else"), result.stderr);
  assert.equal((await rpc.result("count") as Json).count, 1);
});
