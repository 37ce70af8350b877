/**
 * The advertiser and the browser on a LAN in memory (no socket is opened; the tests with
 * real multicast run in network namespaces: tests/discovery_test.ts): probing and renaming,
 * the simultaneous-probe tie-break, answers, known-answer suppression, legacy unicast, the
 * goodbye, and a browser that sees servers come and go.
 */
import assert from "node:assert/strict";
import type { MdnsSocket, Peer } from "./mdns.ts";
import { Advertiser, type AdvertiserOptions } from "./advertiser.ts";
import { type BrowseEvent, Browser } from "./browser.ts";
import { ADDRESSBOOK_TYPE, CARDDAV_TYPE } from "./service.ts";
import { dnsPacket, type Packet } from "../../vendor/multicast-dns@7.2.5/multicast-dns.js";

interface Member {
  peer: Peer;
  listeners: Array<(packet: Packet, from: Peer) => void>;
  open: boolean;
}

/**
 * A LAN in memory: each message, encoded and decoded as on the wire, goes to every socket of
 * the link (the sender's too, as multicast loopback does), or to one peer for a unicast reply.
 * `sent` holds every message with its sender.
 */
class TestLink {
  readonly #members = new Set<Member>();
  readonly sent: Array<{ packet: Packet; from: Peer; to?: Peer }> = [];

  /** A socket of the host `address` (port 5353, or another for a legacy querier). */
  socket(address: string, port = 5353): MdnsSocket {
    const member: Member = { peer: { address, port }, listeners: [], open: true };
    this.#members.add(member);
    return {
      send: (packet, to) => {
        if (!member.open) return Promise.reject(new Error("closed"));
        this.sent.push({ packet, from: member.peer, ...(to ? { to } : {}) });
        const bytes = dnsPacket.encode(packet);
        for (const other of this.#members) {
          if (!other.open) continue;
          if (to && (other.peer.address !== to.address || other.peer.port !== to.port)) continue;
          if (!to && other.peer.port !== 5353 && other !== member) continue;
          for (const listener of other.listeners) listener(dnsPacket.decode(bytes), member.peer);
        }
        return Promise.resolve();
      },
      onPacket: (listener) => void member.listeners.push(listener),
      close: () => {
        member.open = false;
        this.#members.delete(member);
        return Promise.resolve();
      },
    };
  }
}

const quiet = { info() {}, warn() {}, debug() {} };

function advertise(
  link: TestLink,
  address: string,
  options: Partial<AdvertiserOptions> = {},
): Advertiser {
  return Advertiser.start({
    address,
    name: "Address book",
    services: [{ type: ADDRESSBOOK_TYPE, port: 2007, txt: { protocol: "1", tls: "0" } }],
    log: quiet,
    probeMs: 5,
    open: () => Promise.resolve(link.socket(address)),
    ...options,
  });
}

