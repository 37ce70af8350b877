/**
 * CardDAV through a real server process: the HTTP door (its port, off, the startup line),
 * discovery, OPTIONS, PROPFIND of the principal, home and book, GET/PUT/DELETE with ETags
 * and their preconditions, and both doors seeing each other's writes. Raw HTTP, XML read by
 * a real parser.
 */
import assert from "node:assert/strict";
import { parseServerCommand } from "../lib/server/config.ts";
import {
  BOOK,
  CARDDAV,
  CS,
  DAV,
  members,
  precondition,
  propfind,
  request,
  startDav,
  vcard,
} from "./dav_helpers.ts";
import { makeCertificate, tempDir, TestServer } from "./helpers.ts";

const ANN = vcard([
  "UID:8d1f2a4e-0000-4000-8000-000000000001",
  "FN:Ann Example",
  "N:Example;Ann;;;",
  "TEL;TYPE=CELL:+1 555 0100",
  "item1.EMAIL;TYPE=INTERNET:ann@example.com",
  "item1.X-ABLabel:_$!<Other>!$_",
  "X-ADDRESSBOOKSERVER-KIND:individual",
  "PHOTO;ENCODING=b;TYPE=JPEG:" + "A".repeat(300),
]);

Deno.test("--http-port: 2008 by default, 0 when --port is 0, a number, or off", () => {
  const port = (args: string[], env: Record<string, string> = {}) => {
    const command = parseServerCommand(args, (name) => env[name]);
    if (command.kind !== "serve") throw new Error(command.kind);
    return command.config.httpPort;
  };
  assert.equal(port([]), 2008);
  assert.equal(port(["--port", "0"]), 0);
  assert.equal(port(["--port", "0", "--http-port", "8443"]), 8443);
  assert.equal(port([], { ADDRESSBOOK_HTTP_PORT: "off" }), null);
  assert.equal(port(["--http-port", "OFF"], { ADDRESSBOOK_HTTP_PORT: "9000" }), null);
  assert.throws(() => port(["--http-port", "2007"]), /is the TCP port too/);
  assert.throws(() => port(["--http-port", "http"]), /--http-port "http" is not a whole number/);
});

Deno.test("the startup line names the CardDAV URL; --http-port off opens no HTTP port", async () => {
  await using dav = await startDav();
  assert.match(dav.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.notEqual(Number(new URL(dav.url).port), dav.server.port);
  const options = await request(dav.url, "OPTIONS", "/dav/");
  assert.equal(options.status, 200);
  assert.match(options.headers.get("dav") ?? "", /^1, 3, addressbook\b/);
  assert.match(options.headers.get("allow") ?? "", /PROPFIND.*REPORT/);

  await using off = await TestServer.start({ args: ["--http-port", "off"] });
  const line = off.logs.find((l) => / listening on /.test(l))!;
  assert.doesNotMatch(line, /CardDAV/);
});

Deno.test("/.well-known/carddav redirects to the DAV root, before any auth", async () => {
  await using dav = await startDav({
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: "write-token-0123456789" },
  });
  const reply = await request(dav.url, "PROPFIND", "/.well-known/carddav");
  assert.equal(reply.status, 301);
  assert.equal(reply.headers.get("location"), "/dav/");
});

Deno.test("discovery: the root names the principal, the principal the home, the home the book", async () => {
  await using dav = await startDav();
  const root = members(await propfind(dav.url, "/", "0", ["current-user-principal"]))[0]!;
  assert.equal(
    root.found.get(`${DAV} current-user-principal`)?.children[0]?.text,
    "/dav/principal/",
  );
  const principal = members(
    await propfind(dav.url, "/dav/principal/", "0", [
      "resourcetype",
      [CARDDAV, "addressbook-home-set"],
      "displayname",
    ]),
  )[0]!;
  assert.ok(
    principal.found.get(`${DAV} resourcetype`)?.children.some((c) => c.name === "principal"),
  );
  const home = principal.found.get(`${CARDDAV} addressbook-home-set`)!.children[0]!.text;
  assert.equal(home, "/dav/books/");
  const listing = members(await propfind(dav.url, home, "1", ["resourcetype"]));
  const book = listing.find((m) =>
    m.found.get(`${DAV} resourcetype`)?.children.some((c) =>
      c.ns === CARDDAV && c.name === "addressbook"
    )
  );
  assert.equal(book?.href, BOOK);
});

