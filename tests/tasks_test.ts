/**
 * The product's tasks and compiled binaries keep least privilege: a test fails if a task
 * gains a forbidden flag, and `deno task compile` is run up to the step that would download
 * `denort` (here `DENORT_BIN` points at a stand-in ELF), then its baked-in flags are read
 * back from the binary.
 */
import assert from "node:assert/strict";
import { SERVER_OPTIONS } from "../lib/server/config.ts";
import { CLIENT_TRANSPORT_OPTIONS } from "../lib/client/transport.ts";
import { taskCommand, tempDir } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const tasks: Record<string, { description?: string; command: string }> = config.tasks;
const commands = Object.fromEntries(Object.entries(tasks).map(([name, t]) => [name, t.command]));
const hasClient = await Deno.stat(new URL("client.ts", ROOT)).then(() => true, () => false);

/** The tasks that run or build the product (not test and bench). */
function productTasks(all: Record<string, string>): string[] {
  return Object.keys(all).filter((name) =>
    name === "serve" || name === "client" || name === "compile" || name.startsWith("compile:")
  );
}

/** The one way a task may compute flags: grants.ts, allowed only the variables it reads. */
const GRANTS =
  /^\$\(deno run -q --no-prompt --allow-env=ADDRESSBOOK_\*,TMPDIR grants\.ts ([\w:]+)\)$/;

/**
 * Problems in a product task's text: it runs other product tasks, sets ADDRESSBOOK_TARGET
 * for one, or runs `deno run|compile --no-prompt $(grants.ts NAME) FILE` with its own NAME.
 * No other variable, quoting or shell logic.
 */
function shapeProblems(name: string, command: string, all: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const statement of command.split(/&&/).map((s) => s.trim())) {
    const argv = statement.replace(/^ADDRESSBOOK_TARGET=[\w-]+ (?=deno task )/, "").split(" ");
    if (argv[0] === "deno" && argv[1] === "task") {
      const target = argv[2] ?? "";
      if (!productTasks(all).includes(target) || argv.length !== 3) {
        problems.push(`${name}: runs task ${JSON.stringify(target)}, which is not a product task`);
      }
      continue;
    }
    const [deno, sub, prompt, ...rest] = statement.split(" ");
    const grants = GRANTS.exec(rest.slice(0, -1).join(" "));
    if (deno !== "deno" || (sub !== "run" && sub !== "compile")) {
      problems.push(`${name}: ${JSON.stringify(statement)} is not deno run or deno compile`);
    } else if (prompt !== "--no-prompt") {
      problems.push(`${name}: deno ${sub} without --no-prompt first`);
    } else if (!grants) {
      problems.push(`${name}: flags that do not come from grants.ts: ${rest.join(" ")}`);
    } else if (grants[1] !== name) {
      problems.push(`${name}: takes the flags of ${grants[1]}`);
    }
  }
  return problems;
}

/** Problems in the flags a product task gives Deno once expanded (see taskCommand). */
function flagProblems(name: string, argv: string[]): string[] {
  const problems: string[] = [];
  for (const text of argv) {
    const [flag, value] = text.includes("=")
      ? [text.slice(0, text.indexOf("=")), text.slice(text.indexOf("=") + 1)]
      : [text, undefined];
    if (
      ["-A", "--allow-all", "--allow-run", "--allow-ffi", "--allow-sys", "-S", "-P"].includes(
        flag,
      ) ||
      /^--(allow-(run|ffi|sys|all)|permission-set)/.test(flag) ||
      (/^-[A-Za-z]*A/.test(flag) && !flag.startsWith("--"))
    ) {
      problems.push(`${name}: forbidden flag ${text}`);
    }
    const scoped: Record<string, string> = {
      "--allow-read": "--allow-read",
      "-R": "--allow-read",
      "--allow-write": "--allow-write",
      "-W": "--allow-write",
      "--allow-env": "--allow-env",
      "-E": "--allow-env",
    };
    if (flag in scoped && (value === undefined || value === "" || value.includes("*"))) {
      problems.push(`${name}: unscoped ${scoped[flag]}`);
    }
  }
  return problems;
}

