/** Checks that the docs, the pinned version and the tasks agree. */
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));

Deno.test("README's first screen gives the serve and test commands with the pinned Deno", async () => {
  const version = (await read(".deno-version")).trim();
  const readme = await read("README.md");
  const firstScreen = readme.split("\n").slice(0, 25).join("\n");
  assert.ok(firstScreen.includes(`npx -y deno@${version} task serve`), "serve command");
  assert.ok(firstScreen.includes(`npx -y deno@${version} task ok`), "test command");
  const ci = await read(".ci/run");
  assert.match(ci, /deno task ok/);
  assert.match(ci, /\.deno-version/);
});

Deno.test("deno.json keeps test sanitizers on and node_modules off", async () => {
  const config = JSON.parse(await read("deno.json"));
  assert.equal(config.nodeModulesDir, "none");
  assert.deepEqual(config.unstable, ["kv"]);
  assert.equal(config.test.sanitizeOps, true);
  assert.equal(config.test.sanitizeResources, true);
  assert.match(
    config.tasks.ok.command,
    /deno fmt --check && deno lint && deno check .* && deno task test/,
  );
});

Deno.test("PROTOCOL.md documents every method the server has", async () => {
  const { METHOD_NAMES } = await import("../lib/protocol/api.ts");
  const protocol = await read("PROTOCOL.md");
  for (const method of METHOD_NAMES) {
    assert.ok(protocol.includes(`| \`${method}\``), `PROTOCOL.md lacks ${method}`);
  }
});
