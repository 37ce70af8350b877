import assert from "node:assert/strict";
import { yieldTurn } from "./turns.ts";

/** Busy-waits `ms` (a slice of work that does not yield). */
function work(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* a slice of work */ }
}

Deno.test("yieldTurn: with 20 busy callers, a socket's reply is read after a few slices, not after all of them", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(1);
    if (await conn.read(buffer) !== null) await conn.write(buffer);
    conn.close();
  })();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  let slices = 0;
  let slicesAtReply = -1;
  const busy = Array.from({ length: 20 }, async () => {
    for (let i = 0; i < 10; i++) {
      work(5);
      slices++;
      await yieldTurn();
    }
  });
  await client.write(new Uint8Array([7]));
  await client.read(new Uint8Array(1)).then(() => slicesAtReply = slices);
  await Promise.all(busy);
  client.close();
  await serving;
  listener.close();
  // A timer per caller ran every due one back to back: the reply waited for about 100 of the
  // 200 slices (measured in a loop of 20 callers: a second of 10 ms slices).
  console.log(`the reply was read after ${slicesAtReply} of 200 slices`);
  assert.ok(
    slicesAtReply >= 0 && slicesAtReply <= 30,
    `the reply was read after ${slicesAtReply} slices`,
  );
});