Deno.test("the book's properties, and a 404 propstat for those it does not have", async () => {
  await using dav = await startDav();
  const reply = await propfind(dav.url, BOOK, "0", [
    "resourcetype",
    "displayname",
    [CS, "getctag"],
    "sync-token",
    "supported-report-set",
    [CARDDAV, "supported-address-data"],
    [CARDDAV, "max-resource-size"],
    "current-user-privilege-set",
    "quota-available-bytes",
    ["http://apple.com/ns/ical/", "calendar-color"],
    ["urn:x-unknown", "thing"],
  ]);
  const [book] = members(reply);
  assert.ok(book);
  const token = book.found.get(`${DAV} sync-token`)!.text;
  assert.match(token, /^https:\/\/addressbook\.invalid\/sync\/[0-9a-z]+\/0$/);
  assert.equal(book.found.get(`${CS} getctag`)!.text, token);
  const versions = book.found.get(`${CARDDAV} supported-address-data`)!.children.map((c) =>
    c.attrs.version
  );
  assert.deepEqual(versions, ["3.0", "4.0"]);
  const reports = book.found.get(`${DAV} supported-report-set`)!.children.map((r) =>
    r.children[0]!.children[0]!.name
  );
  assert.deepEqual(reports, ["addressbook-multiget", "addressbook-query", "sync-collection"]);
  assert.ok(Number(book.found.get(`${CARDDAV} max-resource-size`)!.text) > 0);
  const privileges = book.found.get(`${DAV} current-user-privilege-set`)!.children.map((p) =>
    p.children[0]!.name
  );
  assert.ok(privileges.includes("write") && privileges.includes("read"));
  assert.deepEqual(
    [...book.missing].sort(),
    [
      `${DAV} quota-available-bytes`,
      "http://apple.com/ns/ical/ calendar-color",
      "urn:x-unknown thing",
    ].sort(),
  );
});

Deno.test("PROPFIND with Depth: infinity is refused with propfind-finite-depth", async () => {
  await using dav = await startDav();
  const reply = await propfind(dav.url, BOOK, "infinity", ["getetag"]);
  assert.equal(reply.status, 403);
  assert.equal(precondition(reply), `${DAV} propfind-finite-depth`);
});

Deno.test("PUT keeps the client's name and the card byte for byte; GET, ETag, 201 then 204", async () => {
  await using dav = await startDav();
  const name = "8d1f2a4e-0000-4000-8000-000000000001.vcf";
  const put = await request(dav.url, "PUT", BOOK + name, {
    headers: { "content-type": "text/vcard; charset=utf-8", "if-none-match": "*" },
    body: ANN,
  });
  assert.equal(put.status, 201, put.text);
  const etag = put.headers.get("etag");
  assert.match(etag ?? "", /^"[0-9a-f]{20}"$/);
  const get = await request(dav.url, "GET", BOOK + name);
  assert.equal(get.status, 200);
  assert.equal(get.text, ANN, "served back byte for byte");
  assert.equal(get.headers.get("etag"), etag);
  assert.match(get.headers.get("content-type") ?? "", /^text\/vcard/);
  // The same name again: an update, a new ETag, never the old one.
  const edited = ANN.replace("FN:Ann Example", "FN:Ann Edited");
  const update = await request(dav.url, "PUT", BOOK + name, {
    headers: { "if-match": etag! },
    body: edited,
  });
  assert.equal(update.status, 204, update.text);
  assert.notEqual(update.headers.get("etag"), etag);
  assert.equal((await request(dav.url, "GET", BOOK + name)).text, edited);
  // vCard 4.0 on request.
  const four = await request(dav.url, "GET", BOOK + name, {
    headers: { accept: "text/vcard; version=4.0" },
  });
  assert.match(four.text, /^BEGIN:VCARD\r\nVERSION:4\.0\r\n/);
  assert.match(four.text, /\r\nFN:Ann Edited\r\n/);
  // The TCP door sees it, with the card's UID.
  using client = await dav.server.connect();
  const found = await client.result("find", { name: "Ann Edited" });
  assert.equal(found.contacts.length, 1);
  assert.equal(found.contacts[0].uid, "8d1f2a4e-0000-4000-8000-000000000001");
  assert.deepEqual(found.contacts[0].phones, [{ label: "mobile", number: "+1 555 0100" }]);
});

