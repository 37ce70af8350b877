import assert from "node:assert/strict";
import {
  ATTEMPT_SPACING_MS,
  AuthGuard,
  FAILURE_MEMORY_MS,
  MAX_CONCURRENT_CHECKS,
  SLOW_AFTER_FAILURES,
  SLOW_SPACING_MS,
  SUMMARY_MS,
  TooManyAttempts,
} from "./auth_guard.ts";

function setup() {
  const clock = { now: 0 };
  const lines: string[] = [];
  const guard = new AuthGuard({ now: () => clock.now, warn: (line) => lines.push(line) });
  return { clock, lines, guard };
}

const fail = (n: number) => ({ ok: false as const, line: `attempt ${n} failed` });

Deno.test({
  name: "AuthGuard: an address that failed gets one check a second, across its connections",
  permissions: "none",
  fn() {
    const { clock, guard } = setup();
    const a = "192.0.2.7";
    assert.equal(guard.begin(a, 10_000), 0);
    guard.end(a, fail(1));
    // Three connections of that address at once: booked a second apart.
    assert.deepEqual([0, 1, 2].map(() => guard.begin(a, 10_000)), [1000, 2000, 3000]);
    // Another address is not slowed.
    assert.equal(guard.begin("192.0.2.8", 10_000), 0);
    guard.end("192.0.2.8", { ok: true });
    // One that would wait past its deadline is refused unchecked, and books nothing.
    assert.throws(() => guard.begin(a, 3500), TooManyAttempts);
    assert.equal(guard.begin(a, 10_000), 4000);
    clock.now = FAILURE_MEMORY_MS + 10_000;
    assert.equal(guard.begin(a, 10_000), 0, "failures are forgotten after the memory");
  },
});

Deno.test({
  name: "AuthGuard: concurrent first attempts are spaced past a few; many failures slow it more",
  permissions: "none",
  fn() {
    const { guard } = setup();
    const a = "192.0.2.9";
    const waits = Array.from({ length: MAX_CONCURRENT_CHECKS + 2 }, () => guard.begin(a, 60_000));
    assert.deepEqual(waits.slice(0, MAX_CONCURRENT_CHECKS), Array(MAX_CONCURRENT_CHECKS).fill(0));
    assert.deepEqual(waits.slice(MAX_CONCURRENT_CHECKS), [0, ATTEMPT_SPACING_MS]);
    for (let i = 0; i < waits.length; i++) guard.end(a, { ok: true });
    assert.equal(guard.size, 0, "a clean address is not remembered");
    for (let i = 0; i < SLOW_AFTER_FAILURES; i++) guard.end(a, fail(i));
    const first = guard.begin(a, 600_000);
    assert.equal(guard.begin(a, 600_000) - first, SLOW_SPACING_MS);
  },
});

Deno.test({
  name: "AuthGuard: one log line for the first failure, then a summary a minute",
  permissions: "none",
  fn() {
    const { clock, lines, guard } = setup();
    const a = "[2001:db8::1]";
    for (let i = 1; i <= 500; i++) {
      guard.end(a, fail(i));
      clock.now += 100; // 50 s
    }
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^attempt 1 failed; further attempts from \[2001:db8::1\] are checked/);
    clock.now = SUMMARY_MS + 1;
    guard.flushSummaries();
    assert.equal(lines.length, 2);
    assert.match(lines[1]!, /^499 more failed auth attempts from \[2001:db8::1\] .*\(500 in all\)/);
    guard.flushSummaries();
    assert.equal(lines.length, 2, "nothing new, nothing logged");
  },
});
