import assert from "node:assert/strict";
import {
  ADDRESSBOOK_TYPE,
  type Advertisement,
  announcement,
  CARDDAV_TYPE,
  conflicts,
  nextName,
  probeBeatsUs,
  probePacket,
  replyTo,
  SERVICE_TYPES,
  ServiceCache,
  tieBreak,
} from "./service.ts";

const AD: Advertisement = {
  name: "Address book",
  host: "addressbook-10-77-0-1.local",
  address: "10.77.0.1",
  services: [
    { type: ADDRESSBOOK_TYPE, port: 2007, txt: { protocol: "1", auth: "1" } },
    { type: CARDDAV_TYPE, port: 2008, txt: { path: "/dav/" } },
  ],
};

Deno.test("nextName() counts up from (2)", () => {
  assert.equal(nextName("Address book"), "Address book (2)");
  assert.equal(nextName(nextName("Address book")), "Address book (3)");
  assert.equal(nextName("Book (x)"), "Book (x) (2)");
});

Deno.test("replyTo() answers the meta-query, SRV with its A, ANY of the host, and nothing else", () => {
  const meta = replyTo({ type: "query", questions: [{ name: SERVICE_TYPES, type: "PTR" }] }, AD);
  assert.deepEqual(meta.answers.map((r) => r.data), [ADDRESSBOOK_TYPE, CARDDAV_TYPE]);
  assert.deepEqual(meta.additionals, []);
  const srv = replyTo({
    type: "query",
    questions: [{ name: "ADDRESS BOOK._carddav._tcp.local", type: "SRV" }],
  }, AD);
  assert.deepEqual(srv.answers.map((r) => (r.data as { port: number }).port), [2008]);
  assert.deepEqual(srv.additionals.map((r) => r.type), ["A"]);
  assert.equal(srv.shared, false);
  const host = replyTo({ type: "query", questions: [{ name: AD.host, type: "ANY" }] }, AD);
  assert.deepEqual(host.answers.map((r) => r.data), ["10.77.0.1"]);
  const other = replyTo(
    { type: "query", questions: [{ name: "_http._tcp.local", type: "PTR" }] },
    AD,
  );
  assert.deepEqual(other.answers, []);
});

Deno.test("replyTo() leaves out a known answer unless less than half its TTL is left", () => {
  const question = { name: ADDRESSBOOK_TYPE, type: "PTR" };
  const ptr = { name: ADDRESSBOOK_TYPE, type: "PTR", data: "Address book._addressbook._tcp.local" };
  const fresh = replyTo(
    { type: "query", questions: [question], answers: [{ ...ptr, ttl: 4000 }] },
    AD,
  );
  assert.deepEqual(fresh.answers, []);
  const old = replyTo(
    { type: "query", questions: [question], answers: [{ ...ptr, ttl: 100 }] },
    AD,
  );
  assert.equal(old.answers.length, 1);
});

Deno.test("conflicts() and probeBeatsUs(): other data at our names, the tie-break", () => {
  const srv = (port: number, target = AD.host) => ({
    name: "Address book._addressbook._tcp.local",
    type: "SRV",
    data: { port, target },
  });
  assert.ok(conflicts({ type: "response", answers: [srv(9000)] }, AD));
  assert.ok(!conflicts({ type: "response", answers: [srv(2007)] }, AD));
  assert.ok(!conflicts({ type: "query", answers: [srv(9000)] }, AD), "a query claims nothing");
  // Our own announcement, looped back, is no conflict.
  assert.ok(!conflicts(announcement(AD), AD));
  // Probes: a later port wins (2008 > 2007), an earlier one loses, our own ties.
  const probe = (port: number) => ({
    type: "query" as const,
    questions: [{ name: srv(port).name, type: "ANY" }],
    authorities: [srv(port), { name: srv(port).name, type: "TXT", data: ["protocol=1", "auth=1"] }],
  });
  assert.ok(probeBeatsUs(probe(9000), AD));
  assert.ok(!probeBeatsUs(probe(1), AD));
  assert.ok(!probeBeatsUs(probePacket(AD), AD));
  assert.equal(tieBreak([srv(2007)], [srv(2007), srv(2008)]), -1, "a prefix loses");
});

Deno.test("ServiceCache: a server needs PTR, SRV and A; TXT expires on its own", () => {
  const cache = new ServiceCache();
  const records = announcement(AD).answers!;
  cache.add({ type: "response", answers: records.filter((r) => r.type === "PTR") }, 0);
  assert.deepEqual(cache.services(ADDRESSBOOK_TYPE, 0), []);
  assert.deepEqual(cache.missing("Address book._addressbook._tcp.local", 0).map((q) => q.type), [
    "SRV",
    "TXT",
  ]);
  cache.add({ type: "response", answers: records.filter((r) => r.type !== "PTR") }, 0);
  const [found] = cache.services(ADDRESSBOOK_TYPE, 1000);
  assert.deepEqual(found, {
    name: "Address book",
    type: ADDRESSBOOK_TYPE,
    address: "10.77.0.1",
    port: 2007,
    host: AD.host,
    txt: { protocol: "1", auth: "1" },
  });
  // SRV and A live 120 s: past that the server is gone, though its PTR lives 75 minutes.
  assert.deepEqual(cache.services(ADDRESSBOOK_TYPE, 121_000), []);
  assert.equal(cache.instances(ADDRESSBOOK_TYPE, 121_000).length, 1);
  assert.equal(cache.knownAnswers(ADDRESSBOOK_TYPE, 1000)[0]?.ttl, 4499);
});