Deno.test("If-Match and If-None-Match: 412 for a stale ETag or an existing card, no lost update", async () => {
  await using dav = await startDav();
  const path = BOOK + "a.vcf";
  const first = await request(dav.url, "PUT", path, { body: vcard(["UID:a", "FN:A One"]) });
  assert.equal(first.status, 201);
  const etag = first.headers.get("etag")!;
  const again = await request(dav.url, "PUT", path, {
    headers: { "if-none-match": "*" },
    body: vcard(["UID:a", "FN:A Two"]),
  });
  assert.equal(again.status, 412);
  const second = await request(dav.url, "PUT", path, {
    headers: { "if-match": etag },
    body: vcard(["UID:a", "FN:A Two"]),
  });
  assert.equal(second.status, 204);
  const stale = await request(dav.url, "PUT", path, {
    headers: { "if-match": etag },
    body: vcard(["UID:a", "FN:A Lost"]),
  });
  assert.equal(stale.status, 412, "a stale ETag is refused");
  assert.match((await request(dav.url, "GET", path)).text, /FN:A Two/);
  const missing = await request(dav.url, "PUT", BOOK + "nobody.vcf", {
    headers: { "if-match": etag },
    body: vcard(["UID:n", "FN:N"]),
  });
  assert.equal(missing.status, 412);
  const del = await request(dav.url, "DELETE", path, { headers: { "if-match": etag } });
  assert.equal(del.status, 412);
  const current = (await request(dav.url, "GET", path)).headers.get("etag")!;
  const notModified = await request(dav.url, "GET", path, {
    headers: { "if-none-match": current },
  });
  assert.equal(notModified.status, 304);
  assert.equal(
    (await request(dav.url, "DELETE", path, { headers: { "if-match": current } })).status,
    204,
  );
  assert.equal((await request(dav.url, "GET", path)).status, 404);
  // Re-created at the same href: a new ETag, never one used before.
  const reborn = await request(dav.url, "PUT", path, { body: vcard(["UID:a", "FN:A Again"]) });
  assert.equal(reborn.status, 201);
  assert.ok(![etag, current].includes(reborn.headers.get("etag")!));
});

Deno.test("a UID used by another href is 409 no-uid-conflict; a PUT may not change a UID", async () => {
  await using dav = await startDav();
  assert.equal(
    (await request(dav.url, "PUT", BOOK + "x.vcf", { body: vcard(["UID:same", "FN:X"]) })).status,
    201,
  );
  const clash = await request(dav.url, "PUT", BOOK + "y.vcf", {
    body: vcard(["UID:same", "FN:Y"]),
  });
  assert.equal(clash.status, 409);
  assert.equal(precondition(clash), `${CARDDAV} no-uid-conflict`);
  const change = await request(dav.url, "PUT", BOOK + "x.vcf", {
    body: vcard(["UID:other", "FN:X"]),
  });
  assert.equal(change.status, 409);
  assert.equal(precondition(change), `${CARDDAV} no-uid-conflict`);
});

Deno.test("invalid and unsupported cards get 4xx with a DAV:error naming why, never 500", async () => {
  await using dav = await startDav();
  const cases: [string, Record<string, string>, string, number, string][] = [
    ["not a card", {}, "hello", 403, `${CARDDAV} valid-address-data`],
    ["two cards", {}, vcard(["FN:A"]) + vcard(["FN:B"]), 403, `${CARDDAV} valid-address-data`],
    ["no name", {}, vcard(["NOTE:nameless"]), 403, `${CARDDAV} valid-address-data`],
    [
      "bad UTF-8",
      {},
      "BEGIN:VCARD\r\nFN:\xff\r\nEND:VCARD\r\n",
      403,
      `${CARDDAV} valid-address-data`,
    ],
    [
      "html",
      { "content-type": "text/html" },
      vcard(["FN:A"]),
      415,
      `${CARDDAV} supported-address-data`,
    ],
    [
      "1.1 MB",
      {},
      vcard(["FN:Big", "NOTE:" + "n".repeat(1_100_000)]),
      413,
      `${CARDDAV} max-resource-size`,
    ],
  ];
  for (const [what, headers, body, status, condition] of cases) {
    const bytes = what === "bad UTF-8"
      ? Uint8Array.from(body, (c) => c.charCodeAt(0))
      : new TextEncoder().encode(body);
    const reply = await request(dav.url, "PUT", BOOK + "c.vcf", { headers, body: bytes });
    assert.equal(reply.status, status, `${what}: ${reply.text}`);
    assert.equal(precondition(reply), condition, what);
    assert.ok(reply.xml && reply.text.includes("<ab:message>"), what);
  }
  assert.equal((await request(dav.url, "GET", BOOK + "c.vcf")).status, 404);
});

