/**
 * CardDAV REPORTs through a real server process: addressbook-multiget, addressbook-query
 * (text-match on FN, EMAIL, TEL, UID; limit) and sync-collection (tokens from the change
 * log, removals as 404, valid-sync-token for tokens it cannot serve), with writes made on
 * both doors; and a DAV write reaching a TCP watch subscriber.
 */
import assert from "node:assert/strict";
import {
  BOOK,
  CARDDAV,
  child,
  DAV,
  members,
  precondition,
  request,
  startDav,
  vcard,
} from "./dav_helpers.ts";

const NS = `xmlns:d="DAV:" xmlns:c="${CARDDAV}"`;

function report(url: string, body: string, auth?: string) {
  return request(url, "REPORT", BOOK, {
    headers: { depth: "1", "content-type": "application/xml" },
    body: `<?xml version="1.0" encoding="utf-8"?>${body}`,
    ...(auth ? { auth } : {}),
  });
}

function syncBody(token: string, props = "<d:getetag/>"): string {
  return `<d:sync-collection ${NS}><d:sync-token>${token}</d:sync-token>` +
    `<d:sync-level>1</d:sync-level><d:prop>${props}</d:prop></d:sync-collection>`;
}

function tokenOf(reply: { xml?: { children: { ns: string; name: string; text: string }[] } }) {
  const token = reply.xml?.children.find((c) => c.ns === DAV && c.name === "sync-token");
  assert.ok(token, "a sync-token in the answer");
  return token.text;
}

async function putCards(url: string, cards: [string, string[]][]) {
  for (const [name, lines] of cards) {
    const reply = await request(url, "PUT", BOOK + name, { body: vcard(lines) });
    assert.equal(reply.status, 201, reply.text);
  }
}

Deno.test("addressbook-multiget: the cards asked for with address-data, 404 for unknown hrefs", async () => {
  await using dav = await startDav();
  await putCards(dav.url, [["a.vcf", ["UID:a", "FN:Ann"]], ["b.vcf", ["UID:b", "FN:Bob"]]]);
  const reply = await report(
    dav.url,
    `<c:addressbook-multiget ${NS}><d:prop><d:getetag/><c:address-data/></d:prop>` +
      `<d:href>${BOOK}a.vcf</d:href><d:href>${dav.url}${BOOK}b.vcf</d:href>` +
      `<d:href>${BOOK}zzz.vcf</d:href></c:addressbook-multiget>`,
  );
  const answers = members(reply);
  assert.equal(answers.length, 3);
  assert.equal(answers[0]!.href, BOOK + "a.vcf");
  assert.equal(answers[0]!.found.get(`${CARDDAV} address-data`)!.text, vcard(["UID:a", "FN:Ann"]));
  assert.match(answers[1]!.found.get(`${CARDDAV} address-data`)!.text, /FN:Bob/);
  assert.equal(answers[2]!.status, 404);
  // address-data of version 4.0 on request.
  const four = await report(
    dav.url,
    `<c:addressbook-multiget ${NS}><d:prop><c:address-data content-type="text/vcard" ` +
      `version="4.0"/></d:prop><d:href>${BOOK}a.vcf</d:href></c:addressbook-multiget>`,
  );
  assert.match(members(four)[0]!.found.get(`${CARDDAV} address-data`)!.text, /VERSION:4\.0/);
});

