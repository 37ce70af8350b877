import assert from "node:assert/strict";
import { REPEATED_SIGNAL_MS, SignalCounter } from "./startup.ts";

Deno.test("SignalCounter: the forwarded copy of one Ctrl-C is the same signal, a later one exits", () => {
  const signals = new SignalCounter();
  assert.equal(signals.next(1000), "stop");
  // deno task forwards the terminal's SIGINT: a copy arrives within milliseconds.
  assert.equal(signals.next(1003), "same");
  assert.equal(signals.next(1000 + REPEATED_SIGNAL_MS - 1), "same");
  assert.equal(signals.next(1000 + REPEATED_SIGNAL_MS), "exit");
  assert.equal(signals.next(1000 + 10 * REPEATED_SIGNAL_MS), "exit");
});
