/**
 * Hostile input at the CardDAV door, through a real server process: malformed XML, entity
 * expansion ("billion laughs"), huge bodies (with and without a Content-Length), deep
 * nesting, and a PROPFIND of every property of a 10,000-contact book from a client that
 * does not read. Each gets a clear 4xx or a bounded, streamed answer, and the server serves
 * others meanwhile.
 */
import assert from "node:assert/strict";
import { sample } from "../bench/proc.ts";
import { BOOK, DAV, members, precondition, propfind, request, startDav } from "./dav_helpers.ts";

/** The server process's resident memory, in MiB (from /proc, as bench/proc.ts reads it). */
async function rssMiB(pid: number): Promise<number> {
  const { rssKiB } = await sample(pid);
  assert.ok(rssKiB > 0, "cannot read the server's /proc status");
  return rssKiB / 1024;
}

Deno.test("malformed XML, a DOCTYPE (billion laughs) and deep nesting are 400, the server unharmed", async () => {
  await using dav = await startDav();
  const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
    Array.from(
      { length: 9 },
      (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? "" : i};`.repeat(10)}">`,
    ).join("") +
    ']><d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&lol9;</d:displayname></d:prop></d:propfind>';
  const external = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>' +
    '<d:propfind xmlns:d="DAV:"><d:prop><d:displayname>&e;</d:displayname></d:prop></d:propfind>';
  const deep = '<d:propfind xmlns:d="DAV:">' + "<d:prop>".repeat(10_000) +
    "</d:prop>".repeat(10_000) + "</d:propfind>";
  const cases: [string, string, RegExp][] = [
    ["unclosed", '<d:propfind xmlns:d="DAV:"><d:prop>', /not well-formed/],
    ["mismatched", '<d:propfind xmlns:d="DAV:"></d:prop>', /not well-formed/],
    ["unbound prefix", "<x:propfind/>", /not well-formed/],
    ["not XML", '{"json": true}', /not well-formed/],
    ["billion laughs", laughs, /DOCTYPE/],
    ["external entity", external, /DOCTYPE/],
    ["10,000 deep", deep, /more than 32 deep/],
    ["wrong root", '<d:multistatus xmlns:d="DAV:"/>', /DAV:propfind/],
  ];
  for (const [what, body, message] of cases) {
    const reply = await request(dav.url, "PROPFIND", BOOK, { headers: { depth: "0" }, body });
    assert.equal(reply.status, 400, `${what}: ${reply.text}`);
    assert.match(reply.text, message, what);
    assert.doesNotMatch(reply.text, /lollol|root:/, what);
  }
  const report = await request(dav.url, "REPORT", BOOK, { body: laughs.replace("propfind", "x") });
  assert.equal(report.status, 400);
  assert.equal((await propfind(dav.url, BOOK, "0", ["getctag"])).status, 207, "still serving");
});

Deno.test("huge bodies are 413, by Content-Length at once and while reading a chunked one", async () => {
  await using dav = await startDav();
  const big = new Uint8Array(5 * 1024 * 1024).fill(0x20);
  const declared = await request(dav.url, "PROPFIND", BOOK, { headers: { depth: "0" }, body: big });
  assert.equal(declared.status, 413);
  assert.equal(precondition(declared), "urn:ietf:params:xml:ns:carddav max-resource-size");
  // A chunked body (no Content-Length) is cut when it passes the cap, not read to its end.
  let sent = 0;
  const chunks = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= 64 * 1024 * 1024) return controller.close();
      sent += 64 * 1024;
      controller.enqueue(new Uint8Array(64 * 1024).fill(0x41));
    },
  });
  const reply = await fetch(`${dav.url}${BOOK}big.vcf`, { method: "PUT", body: chunks })
    .then(
      async (r) => ({ status: r.status, text: await r.text() }),
      (e) => ({ status: 0, text: String(e) }),
    );
  assert.ok(reply.status === 413 || reply.status === 0, `${reply.status} ${reply.text}`);
  assert.ok(sent < 64 * 1024 * 1024, `the server stopped reading (${sent} bytes sent)`);
  console.log(`a chunked 64 MiB PUT: ${reply.status}, ${(sent / 1048576).toFixed(1)} MiB sent`);
  assert.equal((await request(dav.url, "GET", BOOK + "big.vcf")).status, 404);
  assert.equal((await propfind(dav.url, BOOK, "0", ["getctag"])).status, 207, "still serving");
});

Deno.test("a PROPFIND of 10,000 cards to a client that reads nothing is bounded and cut off", async () => {
  await using dav = await startDav({ args: ["--write-timeout", "3"] });
  // 10,000 contacts through the TCP door, 100 adds a line.
  using client = await dav.server.connect();
  for (let line = 0; line < 100; line++) {
    const batch = Array.from({ length: 100 }, (_, i) => ({
      jsonrpc: "2.0",
      id: line * 100 + i,
      method: "add",
      params: {
        contact: {
          name: `Person ${line * 100 + i} ${"Longname".repeat(4)}`,
          notes: "n".repeat(200),
          phones: [{
            label: "mobile",
            number: `+1 555 ${String(line * 100 + i).padStart(4, "0")}`,
          }],
        },
      },
    }));
    await client.send(JSON.stringify(batch) + "\n");
    const replies = await client.readJson(60_000);
    assert.equal(replies.length, 100);
  }
  assert.equal((await client.result("count")).count, 10_000);
  const pid = dav.server.process.pid;
  const before = await rssMiB(pid);
  // A client that sends an allprop PROPFIND with depth 1 and never reads.
  const { hostname, port } = new URL(dav.url);
  const sleeper = await Deno.connect({ hostname, port: Number(port) });
  const body = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>';
  await sleeper.write(
    new TextEncoder().encode(
      `PROPFIND ${BOOK} HTTP/1.1\r\nHost: ${hostname}\r\nDepth: 1\r\n` +
        `Content-Type: application/xml\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    ),
  );
  try {
    // Meanwhile others are served, and the server does not hold the whole answer.
    let peak = before;
    for (let i = 0; i < 10; i++) {
      const reply = await propfind(dav.url, BOOK, "0", ["getctag"]);
      assert.equal(reply.status, 207);
      peak = Math.max(peak, await rssMiB(pid));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(peak - before < 64, `the server grew ${(peak - before).toFixed(1)} MiB`);
    console.log(
      `a non-reading PROPFIND of 10,000 cards: server RSS ${before.toFixed(1)} -> ` +
        `${peak.toFixed(1)} MiB at most; 10 other PROPFINDs answered meanwhile`,
    );
    // After the write timeout, the stalled reply is cut off and logged.
    assert.ok(await dav.server.waitForLog(/read nothing of its reply for 3 s; cut off/, 15_000));
  } finally {
    sleeper.close();
  }
  // A reading client gets the whole answer, streamed: 10,000 members and the book.
  const reply = await request(dav.url, "PROPFIND", BOOK, {
    headers: { depth: "1" },
    body,
  });
  const all = members(reply);
  assert.equal(all.length, 10_001);
  assert.ok(all[1]!.found.has(`${DAV} getetag`));
});
