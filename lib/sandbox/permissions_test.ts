import assert from "node:assert/strict";
import {
  formatPermissionReport,
  isPermissionError,
  parentFolder,
  permissionMessage,
  permissionReport,
} from "./permissions.ts";

Deno.test("parentFolder() walks one folder up", () => {
  assert.equal(parentFolder("/var/lib/addressbook"), "/var/lib");
  assert.equal(parentFolder("/var/lib/addressbook/"), "/var/lib");
  assert.equal(parentFolder("/data"), "/");
  assert.equal(parentFolder("./data"), ".");
  assert.equal(parentFolder("data"), ".");
  assert.equal(parentFolder("."), "..");
  assert.equal(parentFolder("/"), "/");
  assert.equal(parentFolder(".."), "../..");
  assert.equal(parentFolder("../.."), "../../..");
  assert.equal(parentFolder("../data"), "..");
});

Deno.test({
  name: "permissionReport() shows the scopes granted and denies the rest",
  permissions: {
    read: ["/tmp/ab-data"],
    write: ["/tmp/ab-data"],
    net: ["127.0.0.1"],
    env: ["ADDRESSBOOK_PORT"],
    run: false,
    ffi: false,
    sys: false,
  },
  fn() {
    const report = permissionReport({
      host: "127.0.0.1",
      port: 2007,
      data: "/tmp/ab-data",
      env: ["ADDRESSBOOK_PORT", "ADDRESSBOOK_HOST"],
    });
    assert.deepEqual(report, {
      net: "127.0.0.1",
      read: "/tmp/ab-data",
      write: "/tmp/ab-data",
      env: "1/2-documented",
      run: "denied",
      ffi: "denied",
      sys: "denied",
    });
    assert.equal(
      formatPermissionReport(report),
      "Permissions: net=127.0.0.1 read=/tmp/ab-data write=/tmp/ab-data env=1/2-documented " +
        "run=denied ffi=denied sys=denied",
    );
  },
});

Deno.test({
  name: "permissionReport() shows a grant wider than the data folder",
  permissions: { read: ["/tmp"], write: false, net: false, env: false },
  fn() {
    const report = permissionReport({ host: "::1", port: 1, data: "/tmp/ab-data", env: [] });
    assert.equal(report.read, "/tmp");
    assert.equal(report.write, "denied");
    assert.equal(report.net, "denied");
    assert.equal(report.env, "denied");
  },
});

Deno.test({
  name: "permissionMessage() names the flag for a real refusal, in one line",
  permissions: { read: false, net: false, env: false },
  async fn() {
    const cases: Array<[() => unknown, string]> = [
      [
        () => Deno.readTextFileSync("/etc/hostname"),
        'Not allowed to read "/etc/hostname": add --allow-read=/etc/hostname',
      ],
      [
        () => Deno.env.get("HOME"),
        'Not allowed to read the environment variable "HOME": add --allow-env=HOME',
      ],
      [
        () => Deno.listen({ hostname: "0.0.0.0", port: 2007 }),
        'Not allowed to use the network address "0.0.0.0:2007": add --allow-net=0.0.0.0',
      ],
    ];
    for (const [action, expected] of cases) {
      let caught: unknown;
      try {
        await action();
      } catch (error) {
        caught = error;
      }
      assert.equal(isPermissionError(caught), true);
      const message = permissionMessage(caught, "see README");
      assert.equal(message, `${expected}; see README`);
      assert.doesNotMatch(message, /\n|\bat /);
    }
    assert.equal(permissionMessage(new Error("odd\nstack")), "Not allowed: odd");
  },
});

Deno.test("permissionMessage() tells the file system's refusal from the sandbox's", () => {
  // What Deno throws when the OS refuses (EACCES), for instance a key.pem owned by root that a
  // service user cannot read. No --allow flag helps, so the hint about flags is left out.
  const error = new Deno.errors.PermissionDenied(
    "Permission denied (os error 13): readfile '/var/lib/addressbook/data/key.pem'",
  );
  assert.equal(
    permissionMessage(error, "or keep the certificate and key in the data folder"),
    "The operating system denied access: Permission denied (os error 13): readfile " +
      "'/var/lib/addressbook/data/key.pem'; the user this runs as needs access to that file " +
      "(check its owner and mode)",
  );
});