/** Environments the expanded flags are checked under: defaults, a LAN setup, a CA file. */
const ENVIRONMENTS: Array<Record<string, string>> = [
  {},
  { ADDRESSBOOK_HOST: "192.168.1.10", ADDRESSBOOK_DATA: "/srv/book", ADDRESSBOOK_TARGET: "x" },
  { ADDRESSBOOK_CA: "/etc/addressbook/ca.pem", ADDRESSBOOK_HOST: "::" },
];

Deno.test("every task fits on a screen and says what it does", () => {
  for (const [name, task] of Object.entries(tasks)) {
    assert.ok(task.description && task.description.length <= 160, `${name}: no short description`);
    assert.ok(task.command.length <= 160, `${name}: ${task.command.length} characters`);
  }
});

Deno.test("product tasks have no forbidden flag and all use --no-prompt", async () => {
  const names = productTasks(commands);
  for (const required of ["serve", "client", "compile", "compile:server", "compile:client"]) {
    assert.ok(names.includes(required), `deno.json has no ${required} task`);
  }
  assert.deepEqual(names.flatMap((name) => shapeProblems(name, commands[name]!, commands)), []);
  for (const name of ["serve", "client", "compile:server", "compile:client"]) {
    for (const env of ENVIRONMENTS) {
      assert.deepEqual(flagProblems(name, (await taskCommand(name, env)).slice(1)), [], name);
    }
  }
});

Deno.test("the task checker catches each forbidden shape and flag (so the test above can fail)", () => {
  const g = (name: string) =>
    `$(deno run -q --no-prompt --allow-env=ADDRESSBOOK_*,TMPDIR grants.ts ${name})`;
  const bad: Record<string, string> = {
    serve: "deno run --no-prompt -A server.ts",
    client: `deno run ${g("client")} client.ts`,
    compile: "deno task lint",
    "compile:a": `deno compile --no-prompt ${g("serve")} server.ts`,
    "compile:b": `deno compile --no-prompt $EXTRA ${g("compile:b")} server.ts`,
    "compile:c": `ADDRESSBOOK_DIST=/ deno task compile`,
    "compile:d": `deno compile --no-prompt ${g("compile:d")} server.ts`,
  };
  assert.deepEqual(productTasks(bad).flatMap((name) => shapeProblems(name, bad[name]!, bad)), [
    "serve: flags that do not come from grants.ts: -A server.ts",
    "client: deno run without --no-prompt first",
    'compile: runs task "lint", which is not a product task',
    "compile:a: takes the flags of serve",
    "compile:b: flags that do not come from grants.ts: $EXTRA " + g("compile:b") + " server.ts",
    'compile:c: "ADDRESSBOOK_DIST=/ deno task compile" is not deno run or deno compile',
  ]);
  assert.deepEqual(
    flagProblems("x", [
      "run",
      "--allow-run=ls",
      "--allow-read",
      "--allow-ffi",
      "--allow-sys",
      "-E",
      "--allow-all",
      "--allow-write=",
      "-P",
      "--allow-env=ADDRESSBOOK_*",
    ]),
    [
      "x: forbidden flag --allow-run=ls",
      "x: unscoped --allow-read",
      "x: forbidden flag --allow-ffi",
      "x: forbidden flag --allow-sys",
      "x: unscoped --allow-env",
      "x: forbidden flag --allow-all",
      "x: unscoped --allow-write",
      "x: forbidden flag -P",
      "x: unscoped --allow-env",
    ],
  );
});

function envList(argv: string[]): string[] {
  const flag = argv.find((word) => word.startsWith("--allow-env="));
  assert.ok(flag, `no scoped --allow-env in ${argv.join(" ")}`);
  return flag.slice("--allow-env=".length).split(",").sort();
}

/** The `--allow-net` list of a task's flags. */
function netList(argv: string[]): string[] {
  const flag = argv.find((word) => word.startsWith("--allow-net="));
  assert.ok(flag, `no scoped --allow-net in ${argv.join(" ")}`);
  return flag.slice("--allow-net=".length).split(",");
}