Deno.test("addressbook-query: text-match on FN, EMAIL, TEL, UID, anyof/allof, limit", async () => {
  await using dav = await startDav();
  await putCards(dav.url, [
    ["1.vcf", ["UID:u-1", "FN:José Smith", "EMAIL:jose@example.com", "TEL:+1 555 0101"]],
    ["2.vcf", ["UID:u-2", "FN:Ann Smith", "EMAIL:ann@example.org", "TEL:+44 20 7946 0958"]],
    ["3.vcf", ["UID:u-3", "FN:Bob Jones", "EMAIL:bob@example.com"]],
  ]);
  const query = async (filter: string, limit = "") => {
    const reply = await report(
      dav.url,
      `<c:addressbook-query ${NS}><d:prop><d:getetag/></d:prop><c:filter ${filter}</c:filter>` +
        `${limit}</c:addressbook-query>`,
    );
    return members(reply).map((m) => m.href.slice(BOOK.length)).sort();
  };
  const match = (name: string, text: string, type = "contains", extra = "") =>
    `<c:prop-filter name="${name}"><c:text-match collation="i;unicode-casemap" ` +
    `match-type="${type}"${extra}>${text}</c:text-match></c:prop-filter>`;
  assert.deepEqual(await query(`>${match("FN", "smith")}`), ["1.vcf", "2.vcf"]);
  assert.deepEqual(await query(`>${match("FN", "JOSÉ", "starts-with")}`), ["1.vcf"]);
  assert.deepEqual(await query(`>${match("EMAIL", "example.com", "ends-with")}`), [
    "1.vcf",
    "3.vcf",
  ]);
  assert.deepEqual(await query(`>${match("TEL", "7946")}`), ["2.vcf"]);
  assert.deepEqual(await query(`>${match("UID", "u-3", "equals")}`), ["3.vcf"]);
  assert.deepEqual(
    await query(`test="allof">${match("FN", "smith")}${match("EMAIL", ".org")}`),
    ["2.vcf"],
  );
  assert.deepEqual(await query(`test="anyof">${match("FN", "bob")}${match("UID", "u-1")}`), [
    "1.vcf",
    "3.vcf",
  ]);
  assert.deepEqual(await query(`>${match("FN", "smith", "contains", ' negate-condition="yes"')}`), [
    "3.vcf",
  ]);
  const limited = await report(
    dav.url,
    `<c:addressbook-query ${NS}><d:prop><d:getetag/></d:prop><c:filter>${match("FN", "")}` +
      `</c:filter><c:limit><c:nresults>2</c:nresults></c:limit></c:addressbook-query>`,
  );
  const answers = members(limited);
  assert.equal(answers.filter((m) => m.href !== BOOK).length, 2);
  assert.equal(answers.find((m) => m.href === BOOK)?.status, 507, "the truncation is said");
  const unsupported = await report(
    dav.url,
    `<c:addressbook-query ${NS}><d:prop><d:getetag/></d:prop><c:filter>` +
      `<c:prop-filter name="X-SECRET"><c:text-match>a</c:text-match></c:prop-filter>` +
      `</c:filter></c:addressbook-query>`,
  );
  assert.equal(unsupported.status, 403);
  assert.equal(precondition(unsupported), `${CARDDAV} supported-filter`);
});

Deno.test("sync-collection: from scratch, then only what changed on either door, removals as 404", async () => {
  await using dav = await startDav();
  await putCards(dav.url, [["a.vcf", ["UID:a", "FN:Ann"]], ["b.vcf", ["UID:b", "FN:Bob"]]]);
  const first = await report(dav.url, syncBody(""));
  assert.deepEqual(members(first).map((m) => m.href).sort(), [BOOK + "a.vcf", BOOK + "b.vcf"]);
  const token1 = tokenOf(first);
  const nothing = await report(dav.url, syncBody(token1));
  assert.deepEqual(members(nothing), []);
  assert.equal(tokenOf(nothing), token1, "nothing changed: the same token");
  // Changes: one through TCP (add), one over CardDAV (edit), one removed through TCP.
  using client = await dav.server.connect();
  const carol = await client.result("add", { contact: { name: "Carol Tcp" } });
  await request(dav.url, "PUT", BOOK + "a.vcf", { body: vcard(["UID:a", "FN:Ann Edited"]) });
  const [bob] = (await client.result("find", { name: "Bob" })).contacts;
  await client.result("remove", { id: bob.id });
  const changes = await report(dav.url, syncBody(token1));
  const byHref = new Map(members(changes).map((m) => [m.href, m]));
  assert.deepEqual(
    [...byHref.keys()].sort(),
    [BOOK + "a.vcf", BOOK + "b.vcf", `${BOOK}${carol.id}.vcf`].sort(),
  );
  assert.equal(byHref.get(BOOK + "b.vcf")!.status, 404);
  assert.ok(byHref.get(BOOK + "a.vcf")!.found.has(`${DAV} getetag`));
  const token2 = tokenOf(changes);
  assert.notEqual(token2, token1);
  // getctag follows the sync token.
  const props = await request(dav.url, "PROPFIND", BOOK, {
    headers: { depth: "0" },
    body: `<d:propfind ${NS} xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/>` +
      "<d:sync-token/></d:prop></d:propfind>",
  });
  const [book] = members(props);
  assert.equal(book!.found.get(`${DAV} sync-token`)!.text, token2);
  assert.equal(book!.found.get("http://calendarserver.org/ns/ getctag")!.text, token2);
});

