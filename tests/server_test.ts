import assert from "node:assert/strict";
import { classic, TestServer } from "./helpers.ts";

Deno.test("server answers hello and ping over real TCP", async () => {
  await using server = await TestServer.start();
  using client = await server.connect();
  const hello = await client.result("hello");
  assert.deepEqual(hello, {
    server: "addressbook",
    version: hello.version,
    protocol: 1,
    connection: 1,
    auth: false,
  });
  const ping = await client.result("ping");
  assert.equal(ping.connection, 1);
  assert.equal(ping.requests, 2);
  assert.match(ping.message, /connection number 1/);
});

Deno.test("classic protocol: add, find, remove", async () => {
  await using server = await TestServer.start();
  assert.equal(
    await classic(server.port, "add:Bob,12 High Street, Springfield, 555-0123"),
    "Added entry for Bob",
  );
  assert.equal(await classic(server.port, "fnd:Bob"), "Bob: 12 High Street, Springfield, 555-0123");
});
