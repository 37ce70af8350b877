/**
 * LAN discovery (DNS-SD over multicast DNS) tried as people would, on a LAN this test makes
 * itself and removes afterwards, even on failure: network namespaces joined by veth pairs to
 * a bridge in a namespace of its own, private addresses 10.77.0.0/24, multicast routed on
 * that link; never this machine's own interfaces. Servers run with the exact flags of
 * `deno task serve` (advertising on, as it is by default for a LAN address), clients with
 * those of `deno task client`, each with `ip netns exec`. An independent browser (Debian's
 * python3-zeroconf) checks what goes on the wire. Needs root and iproute2; says so and
 * skips otherwise.
 */
import assert from "node:assert/strict";
import { serveCommand, tempDir } from "./helpers.ts";
import { clientCommand } from "./client_helpers.ts";

const ROOT = new URL("../", import.meta.url);
const decoder = new TextDecoder();
const PYTHON = "/usr/bin/python3";

async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(command, { args, stdout: "null", stderr: "null" }).output())
      .success;
  } catch {
    return false;
  }
}

const isRoot = await new Deno.Command("id", { args: ["-u"] }).output()
  .then((o) => decoder.decode(o.stdout).trim() === "0", () => false);
const canMakeLan = isRoot && await succeeds("ip", ["netns", "list"]);
const hasZeroconf = await succeeds(PYTHON, ["-c", "import zeroconf"]);
if (!canMakeLan) console.log("skipped: needs root and iproute2 (ip netns)");
else if (!hasZeroconf) console.log("skipped: needs python3-zeroconf (Debian package)");

async function ip(...args: string[]): Promise<void> {
  const result = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!result.success) throw new Error(`ip ${args.join(" ")}: ${decoder.decode(result.stderr)}`);
}

let lans = 0;

/**
 * Hosts `10.77.0.N/24` in namespaces of their own, each joined by a veth pair to one bridge
 * (in a hub namespace), with the multicast route on its link. Removed on dispose.
 */
class Lan {
  readonly #prefix: string;
  readonly #namespaces: string[] = [];
  readonly hosts: Array<{ ns: string; address: string }> = [];

  private constructor(prefix: string) {
    this.#prefix = prefix;
  }

  static async make(count: number): Promise<Lan> {
    const lan = new Lan(`abd${Deno.pid % 100000}n${lans++}`);
    try {
      await lan.#build(count);
    } catch (error) {
      await lan[Symbol.asyncDispose]();
      throw error;
    }
    return lan;
  }

  async #build(count: number): Promise<void> {
    const hub = `${this.#prefix}hub`;
    await ip("netns", "add", hub);
    this.#namespaces.push(hub);
    await ip("-n", hub, "link", "add", "br0", "type", "bridge");
    await ip("-n", hub, "link", "set", "br0", "up");
    for (let n = 1; n <= count; n++) {
      const ns = `${this.#prefix}h${n}`;
      await ip("netns", "add", ns);
      this.#namespaces.push(ns);
      // One end in the host's namespace (eth0), the other in the hub on the bridge.
      await ip(
        "-n",
        hub,
        "link",
        "add",
        `p${n}`,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        ns,
      );
      await ip("-n", hub, "link", "set", `p${n}`, "master", "br0", "up");
      const address = `10.77.0.${n}`;
      await ip("-n", ns, "addr", "add", `${address}/24`, "dev", "eth0");
      await ip("-n", ns, "link", "set", "lo", "up");
      await ip("-n", ns, "link", "set", "eth0", "up", "multicast", "on");
      await ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
      this.hosts.push({ ns, address });
    }
  }

  host(n: number): { ns: string; address: string } {
    return this.hosts[n - 1]!;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const ns of this.#namespaces.reverse()) {
      await ip("netns", "del", ns).catch(() => {});
    }
  }
}

/** A process in a namespace, its output gathered line by line. */
class Proc {
  readonly child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  out = "";
  err = "";
  readonly #reading: Promise<void>;
  #status: Deno.CommandStatus | undefined;

