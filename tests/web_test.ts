/**
 * The web page's door through a real server process (issue 13): the page's files and their
 * security headers, and the WebSocket `/rpc` with Deno's WebSocket client: JSON-RPC one
 * message per frame, search and watch, a TCP write pushed live, a foreign Origin refused, an
 * oversized message refused, and auth (none, a token, a read-only token that cannot write).
 *
 * @module
 */

import assert, { deepEqual as assertEquals, match as assertMatch } from "node:assert/strict";
import { startDav } from "./dav_helpers.ts";
import { WsRpc } from "./web_helpers.ts";

Deno.test("the page and its files are served with a strict CSP, nosniff and frame denial", async () => {
  await using dav = await startDav();
  for (
    const [path, type] of [["/", "text/html"], ["/app.js", "text/javascript"], [
      "/style.css",
      "text/css",
    ]]
  ) {
    const reply = await fetch(dav.url + path);
    const text = await reply.text();
    assertEquals(reply.status, 200, path);
    assertMatch(reply.headers.get("content-type") ?? "", new RegExp(type!));
    const csp = reply.headers.get("content-security-policy") ?? "";
    assertMatch(csp, /default-src 'none'/);
    assertMatch(csp, /script-src 'self'/);
    assert(!csp.includes("unsafe-inline"), csp);
    assertMatch(csp, /frame-ancestors 'none'/);
    assertEquals(reply.headers.get("x-content-type-options"), "nosniff");
    assertEquals(reply.headers.get("x-frame-options"), "DENY");
    // Nothing is fetched from anywhere but this server.
    assert(!/https?:\/\/(?!www\.w3\.org)/.test(text), `${path} names another site`);
    if (path === "/") assert(!/<script>|<script [^>]*>[^<]/.test(text), "no inline script");
    if (path === "/app.js") assert(!text.includes("innerHTML"), "no innerHTML");
  }
  // The DAV tree is where it was.
  const dav404 = await fetch(dav.url + "/nothing-here");
  await dav404.body?.cancel();
  assertEquals(dav404.status, 404);
  const options = await fetch(dav.url + "/dav/", { method: "OPTIONS" });
  await options.body?.cancel();
  assertMatch(options.headers.get("dav") ?? "", /addressbook/);
});

Deno.test("the WebSocket answers hello, add, search and pushes a TCP client's change", async () => {
  await using dav = await startDav();
  await using ws = await WsRpc.open(dav.url, dav.url);
  const hello = await ws.result("hello");
  assertEquals(hello.auth, false);
  assertEquals(typeof hello.maxLine, "number");
  const added = await ws.result<{ id: string }>("add", {
    contact: { name: "Ada Lovelace", phones: [{ label: "home", number: "020 7946 0001" }] },
  });
  const found = await ws.result<{ contacts: { id: string }[] }>("search", { query: "lov" });
  assertEquals(found.contacts.map((c) => c.id), [added.id]);
  const byDigits = await ws.result<{ contacts: { id: string }[] }>("search", { query: "020 79" });
  assertEquals(byDigits.contacts.length, 1);
  const watch = await ws.result<{ seq: number }>("watch", {});
  assertEquals(typeof watch.seq, "number");
  // A write on the TCP door reaches the page's socket as a `changed` frame.
  await using tcp = await dav.server.connect();
  const bob = await tcp.result("add", {
    contact: { name: "Bob <img src=x onerror=alert(1)>" },
  }) as {
    id: string;
  };
  const pushed = await ws.next();
  assertEquals(pushed?.method, "changed");
  const params = pushed?.params as Record<string, unknown>;
  assertEquals([params.type, params.id], ["added", bob.id]);
  // A batch is answered as one array frame.
  ws.socket.send(JSON.stringify([
    { jsonrpc: "2.0", id: "a", method: "count", params: {} },
    { jsonrpc: "2.0", id: "b", method: "ping", params: {} },
  ]));
  const batch = await ws.next();
  assert(Array.isArray(batch), JSON.stringify(batch));
  assertEquals((batch as unknown as { id: string }[]).map((r) => r.id), ["a", "b"]);
  // Malformed JSON gets the TCP door's parse error, and the socket stays open.
  ws.socket.send("{not json");
  const bad = await ws.next();
  assertEquals((bad?.error as { code: number }).code, -32700);
  assertEquals((await ws.result<{ count: number }>("count")).count, 2);
});

