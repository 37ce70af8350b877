/**
 * The vendored multicast-dns bundle (DNS-SD's socket and packet codec, lib/discovery/mdns.ts)
 * is the npm packages it was bundled from: its files match the SHA-256 sums update.sh
 * recorded, it names the versions pinned with their integrity in tests/deno.lock, and its
 * dns-packet encodes and decodes DNS-SD messages byte for byte as `npm:dns-packet@5.6.1` does.
 */
import assert from "node:assert/strict";
import { assertVendorSums } from "./vendor_sums.ts";
import { dnsPacket as npm } from "./multicast_dns_npm.ts";
import { dnsPacket, multicastDns } from "../vendor/multicast-dns@7.2.5/multicast-dns.js";
import type { Packet } from "../vendor/multicast-dns@7.2.5/multicast-dns.js";

const FOLDER = new URL("../vendor/multicast-dns@7.2.5/", import.meta.url);

const PACKETS: Packet[] = [
  { type: "query", questions: [{ name: "_addressbook._tcp.local", type: "PTR" }] },
  {
    type: "query",
    questions: [{ name: "Address book._addressbook._tcp.local", type: "ANY", qu: true }],
    authorities: [{
      name: "Address book._addressbook._tcp.local",
      type: "SRV",
      ttl: 120,
      data: { port: 2007, target: "addressbook-10-77-0-1.local" },
    }],
  },
  {
    type: "response",
    flags: 1 << 10,
    answers: [
      {
        name: "_addressbook._tcp.local",
        type: "PTR",
        ttl: 4500,
        data: "Address book (2)._addressbook._tcp.local",
      },
      {
        name: "Address book (2)._addressbook._tcp.local",
        type: "TXT",
        ttl: 4500,
        flush: true,
        data: ["txtvers=1", "protocol=1", "auth=1", "tls=0", "server=addressbook"],
      },
      { name: "addressbook-10-77-0-1.local", type: "A", ttl: 120, flush: true, data: "10.77.0.1" },
    ],
    additionals: [{
      name: "Zoë's book._carddav._tcp.local",
      type: "SRV",
      ttl: 0,
      flush: true,
      data: { port: 2008, target: "addressbook-10-77-0-1.local", priority: 0, weight: 0 },
    }],
  },
];

Deno.test("the vendored dns-packet encodes and decodes as the npm package does", () => {
  for (const packet of PACKETS) {
    const ours = dnsPacket.encode(packet);
    const theirs = npm.encode(packet);
    assert.deepEqual([...ours], [...theirs]);
    assert.deepEqual(dnsPacket.decode(theirs), npm.decode(ours));
  }
  const decoded = dnsPacket.decode(dnsPacket.encode(PACKETS[2]!));
  assert.equal(decoded.answers?.[1]?.flush, true);
  assert.equal(String(decoded.additionals?.[0]?.name), "Zoë's book._carddav._tcp.local");
  assert.equal(typeof multicastDns, "function");
});

Deno.test("the vendored multicast-dns files match the SHA-256 sums update.sh recorded", async () => {
  await assertVendorSums(FOLDER, [
    "LICENSE",
    "LICENSE.dns-packet",
    "LICENSE.ip-codec",
    "LICENSE.thunky",
    "entry.ts",
    "multicast-dns.d.ts",
    "multicast-dns.js",
  ]);
  const bundle = await Deno.readTextFile(new URL("multicast-dns.js", FOLDER));
  assert.match(bundle, /^\/\/ @ts-self-types="\.\/multicast-dns\.d\.ts"\n/);
  // Static imports of four node: built-ins and nothing else; nothing loaded at run time.
  assert.deepEqual(
    [...bundle.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]),
    ["node:buffer", "node:dgram", "node:events", "node:os"],
  );
  assert.doesNotMatch(bundle, /\brequire\("|createRequire|\bDeno\.|\bfetch\(/);
  assert.doesNotMatch(bundle, /\/root\/|\.cache\/deno/, "no build machine's paths");
  for (const id of ["multicast-dns@7.2.5", "dns-packet@5.6.1", "thunky@1.1.0"]) {
    assert.ok(bundle.includes(`// ${id}/index.js`), id);
  }
  const entry = await Deno.readTextFile(new URL("entry.ts", FOLDER));
  assert.match(entry, /npm:multicast-dns@7\.2\.5/);
  assert.match(entry, /npm:dns-packet@5\.6\.1/);
  // The versions bundled are the ones pinned with their integrity in tests/deno.lock.
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", import.meta.url)));
  for (const id of ["multicast-dns@7.2.5", "dns-packet@5.6.1", "thunky@1.1.0"]) {
    assert.match(lock.npm[id]?.integrity ?? "", /^sha512-/, id);
  }
  assert.match(lock.npm["@leichtgewicht/ip-codec@2.0.5"]?.integrity ?? "", /^sha512-/);
});
