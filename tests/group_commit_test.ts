import assert from "node:assert/strict";
import { type RpcConnection, TestServer } from "./helpers.ts";

// Durability of group commit: the server is killed with SIGKILL while 16 clients add
// contacts as fast as it acknowledges them; after a restart on the same data folder, every
// acknowledged contact must be there. Unacknowledged ones may or may not be.
Deno.test("SIGKILL during group commits: every acknowledged write survives a restart", async () => {
  const first = await TestServer.start();
  const dataDir = first.dataDir;
  try {
    const acked: string[] = [];
    let killed = false;
    const clients: RpcConnection[] = [];
    for (let c = 0; c < 16; c++) clients.push(await first.connect());
    const killAt = 400;
    const writers = clients.map(async (client, c) => {
      for (let i = 0; i < 1000 && !killed; i++) {
        let reply;
        try {
          reply = await client.call("add", { contact: { name: `Writer ${c} number ${i}` } });
        } catch {
          return; // the server is gone
        }
        assert.ok(reply.result, JSON.stringify(reply));
        acked.push(reply.result.id);
        if (acked.length === killAt) {
          killed = true;
          first.kill("SIGKILL");
        }
      }
    });
    await Promise.all(writers);
    for (const client of clients) client.close();
    assert.ok(killed, `the server was killed after ${acked.length} acknowledged writes`);
    assert.equal((await first.process.status).signal, "SIGKILL");
    await using second = await TestServer.start({ dataDir });
    using client = await second.connect();
    for (const id of acked) {
      const reply = await client.call("get", { id });
      assert.ok(reply.result, `acknowledged contact ${id} is missing after the restart`);
    }
    const { count } = await client.result("count");
    assert.ok(count >= acked.length, `count ${count} < ${acked.length} acknowledged`);
  } finally {
    await first.stop("SIGKILL");
    await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  }
});
