/**
 * The product's tasks and compiled binaries keep least privilege: a test fails if a task
 * gains a forbidden flag, and `deno task compile` is run up to the step that would download
 * `denort` (here `DENORT_BIN` points at a stand-in ELF), then its baked-in flags are read
 * back from the binary.
 */
import assert from "node:assert/strict";
import { SERVER_OPTIONS } from "../lib/server/config.ts";
import { CLIENT_TRANSPORT_OPTIONS } from "../lib/client/transport.ts";
import { tempDir } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url);
const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const tasks: Record<string, string> = config.tasks;
const hasClient = await Deno.stat(new URL("client.ts", ROOT)).then(() => true, () => false);

/** The tasks that run or build the product (not test and bench). */
function productTasks(all: Record<string, string>): string[] {
  return Object.keys(all).filter((name) =>
    name === "serve" || name === "client" || name === "compile" || name.startsWith("compile:")
  );
}

/** Splits a command into words as the task shell does (quotes kept apart from `$VAR`s). */
function words(command: string): Array<{ text: string; quoted: boolean }> {
  const out: Array<{ text: string; quoted: boolean }> = [];
  for (const match of command.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) {
    if (match[3] !== undefined) out.push({ text: match[3], quoted: false });
    else out.push({ text: match[1] ?? match[2] ?? "", quoted: true });
  }
  return out;
}

/**
 * Unquoted variables a product command may expand into flags, and the only assignment each
 * may have (after being reset to empty in the same task).
 */
const FLAG_VARIABLES: Record<string, string> = {
  ADDRESSBOOK_TARGET_FLAG: 'export ADDRESSBOOK_TARGET_FLAG="--target=$ADDRESSBOOK_TARGET"',
  ADDRESSBOOK_CA_READ: 'export ADDRESSBOOK_CA_READ="--allow-read=$ADDRESSBOOK_CA"',
};

/** Every least-privilege problem in one task string; empty when it is clean. */
function taskProblems(name: string, task: string, all: Record<string, string>): string[] {
  const problems: string[] = [];
  const statements = task.split(/;|&&|\|\|/).map((s) => s.trim()).filter(Boolean);
  for (const statement of statements) {
    const argv = words(statement);
    if (argv[0]?.text === "deno" && argv[1]?.text === "task") {
      const target = argv[2]?.text ?? "";
      if (!productTasks(all).includes(target) || !(target in all)) {
        problems.push(`${name}: runs task ${JSON.stringify(target)}, which is not a product task`);
      }
      continue;
    }
    if (argv[0]?.text !== "deno") continue;
    const sub = argv[1]?.text;
    if (sub !== "run" && sub !== "compile") {
      problems.push(`${name}: deno ${sub} is not deno run or deno compile`);
      continue;
    }
    let prompt = false;
    for (const { text, quoted } of argv.slice(2)) {
      if (text === "--no-prompt") prompt = true;
      if (!quoted && text.startsWith("$")) {
        const variable = text.slice(1);
        if (!(variable in FLAG_VARIABLES)) {
          problems.push(`${name}: unquoted ${text} could expand into any flag`);
        } else if (
          !task.includes(`export ${variable}=;`) || !task.includes(FLAG_VARIABLES[variable]!)
        ) {
          problems.push(
            `${name}: ${text} is not reset and set only as ${FLAG_VARIABLES[variable]}`,
          );
        }
        continue;
      }
      const [flag, value] = text.includes("=")
        ? [text.slice(0, text.indexOf("=")), text.slice(text.indexOf("=") + 1)]
        : [text, undefined];
      if (
        ["-A", "--allow-all", "--allow-run", "--allow-ffi", "--allow-sys", "-S", "-P"].includes(
          flag,
        ) || /^--(allow-(run|ffi|sys|all)|permission-set)/.test(flag) ||
        /^-[A-Za-z]*A/.test(flag) &&
          !flag.startsWith("--")
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
      if (flag in scoped && (value === undefined || value === "")) {
        problems.push(`${name}: unscoped ${scoped[flag]}`);
      }
    }
    if (!prompt) problems.push(`${name}: deno ${sub} without --no-prompt`);
  }
  return problems;
}

Deno.test("product tasks have no forbidden flag and all use --no-prompt", () => {
  const names = productTasks(tasks);
  for (const required of ["serve", "compile", "compile:server", "compile:client"]) {
    assert.ok(names.includes(required), `deno.json has no ${required} task`);
  }
  const problems = names.flatMap((name) => taskProblems(name, tasks[name]!, tasks));
  assert.deepEqual(problems, []);
});

Deno.test("the task checker catches each forbidden flag (so the test above can fail)", () => {
  const bad: Record<string, string> = {
    serve: "deno run --no-prompt -A server.ts",
    client: "deno run --allow-net client.ts",
    compile: "deno task lint",
    "compile:a": "deno compile --no-prompt --allow-run=ls --allow-read server.ts",
    "compile:b": "deno compile --no-prompt --allow-ffi --allow-sys -E server.ts",
    "compile:c": "deno compile --no-prompt $EXTRA --allow-all --allow-write= -P server.ts",
    "compile:d":
      "export ADDRESSBOOK_CA_READ=--allow-read; deno run --no-prompt $ADDRESSBOOK_CA_READ x.ts",
  };
  const problems = productTasks(bad).flatMap((name) => taskProblems(name, bad[name]!, bad));
  assert.deepEqual(problems, [
    "serve: forbidden flag -A",
    "client: deno run without --no-prompt",
    'compile: runs task "lint", which is not a product task',
    "compile:a: forbidden flag --allow-run=ls",
    "compile:a: unscoped --allow-read",
    "compile:b: forbidden flag --allow-ffi",
    "compile:b: forbidden flag --allow-sys",
    "compile:b: unscoped --allow-env",
    "compile:c: unquoted $EXTRA could expand into any flag",
    "compile:c: forbidden flag --allow-all",
    "compile:c: unscoped --allow-write",
    "compile:c: forbidden flag -P",
    'compile:d: $ADDRESSBOOK_CA_READ is not reset and set only as export ADDRESSBOOK_CA_READ="--allow-read=$ADDRESSBOOK_CA"',
  ]);
});

function envList(task: string): string[] {
  const match = /--allow-env=([\w,]+)/.exec(task);
  assert.ok(match, `no scoped --allow-env in ${task}`);
  return match[1]!.split(",").sort();
}

Deno.test("the server's tasks grant exactly the environment variables it documents", () => {
  const documented = SERVER_OPTIONS.map((o) => o.env).sort();
  assert.deepEqual(envList(tasks.serve!), documented);
  assert.deepEqual(envList(tasks["compile:server"]!), documented);
});

Deno.test("the client's build grants its transport variables", () => {
  const granted = envList(tasks["compile:client"]!);
  for (const option of CLIENT_TRANSPORT_OPTIONS) assert.ok(granted.includes(option.env));
  if (tasks.client) assert.deepEqual(envList(tasks.client), granted);
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
  assert.deepEqual(p.allow_net, ["127.0.0.1", "0.0.0.0"]);
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
  assert.deepEqual(p.allow_net, ["127.0.0.1", "192.168.1.10"]);
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