Deno.test("the WebSocket refuses an Origin that is not the page's own", async () => {
  await using dav = await startDav();
  const reply = await fetch(dav.url + "/rpc", {
    headers: {
      origin: "http://evil.example",
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  const text = await reply.text();
  assertEquals(reply.status, 403);
  assertMatch(text, /refuses Origin "http:\/\/evil\.example"/);
  // With Deno's client the upgrade fails (no socket opens).
  const opened = await WsRpc.open(dav.url, "http://evil.example").then(
    async (ws) => {
      await ws[Symbol.asyncDispose]();
      return true;
    },
    () => false,
  );
  assertEquals(opened, false);
  assert(dav.server.logs.some((line) => /refused: The WebSocket refuses Origin/.test(line)));
});

Deno.test("a message longer than --max-line is answered TOO_LARGE and the socket closed", async () => {
  await using dav = await startDav({ args: ["--max-line", "4096"] });
  await using ws = await WsRpc.open(dav.url);
  assertEquals((await ws.result("hello")).maxLine, 4096);
  ws.socket.send(JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "add",
    params: { contact: { name: "x".repeat(5000) } },
  }));
  const reply = await ws.next();
  assertEquals((reply?.error as { data: { reason: string } }).data.reason, "TOO_LARGE");
  const closed = await ws.closed();
  assertEquals(closed.code, 1009);
  // Others are still served.
  await using other = await WsRpc.open(dav.url);
  assertEquals((await other.result<{ count: number }>("count")).count, 0);
});

Deno.test("a protected server's WebSocket needs auth; a read-only token cannot write", async () => {
  const write = "write-token-0123456789";
  const read = "read-token-0123456789a";
  await using dav = await startDav({
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: write, ADDRESSBOOK_READ_TOKEN: read },
  });
  await using ws = await WsRpc.open(dav.url, dav.url);
  assertEquals((await ws.result("hello")).auth, true);
  const before = await ws.call("count");
  assertEquals(before.error?.data.reason, "UNAUTHORIZED");
  const wrong = await ws.call("auth", { token: "not-the-token-at-all" });
  assertEquals(wrong.error?.data.reason, "UNAUTHORIZED");
  assertEquals((await ws.result("auth", { token: read })).access, "read-only");
  assertEquals((await ws.result<{ count: number }>("count")).count, 0);
  const refused = await ws.call("add", { contact: { name: "Mallory" } });
  assertEquals(refused.error?.data.reason, "UNAUTHORIZED");
  await using writer = await WsRpc.open(dav.url, dav.url);
  assertEquals((await writer.result("auth", { token: write })).access, "read-write");
  await writer.result("add", { contact: { name: "Alice" } });
  assertEquals((await ws.result<{ count: number }>("count")).count, 1);
});

Deno.test("WebSockets from one address are capped by --max-per-peer (503 past it)", async () => {
  await using dav = await startDav({ args: ["--max-per-peer", "2"] });
  await using a = await WsRpc.open(dav.url);
  await using b = await WsRpc.open(dav.url);
  const third = await WsRpc.open(dav.url).then(
    async (ws) => {
      await ws[Symbol.asyncDispose]();
      return true;
    },
    () => false,
  );
  assertEquals(third, false);
  assert(dav.server.logs.some((line) => /refused: This address has 2 WebSockets open/.test(line)));
  // The page itself is still served, and a closed socket frees its place.
  const page = await fetch(dav.url + "/");
  await page.body?.cancel();
  assertEquals(page.status, 200);
  await b[Symbol.asyncDispose]();
  await using c = await WsRpc.open(dav.url);
  assertEquals((await c.result<{ count: number }>("count")).count, 0);
  assertEquals((await a.result<{ count: number }>("count")).count, 0);
});