  constructor(ns: string, argv: string[], env: Record<string, string>) {
    this.child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, ...argv],
      cwd: ROOT,
      env: { NO_COLOR: "1", ...env },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.child.stdin.getWriter();
    const read = async (stream: ReadableStream<Uint8Array>, into: "out" | "err") => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) this[into] += chunk;
    };
    this.#reading = Promise.all([read(this.child.stdout, "out"), read(this.child.stderr, "err")])
      .then(() => {});
  }

  /** Waits (at most 30 s, in 50 ms ticks) until `pattern` shows in the output. */
  async waitFor(pattern: RegExp, where: "out" | "err" = "err"): Promise<RegExpExecArray> {
    for (let tick = 0; tick < 600; tick++) {
      const match = pattern.exec(this[where]);
      if (match) return match;
      if (this.#status) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`no ${pattern} in:\n${this.out}\n${this.err}`);
  }

  async closeInput(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    if (!this.#status) {
      try {
        this.child.kill(signal);
      } catch {
        // already gone
      }
    }
    return await this.status();
  }

  async status(): Promise<Deno.CommandStatus> {
    this.#status ??= await this.child.status;
    await this.#reading;
    return this.#status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.closeInput();
    if (!this.#status) await this.stop("SIGKILL");
  }
}

/** A server with the serve task's flags, listening on its host's address (or 0.0.0.0). */
async function startServer(
  host: { ns: string; address: string },
  data: string,
  bind = host.address,
): Promise<Proc & { token: string }> {
  const env = { ADDRESSBOOK_DATA: data, ADDRESSBOOK_HOST: bind };
  const server = new Proc(host.ns, await serveCommand(env), env);
  await server.waitFor(/ listening on /);
  await server.waitFor(/Advertised on the LAN \(DNS-SD\) as "[^"]+"/);
  const token = (await Deno.readTextFile(`${data}/token`)).trim();
  return Object.assign(server, { token });
}

/** The client with the client task's flags in a namespace, told no address. */
async function runClient(
  host: { ns: string },
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const all = {
    ADDRESSBOOK_SERVER: "",
    ADDRESSBOOK_TOKEN: "",
    ADDRESSBOOK_TLS: "",
    ADDRESSBOOK_CA: "",
    ...env,
  };
  await using client = new Proc(host.ns, [...await clientCommand(all), ...args], all);
  await client.closeInput();
  const status = await client.status();
  return { code: status.code, stdout: client.out, stderr: client.err };
}

const lanTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: !canMakeLan, fn });

lanTest(
  "a client on another host finds the server with no address and adds a contact",
  async () => {
    await using lan = await Lan.make(2);
    await using data = await tempDir();
    // Nothing on the LAN yet: today's default, and the sentence says the LAN was tried.
    const none = await runClient(lan.host(2), ["count"]);
    assert.equal(none.code, 3, none.stderr);
    assert.match(
      none.stderr,
      /^addressbook: Cannot reach the server at "127\.0\.0\.1:2007": connection refused; .*; no server answered on the LAN either \(DNS-SD, 1 s\)\n$/,
    );
    await using server = await startServer(lan.host(1), data.path);
    const env = { ADDRESSBOOK_TOKEN: server.token };
    const added = await runClient(lan.host(2), [
      "add",
      "Ada Lovelace",
      "--town",
      "London",
      "--json",
    ], env);
    assert.equal(added.code, 0, added.stderr);
    assert.equal(
      added.stderr,
      'addressbook: using "Address book", found on the LAN at 10.77.0.1:2007\n',
    );
    assert.equal(JSON.parse(added.stdout).name, "Ada Lovelace");
    const count = await runClient(lan.host(2), ["count"], env);
    assert.equal(count.stdout, "1 contact\n");
    // The menu, as a new user runs it with no options, finds it too.
    const menu = await runClient(lan.host(2), [], env);
    assert.equal(menu.code, 0, menu.stderr);
    assert.match(menu.stderr, /using "Address book", found on the LAN at 10\.77\.0\.1:2007/);
  },
);

