/**
 * A repair (`serve --check` finding damage: since layout 4, it rebuilds the count and drops
 * stray index rows) killed with SIGKILL part way: the next start, with or without `--check`,
 * finds it unfinished and finishes it before serving; and whenever the kill lands, `list`,
 * `find` and `search` (answered by the view built from the records) never miss a stored
 * contact. Up to layout 3 the repair rebuilt the index rows that `list` read, and a kill
 * mid-rebuild lost contacts from it.
 */
import assert from "node:assert/strict";
import { serveCommand, tempDir, TestServer } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url);
const CONTACTS = 3000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Adds `CONTACTS` contacts over 4 connections, 50 to a line (a batch). */
async function fill(server: TestServer): Promise<void> {
  await Promise.all(Array.from({ length: 4 }, async (_, c) => {
    using client = await server.connect();
    for (let start = c * 50; start < CONTACTS; start += 200) {
      const batch = Array.from({ length: 50 }, (_, i) => ({
        jsonrpc: "2.0",
        id: start + i,
        method: "add",
        params: {
          contact: {
            name: `Person ${start + i}`,
            town: `Town${(start + i) % 7}`,
            phones: [{ label: "", number: `555-${start + i}` }],
          },
        },
      }));
      await client.send(JSON.stringify(batch) + "\n");
      const replies = await client.readJson(30_000);
      assert.equal(replies.length, 50);
      for (const reply of replies) assert.ok(reply.result, JSON.stringify(reply));
    }
  }));
}

/** Stray index rows, records and the repair mark as KV holds them now. */
async function storeState(path: string) {
  using kv = await Deno.openKv(path);
  let stray = 0, records = 0;
  for await (const _ of kv.list({ prefix: ["by_word"] })) stray++;
  for await (const _ of kv.list({ prefix: ["contacts"] })) records++;
  const marked = (await kv.get(["meta", "rebuild"])).versionstamp !== null;
  return { stray, records, marked };
}

/** Rows of damage: this many stray index rows, as an older layout wrote them. */
const STRAY = 12_000;

/** Starts `serve --check` and SIGKILLs it `delayMs` after it says it is repairing. */
async function killMidRebuild(dataDir: string, delayMs: number): Promise<string> {
  const env = { ADDRESSBOOK_DATA: dataDir };
  const [cmd, ...args] = await serveCommand(env);
  const child = new Deno.Command(cmd!, {
    args: [...args, "--port", "0", "--check"],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const watchdog = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    while (!log.includes("repairing the store")) {
      const { value, done } = await reader.read();
      if (done) break;
      log += value;
    }
    assert.ok(log.includes("repairing the store"), `no repair started:\n${log}`);
    await sleep(delayMs);
    try {
      child.kill("SIGKILL");
    } catch {
      // it finished first
    }
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      log += chunk.value;
    }
    await child.status;
    return log;
  } finally {
    clearTimeout(watchdog);
    reader.releaseLock();
  }
}

/** Every contact `list` pages through (at most 100 pages). */
async function listAll(server: TestServer): Promise<string[]> {
  using client = await server.connect();
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const result: { contacts: { id: string }[]; cursor: string | null } = await client.result(
      "list",
      { limit: 100, ...(cursor ? { cursor } : {}) },
    );
    ids.push(...result.contacts.map((c) => c.id));
    cursor = result.cursor;
    if (cursor === null) break;
  }
  return ids;
}

Deno.test("a repair killed with SIGKILL is finished at the next start: list misses nothing", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  const db = `${dataDir}/addressbook.kv`;
  let ids: string[] = [];
  {
    const first = await TestServer.start({ dataDir, args: ["--log-level", "warn"] });
    await fill(first);
    ids = await listAll(first);
    assert.equal(await first.stop(), 0);
  }
  let interrupted = 0;
  for (const delayMs of [0, 60, 200]) {
    // Damage, so that --check repairs: a wrong count and thousands of stray index rows.
    {
      using kv = await Deno.openKv(db);
      await kv.set(["meta", "count"], new Deno.KvU64(1n));
      for (let i = 0; i < STRAY; i += 1000) {
        const op = kv.atomic();
        for (let j = i; j < i + 1000; j++) op.set(["by_word", `w${j}`, ids[j % CONTACTS]!], "x");
        assert.ok((await op.commit()).ok);
      }
    }
    const log = await killMidRebuild(dataDir, delayMs);
    const state = await storeState(db);
    assert.equal(state.records, CONTACTS);
    if (state.marked) interrupted++;

    // A plain restart (no --check) finishes the repair before it serves.
    await using server = await TestServer.start({ dataDir });
    const warnings = server.logs.filter((l) => /rebuil.* was interrupted|half built/i.test(l));
    assert.equal(
      warnings.length,
      state.marked ? 1 : 0,
      `not one warning about the unfinished repair:\n${server.logs.join("\n")}`,
    );
    const listed = await listAll(server);
    assert.equal(listed.length, CONTACTS, `list returned ${listed.length} (kill log:\n${log})`);
    assert.equal(new Set(listed).size, CONTACTS);
    using client = await server.connect();
    assert.equal((await client.result("count")).count, CONTACTS);
    assert.equal((await client.result("find", { name: "person 2999" })).contacts.length, 1);
    assert.equal(
      (await client.result("search", { query: "person 299" })).contacts.length,
      11, // 299 and 2990-2999
    );
    // Killed before the repair began, the damage made above may still be there; nothing else.
    const report = await client.result("check");
    for (const problem of report.problems) {
      assert.match(problem, /^Stray index entry|^The stored count is 1 but there are 3000/);
    }
    if (state.marked) {
      assert.deepEqual(report.problems, []);
      assert.equal((await storeState(db)).stray, 0);
    }
  }
  assert.ok(interrupted >= 1, "no kill landed during a repair (the damage is too small)");
  console.log(`${interrupted} of 3 kills landed mid-repair; each start finished it`);
});
