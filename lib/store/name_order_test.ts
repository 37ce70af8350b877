import assert from "node:assert/strict";
import { SortedBlocks } from "./name_order.ts";
import { prng } from "../../tests/prng.ts";

Deno.test("SortedBlocks with blocks of 8 agrees with a sorted array through random inserts and deletes", () => {
  const random = prng(3);
  const order = new SortedBlocks<number>((a, b) => a - b, 8);
  const model = new Set<number>();
  const sorted = () => [...model].sort((a, b) => a - b);
  let splits = 0, merges = 0;
  for (let step = 0; step < 20_000; step++) {
    const n = Math.floor(random() * 2000);
    const blocks = order.blocks;
    // Inserts win early, deletes later: the sequence grows, then shrinks to a few.
    if (random() < (step < 10_000 ? 0.7 : 0.2)) {
      assert.equal(order.insert(n), !model.has(n));
      model.add(n);
      if (order.blocks > blocks) splits++;
    } else {
      assert.equal(order.delete(n), model.has(n));
      model.delete(n);
      if (order.blocks < blocks) merges++;
    }
    if (step % 1000 === 0) {
      assert.ok(order.sound(), `step ${step}`);
      const all = sorted();
      assert.deepEqual([...order], all);
      const probe = Math.floor(random() * 2000);
      assert.deepEqual(order.from(probe, 17), all.filter((x) => x >= probe).slice(0, 17));
      assert.deepEqual(order.after(probe, 17), all.filter((x) => x > probe).slice(0, 17));
    }
  }
  assert.equal(order.size, model.size);
  assert.ok(order.sound());
  assert.ok(splits > 50 && merges > 50, `${splits} splits, ${merges} merges or empties`);
  assert.deepEqual(order.first(5), sorted().slice(0, 5));
});

Deno.test("SortedBlocks.build() sorts once into half-full blocks that inserts then split", () => {
  const order = new SortedBlocks<number>((a, b) => a - b, 8);
  order.build([9, 3, 7, 1, 5, 11, 13, 15, 17]);
  assert.equal(order.blocks, 3); // 4 + 4 + 1
  assert.ok(order.sound());
  for (const n of [2, 4, 6, 8, 10]) order.insert(n);
  assert.deepEqual(order.first(100), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17]);
  assert.deepEqual(order.after(17, 3), []);
  assert.deepEqual(order.from(0, 3), [1, 2, 3]);
  assert.equal(order.delete(12), false);
  assert.ok(order.sound());
});