Deno.test("the page's download and upload: vCard and CSV export, import with a summary", async () => {
  await using dav = await startDav();
  await using ws = await WsRpc.open(dav.url, dav.url);
  await ws.result("add", { contact: { name: "Ada Lovelace", town: "London" } });
  await ws.result("add", {
    contact: { name: "Bob Brown", emails: [{ label: "", address: "b@x.org" }] },
  });
  const vcf = await fetch(dav.url + "/export.vcf");
  const cards = await vcf.text();
  assertEquals(vcf.status, 200);
  assertMatch(
    vcf.headers.get("content-disposition") ?? "",
    /attachment; filename="addressbook\.vcf"/,
  );
  assertEquals(cards.match(/BEGIN:VCARD/g)?.length, 2);
  const csv = await (await fetch(dav.url + "/export.csv")).text();
  assertEquals(csv.trim().split("\n").length, 3, csv);
  // The export imported back: both unchanged (matched by the UID the export gave them).
  const again = await fetch(dav.url + "/import", {
    method: "POST",
    headers: { origin: dav.url },
    body: cards,
  });
  assertEquals(await again.json(), {
    format: "vcard",
    added: 0,
    updated: 0,
    unchanged: 2,
    skipped: [],
    warnings: [],
  });
  // A CSV with an edit, a new contact and a row without a name.
  const edited = csv.replace("London", "Leeds") + ",,,,,,,,\nCarol Cole,,,Paris\n";
  const reply = await fetch(dav.url + "/import", { method: "POST", body: edited });
  const summary = await reply.json();
  assertEquals([summary.format, summary.added, summary.updated, summary.unchanged], [
    "csv",
    1,
    1,
    1,
  ]);
  assertEquals(summary.skipped.length, 1, JSON.stringify(summary));
  assertEquals((await ws.result<{ count: number }>("count")).count, 3);
  const ada = await ws.result<{ contacts: { town: string }[] }>("search", { query: "ada" });
  assertEquals(ada.contacts[0]!.town, "Leeds");
  // Another site cannot post a file.
  const foreign = await fetch(dav.url + "/import", {
    method: "POST",
    headers: { origin: "http://evil.example" },
    body: "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mallory\r\nEND:VCARD\r\n",
  });
  await foreign.body?.cancel();
  assertEquals(foreign.status, 403);
  assertEquals((await ws.result<{ count: number }>("count")).count, 3);
});

Deno.test("download and upload on a protected server take the token as a Bearer header", async () => {
  const write = "write-token-0123456789";
  const read = "read-token-0123456789a";
  await using dav = await startDav({
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: write, ADDRESSBOOK_READ_TOKEN: read },
  });
  const card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEND:VCARD\r\n";
  const none = await fetch(dav.url + "/export.vcf");
  await none.body?.cancel();
  assertEquals(none.status, 401);
  const readOnly = await fetch(dav.url + "/import", {
    method: "POST",
    headers: { authorization: `Bearer ${read}` },
    body: card,
  });
  await readOnly.body?.cancel();
  assertEquals(readOnly.status, 403);
  const written = await fetch(dav.url + "/import", {
    method: "POST",
    headers: { authorization: `Bearer ${write}` },
    body: card,
  });
  assertEquals((await written.json()).added, 1);
  const exported = await fetch(dav.url + "/export.vcf", {
    headers: { authorization: `Bearer ${read}` },
  });
  assertMatch(await exported.text(), /FN:Ada Lovelace/);
});

Deno.test("WebSockets: the idle and auth timeouts close them; unauthenticated ones hold half the places", async () => {
  await using open = await startDav({ args: ["--idle-timeout", "1"] });
  await using watcher = await WsRpc.open(open.url);
  await watcher.result("watch", {});
  await using idle = await WsRpc.open(open.url);
  assertEquals((await idle.closed()).code, 1000);
  // A watching socket is never idle.
  assertEquals((await watcher.result<{ count: number }>("count")).count, 0);

  const write = "write-token-0123456789";
  await using dav = await startDav({
    args: [
      "--require-auth",
      "--auth-timeout",
      "1",
      "--max-connections",
      "2",
      "--max-per-peer",
      "2",
    ],
    env: { ADDRESSBOOK_TOKEN: write },
  });
  await using late = await WsRpc.open(dav.url);
  // One of two places may wait for auth: a second socket is refused meanwhile.
  const second = await WsRpc.open(dav.url).then(async (ws) => {
    await ws[Symbol.asyncDispose]();
    return true;
  }, () => false);
  assertEquals(second, false);
  assert(dav.server.logs.some((line) => /1 WebSockets waiting to authenticate/.test(line)));
  const told = await late.next();
  assertEquals((told?.error as { data: { reason: string } }).data.reason, "UNAUTHORIZED");
  assertEquals((await late.closed()).code, 1008);
  await using prompt = await WsRpc.open(dav.url);
  assertEquals((await prompt.result("auth", { token: write })).access, "read-write");
  await using other = await WsRpc.open(dav.url);
  assertEquals((await other.result("hello")).auth, true);
});