Deno.test("a card too large for the contact's caps is stored without what does not fit, no ETag", async () => {
  await using dav = await startDav();
  const card = vcard([
    "UID:p",
    "FN:Photo Person",
    "PHOTO;ENCODING=b;TYPE=JPEG:" + "B".repeat(40_000),
  ]);
  const put = await request(dav.url, "PUT", BOOK + "p.vcf", { body: card });
  assert.equal(put.status, 201, put.text);
  assert.equal(put.headers.get("etag"), null, "the stored card is not the one sent");
  const get = await request(dav.url, "GET", BOOK + "p.vcf");
  assert.match(get.text, /FN:Photo Person/);
  assert.doesNotMatch(get.text, /PHOTO/);
});

Deno.test("a card edited through the TCP door is served from its fields, with the edit", async () => {
  await using dav = await startDav();
  await request(dav.url, "PUT", BOOK + "ann.vcf", { body: ANN });
  using client = await dav.server.connect();
  const [ann] = (await client.result("find", { name: "Ann Example" })).contacts;
  await client.result("update", {
    id: ann.id,
    version: ann.version,
    contact: { ...ann, town: "Springfield" },
  });
  const get = await request(dav.url, "GET", BOOK + "ann.vcf");
  assert.notEqual(get.text, ANN);
  assert.match(get.text, /ADR:;;;Springfield;;;/);
  assert.match(get.text, /UID:8d1f2a4e-0000-4000-8000-000000000001/);
  // A contact added through TCP is a member named <id>.vcf.
  const bob = await client.result("add", { contact: { name: "Bob Tcp" } });
  const listing = members(await propfind(dav.url, BOOK, "1", ["getetag"]));
  const hrefs = listing.map((m) => m.href).sort();
  assert.deepEqual(hrefs, [BOOK, BOOK + "ann.vcf", `${BOOK}${bob.id}.vcf`].sort());
  const bobEtag = listing.find((m) => m.href.endsWith(`${bob.id}.vcf`))!.found.get(
    `${DAV} getetag`,
  )!;
  assert.equal(bobEtag.text, `"${bob.version}"`);
  const del = await request(dav.url, "DELETE", `${BOOK}${bob.id}.vcf`);
  assert.equal(del.status, 204);
  assert.equal((await client.call("get", { id: bob.id })).error.data.reason, "NOT_FOUND");
});

Deno.test("auth: 401 with WWW-Authenticate, Basic with either token, read-only gets 403 need-privileges", async () => {
  const write = "write-token-0123456789", read = "read-token-0123456789";
  await using dav = await startDav({
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: write, ADDRESSBOOK_READ_TOKEN: read },
  });
  const none = await propfind(dav.url, BOOK, "0", ["getctag"]);
  assert.equal(none.status, 401);
  assert.match(none.headers.get("www-authenticate") ?? "", /^Basic realm=/);
  const wrong = await propfind(dav.url, BOOK, "0", ["displayname"], "not-the-token-000000");
  assert.equal(wrong.status, 401);
  assert.ok(await dav.server.waitForLog(/failed auth \(Basic\)/));
  const put = await request(dav.url, "PUT", BOOK + "w.vcf", { auth: write, body: vcard(["FN:W"]) });
  assert.equal(put.status, 201);
  const reader = await propfind(
    dav.url,
    BOOK,
    "1",
    ["getetag", "current-user-privilege-set"],
    read,
  );
  const [book] = members(reader);
  const privileges = book!.found.get(`${DAV} current-user-privilege-set`)!.children.map((p) =>
    p.children[0]!.name
  );
  assert.deepEqual(privileges, ["read", "read-current-user-privilege-set"]);
  assert.equal((await request(dav.url, "GET", BOOK + "w.vcf", { auth: read })).status, 200);
  for (const [method, body] of [["PUT", vcard(["FN:R"])], ["DELETE", undefined]] as const) {
    const refused = await request(dav.url, method, BOOK + "w.vcf", {
      auth: read,
      ...(body ? { body } : {}),
    });
    assert.equal(refused.status, 403, method);
    assert.equal(precondition(refused), `${DAV} need-privileges`, method);
  }
  assert.equal((await request(dav.url, "GET", BOOK + "w.vcf", { auth: write })).status, 200);
});

