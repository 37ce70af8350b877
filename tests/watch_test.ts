/**
 * `watch` against a real server: change events pushed as notifications between replies,
 * replay after a reconnect, the log's limits, query filters, slow subscribers, SIGKILL.
 */
import assert from "node:assert/strict";
import { hasPython, type RpcConnection, tempDir, TestServer } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
type Message = any;

/** Reads lines until one passes `done`; returns every line read, parsed, in order. */
async function readUntil(
  client: RpcConnection,
  done: (message: Message) => boolean,
  max = 100_000,
): Promise<Message[]> {
  const messages: Message[] = [];
  for (let i = 0; i < max; i++) {
    const line = await client.readLine();
    assert.ok(line !== null, "the connection closed early");
    const message = JSON.parse(line);
    messages.push(message);
    if (done(message)) return messages;
  }
  throw new Error(`No expected line in ${max} lines`);
}

/** Sends a request with a string id and reads up to its reply: [notifications, reply]. */
async function request(
  client: RpcConnection,
  id: string,
  method: string,
  params: Record<string, unknown> = {},
): Promise<[Message[], Message]> {
  await client.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
  const lines = await readUntil(client, (m) => m.id === id);
  const reply = lines.pop();
  for (const line of lines) assert.equal(line.id, undefined, "only notifications come before");
  return [lines, reply];
}

const contact = (name: string, more: Record<string, unknown> = {}) => ({ name, ...more });

Deno.test("watch: one client writes, the other receives added, updated, removed in seq order", async () => {
  await using server = await TestServer.start();
  using writer = await server.connect();
  using watcher = await server.connect();
  const [before, watching] = await request(watcher, "w", "watch");
  assert.deepEqual(before, []);
  assert.deepEqual(watching.result, { seq: 0 });

  const bob = await writer.result("add", { contact: contact("Bob", { town: "Springfield" }) });
  const bob2 = await writer.result("update", {
    id: bob.id,
    version: bob.version,
    contact: contact("Robert", { town: "Springfield" }),
  });
  const { removed } = await writer.result("remove", { id: bob.id });

  const [events] = await request(watcher, "c", "count");
  assert.deepEqual(events, [
    {
      jsonrpc: "2.0",
      method: "changed",
      params: { type: "added", id: bob.id, name: "Bob", version: bob.version, seq: 1 },
    },
    {
      jsonrpc: "2.0",
      method: "changed",
      params: { type: "updated", id: bob.id, name: "Robert", version: bob2.version, seq: 2 },
    },
    {
      jsonrpc: "2.0",
      method: "changed",
      params: {
        type: "removed",
        id: bob.id,
        name: "Robert",
        version: events[2].params.version,
        seq: 3,
      },
    },
  ]);
  assert.equal(removed.name, "Robert");
  assert.ok(events[2]!.params.version > bob2.version, "a removal has its own, later version");
  // The writer's own connection is not subscribed: it got replies only.
  assert.equal((await writer.call("count")).result.count, 0);
});

