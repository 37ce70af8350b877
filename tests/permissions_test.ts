/**
 * Least privilege, tried as a new user would: the server started with the exact flags of
 * `deno task serve` reports what it may do, refuses a store outside its data folder in one
 * sentence, and still serves a store inside it.
 */
import assert from "node:assert/strict";
import { SERVER_OPTIONS } from "../lib/server/config.ts";
import { runServerToExit, tempDir, TestServer } from "./helpers.ts";

function reportOf(logs: string[]): Record<string, string> {
  const line = logs.find((l) => l.includes(" Permissions: "));
  assert.ok(line, `no permission report in:\n${logs.join("\n")}`);
  return Object.fromEntries(
    line.slice(line.indexOf("Permissions: ") + 13).split(" ").map((part) => part.split("=")),
  );
}

Deno.test("server started with the serve task's flags reports least privilege", async () => {
  await using server = await TestServer.start();
  const report = reportOf(server.logs);
  assert.deepEqual(report, {
    net: "127.0.0.1",
    read: server.dataDir,
    write: server.dataDir,
    env: `${SERVER_OPTIONS.length}/${SERVER_OPTIONS.length}-documented`,
    run: "denied",
    ffi: "denied",
    sys: "denied",
  });
  using client = await server.connect();
  assert.equal((await client.result("count")).count, 0);
});

Deno.test("a --db outside the data folder fails in one sentence naming the flags", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  await using outsideDir = await tempDir("addressbook-outside-");
  const outside = outsideDir.path;
  const { code, stderr } = await runServerToExit({
    dataDir,
    args: ["--db", `${outside}/book.kv`],
  });
  assert.equal(code, 1);
  const errors = stderr.split("\n").filter((line) => line.startsWith("addressbook: "));
  assert.deepEqual(errors, [
    `addressbook: Not allowed to open the store "${outside}/book.kv": it is outside the ` +
    `data folder "${dataDir}", the only folder the server may use; move it inside ` +
    `(--db ${dataDir}/addressbook.kv) or add --allow-read=${outside}/book.kv ` +
    `--allow-write=${outside}/book.kv`,
  ]);
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  assert.deepEqual([...Deno.readDirSync(outside)], [], "nothing written outside");
});

Deno.test("the same server still serves a --db inside its data folder", async () => {
  await using data = await tempDir();
  const dataDir = data.path;
  await using server = await TestServer.start({
    dataDir,
    args: ["--db", `${dataDir}/books/office.kv`],
  });
  using client = await server.connect();
  await client.result("add", { contact: { name: "Ada" } });
  assert.equal((await client.result("count")).count, 1);
  assert.ok(Deno.statSync(`${dataDir}/books/office.kv`).isFile);
});

Deno.test("listening where the task grants no net access is one sentence naming the fix", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  const { code, stderr } = await runServerToExit({ dataDir, args: ["--host", "127.0.0.2"] });
  assert.equal(code, 1);
  const errors = stderr.split("\n").filter((line) => line.startsWith("addressbook: "));
  assert.equal(errors.length, 1, stderr);
  assert.match(
    errors[0]!,
    /^addressbook: Not allowed to listen on 127\.0\.0\.2:0: run ADDRESSBOOK_HOST=127\.0\.0\.2 deno task serve, or --host 0\.0\.0\.0 for every address /,
  );
  assert.doesNotMatch(stderr, /^\s+at /m);
});

Deno.test("a --data the task does not grant is one sentence: run ADDRESSBOOK_DATA=DIR deno task serve", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  // The task grants $ADDRESSBOOK_DATA; --data points elsewhere, as a confused user might.
  const { code, stderr } = await runServerToExit({
    dataDir,
    args: ["--data", `${dataDir}-elsewhere`],
  });
  assert.equal(code, 1);
  const errors = stderr.split("\n").filter((line) => line.startsWith("addressbook: "));
  assert.deepEqual(errors, [
    `addressbook: Not allowed to use the data folder "${dataDir}-elsewhere": run ` +
    `ADDRESSBOOK_DATA=${dataDir}-elsewhere deno task serve (deno task serve may use only ` +
    `./data and ADDRESSBOOK_DATA; deno run needs --allow-read=${dataDir}-elsewhere ` +
    `--allow-write=${dataDir}-elsewhere; the data folder holds the store, the token and the ` +
    "certificates)",
  ]);
});

Deno.test({
  name: "the data folder the server creates is open to its own user only",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using parent = await tempDir();
    const dataDir = `${parent.path}/data`; // does not exist yet: the server makes it
    await using server = await TestServer.start({ dataDir });
    using client = await server.connect();
    await client.result("add", { contact: { name: "Ann" } });
    assert.equal((await Deno.stat(dataDir)).mode! & 0o777, 0o700);
  },
});

Deno.test("deno task serve takes an IPv6 address without brackets (ADDRESSBOOK_HOST=::1)", async () => {
  // --help says `::` for the LAN; --allow-net needs `[::]`, and Deno stopped with "invalid
  // empty host" and a backtrace before the server ran. grants.ts brackets the address.
  await using data = await tempDir();
  const server = new Deno.Command(Deno.execPath(), {
    args: ["task", "serve", "--port", "0"],
    cwd: new URL("../", import.meta.url),
    env: { ADDRESSBOOK_HOST: "::1", ADDRESSBOOK_DATA: data.path, NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let logs = "";
  try {
    while (!/ listening on \[::1\]:(\d+) /.test(logs)) {
      const { value, done } = await stderr.read();
      if (done) throw new Error(`the server exited:\n${logs}`);
      logs += value;
    }
    assert.match(logs, /Permissions: net=\[::1\] /);
    const port = Number(/ listening on \[::1\]:(\d+) /.exec(logs)![1]);
    const conn = await Deno.connect({ hostname: "::1", port });
    try {
      await conn.write(new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"count"}\n'));
      const buffer = new Uint8Array(1024);
      const n = await conn.read(buffer);
      assert.equal(
        new TextDecoder().decode(buffer.subarray(0, n ?? 0)),
        '{"jsonrpc":"2.0","id":1,"result":{"count":0}}\n',
      );
    } finally {
      conn.close();
    }
  } finally {
    server.kill("SIGTERM");
    assert.equal((await server.status).code, 0);
    await stderr.cancel();
  }
});

Deno.test("--advertise on without the mDNS grants is one sentence, before anything opens", async () => {
  await using dir = await tempDir();
  // ADDRESSBOOK_ADVERTISE=off: the task then grants no mDNS; the flag asks for it anyway.
  const { code, stderr } = await runServerToExit({
    dataDir: dir.path,
    args: ["--host", "0.0.0.0", "--advertise", "on"],
    env: { ADDRESSBOOK_ADVERTISE: "off" },
  });
  assert.equal(code, 1);
  const errors = stderr.split("\n").filter((line) => line.startsWith("addressbook: "));
  assert.deepEqual(errors, [
    "addressbook: Not allowed to advertise on the LAN: DNS-SD needs " +
    "--allow-net=0.0.0.0:5353,224.0.0.251:5353 (deno task serve grants it unless " +
    "ADDRESSBOOK_ADVERTISE=off)",
  ]);
  assert.deepEqual([...Deno.readDirSync(dir.path)], [], "nothing made in the data folder");
});
