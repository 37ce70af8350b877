import assert from "node:assert/strict";
import { locateServer } from "./discover.ts";
import type { ClientConfig } from "./config.ts";
import type { FoundService } from "../discovery/service.ts";
import { MdnsError } from "../discovery/mdns.ts";

const CONFIG: ClientConfig = {
  host: "127.0.0.1",
  port: 2007,
  timeoutMs: 5000,
  json: false,
  discover: true,
};

function service(name: string, address: string, tls = "0"): FoundService {
  return {
    name,
    type: "_addressbook._tcp.local",
    address,
    port: 2007,
    host: "h.local",
    txt: { protocol: "1", auth: "1", tls, server: "addressbook", version: "0.1.0" },
  };
}

function io() {
  const err: string[] = [];
  return { err, out: () => {}, errLine: (line: string) => err.push(line) };
}

Deno.test("locateServer(): one server found is used and named; TLS taken from its TXT", async () => {
  const { err, errLine } = io();
  const located = await locateServer(
    CONFIG,
    { out: () => {}, err: errLine },
    undefined,
    () => Promise.resolve([service("Address book", "10.77.0.1", "1")]),
  );
  assert.ok(typeof located !== "number");
  assert.deepEqual(located.config, {
    host: "10.77.0.1",
    port: 2007,
    timeoutMs: 5000,
    json: false,
    tls: true,
  });
  assert.deepEqual(err, ['addressbook: using "Address book", found on the LAN at 10.77.0.1:2007']);
});

Deno.test("locateServer(): several are listed (exit 2) unless --server or the menu picks one", async () => {
  const both = () =>
    Promise.resolve([
      service("Address book", "10.77.0.1"),
      service("Address book (2)", "10.77.0.3"),
    ]);
  const { err, errLine } = io();
  const output = { out: () => {}, err: errLine };
  assert.equal(await locateServer(CONFIG, output, undefined, both), 2);
  assert.equal(
    err[0],
    "addressbook: 2 servers answered on the LAN: pick one with --server NAME (or give --host)",
  );
  assert.match(
    err[2]!,
    /^ {2}Address book \(2\) {2}10\.77\.0\.3:2007 +token +addressbook 0\.1\.0$/,
  );
  const named = await locateServer(
    { ...CONFIG, serverName: "address BOOK (2)" },
    output,
    undefined,
    both,
  );
  assert.ok(typeof named !== "number" && named.config.host === "10.77.0.3");
  const chosen = await locateServer(CONFIG, output, (list) => Promise.resolve(list[0]!), both);
  assert.ok(typeof chosen !== "number" && chosen.config.host === "10.77.0.1");
  assert.equal(
    await locateServer({ ...CONFIG, serverName: "Nobody" }, output, undefined, both),
    3,
  );
});

Deno.test("locateServer(): none keeps 127.0.0.1:2007 and a note for the unreachable sentence", async () => {
  const output = { out: () => {}, err: () => {} };
  const none = await locateServer(CONFIG, output, undefined, () => Promise.resolve([]));
  assert.ok(typeof none !== "number");
  assert.equal(none.config.host, "127.0.0.1");
  assert.equal(none.config.discover, undefined);
  assert.equal(none.lanNote, "no server answered on the LAN either (DNS-SD, 1 s)");
  const denied = await locateServer(
    CONFIG,
    output,
    undefined,
    () => Promise.reject(new MdnsError("DNS-SD needs --allow-net=...")),
  );
  assert.ok(typeof denied !== "number");
  assert.match(denied.lanNote!, /^the client could not look for one on the LAN: DNS-SD needs/);
  // Given an address, it does not look.
  const given = await locateServer({ ...CONFIG, discover: undefined }, output, undefined, () => {
    throw new Error("looked");
  });
  assert.ok(typeof given !== "number" && given.lanNote === undefined);
});