Deno.test("DNS-SD adds exactly the mDNS port and group to the server's tasks, unless off", async () => {
  const loopback = ["127.0.0.1", "[::1]", "localhost", "0.0.0.0", "[::]"];
  // --host 0.0.0.0 typed after the task advertises by default: the group is always granted.
  assert.deepEqual(netList(await taskCommand("serve", {})), [...loopback, "224.0.0.251:5353"]);
  assert.deepEqual(netList(await taskCommand("serve", { ADDRESSBOOK_ADVERTISE: "off" })), loopback);
  assert.deepEqual(
    netList(await taskCommand("serve", { ADDRESSBOOK_HOST: "10.77.0.1" })),
    [...loopback, "10.77.0.1", "224.0.0.251:5353"],
  );
  // A compiled server built for loopback never advertises; for a LAN address it may.
  assert.deepEqual(
    netList(await taskCommand("compile:server", { ADDRESSBOOK_HOST: "127.0.0.1" })),
    ["127.0.0.1"],
  );
  assert.deepEqual(
    netList(await taskCommand("compile:server", { ADDRESSBOOK_HOST: "10.77.0.1" })),
    ["127.0.0.1", "10.77.0.1", "0.0.0.0:5353", "224.0.0.251:5353"],
  );
  assert.deepEqual(
    netList(
      await taskCommand("compile:server", {
        ADDRESSBOOK_HOST: "10.77.0.1",
        ADDRESSBOOK_ADVERTISE: "0",
      }),
    ),
    ["127.0.0.1", "10.77.0.1"],
  );
  // The client may reach any address already (it connects where it is told): no change.
  assert.ok((await taskCommand("client", {})).includes("--allow-net"));
});

Deno.test("the server's tasks grant exactly the environment variables it documents", async () => {
  const documented = SERVER_OPTIONS.map((o) => o.env).sort();
  assert.deepEqual(envList(await taskCommand("serve", {})), documented);
  assert.deepEqual(envList(await taskCommand("compile:server", {})), documented);
});

Deno.test("the client's tasks grant its transport variables", async () => {
  const granted = envList(await taskCommand("compile:client", {}));
  for (const option of CLIENT_TRANSPORT_OPTIONS) assert.ok(granted.includes(option.env));
  assert.deepEqual(envList(await taskCommand("client", {})), granted);
});

/** Runs a task with a clean environment plus `env`; returns its exit code and output. */
async function runTask(name: string, env: Record<string, string>, args: string[] = []) {
  const base: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(key);
    if (value !== undefined) base[key] = value;
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", name, ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { ...base, NO_COLOR: "1", DENORT_BIN: "/bin/true", ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    output: decoder.decode(output.stdout) + decoder.decode(output.stderr),
  };
}

/** The settings `deno compile` bakes into a binary (what `strings` shows), parsed. */
// deno-lint-ignore no-explicit-any
async function bakedMetadata(path: string): Promise<any> {
  const bytes = await Deno.readFile(path);
  const text = new TextDecoder("latin1").decode(bytes);
  const start = text.indexOf('{"argv":');
  assert.ok(start >= 0, `no compile metadata in ${path}`);
  for (let end = text.indexOf("}", start); end > 0; end = text.indexOf("}", end + 1)) {
    try {
      return JSON.parse(text.slice(start, end + 1));
    } catch {
      // not the end yet
    }
    if (end - start > 100_000) break;
  }
  assert.fail("cannot parse the compile metadata");
}