Deno.test("watch: since replays after a reconnect, none missed and none repeated", async () => {
  await using server = await TestServer.start();
  using writer = await server.connect();
  let last = 0;
  const seen: number[] = [];
  {
    using watcher = await server.connect();
    await request(watcher, "w", "watch");
    await writer.result("add", { contact: contact("One") });
    await writer.result("add", { contact: contact("Two") });
    const [events] = await request(watcher, "c", "count");
    for (const event of events) seen.push(event.params.seq);
    last = seen.at(-1)!;
  }
  // Offline meanwhile: three changes happen.
  const three = await writer.result("add", { contact: contact("Three") });
  await writer.result("update", {
    id: three.id,
    version: three.version,
    contact: contact("Three", { town: "Ogdenville" }),
  });
  await writer.result("add", { contact: contact("Four") });
  using again = await server.connect();
  const [replayed, watching] = await request(again, "w", "watch", { since: last });
  assert.deepEqual(replayed, [], "the reply comes before the replay");
  assert.deepEqual(watching.result, { seq: 5 });
  await writer.result("add", { contact: contact("Five") });
  const [events] = await request(again, "c", "count");
  for (const event of events) seen.push(event.params.seq);
  assert.deepEqual(seen, [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(events.map((e: Message) => [e.params.type, e.params.name]), [
    ["added", "Three"],
    ["updated", "Three"],
    ["added", "Four"],
    ["added", "Five"],
  ]);
});

Deno.test("watch: a since older than the log, or ahead of it, is a clear BAD_REQUEST", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  // A store whose log was trimmed: it holds seq 501 to 600 only.
  const kv = await Deno.openKv(`${dataDir}/addressbook.kv`);
  await kv.set(["meta", "layout"], 3);
  const at = new Date().toISOString();
  for (let seq = 501; seq <= 600; seq += 50) {
    let op = kv.atomic();
    for (let s = seq; s < seq + 50; s++) {
      op = op.set(["changes", s], {
        type: "added",
        id: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        name: `Event ${s}`,
        at,
        terms: { words: ["event", String(s)], phones: [] },
      });
    }
    await op.commit();
  }
  await kv.set(["changes_head"], 600);
  kv.close();
  await using server = await TestServer.start({ dataDir });
  using client = await server.connect();
  const old = await client.call("watch", { since: 10 });
  assert.equal(old.error.code, -32602);
  assert.equal(old.error.data.reason, "BAD_REQUEST");
  assert.equal(old.error.data.field, "since");
  assert.equal(old.error.data.oldest, 500);
  assert.match(old.error.message, /since 10 is older than the change log.*reload the contacts/);
  const ahead = await client.call("watch", { since: 601 });
  assert.equal(ahead.error.data.field, "since");
  assert.match(ahead.error.message, /since 601 is ahead of the change log, which ends at 600/);
  const bad = await client.call("watch", { since: "5" });
  assert.equal(bad.error.data.field, "since");
  // The oldest since the log can serve: all 100 events are replayed, in order.
  const [none, watching] = await request(client, "w", "watch", { since: 500 });
  assert.deepEqual(none, []);
  assert.deepEqual(watching.result, { seq: 600 });
  const [replayed] = await request(client, "c", "count");
  assert.deepEqual(
    replayed.map((e: Message) => e.params.seq),
    Array.from({ length: 100 }, (_, i) => 501 + i),
  );
});

Deno.test("watch: query filters events by search terms, before or after the change", async () => {
  await using server = await TestServer.start();
  using writer = await server.connect();
  using watcher = await server.connect();
  const bad = await watcher.call("watch", { query: "!!!" });
  assert.equal(bad.error.data.field, "query");
  await request(watcher, "w", "watch", { query: "spring" });
  using phones = await server.connect();
  await request(phones, "w", "watch", { query: "555 01" });

  const ann = await writer.result("add", { contact: contact("Ann", { town: "Springfield" }) });
  const bob = await writer.result("add", { contact: contact("Bob", { town: "Shelbyville" }) });
  // Bob moves into the query; Ann moves out of it: both are news to a watcher of "spring".
  await writer.result("update", {
    id: bob.id,
    version: bob.version,
    contact: contact("Bob", { town: "Springfield" }),
  });
  await writer.result("update", {
    id: ann.id,
    version: ann.version,
    contact: contact("Ann", { town: "Capital City", phones: [{ label: "", number: "555-0123" }] }),
  });
  await writer.result("add", { contact: contact("Eve", { town: "Ogdenville" }) });

  const [events] = await request(watcher, "c", "count");
  assert.deepEqual(events.map((e: Message) => [e.params.seq, e.params.type, e.params.name]), [
    [1, "added", "Ann"],
    [3, "updated", "Bob"],
    [4, "updated", "Ann"],
  ]);
  const [phoneEvents] = await request(phones, "c", "count");
  assert.deepEqual(phoneEvents.map((e: Message) => e.params.seq), [4]);
  // A replay is filtered the same way.
  using later = await server.connect();
  await request(later, "w", "watch", { since: 0, query: "spring" });
  const [replayed] = await request(later, "c", "count");
  assert.deepEqual(replayed.map((e: Message) => e.params.seq), [1, 3, 4]);
});

Deno.test("watch: notifications never split or corrupt reply lines under pipelining", async () => {
  await using server = await TestServer.start();
  using watcher = await server.connect();
  await request(watcher, "w", "watch");
  const writers = await Promise.all(Array.from({ length: 4 }, () => server.connect()));
  try {
    const N = 400, ADDS = 300;
    // Many pipelined requests on the watching connection, while others write.
    const lines = Array.from({ length: N }, (_, i) =>
      JSON.stringify({
        jsonrpc: "2.0",
        id: i,
        method: i % 3 === 0 ? "count" : i % 3 === 1 ? "list" : "ping",
        params: i % 3 === 1 ? { limit: 5 } : {},
      }) + "\n");
    const sending = (async () => {
      for (let i = 0; i < N; i += 20) await watcher.send(lines.slice(i, i + 20).join(""));
    })();
    const writing = Promise.all(writers.map(async (w, k) => {
      const batch = Array.from({ length: ADDS / 4 }, (_, i) =>
        JSON.stringify({
          jsonrpc: "2.0",
          id: i,
          method: "add",
          params: { contact: { name: `Writer ${k} number ${i} ${"x".repeat(100)}` } },
        }) + "\n").join("");
      await w.send(batch);
      for (let i = 0; i < ADDS / 4; i++) assert.ok((await w.readJson()).result, "add failed");
    }));
    const received = await readUntil(watcher, (m) => m.id === N - 1);
    await Promise.all([sending, writing]);
    // Every change committed before a request is read comes before its reply.
    await watcher.send('{"jsonrpc":"2.0","id":"end","method":"count"}\n');
    received.push(...await readUntil(watcher, (m) => m.id === "end"));
    const replies = received.filter((m) => "id" in m);
    const events = received.filter((m) => !("id" in m));
    assert.deepEqual(replies.map((m) => m.id), [...Array.from({ length: N }, (_, i) => i), "end"]);
    for (const reply of replies) assert.ok(reply.result !== undefined, JSON.stringify(reply));
    assert.deepEqual(
      events.map((e) => e.params.seq),
      Array.from({ length: ADDS }, (_, i) => i + 1),
    );
    assert.ok(events.every((e) => e.method === "changed" && e.params.type === "added"));
  } finally {
    for (const w of writers) w.close();
  }
});

Deno.test(
  "watch: a subscriber that stops reading does not hold up writers; it is dropped with a notice",
  {
    ignore: !hasPython(),
  },
  async () => {
    await using server = await TestServer.start({ args: ["--write-timeout", "600"] });
    // The subscriber is a Python process: it can shrink its receive buffer, so the kernel
    // holds little of what the server sends it (Deno cannot, and loopback then buffers MBs).
    const script = new URL("./fixtures/slow_subscriber.py", import.meta.url).pathname;
    const subscriber = new Deno.Command("python3", {
      args: [script, String(server.port)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const stdin = subscriber.stdin.getWriter();
    const output = subscriber.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    try {
      while (!text.includes("subscribed\n")) {
        const { value, done } = await output.read();
        if (done) throw new Error("the subscriber ended early");
        text += value;
      }
      text = text.slice(text.indexOf("subscribed\n") + "subscribed\n".length);
      // It reads nothing now. Writers go on in rounds until the server drops it: each round
      // finishes (writers are never held up by it), and the rounds are bounded.
      const writers = await Promise.all(Array.from({ length: 16 }, () => server.connect()));
      const ROUND = 125, MAX_ROUNDS = 20;
      let written = 0;
      const dropped = () => server.logs.some((line) => line.includes("watch dropped at seq"));
      try {
        for (let round = 0; round < MAX_ROUNDS && !dropped(); round++) {
          await Promise.all(writers.map(async (w, k) => {
            const batch = Array.from({ length: ROUND }, (_, i) =>
              JSON.stringify({
                jsonrpc: "2.0",
                id: i,
                method: "add",
                // Long names in a 3-byte script make long notification lines.
                params: { contact: { name: `${k}-${round}-${i} ${"漢".repeat(185)}` } },
              }) + "\n").join("");
            await w.send(batch);
            for (let i = 0; i < ROUND; i++) {
              const reply = await w.readJson();
              assert.ok(reply.result, `add failed: ${JSON.stringify(reply)}`);
            }
          }));
          written += ROUND * writers.length;
        }
        assert.ok(dropped(), `not dropped after ${written} writes`);
      } finally {
        for (const w of writers) w.close();
      }
      // The subscriber reads at last: consecutive events, then the notice, then its reply.
      await stdin.write(new TextEncoder().encode("read\n"));
      await stdin.close();
      while (true) {
        const { value, done } = await output.read();
        if (done) break;
        text += value;
      }
      assert.equal((await subscriber.status).code, 0);
      const received: Message[] = text.trim().split("\n").map((line) => JSON.parse(line));
      assert.deepEqual(received.shift(), { jsonrpc: "2.0", id: "w", result: { seq: 0 } });
      const reply = received.pop();
      assert.equal(reply.id, "after");
      assert.equal(reply.result.count, written, "the connection still serves requests");
      const notice = received.pop();
      assert.equal(notice.method, "watch_dropped");
      assert.equal("id" in notice, false);
      assert.match(notice.params.message, /^Over 1000 changes were waiting while this connection/);
      assert.match(notice.params.message, /watch again with since \d+ to resume$/);
      const seqs = received.map((m) => m.params.seq);
      assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1));
      assert.equal(notice.params.seq, seqs.length);
      assert.ok(seqs.length < written, "the events after the drop were not queued for it");
      // Where it stopped, the log takes over: a new watch with since gets the rest.
      using again = await server.connect();
      const [, watching] = await request(again, "w", "watch", { since: notice.params.seq });
      assert.equal(watching.result.seq, written);
      const [rest] = await request(again, "c", "count");
      assert.deepEqual(
        rest.map((m: Message) => m.params.seq),
        Array.from({ length: written - notice.params.seq }, (_, i) => notice.params.seq + 1 + i),
      );
    } finally {
      try {
        subscriber.kill("SIGKILL");
      } catch {
        // already exited
      }
      await subscriber.status;
      await output.cancel().catch(() => {});
    }
  },
);

Deno.test("watch: events survive SIGKILL (the log is in KV) and replay after a restart", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  const added: string[] = [];
  {
    const server = await TestServer.start({ dataDir });
    using writer = await server.connect();
    for (const name of ["Ann", "Bob", "Cy"]) {
      added.push((await writer.result("add", { contact: contact(name) })).id);
    }
    await server.stop("SIGKILL");
  }
  await using server = await TestServer.start({ dataDir });
  using watcher = await server.connect();
  const [, watching] = await request(watcher, "w", "watch", { since: 0 });
  assert.deepEqual(watching.result, { seq: 3 });
  const [events] = await request(watcher, "c", "count");
  assert.deepEqual(events.map((e: Message) => [e.params.seq, e.params.id]), [
    [1, added[0]],
    [2, added[1]],
    [3, added[2]],
  ]);
  // Numbering goes on after the restart.
  using writer = await server.connect();
  await writer.result("add", { contact: contact("Di") });
  const [more] = await request(watcher, "c2", "count");
  assert.deepEqual(more.map((e: Message) => e.params.seq), [4]);
});

Deno.test("watch: a subscribed connection outlives the idle timeout; others do not", async () => {
  await using server = await TestServer.start({ args: ["--idle-timeout", "1"] });
  using watcher = await server.connect();
  await request(watcher, "w", "watch");
  using idle = await server.connect();
  await idle.result("ping");
  assert.ok(await idle.closedByServer(10_000), "the idle connection was closed");
  using writer = await server.connect();
  const ann = await writer.result("add", { contact: contact("Ann") });
  const event = await watcher.readJson();
  assert.deepEqual(event.params, {
    type: "added",
    id: ann.id,
    name: "Ann",
    version: ann.version,
    seq: 1,
  });
});