lanTest(
  "two servers: the client lists both, refuses to guess, and --server picks one",
  async () => {
    await using lan = await Lan.make(3);
    await using dataA = await tempDir();
    await using dataC = await tempDir();
    await using a = await startServer(lan.host(1), dataA.path);
    // The second listens on every address: it learns 10.77.0.3 and renames itself.
    await using c = await startServer(lan.host(3), dataC.path, "0.0.0.0");
    assert.match(
      c.err,
      /The name "Address book" is taken on the LAN \(DNS-SD\): trying "Address book \(2\)"/,
    );
    const listed = await runClient(lan.host(2), ["servers", "--json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const servers = JSON.parse(listed.stdout);
    assert.deepEqual(servers.map((s: { name: string; address: string }) => [s.name, s.address]), [
      ["Address book", "10.77.0.1"],
      ["Address book (2)", "10.77.0.3"],
    ]);
    assert.deepEqual(servers[1], {
      name: "Address book (2)",
      address: "10.77.0.3",
      port: 2007,
      tls: false,
      auth: true,
      protocol: 1,
      server: "addressbook",
      version: servers[1].version,
    });
    const guess = await runClient(lan.host(2), ["count"]);
    assert.equal(guess.code, 2);
    assert.match(
      guess.stderr,
      /^addressbook: 2 servers answered on the LAN: pick one with --server NAME/,
    );
    assert.match(guess.stderr, /\n {2}Address book \(2\) {2}10\.77\.0\.3:2007 /);
    const env = { ADDRESSBOOK_TOKEN: c.token };
    const added = await runClient(
      lan.host(2),
      ["--server", "Address book (2)", "add", "Grace"],
      env,
    );
    assert.equal(added.code, 0, added.stderr);
    const onC = await runClient(lan.host(2), ["--host", "10.77.0.3", "count"], env);
    assert.equal(onC.stdout, "1 contact\n");
    const onA = await runClient(lan.host(2), ["--host", "10.77.0.1", "count"], {
      ADDRESSBOOK_TOKEN: a.token,
    });
    assert.equal(onA.stdout, "0 contacts\n");
  },
);

lanTest("a server that stops says goodbye, and a watching client drops it at once", async () => {
  await using lan = await Lan.make(2);
  await using data = await tempDir();
  await using server = await startServer(lan.host(1), data.path);
  const all = {
    ADDRESSBOOK_SERVER: "",
    ADDRESSBOOK_TOKEN: "",
    ADDRESSBOOK_TLS: "",
    ADDRESSBOOK_CA: "",
  };
  await using watch = new Proc(lan.host(2).ns, [
    ...await clientCommand(all),
    "servers",
    "--watch",
    "--json",
  ], all);
  await watch.waitFor(/"event":"found","name":"Address book"/, "out");
  assert.equal((await server.stop("SIGTERM")).code, 0);
  assert.match(server.err, /Said goodbye on the LAN \(DNS-SD\): "Address book" is gone/);
  // Its records had 120 s and 75 min to live: only the goodbye removes it now.
  await watch.waitFor(/"event":"gone","name":"Address book"/, "out");
  assert.equal((await watch.stop("SIGINT")).code, 0);
  assert.deepEqual(watch.out.trim().split("\n").map((line) => JSON.parse(line).event), [
    "found",
    "gone",
  ]);
});

/** Python's zeroconf browsing the given types: one JSON line per service added or removed. */
const ZEROCONF = `
import sys, json
from zeroconf import Zeroconf, ServiceBrowser, IPVersion
zc = Zeroconf(interfaces=[sys.argv[1]], ip_version=IPVersion.V4Only)
class Listener:
    def add_service(self, zc, type_, name):
        info = zc.get_service_info(type_, name, 3000)
        txt = {k.decode(): (v or b"").decode() for k, v in (info.properties if info else {}).items()}
        print(json.dumps({"event": "added", "type": type_, "name": name,
            "port": info.port if info else None,
            "addresses": info.parsed_addresses() if info else [], "txt": txt}), flush=True)
    def remove_service(self, zc, type_, name):
        print(json.dumps({"event": "removed", "type": type_, "name": name}), flush=True)
    def update_service(self, zc, type_, name):
        pass
browser = ServiceBrowser(zc, sys.argv[2:], Listener())
sys.stdin.read()
zc.close()
`;

Deno.test({
  name:
    "python zeroconf on another host sees both service types, their ports and TXT, then the goodbye",
  ignore: !canMakeLan || !hasZeroconf,
  async fn() {
    await using lan = await Lan.make(2);
    await using data = await tempDir();
    await using server = await startServer(lan.host(1), data.path);
    await using browser = new Proc(lan.host(2).ns, [
      PYTHON,
      "-c",
      ZEROCONF,
      "10.77.0.2",
      "_addressbook._tcp.local.",
      "_carddav._tcp.local.",
    ], { PATH: Deno.env.get("PATH") ?? "" });
    await browser.waitFor(/"added", "type": "_addressbook\._tcp\.local\.".*\n/, "out");
    await browser.waitFor(/"added", "type": "_carddav\._tcp\.local\.".*\n/, "out");
    const added = browser.out.trim().split("\n").map((line) => JSON.parse(line));
    const own = added.find((e) => e.type === "_addressbook._tcp.local.");
    assert.equal(own.name, "Address book._addressbook._tcp.local.");
    assert.equal(own.port, 2007);
    assert.deepEqual(own.addresses, ["10.77.0.1"]);
    assert.deepEqual(own.txt, {
      txtvers: "1",
      protocol: "1",
      auth: "1",
      tls: "0",
      server: "addressbook",
      version: own.txt.version,
    });
    const dav = added.find((e) => e.type === "_carddav._tcp.local.");
    assert.equal(dav.port, 2008);
    assert.deepEqual(dav.txt, { txtvers: "1", path: "/dav/" });
    assert.equal((await server.stop("SIGTERM")).code, 0);
    await browser.waitFor(/"removed", "type": "_addressbook\._tcp\.local\."/, "out");
    await browser.waitFor(/"removed", "type": "_carddav\._tcp\.local\."/, "out");
    await browser.closeInput();
    assert.equal((await browser.status()).code, 0, browser.err);
  },
});
