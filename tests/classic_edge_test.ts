/**
 * The classic protocol under messages the tutorial never sent: a name shared by more than a
 * page of contacts, a message split inside a UTF-8 character or longer than one read, and
 * one far over any valid message.
 */
import assert from "node:assert/strict";
import { classic, TestServer } from "./helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Everything the server sends on `conn` until it closes or `ms` pass with nothing new. */
async function readAll(conn: Deno.Conn, ms = 2000): Promise<{ text: string; closed: boolean }> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  for (let reads = 0; reads < 1000; reads++) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = conn.read(buffer);
    const result = await Promise.race([
      read,
      new Promise<"quiet">((resolve) => timer = setTimeout(() => resolve("quiet"), ms)),
    ]);
    clearTimeout(timer);
    if (result === "quiet") {
      conn.close();
      await read.catch(() => {});
      return { text: decoder.decode(concat(chunks)), closed: false };
    }
    if (result === null) break;
    chunks.push(buffer.slice(0, result));
  }
  conn.close();
  return { text: decoder.decode(concat(chunks)), closed: true };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) out.set(chunk, at), at += chunk.length;
  return out;
}

Deno.test("classic: counts say how many share a name, past one page of 100", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const batch = Array.from({ length: 150 }, (_, id) => ({
    jsonrpc: "2.0",
    id,
    method: "add",
    params: { contact: { name: "Same Name", town: `Town ${id}` } },
  }));
  await client.send(JSON.stringify(batch) + "\n");
  assert.equal((await client.readJson(30_000)).length, 150);
  assert.equal(
    await classic(server.port, "rem:Same Name"),
    "ERROR: 150 entries are named Same Name; remove one with the client",
  );
  assert.equal(
    await classic(server.port, "add:Same Name,1 High Street, Springfield, 555-0100"),
    "ERROR: 150 entries are named Same Name; edit one with the client",
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  await conn.write(encoder.encode("fnd:Same Name"));
  const { text } = await readAll(conn, 500);
  assert.equal(text.split("\n").length, 150, "fnd: lists every match");
  assert.equal((await client.result("count")).count, 150, "nothing was added or removed");
});

Deno.test("classic: a message split inside a UTF-8 character, or longer than a read, is one message", async () => {
  await using server = await TestServer.start();
  // "Zoë": the ë (C3 AB) is split over two writes with a pause between.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const message = encoder.encode("add:Zoë,1 Main Street, Ogdenville, 555-0001");
  const cut = message.indexOf(0xc3) + 1;
  await conn.write(message.subarray(0, cut));
  await new Promise((resolve) => setTimeout(resolve, 300));
  await conn.write(message.subarray(cut));
  const buffer = new Uint8Array(1024);
  const n = await conn.read(buffer);
  conn.close();
  assert.equal(decoder.decode(buffer.subarray(0, n ?? 0)), "Added entry for Zoë");
  // A valid message of about 3 KB (the first read holds 1 KiB of it).
  const notes = "é".repeat(900) + " and more";
  assert.equal(await classic(server.port, `add:Long Notes,${notes}`), "Added entry for Long Notes");
  using client = await server.connect();
  const zoe = await client.result("find", { name: "Zoë" });
  assert.equal(zoe.contacts.length, 1);
  assert.equal(zoe.contacts[0].name, "Zoë");
  const long = await client.result("find", { name: "Long Notes" });
  assert.equal(long.contacts[0].notes, notes);
  assert.equal((await client.result("count")).count, 2);
  assert.deepEqual((await client.result("check")).problems, []);
});

Deno.test("classic: a 200 KB message is refused in one line, without its text, and closed", async () => {
  await using server = await TestServer.start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const write = conn.write(encoder.encode("add:" + "x".repeat(200_000))).catch(() => 0);
  const { text, closed } = await readAll(conn);
  await write;
  assert.equal(text, "ERROR: The message is longer than 16384 bytes; closing the connection\n");
  assert.ok(closed, "the connection was left open");
  using client = await server.connect();
  assert.equal((await client.result("count")).count, 0);
});
