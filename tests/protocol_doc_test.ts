/**
 * Runs every example conversation in PROTOCOL.md against a real server, so the contract and
 * the code cannot drift apart.
 */
import assert from "node:assert/strict";
import { TestServer } from "./helpers.ts";

interface Step {
  send?: string;
  expect?: string;
}

/** The example blocks of PROTOCOL.md: fenced blocks whose lines start with `-->`. */
async function exampleBlocks(): Promise<Step[][]> {
  const text = await Deno.readTextFile(new URL("../PROTOCOL.md", import.meta.url));
  const blocks: Step[][] = [];
  for (const match of text.matchAll(/```\n([\s\S]*?)```/g)) {
    const lines = match[1]!.split("\n").filter((line) => line !== "");
    if (!lines[0]?.startsWith("--> ") || lines.length < 2) continue;
    blocks.push(lines.map((line) => {
      if (line.startsWith("--> ")) return { send: line.slice(4) };
      if (line.startsWith("<-- ")) return { expect: line.slice(4) };
      throw new Error(`PROTOCOL.md example line is neither --> nor <--: ${line}`);
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
      using client = await server.connect();
      const vars = new Map<string, unknown>();
      for (const step of block) {
        if (step.send !== undefined) {
          await client.send(substitute(step.send, vars) + "\n");
        } else {
          const line = await client.readLine();
          assert.ok(line !== null, `connection closed; expected ${step.expect}`);
          match(JSON.parse(step.expect!), JSON.parse(line), vars, "reply");
        }
      }
      // Nothing more arrives than the document shows.
      await client.send('{"jsonrpc":"2.0","id":"end","method":"count"}\n');
      assert.equal(JSON.parse((await client.readLine())!).id, "end");
    });
  }
});
