import assert from "node:assert/strict";
import { advertisedServices, advertisePlan } from "./advertise.ts";
import { ConfigError, parseServerCommand } from "./config.ts";

function config(args: string[], env: Record<string, string> = {}) {
  const command = parseServerCommand(args, (name) => env[name]);
  assert.equal(command.kind, "serve");
  return command.kind === "serve" ? command.config : undefined!;
}

Deno.test("--advertise: on, off, or by default on off loopback; on refused for loopback", () => {
  assert.equal(config([]).advertise, "auto");
  assert.equal(config(["--advertise", "off"]).advertise, "off");
  assert.equal(config(["--host", "0.0.0.0"], { ADDRESSBOOK_ADVERTISE: "Yes" }).advertise, "on");
  assert.equal(config([], { ADDRESSBOOK_ADVERTISE: "0" }).advertise, "off");
  assert.throws(() => config(["--advertise", "maybe"]), ConfigError);
  assert.throws(
    () => config(["--advertise", "on"]),
    /^ConfigError: --advertise on needs a LAN address: 127\.0\.0\.1 is loopback/,
  );
});

Deno.test("advertisePlan(): loopback and off never; without the mDNS grants, on refuses and the default warns", () => {
  // This test runs without --allow-net for 0.0.0.0:5353 and 224.0.0.251:5353.
  assert.deepEqual(advertisePlan({ host: "127.0.0.1", advertise: "auto" }), { advertise: false });
  assert.deepEqual(advertisePlan({ host: "0.0.0.0", advertise: "off" }), { advertise: false });
  const on = advertisePlan({ host: "0.0.0.0", advertise: "on" });
  assert.equal(on.advertise, false);
  assert.equal(
    on.refusal,
    "Not allowed to advertise on the LAN: DNS-SD needs --allow-net=0.0.0.0:5353,224.0.0.251:5353 " +
      "(deno task serve grants it unless ADDRESSBOOK_ADVERTISE=off)",
  );
  const auto = advertisePlan({ host: "10.77.0.1", advertise: "auto" });
  assert.equal(auto.advertise, false);
  assert.match(auto.warning!, /^Not advertised on the LAN: DNS-SD needs .*; --advertise off hides/);
});

Deno.test("advertisedServices(): _addressbook._tcp with its TXT, CardDAV by its TLS", () => {
  const tcp = { transport: "tcp" as const, hostname: "10.77.0.1", port: 2007 };
  const plain = advertisedServices({
    tcp,
    tls: false,
    auth: true,
    http: { port: 2008, tls: false },
    davPath: "/dav/",
  });
  assert.deepEqual(plain.map((s) => [s.type, s.port]), [
    ["_addressbook._tcp.local", 2007],
    ["_carddav._tcp.local", 2008],
  ]);
  assert.deepEqual(Object.keys(plain[0]!.txt), [
    "txtvers",
    "protocol",
    "auth",
    "tls",
    "server",
    "version",
  ]);
  assert.equal(plain[0]!.txt.auth, "1");
  assert.deepEqual(plain[1]!.txt, { txtvers: "1", path: "/dav/" });
  const none = advertisedServices({ tcp, tls: false, auth: false, davPath: "/dav/" });
  assert.deepEqual(none.map((s) => s.type), ["_addressbook._tcp.local"]);
});
