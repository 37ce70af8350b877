/**
 * Requests on one connection run in order, although the server answers the reads its
 * in-memory view can serve (find, get, search, count, ping, hello, stats) at once and awaits
 * only the rest: a read pipelined after a write sees it, a read before it does not.
 */
import assert from "node:assert/strict";
import { newId } from "../lib/model/ids.ts";
import { TestServer } from "./helpers.ts";

const NAMES = ["Ann Lee", "Bob Lee", "Ann Ray", "Cy Ray"];

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

// deno-lint-ignore no-explicit-any
type Reply = any;
type Check = (reply: Reply) => void;

Deno.test("a pipelined mix of writes and view-served reads on one connection keeps order", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const next = random(5);
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)]!;
  const book = new Map<string, string>(); // id -> name, what the server must hold
  const removed: string[] = [];
  const lines: string[] = [];
  const checks: Check[] = [];
  let requests = 0;
  let nextId = 0;

  /** One request: its JSON, and the check of its reply made against the book as it is now. */
  const request = (method: string, params: Record<string, unknown>) => {
    const id = nextId++;
    requests++;
    let check: Check;
    if (method === "add") {
      const contact = params.contact as { name: string };
      book.set(params.id as string, contact.name);
      check = (reply) => {
        assert.equal(reply.result.id, params.id);
        assert.equal(reply.result.name, contact.name);
      };
    } else if (method === "remove") {
      book.delete(params.id as string);
      removed.push(params.id as string);
      check = (reply) => assert.equal(reply.result.removed.id, params.id);
    } else if (method === "find") {
      const expected = [...book].filter(([, name]) => name === params.name).map(([i]) => i)
        .sort();
      check = (reply) => assert.deepEqual(reply.result.contacts.map((c: Reply) => c.id), expected);
    } else if (method === "search") {
      const word = (params.query as string).toLowerCase();
      const expected = [...book].filter(([, name]) => name.toLowerCase().split(" ").includes(word))
        .map(([i]) => i).sort();
      check = (reply) =>
        assert.deepEqual(reply.result.contacts.map((c: Reply) => c.id).sort(), expected);
    } else if (method === "get") {
      const name = book.get(params.id as string);
      check = (reply) => {
        if (name === undefined) assert.equal(reply.error?.data?.reason, "NOT_FOUND");
        else assert.equal(reply.result.name, name);
      };
    } else if (method === "count") {
      const count = book.size;
      check = (reply) => assert.deepEqual(reply.result, { count });
    } else if (method === "ping") {
      const seen = requests;
      check = (reply) => assert.equal(reply.result.requests, seen);
    } else {
      throw new Error(`No model for ${method}`);
    }
    return {
      json: { jsonrpc: "2.0", id, method, params },
      check: (reply: Reply) => {
        assert.equal(reply.id, id, `reply to request ${id} (${method}) out of order`);
        check(reply);
      },
    };
  };

  // A ping reports the requests read so far, counted a whole line at a time: none in batches.
  const step = (inBatch = false): { json: unknown; check: Check } => {
    const ids = [...book.keys()];
    const roll = next();
    if (roll < 0.3 || ids.length === 0) {
      return request("add", { id: newId(), contact: { name: pick(NAMES) } });
    }
    if (roll < 0.4) return request("remove", { id: pick(ids) });
    if (roll < 0.6) return request("find", { name: pick(NAMES), limit: 100 });
    if (roll < 0.7) return request("search", { query: pick(["Ann", "Lee", "Ray", "Cy"]) });
    if (roll < 0.85) {
      return request("get", { id: removed.length > 0 && next() < 0.3 ? pick(removed) : pick(ids) });
    }
    if (roll < 0.95 || inBatch) return request("count", {});
    return request("ping", {});
  };

  for (let i = 0; i < 300; i++) {
    if (next() < 0.1) {
      // A batch line mixing writes and reads: its replies come in one array, in order.
      const items = Array.from({ length: 2 + Math.floor(next() * 4) }, () => step(true));
      lines.push(JSON.stringify(items.map((item) => item.json)));
      checks.push((replies) => {
        assert.equal(replies.length, items.length);
        items.forEach((item, k) => item.check(replies[k]));
      });
    } else {
      const item = step();
      lines.push(JSON.stringify(item.json));
      checks.push(item.check);
    }
  }
  // All in one write: the server gets them in as few chunks as the socket allows.
  await client.send(lines.join("\n") + "\n");
  for (const check of checks) check(await client.readJson());

  // An update pipelined between reads: the reads before see the old name, those after the new.
  const [id] = [...book.keys()];
  assert.ok(id !== undefined);
  const before = await client.result("get", { id });
  const old = before.name as string;
  const renamed = "Zed Renamed";
  const update = (version: string, name: string) =>
    JSON.stringify({
      jsonrpc: "2.0",
      id: `u-${name}-${version}`,
      method: "update",
      params: { id, version, contact: { name } },
    });
  await client.send(
    [
      JSON.stringify({ jsonrpc: "2.0", id: "find-old", method: "find", params: { name: old } }),
      update(before.version, renamed),
      JSON.stringify({ jsonrpc: "2.0", id: "find-new", method: "find", params: { name: renamed } }),
      JSON.stringify({ jsonrpc: "2.0", id: "get-new", method: "get", params: { id } }),
      update(before.version, "Stale Write"),
      JSON.stringify({ jsonrpc: "2.0", id: "get-after", method: "get", params: { id } }),
    ].join("\n") + "\n",
  );
  const findOld = await client.readJson();
  assert.equal(findOld.id, "find-old");
  assert.ok(findOld.result.contacts.some((c: Reply) => c.id === id));
  const updated = await client.readJson();
  assert.equal(updated.result.name, renamed);
  const findNew = await client.readJson();
  assert.equal(findNew.id, "find-new");
  assert.deepEqual(findNew.result.contacts.map((c: Reply) => c.id), [id]);
  const getNew = await client.readJson();
  assert.equal(getNew.result.version, updated.result.version);
  const stale = await client.readJson();
  assert.equal(stale.error.data.reason, "CONFLICT");
  const getAfter = await client.readJson();
  assert.equal(getAfter.id, "get-after");
  assert.equal(getAfter.result.name, renamed);
  assert.equal(getAfter.result.version, updated.result.version);
});
