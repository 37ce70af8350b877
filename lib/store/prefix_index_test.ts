import assert from "node:assert/strict";
import { PrefixIndex } from "./prefix_index.ts";

/** What `lists(prefix)` must hold, from a plain map of term -> ids. */
function expected(model: Map<string, Set<string>>, prefix: string): string[] {
  const ids: string[] = [];
  for (const [term, set] of model) if (term.startsWith(prefix)) ids.push(...set);
  return ids.sort();
}

Deno.test("PrefixIndex agrees with a plain map through merges, removals and re-adds", () => {
  const index = new PrefixIndex();
  const model = new Map<string, Set<string>>();
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const letters = "abcé\u{20000}z";
  const term = () =>
    Array.from(
      { length: 1 + Math.floor(random() * 4) },
      () => [...letters][Math.floor(random() * 6)],
    )
      .join("");
  // Enough distinct terms to pass the merge threshold (1,024 pending) several times.
  for (let step = 0; step < 20_000; step++) {
    const t = step < 6000 ? `w${step}` : term();
    const id = `id${Math.floor(random() * 50)}`;
    const set = model.get(t) ?? new Set();
    if (set.has(id)) {
      index.remove(t, id);
      set.delete(id);
    } else {
      index.add(t, id);
      set.add(id);
    }
    model.set(t, set);
    if (step % 997 === 0) {
      for (const prefix of ["", "a", "w1", "w59", "é", "\u{20000}", "zz", term()]) {
        assert.deepEqual(index.lists(prefix).flat().sort(), expected(model, prefix), prefix);
      }
    }
  }
  // Emptied terms are dropped at a merge, not returned meanwhile.
  for (const [t, set] of model) for (const id of set) index.remove(t, id);
  assert.deepEqual(index.lists(""), []);
  for (let i = 0; i < 2000; i++) index.add(`n${i}`, "x");
  // Terms with one id each share one list.
  assert.equal(index.lists("n").flat().length, 2000);
  assert.equal(index.lists("n").length, 1);
  assert.ok(index.terms < 2000 + 6000, `emptied terms were kept: ${index.terms}`);
});

Deno.test("PrefixIndex loaded in bulk answers as one filled term by term", () => {
  const one = new PrefixIndex(), bulk = new PrefixIndex();
  bulk.add("kept", "0"); // filed before the load, still there after
  one.add("kept", "0");
  bulk.startLoad();
  for (let i = 0; i < 3000; i++) {
    for (const index of [one, bulk]) {
      index.add(`t${i % 700}`, `${i}`);
      index.add(`\u{20000}${i % 3}`, `${i}`);
    }
  }
  bulk.remove("t5", "5");
  one.remove("t5", "5");
  bulk.endLoad();
  for (const prefix of ["", "t", "t1", "t69", "\u{20000}", "kept", "z"]) {
    assert.deepEqual(bulk.lists(prefix).flat().sort(), one.lists(prefix).flat().sort(), prefix);
  }
  bulk.add("t99999", "x");
  assert.deepEqual(bulk.lists("t9999").flat(), ["x"]);
});
