/**
 * An index rebuild (`serve --check`) killed with SIGKILL part way: the next start, with or
 * without `--check`, finds it unfinished and finishes it before serving, so `list`, `find`
 * and `search` never silently miss a stored contact.
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

/** Index entries, records and the rebuild mark as KV holds them now. */
async function storeState(path: string) {
  using kv = await Deno.openKv(path);
  let byName = 0, records = 0;
  for await (const _ of kv.list({ prefix: ["by_name"] })) byName++;
  for await (const _ of kv.list({ prefix: ["contacts"] })) records++;
  return { byName, records };
}

/** Starts `serve --check` and SIGKILLs it `delayMs` after it says it is rebuilding. */
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
    while (!log.includes("rebuilding the indexes")) {
      const { value, done } = await reader.read();
      if (done) break;
      log += value;
    }
    assert.ok(log.includes("rebuilding the indexes"), `no rebuild started:\n${log}`);
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

Deno.test("a rebuild killed with SIGKILL is finished at the next start: list misses nothing", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  const db = `${dataDir}/addressbook.kv`;
  {
    const first = await TestServer.start({ dataDir, args: ["--log-level", "warn"] });
    await fill(first);
    assert.equal(await first.stop(), 0);
  }
  let halfBuilt = 0;
  const damage: string[] = [];
  for (const delayMs of [0, 60, 200]) {
    // A damaged index entry, so that --check rebuilds the indexes.
    {
      using kv = await Deno.openKv(db);
      for await (const entry of kv.list({ prefix: ["by_word", "town3"] }, { limit: 1 })) {
        await kv.delete(entry.key);
        damage.push(`Missing index entry ${JSON.stringify(entry.key)}`);
      }
    }
    const log = await killMidRebuild(dataDir, delayMs);
    const state = await storeState(db);
    assert.equal(state.records, CONTACTS);
    const interrupted = state.byName !== CONTACTS;
    if (interrupted) halfBuilt++;

    // A plain restart (no --check) finishes the rebuild before it serves.
    await using server = await TestServer.start({ dataDir });
    const warnings = server.logs.filter((l) => /rebuil.* was interrupted|half built/i.test(l));
    if (interrupted) {
      assert.equal(
        warnings.length,
        1,
        `not one warning about the unfinished rebuild:\n${server.logs.join("\n")}`,
      );
    }
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
    // Killed before the rebuild began, the damage made above may still be there; nothing else.
    const report = await client.result("check");
    for (const problem of report.problems) assert.ok(damage.includes(problem), problem);
    if (interrupted) assert.deepEqual(report.problems, []);
    await storeState(db).then((s) => assert.equal(s.byName, CONTACTS));
  }
  assert.ok(halfBuilt >= 1, "no kill landed during a rebuild (the store is too small)");
  console.log(`${halfBuilt} of 3 kills left the indexes half built; each start finished them`);
});