/** Waits until `done()` holds, checking every 5 ms, at most 400 times. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !done(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(done(), what);
}

Deno.test("Advertiser probes three times, then announces twice with cache-flush records", async () => {
  const link = new TestLink();
  const advertiser = advertise(link, "10.77.0.1", {
    services: [
      { type: ADDRESSBOOK_TYPE, port: 2007, txt: { protocol: "1" } },
      { type: CARDDAV_TYPE, port: 2008, txt: { path: "/dav/" } },
    ],
  });
  const ad = await advertiser.ready;
  assert.equal(ad?.name, "Address book");
  assert.equal(ad?.host, "addressbook-10-77-0-1.local");
  await until(() => link.sent.filter((s) => s.packet.type === "response").length === 2, "two");
  const probes = link.sent.filter((s) => s.packet.type === "query");
  assert.equal(probes.length, 3);
  assert.deepEqual(probes[0]!.packet.questions?.map((q) => q.name), [
    "Address book._addressbook._tcp.local",
    "Address book._carddav._tcp.local",
    "addressbook-10-77-0-1.local",
  ]);
  const announced = link.sent.find((s) => s.packet.type === "response")!.packet;
  const byType = (type: string) => announced.answers!.filter((r) => r.type === type);
  assert.deepEqual(byType("SRV").map((r) => (r.data as { port: number }).port), [2007, 2008]);
  assert.ok(byType("SRV").every((r) => r.flush && r.ttl === 120));
  assert.ok(byType("PTR").every((r) => !r.flush && r.ttl === 4500));
  assert.deepEqual(byType("A").map((r) => r.data), ["10.77.0.1"]);
  await advertiser.stop();
});

Deno.test("Advertiser renames itself when another host answers for its name", async () => {
  const link = new TestLink();
  const first = advertise(link, "10.77.0.1");
  assert.equal((await first.ready)?.name, "Address book");
  const lines: string[] = [];
  const second = advertise(link, "10.77.0.2", {
    log: { ...quiet, info: (line: string) => lines.push(line) },
  });
  assert.equal((await second.ready)?.name, "Address book (2)");
  assert.match(
    lines[0]!,
    /^The name "Address book" is taken on the LAN \(DNS-SD\): trying "Address book \(2\)"$/,
  );
  const third = advertise(link, "10.77.0.3");
  assert.equal((await third.ready)?.name, "Address book (3)");
  await Promise.all([first.stop(), second.stop(), third.stop()]);
});

Deno.test("Advertiser: two hosts probing at once end with two names", async () => {
  const link = new TestLink();
  const a = advertise(link, "10.77.0.1");
  const b = advertise(link, "10.77.0.2");
  const names = [(await a.ready)?.name, (await b.ready)?.name].sort();
  assert.deepEqual(names, ["Address book", "Address book (2)"]);
  await Promise.all([a.stop(), b.stop()]);
});

Deno.test("Advertiser answers a browse, leaves out known answers, and replies to a legacy querier", async () => {
  const link = new TestLink();
  const advertiser = advertise(link, "10.77.0.1");
  await advertiser.ready;
  const heard: Packet[] = [];
  const peer = link.socket("10.77.0.9");
  peer.onPacket((packet) => heard.push(packet));
  const question = { name: ADDRESSBOOK_TYPE, type: "PTR" };
  await peer.send({ type: "query", questions: [question] });
  const isAnswer = (p: Packet) => p.type === "response" && (p.additionals ?? []).length > 0;
  await until(() => heard.some(isAnswer), "answer");
  const answer = heard.find(isAnswer)!;
  assert.equal(answer.answers![0]!.data, "Address book._addressbook._tcp.local");
  assert.deepEqual(answer.additionals!.map((r) => r.type), ["SRV", "TXT", "A"]);
  // The same question with the PTR as a known answer: nothing more is said.
  await new Promise((r) => setTimeout(r, 1000)); // past the once-a-second limit
  const before = link.sent.length;
  await peer.send({ type: "query", questions: [question], answers: [{ ...answer.answers![0]! }] });
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(link.sent.length, before + 1, "only the query itself");
  // A querier on another port gets a unicast reply with its id and question, TTL <= 10 s.
  const legacy = link.socket("10.77.0.9", 40000);
  const got: Packet[] = [];
  legacy.onPacket((packet) => got.push(packet));
  await legacy.send({ type: "query", id: 4242, questions: [question] });
  await until(() => got.length > 0, "legacy reply");
  assert.equal(got[0]!.id, 4242);
  assert.deepEqual(got[0]!.questions?.map((q) => q.name), [ADDRESSBOOK_TYPE]);
  assert.ok([...got[0]!.answers!, ...got[0]!.additionals!].every((r) => r.ttl! <= 10 && !r.flush));
  await Promise.all([advertiser.stop(), peer.close(), legacy.close()]);
});

Deno.test("Advertiser on 0.0.0.0 learns its address from its own looped-back query", async () => {
  const link = new TestLink();
  // The link's socket for 0.0.0.0 sends as 10.77.0.5, the address the system would pick.
  const advertiser = advertise(link, "0.0.0.0", {
    open: () => Promise.resolve(link.socket("10.77.0.5")),
  });
  const ad = await advertiser.ready;
  assert.equal(ad?.address, "10.77.0.5");
  assert.equal(ad?.host, "addressbook-10-77-0-5.local");
  await advertiser.stop();
});

Deno.test("Browser finds servers with their TXT, and a goodbye removes one at once", async () => {
  const link = new TestLink();
  const a = advertise(link, "10.77.0.1");
  await a.ready;
  const b = advertise(link, "10.77.0.2", {
    services: [{ type: ADDRESSBOOK_TYPE, port: 3007, txt: { protocol: "1", tls: "1" } }],
  });
  await b.ready;
  const browser = await Browser.open({ open: () => Promise.resolve(link.socket("10.77.0.9")) });
  const events: BrowseEvent[] = [];
  browser.onChange((event) => events.push(event));
  await browser.query();
  await until(() => browser.services().length === 2, "both found");
  assert.deepEqual(browser.services().map((s) => [s.name, s.address, s.port, s.txt.tls]), [
    ["Address book", "10.77.0.1", 2007, "0"],
    ["Address book (2)", "10.77.0.2", 3007, "1"],
  ]);
  await b.stop();
  await until(() => browser.services().length === 1, "goodbye seen");
  assert.deepEqual(events.map((e) => `${e.event} ${e.service.name}`), [
    ...events.slice(0, 2).map((e) => `found ${e.service.name}`),
    "gone Address book (2)",
  ]);
  await Promise.all([a.stop(), browser.close()]);
});

Deno.test("Advertiser.stop before the name is announced sends no goodbye and leaves no timer", async () => {
  const link = new TestLink();
  const advertiser = advertise(link, "10.77.0.1", { probeMs: 200 });
  await advertiser.stop();
  assert.equal(await advertiser.ready, undefined);
  assert.ok(link.sent.every((s) => s.packet.type === "query"));
});
