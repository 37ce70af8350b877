/**
 * Baseline (b): the store's own write limit. An in-process loop of one `kv.atomic()` per
 * contact write on a file KV, with the mutations the store's `add` makes (a version check,
 * the record, its name, word and phone index entries, the count). No network, no protocol.
 * It prints the same JSON lines as the load generator (`bench/load.ts`).
 *
 * `deno run --allow-read=DIR --allow-write=DIR bench/baselines/kv_atomic.ts --path DIR/kv
 *   --warmup 2000 --duration 10000 [--concurrency 1]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { newId } from "../../lib/model/ids.ts";
import { contactTerms, fold } from "../../lib/model/search_terms.ts";
import { benchContact } from "../data.ts";
import { Histogram } from "../histogram.ts";
import { emit, stdinClosed } from "../load.ts";

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      path: { type: "string" },
      warmup: { type: "string", default: "1000" },
      duration: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "1" },
      "max-ops": { type: "string", default: "10000000" },
    },
  });
  if (!values.path) throw new TypeError("--path is required");
  const kv = await Deno.openKv(values.path);
  const histogram = new Histogram();
  const start = performance.now();
  const measureFrom = start + Number(values.warmup);
  const measureTo = measureFrom + Number(values.duration);
  const maxOps = Number(values["max-ops"]);
  let issued = 0, measured = 0, errors = 0, next = 0;
  const errorSamples: string[] = [];
  const progress = setInterval(() => {
    const now = performance.now();
    emit({ type: "progress", phase: now < measureFrom ? "warmup" : "measure", ops: measured });
  }, 1000);
  const loop = async () => {
    while (performance.now() < measureTo && issued < maxOps) {
      issued++;
      const now = new Date().toISOString();
      const contact = { id: newId(), ...benchContact(next++), created: now, updated: now };
      const name = fold(contact.name), terms = contactTerms(contact);
      const key = ["contacts", contact.id];
      const op = kv.atomic().check({ key, versionstamp: null }).set(key, contact)
        .sum(["meta", "count"], 1n).set(["by_name", name, contact.id], null);
      for (const word of terms.words) op.set(["by_word", word, contact.id], name);
      for (const phone of terms.phones) op.set(["by_phone", phone, contact.id], name);
      const sent = performance.now();
      const result = await op.commit();
      const done = performance.now();
      if (!result.ok) {
        errors++;
        if (errorSamples.length < 5) errorSamples.push(`add: check failed for ${contact.id}`);
      }
      if (done >= measureFrom && done < measureTo) {
        measured++;
        histogram.record(done - sent);
      }
    }
  };
  await Promise.all(Array.from({ length: Number(values.concurrency) }, loop));
  clearInterval(progress);
  const windowMs = Math.min(performance.now(), measureTo) - measureFrom;
  kv.close();
  emit({
    type: "done",
    ops: measured,
    errors,
    errorSamples,
    windowMs,
    meanInFlight: windowMs > 0 ? histogram.sumMs / windowMs : 0,
    histogram: histogram.toJSON(),
    byOp: { add: measured },
  });
  // The bench samples this process's CPU time and memory, then closes stdin (10 s at most).
  await stdinClosed(10_000);
}
