import assert from "node:assert/strict";

// Smoke-runs `deno task bench --quick` with tiny sizes: every scenario runs against the real
// server and its baselines, and each prints a JSON record with figures and no errors.
// Speed is not asserted: this only proves that the bench works.
Deno.test("deno task bench --quick prints one JSON record per scenario, with no errors", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "bench",
      "--quick",
      "--warmup",
      "0.2",
      "--duration",
      "0.3",
      "--contacts",
      "40",
      "--idle",
      "40",
      "--big",
      "300",
      "--cards",
      "300",
    ],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `bench failed:\n${stdout}\n${stderr}`);
  const records = stdout.split("\n").filter((line) => line.startsWith("{")).map((line) =>
    JSON.parse(line)
  );
  assert.deepEqual(records.map((r) => r.scenario), [
    "find-16",
    "find-64x16",
    "add-64",
    "mix-16",
    "classic-16",
    "idle-10k",
    "big-100k",
    "import-100k",
  ]);
  for (const record of records) {
    let ops = 0;
    for (const [target, figures] of Object.entries(record.results)) {
      const f = figures as Record<string, number>;
      assert.equal(f.errors, 0, `${record.scenario} ${target}: ${record.errorSamples}`);
      // A run this short may end before a slow target's first reply: only the sum must count.
      assert.equal(typeof f.ops, "number", `${record.scenario} ${target}: no ops figure`);
      ops += f.ops!;
      assert.ok((f.peakRssMiB ?? 0) > 0, `${record.scenario} ${target}: no peak RSS`);
    }
    assert.ok(ops > 0, `${record.scenario}: no ops at all`);
    assert.ok(Array.isArray(record.goals));
  }
  const idle = records.find((r) => r.scenario === "idle-10k");
  assert.equal(idle.results.server.connections, 40);
  const big = records.find((r) => r.scenario === "big-100k");
  assert.equal(big.results.server.listed, 300);
  const imported = records.find((r) => r.scenario === "import-100k");
  assert.equal(imported.results.server.ops, 300, "every card was imported");
  assert.equal(imported.results.sqlite.ops, 300);
  assert.match(stdout, /^scenario +target +ops\/s/m);
});
