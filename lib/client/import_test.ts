import assert from "node:assert/strict";
import fc from "../../tests/fast_check.ts";
import { batchLineBytes } from "./rpc_client.ts";
import { MAX_BATCH_CALLS, MAX_LINE_BYTES, packBatches, readAll } from "./import.ts";

Deno.test("packBatches() keeps order, never passes the byte or count cap (property)", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 1400 }), { maxLength: 300 }),
      fc.integer({ min: 3100, max: 20_000 }), // a call is at most 2,900 bytes
      fc.integer({ min: 1, max: 50 }),
      (sizes, maxBytes, maxCalls) => {
        const calls = sizes.map((n, i) => ({
          method: "add",
          params: { contact: { name: `${i}`, notes: "é".repeat(n) } },
        }));
        const batches = packBatches(calls, maxBytes, maxCalls);
        assert.deepEqual(batches.flat(), calls);
        for (const [at, batch] of batches.entries()) {
          assert.ok(batch.length >= 1 && batch.length <= maxCalls);
          assert.ok(batchLineBytes(batch) <= maxBytes);
          // Greedy: the next call would not have fitted (by bytes or by count).
          const next = batches[at + 1]?.[0];
          if (next && batch.length < maxCalls) {
            assert.ok(batchLineBytes([...batch, next]) > maxBytes);
          }
        }
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("packBatches() fits the largest contact alone in the default line; refuses a larger call", () => {
  const contact = { name: "Big", notes: "n".repeat(1000), extra: { blob: "x".repeat(30_000) } };
  const batches = packBatches([{ method: "add", params: { contact } }, { method: "count" }]);
  assert.equal(batches.length, 1);
  assert.ok(batchLineBytes(batches[0]!) <= MAX_LINE_BYTES);
  assert.equal(packBatches(Array.from({ length: 250 }, () => ({ method: "count" }))).length, 3);
  assert.equal(MAX_BATCH_CALLS, 100);
  assert.throws(
    () => packBatches([{ method: "add", params: { blob: "x".repeat(70_000) } }]),
    /^RangeError: A "add" request is \d+ bytes, more than a line may hold \(65536\)$/,
  );
});

Deno.test("readAll() joins chunks and refuses more than its cap", async () => {
  const bytes = await readAll(ReadableStream.from([new Uint8Array([1]), new Uint8Array([2, 3])]));
  assert.deepEqual([...bytes], [1, 2, 3]);
  await assert.rejects(
    readAll(ReadableStream.from([new Uint8Array(6), new Uint8Array(6)]), 10),
    /^RangeError: Standard input is larger than 10 bytes; split it into parts$/,
  );
});