Deno.test("serve and client tasks run with an empty Deno cache and no npm registry", async () => {
  // `deno task` installs every npm package deno.json or its lockfile names before any task,
  // so the test-only fast-check must stay out of both (tests/fast_check.ts pins it).
  await using cacheDir = await tempDir("addressbook-deno-dir-");
  const cache = cacheDir.path;
  const offline = { DENO_DIR: cache, NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/" };
  const serve = await runTask("serve", offline, ["--version"]);
  assert.equal(serve.code, 0, serve.output);
  assert.match(serve.output, /^addressbook server \S+$/m);
  const client = await runTask("client", offline, ["--version"]);
  assert.equal(client.code, 0, client.output);
  assert.match(client.output, /^addressbook client \S+$/m);
  assert.doesNotMatch(serve.output + client.output, /Download|fast-check/);
});

Deno.test("deno task compile:server type-checks and bakes least privilege in", async () => {
  await using distDir = await tempDir("addressbook-dist-");
  const dist = distDir.path;
  const run = await runTask("compile:server", { ADDRESSBOOK_DIST: dist });
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, /Compile server\.ts to /);
  for (const file of ["auth.ts", "permissions.ts", "server.ts", "store.ts"]) {
    assert.ok(run.output.includes(file), `${file} not in the module graph:\n${run.output}`);
  }
  const meta = await bakedMetadata(`${dist}/addressbook-server`);
  const p = meta.permissions;
  // Loopback, the build's address, and what DNS-SD needs (0.0.0.0 covers its port 5353).
  assert.deepEqual(p.allow_net, ["127.0.0.1", "0.0.0.0", "224.0.0.251:5353"]);
  // Relative: resolved where the binary runs, not where it was built.
  assert.deepEqual(p.allow_read, ["./data"]);
  assert.deepEqual(p.allow_write, ["./data"]);
  assert.deepEqual([...p.allow_env].sort(), SERVER_OPTIONS.map((o) => o.env).sort());
  assert.equal(p.allow_run, null);
  assert.equal(p.allow_ffi, null);
  assert.equal(p.allow_sys, null);
  assert.equal(p.prompt, false);
  assert.deepEqual(meta.argv, []);
  assert.ok(meta.unstable_config.features.includes("kv"));
  assert.ok(!JSON.stringify(p).includes(new URL(ROOT).pathname), "no build-machine path");
});

Deno.test("compile:server takes the data folder and LAN address at build time", async () => {
  await using distDir = await tempDir("addressbook-dist-");
  const dist = distDir.path;
  const run = await runTask("compile:server", {
    ADDRESSBOOK_DIST: dist,
    ADDRESSBOOK_DATA: "/var/lib/addressbook",
    ADDRESSBOOK_HOST: "192.168.1.10",
    ADDRESSBOOK_TARGET: "aarch64-unknown-linux-gnu",
  });
  assert.equal(run.code, 0, run.output);
  const p = (await bakedMetadata(`${dist}/addressbook-server`)).permissions;
  assert.deepEqual(p.allow_net, [
    "127.0.0.1",
    "192.168.1.10",
    "0.0.0.0:5353",
    "224.0.0.251:5353",
  ]);
  assert.deepEqual(p.allow_read, ["/var/lib/addressbook"]);
  assert.deepEqual(p.allow_write, ["/var/lib/addressbook"]);
  // The target really reaches deno compile: a bogus one is refused by it.
  const bogus = await runTask("compile:server", {
    ADDRESSBOOK_DIST: dist,
    ADDRESSBOOK_TARGET: "bogus",
  });
  assert.notEqual(bogus.code, 0);
  assert.match(bogus.output, /invalid value 'bogus' for '--target'/);
});

Deno.test({
  name: "deno task compile builds both binaries; the client reads only a configured CA",
  ignore: !hasClient, // client.ts comes from the client branch
  async fn() {
    const dist = await Deno.makeTempDir({ prefix: "addressbook-dist-" });
    try {
      let run = await runTask("compile", { ADDRESSBOOK_DIST: dist });
      assert.equal(run.code, 0, run.output);
      await Deno.stat(`${dist}/addressbook-server`);
      let p = (await bakedMetadata(`${dist}/addressbook`)).permissions;
      assert.equal(p.allow_read, null);
      assert.equal(p.allow_write, null);
      assert.equal(p.allow_run, null);
      assert.equal(p.allow_ffi, null);
      assert.equal(p.allow_sys, null);
      assert.equal(p.prompt, false);
      for (const option of CLIENT_TRANSPORT_OPTIONS) assert.ok(p.allow_env.includes(option.env));
      run = await runTask("compile:client", {
        ADDRESSBOOK_DIST: dist,
        ADDRESSBOOK_CA: "/etc/addressbook/ca.pem",
      });
      assert.equal(run.code, 0, run.output);
      // The client reaches the server through the transport module (TLS, --ca, timeouts).
      for (const file of ["client.ts", "rpc_client.ts", "transport.ts", "menu.ts"]) {
        assert.ok(run.output.includes(file), `${file} not in the client's graph:\n${run.output}`);
      }
      p = (await bakedMetadata(`${dist}/addressbook`)).permissions;
      assert.deepEqual(p.allow_read, ["/etc/addressbook/ca.pem"]);
    } finally {
      await Deno.remove(dist, { recursive: true });
    }
  },
});