Deno.test("Basic auth over plain HTTP off loopback is refused unless --http-plain-auth", async () => {
  // 0.0.0.0 is not loopback: the door refuses tokens sent in clear, and says so at start.
  await using refused = await startDav({
    args: ["--host", "0.0.0.0"],
    env: { ADDRESSBOOK_TOKEN: "write-token-0123456789" },
  });
  const url = refused.url.replace("0.0.0.0", "127.0.0.1");
  const reply = await propfind(url, BOOK, "0", ["getctag"], "write-token-0123456789");
  assert.equal(reply.status, 403);
  assert.match(reply.text, /plain HTTP/);
  assert.ok(refused.server.logs.some((l) => /CardDAV refuses tokens over plain HTTP/.test(l)));
  await using allowed = await startDav({
    args: ["--host", "0.0.0.0", "--http-plain-auth"],
    env: { ADDRESSBOOK_TOKEN: "write-token-0123456789" },
  });
  assert.ok(allowed.server.logs.some((l) => /cross the LAN in clear/.test(l)));
  const ok = await propfind(
    allowed.url.replace("0.0.0.0", "127.0.0.1"),
    BOOK,
    "0",
    ["getctag"],
    "write-token-0123456789",
  );
  assert.equal(ok.status, 207);
});

Deno.test("PROPPATCH of displayname and me-card is accepted; others are 403 in a multistatus", async () => {
  await using dav = await startDav();
  const body = `<d:propertyupdate xmlns:d="DAV:" xmlns:cs="${CS}"><d:set><d:prop>` +
    `<d:displayname>Office</d:displayname><cs:me-card><d:href>${BOOK}me.vcf</d:href></cs:me-card>` +
    "</d:prop></d:set></d:propertyupdate>";
  const reply = await request(dav.url, "PROPPATCH", BOOK, { body });
  assert.equal(reply.status, 207);
  assert.deepEqual(members(reply)[0]!.missing.size, 0);
  const [book] = members(await propfind(dav.url, BOOK, "0", ["displayname"]));
  assert.equal(book!.found.get(`${DAV} displayname`)!.text, "Office");
  const bad = `<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:getetag>x</d:getetag>` +
    "</d:prop></d:set></d:propertyupdate>";
  const refused = await request(dav.url, "PROPPATCH", BOOK, { body: bad });
  assert.equal(refused.status, 207);
  assert.match(refused.text, /403 Forbidden/);
});

Deno.test("unknown paths are 404, unsupported methods 405 with Allow", async () => {
  await using dav = await startDav();
  assert.equal((await request(dav.url, "GET", "/nothing/here")).status, 404);
  const mkcol = await request(dav.url, "MKCOL", BOOK + "sub/");
  assert.equal(mkcol.status, 404);
  const move = await request(dav.url, "MOVE", BOOK + "a.vcf");
  assert.equal(move.status, 405);
  assert.match(move.headers.get("allow") ?? "", /PUT/);
  assert.equal((await request(dav.url, "GET", BOOK)).status, 200);
});

Deno.test("with a certificate in the data folder, the CardDAV door speaks HTTPS with it", async () => {
  await using data = await tempDir();
  const cert = await makeCertificate(data.path);
  await using dav = await startDav({
    dataDir: data.path,
    args: ["--require-auth"],
    env: { ADDRESSBOOK_TOKEN: "write-token-0123456789" },
  });
  assert.match(dav.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const client = Deno.createHttpClient({ caCerts: [cert] });
  try {
    const url = dav.url.replace("127.0.0.1", "localhost");
    const reply = await fetch(`${url}${BOOK}`, {
      method: "PROPFIND",
      headers: {
        depth: "0",
        authorization: `Basic ${btoa("me:write-token-0123456789")}`,
      },
      client,
    });
    assert.equal(reply.status, 207);
    assert.match(await reply.text(), /sync-token/);
  } finally {
    client.close();
  }
  // Plain HTTP to the TLS port gets nothing useful.
  const plain = await fetch(`${dav.url.replace("https:", "http:")}/dav/`).then(
    (r) => r.body?.cancel().then(() => r.status),
    () => 0,
  );
  assert.notEqual(plain, 207);
});
