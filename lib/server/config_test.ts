import assert from "node:assert/strict";
import { ConfigError, parseServerCommand, SERVER_OPTIONS, serverHelp } from "./config.ts";

const noEnv = () => undefined;

Deno.test({
  name: "parseServerCommand() uses the defaults the docs promise",
  permissions: "none",
  fn() {
    const command = parseServerCommand([], noEnv);
    assert.deepEqual(command, {
      kind: "serve",
      config: {
        host: "127.0.0.1",
        port: 2007,
        data: "./data",
        db: "./data/addressbook.kv",
        maxConnections: 1024,
        maxPerPeer: 256,
        idleTimeout: 300,
        writeTimeout: 30,
        authTimeout: 10,
        maxLine: 65536,
        logLevel: "info",
        region: null,
        check: false,
        requireAuth: false,
        classicLan: false,
        tls: { cert: "./data/cert.pem", key: "./data/key.pem", explicit: false },
        httpPort: 2008,
        httpPlainAuth: false,
        advertise: "auto",
      },
    });
  },
});

Deno.test({
  name: "parseServerCommand() takes the environment, and flags over it",
  permissions: "none",
  fn() {
    const env: Record<string, string> = {
      ADDRESSBOOK_DATA: "/srv/ab/",
      ADDRESSBOOK_PORT: "3000",
      ADDRESSBOOK_LOG_LEVEL: "debug",
    };
    const command = parseServerCommand(["--port", "4000", "--db", ":memory:"], (n) => env[n]);
    assert.equal(command.kind, "serve");
    if (command.kind !== "serve") return;
    assert.equal(command.config.port, 4000);
    assert.equal(command.config.data, "/srv/ab");
    assert.equal(command.config.db, ":memory:");
    assert.equal(command.config.logLevel, "debug");
    const fromEnv = parseServerCommand([], (n) => env[n]);
    assert.equal(fromEnv.kind === "serve" && fromEnv.config.db, "/srv/ab/addressbook.kv");
  },
});

Deno.test({
  name: "parseServerCommand() refuses bad values, naming the option",
  permissions: "none",
  fn() {
    for (
      const [args, pattern] of [
        [["--port", "70000"], /--port "70000"/],
        [["--port", "-1"], /--port/],
        [["--max-connections", "0"], /--max-connections "0"/],
        [["--idle-timeout", "1.5"], /--idle-timeout/],
        [["--log-level", "loud"], /Log level "loud"/],
        [["--bogus"], /^Unknown option "--bogus"$/],
        [["--port"], /^Option "--port" needs a value$/],
        [["extra"], /^Unexpected argument "extra": only options are taken$/],
      ] as Array<[string[], RegExp]>
    ) {
      assert.throws(() => parseServerCommand(args, noEnv), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, pattern);
        return true;
      });
    }
  },
});

Deno.test({
  name: "serverHelp() lists every option with its variable and default",
  permissions: "none",
  fn() {
    const help = serverHelp();
    for (const option of SERVER_OPTIONS) {
      assert.ok(help.includes(`--${option.flag}`), option.flag);
      assert.ok(help.includes(option.env), option.env);
      assert.ok(help.includes(`default ${option.default}`), option.default);
    }
  },
});

Deno.test({
  name: "parseServerCommand() takes --region and ADDRESSBOOK_REGION as a region code, or none",
  permissions: "none",
  fn() {
    const region = (args: string[], env: Record<string, string> = {}) => {
      const parsed = parseServerCommand(args, (name) => env[name]);
      if (parsed.kind !== "serve") throw new Error(parsed.kind);
      return parsed.config.region;
    };
    assert.equal(region([]), null);
    assert.equal(region(["--region", "gb"]), "GB");
    assert.equal(region([], { ADDRESSBOOK_REGION: "DE" }), "DE");
    assert.equal(region(["--region", "none"], { ADDRESSBOOK_REGION: "DE" }), null);
    assert.throws(
      () => region(["--region", "UK"]),
      /Region "UK" is not a region code the phone library knows: give an ISO 3166-1 two-letter code such as GB, US or DE, or none/,
    );
  },
});