Deno.test("sync-collection: an unknown, foreign or future token is 403 valid-sync-token", async () => {
  await using dav = await startDav();
  await putCards(dav.url, [["a.vcf", ["UID:a", "FN:Ann"]]]);
  const token = tokenOf(await report(dav.url, syncBody("")));
  const epoch = /sync\/([0-9a-z]+)\//.exec(token)![1]!;
  for (
    const bad of [
      "http://example.com/other-server-token",
      token.replace(`/${epoch}/`, "/zzzzzz/"),
      token.replace(/\/\d+$/, "/999999"),
    ]
  ) {
    const reply = await report(dav.url, syncBody(bad));
    assert.equal(reply.status, 403, bad);
    assert.equal(precondition(reply), `${DAV} valid-sync-token`, bad);
  }
  const level = await report(
    dav.url,
    `<d:sync-collection ${NS}><d:sync-token/><d:sync-level>infinite</d:sync-level>` +
      "<d:prop><d:getetag/></d:prop></d:sync-collection>",
  );
  assert.equal(level.status, 403);
});

Deno.test("sync-collection after a restart: tokens still work; a removal it cannot name asks for a resync", async () => {
  await using data = await Deno.makeTempDir({ prefix: "addressbook-dav-" }).then((path) => ({
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  }));
  let token: string;
  {
    await using dav = await startDav({ dataDir: data.path });
    await putCards(dav.url, [["a.vcf", ["UID:a", "FN:Ann"]], ["b.vcf", ["UID:b", "FN:Bob"]]]);
    token = tokenOf(await report(dav.url, syncBody("")));
    await request(dav.url, "PUT", BOOK + "a.vcf", { body: vcard(["UID:a", "FN:Ann Two"]) });
  }
  {
    await using dav = await startDav({ dataDir: data.path });
    const changes = await report(dav.url, syncBody(token));
    assert.deepEqual(members(changes).map((m) => m.href), [BOOK + "a.vcf"]);
    // b.vcf removed before this process knew it: its name is known (indexed at start).
    assert.equal((await request(dav.url, "DELETE", BOOK + "b.vcf")).status, 204);
    const after = await report(dav.url, syncBody(token));
    const gone = members(after).find((m) => m.href === BOOK + "b.vcf");
    assert.equal(gone?.status, 404);
  }
  {
    // A third run: b.vcf's removal happened in the run before, its name is gone.
    await using dav = await startDav({ dataDir: data.path });
    const reply = await report(dav.url, syncBody(token));
    assert.equal(reply.status, 403);
    assert.equal(precondition(reply), `${DAV} valid-sync-token`);
  }
});

Deno.test("a card PUT over CardDAV reaches a TCP watch subscriber and the change log", async () => {
  await using dav = await startDav();
  using watcher = await dav.server.connect();
  await watcher.result("watch", {});
  await request(dav.url, "PUT", BOOK + "w.vcf", { body: vcard(["UID:w", "FN:Watched Person"]) });
  const event = await watcher.readJson();
  assert.equal(event.method, "changed");
  assert.equal(event.params.type, "added");
  assert.equal(event.params.name, "Watched Person");
  assert.ok(child);
});
