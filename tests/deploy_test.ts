/** The systemd unit in deploy/ matches the compiled server and keeps systemd's sandbox on. */
import assert from "node:assert/strict";
import { SERVER_OPTIONS } from "../lib/server/config.ts";
import { taskCommand } from "./helpers.ts";

const UNIT = new URL("../deploy/addressbook.service", import.meta.url);
const text = await Deno.readTextFile(UNIT);
const settings = text.split("\n").filter((line) => /^\w+=/.test(line)).map((line) => {
  const index = line.indexOf("=");
  return [line.slice(0, index), line.slice(index + 1)] as const;
});
const values = (key: string) => settings.filter(([k]) => k === key).map(([, v]) => v);
const hasSystemd = await new Deno.Command("systemd-analyze", {
  args: ["--version"],
  stdout: "null",
})
  .output().then((o) => o.success, () => false);

Deno.test("the unit runs the compiled server on the LAN with a data folder it may use", async () => {
  assert.deepEqual(values("ExecStart"), ["/usr/local/bin/addressbook-server"]);
  const argv = await taskCommand("compile:server", {});
  assert.ok(argv.includes("--output=dist/addressbook-server"), argv.join(" "));
  const env = Object.fromEntries(values("Environment").map((v) => v.split("=")));
  const documented = SERVER_OPTIONS.map((o) => o.env);
  for (const name of Object.keys(env)) assert.ok(documented.includes(name), name);
  assert.equal(env.ADDRESSBOOK_HOST, "0.0.0.0");
  // The binary may use ./data (compile default), resolved against the working directory.
  assert.equal(env.ADDRESSBOOK_DATA, "./data");
  assert.deepEqual(values("WorkingDirectory"), ["/var/lib/addressbook"]);
  assert.deepEqual(values("StateDirectory"), ["addressbook"]);
  assert.deepEqual(values("KillSignal"), ["SIGTERM"]);
});

Deno.test("the unit keeps systemd's sandbox on", () => {
  const expected: Record<string, string> = {
    DynamicUser: "yes",
    NoNewPrivileges: "yes",
    CapabilityBoundingSet: "",
    ProtectSystem: "strict",
    ProtectHome: "yes",
    PrivateTmp: "yes",
    PrivateDevices: "yes",
    ProtectKernelTunables: "yes",
    ProtectKernelModules: "yes",
    ProtectControlGroups: "yes",
    RestrictAddressFamilies: "AF_INET AF_INET6 AF_UNIX",
    RestrictNamespaces: "yes",
    RestrictSUIDSGID: "yes",
    SystemCallArchitectures: "native",
    UMask: "0077",
  };
  for (const [key, value] of Object.entries(expected)) {
    assert.deepEqual(values(key), [value], key);
  }
  assert.ok(values("SystemCallFilter").includes("@system-service"));
  assert.ok(!values("User").length, "no fixed user: DynamicUser");
});

Deno.test({
  name: "systemd-analyze accepts the unit and rates its exposure low",
  ignore: !hasSystemd,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.copyFile(UNIT, `${dir}/addressbook.service`);
      const verify = await new Deno.Command("systemd-analyze", {
        args: ["verify", `${dir}/addressbook.service`],
      }).output();
      const complaints = new TextDecoder().decode(verify.stderr).split("\n")
        .filter((line) => line.trim() !== "" && !/addressbook-server is not executable/.test(line));
      assert.deepEqual(complaints, []);
      const security = await new Deno.Command("systemd-analyze", {
        args: ["security", "--offline=yes", `${dir}/addressbook.service`],
        env: { SYSTEMD_COLORS: "0" },
      }).output();
      const out = new TextDecoder().decode(security.stdout);
      const match = /Overall exposure level for addressbook\.service: ([\d.]+)/.exec(out);
      assert.ok(match, out.slice(-500));
      assert.ok(Number(match[1]) <= 2, `exposure ${match[1]} (0 best, 10 worst)`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
