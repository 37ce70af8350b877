/**
 * Runs every example conversation in PROTOCOL.md against a real server, so the contract and
 * the code cannot drift apart.
 */
import assert from "node:assert/strict";
import { TestServer } from "./helpers.ts";

interface Step {
  /** 0: the first client (`-->`, `<--`); 1: a second client (`==>`, `<==`). */
  client: 0 | 1;
  send?: string;
  expect?: string;
}

/**
 * The example blocks of PROTOCOL.md: fenced blocks whose first line starts with `-->`. A
 * second client's lines, if any, start with `==>` and `<==`.
 */
async function exampleBlocks(): Promise<Step[][]> {
  const text = await Deno.readTextFile(new URL("../PROTOCOL.md", import.meta.url));
  const blocks: Step[][] = [];
  // Fenced blocks with no info string, found line by line (a fence with one, such as
  // ```json or ```protected, is skipped whole).
  let fence: { info: string; lines: string[] } | undefined;
  const fenced: string[][] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("```")) {
      fence?.lines.push(line);
    } else if (fence === undefined) {
      fence = { info: line.slice(3).trim(), lines: [] };
    } else {
      if (fence.info === "") fenced.push(fence.lines);
      fence = undefined;
    }
  }
  for (const block of fenced) {
    const lines = block.filter((line) => line !== "");
    if (!/^(-->|==>) /.test(lines[0] ?? "") || lines.length < 2) continue;
    blocks.push(lines.map((line): Step => {
      if (line.startsWith("--> ")) return { client: 0, send: line.slice(4) };
      if (line.startsWith("<-- ")) return { client: 0, expect: line.slice(4) };
      if (line.startsWith("==> ")) return { client: 1, send: line.slice(4) };
      if (line.startsWith("<== ")) return { client: 1, expect: line.slice(4) };
      throw new Error(`PROTOCOL.md example line is not one of -->, <--, ==>, <==: ${line}`);
    }));
  }
  return blocks;
}

/** Compares `actual` with `expected`, capturing and checking `"$name"` placeholders. */
function match(expected: unknown, actual: unknown, vars: Map<string, unknown>, path: string) {
  if (typeof expected === "string" && /^\$\w+$/.test(expected)) {
    if (expected === "$_") return;
    if (vars.has(expected)) {
      assert.deepEqual(actual, vars.get(expected), `${path}: ${expected} changed`);
    } else {
      vars.set(expected, actual);
    }
    return;
  }
  if (typeof expected === "object" && expected !== null) {
    assert.equal(typeof actual, "object", `${path}: expected an object or array`);
    assert.ok(actual !== null, `${path}: expected an object or array, got null`);
    assert.equal(Array.isArray(actual), Array.isArray(expected), `${path}: array vs object`);
    const e = expected as Record<string, unknown>, a = actual as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${path}: keys differ`);
    for (const key of Object.keys(e)) match(e[key], a[key], vars, `${path}.${key}`);
    return;
  }
  assert.deepEqual(actual, expected, path);
}

function substitute(line: string, vars: Map<string, unknown>): string {
  return line.replace(
    /"(\$\w+)"/g,
    (whole, name) => vars.has(name) ? JSON.stringify(vars.get(name)) : whole,
  );
}

Deno.test("PROTOCOL.md examples hold against a real server", async (t) => {
  const blocks = await exampleBlocks();
  assert.ok(blocks.length >= 4, `found only ${blocks.length} example blocks`);
  for (const [index, block] of blocks.entries()) {
    await t.step(`example ${index + 1}`, async () => {
      await using server = await TestServer.start();
      using first = await server.connect();
      const clients = [first];
      try {
        const vars = new Map<string, unknown>();
        for (const step of block) {
          const client = clients[step.client] ??= await server.connect();
          if (step.send !== undefined) {
            await client.send(substitute(step.send, vars) + "\n");
          } else {
            const line = await client.readLine();
            assert.ok(line !== null, `connection closed; expected ${step.expect}`);
            match(JSON.parse(step.expect!), JSON.parse(line), vars, "reply");
          }
        }
        // Nothing more arrives than the document shows (a change committed before a request
        // is read would come before its reply).
        for (const client of clients) {
          await client.send('{"jsonrpc":"2.0","id":"end","method":"count"}\n');
          assert.equal(JSON.parse((await client.readLine())!).id, "end");
        }
      } finally {
        for (const client of clients.slice(1)) client.close();
      }
    });
  }
});
