import assert from "node:assert/strict";
import { clientHelp, parseClientCommand, UsageError } from "./config.ts";

const noEnv = () => undefined;
const env = (vars: Record<string, string>) => (name: string) => vars[name];

function usage(args: string[], pattern: RegExp): void {
  assert.throws(() => parseClientCommand(args, noEnv), (error: unknown) => {
    assert.ok(error instanceof UsageError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

Deno.test("parseClientCommand() with no command opens the menu on the defaults", () => {
  const command = parseClientCommand([], noEnv);
  assert.deepEqual(command, {
    kind: "menu",
    // Told nowhere: the client looks on the LAN first, then falls back to 127.0.0.1:2007.
    config: {
      host: "127.0.0.1",
      port: 2007,
      timeoutMs: 5000,
      json: false,
      tls: false,
      discover: true,
    },
  });
});

Deno.test("parseClientCommand(): --server NAME looks on the LAN; --host, --port or ADDRESSBOOK_SERVER do not", () => {
  const named = parseClientCommand(["--server", "Address book (2)", "count"], noEnv);
  assert.equal(named.kind === "count" && named.config.serverName, "Address book (2)");
  assert.equal(named.kind === "count" && named.config.discover, true);
  for (
    const [args, vars] of [
      [["--host", "book.lan", "count"], {}],
      [["--port", "9000", "count"], {}],
      [["count"], { ADDRESSBOOK_SERVER: "book.lan" }],
    ] as const
  ) {
    const command = parseClientCommand([...args], env(vars));
    assert.equal(command.kind === "count" && command.config.discover, undefined, args.join(" "));
  }
  // An empty ADDRESSBOOK_SERVER is unset.
  const empty = parseClientCommand(["count"], env({ ADDRESSBOOK_SERVER: "" }));
  assert.equal(empty.kind === "count" && empty.config.discover, true);
  usage(["--server", "A", "--host", "b", "count"], /^--server picks a server found on the LAN/);
  usage(["--server", " ", "count"], /^--server is empty$/);
  const servers = parseClientCommand(["servers", "--watch", "--json"], noEnv);
  assert.deepEqual(servers.kind === "servers" && [servers.watch, servers.config.json], [
    true,
    true,
  ]);
  usage(["count", "--watch"], /^Option --watch does not apply to count$/);
});

Deno.test("parseClientCommand() takes --token, --tls and --ca, or their variables", () => {
  const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  const flags = parseClientCommand(
    ["--token", "flag-token-0123456789", "--ca", pem, "count"],
    env({ ADDRESSBOOK_TOKEN: "env-token-0123456789" }),
  );
  if (flags.kind !== "count") throw new Error(flags.kind);
  assert.equal(flags.config.token, "flag-token-0123456789", "the flag beats the variable");
  assert.equal(flags.config.caFile, pem, "PEM text starting with dashes is a value, not a flag");
  assert.equal(flags.config.tls, true, "--ca implies TLS");
  const vars = parseClientCommand(
    ["list"],
    env({ ADDRESSBOOK_TOKEN: "env-token-0123456789", ADDRESSBOOK_TLS: "1" }),
  );
  if (vars.kind !== "list") throw new Error(vars.kind);
  assert.equal(vars.config.token, "env-token-0123456789");
  assert.equal(vars.config.tls, true);
  assert.equal(vars.config.caFile, undefined);
  const menu = parseClientCommand(["--tls", "--ca", "/etc/ab/ca.pem", "--token", "t"], noEnv);
  assert.equal(menu.kind, "menu", "the connection options need no command");
  if (menu.kind !== "menu") return;
  assert.equal(menu.config.caFile, "/etc/ab/ca.pem");
  assert.throws(
    () => parseClientCommand(["count"], env({ ADDRESSBOOK_TLS: "maybe" })),
    (error: unknown) =>
      error instanceof UsageError && /ADDRESSBOOK_TLS "maybe" is not one of/.test(error.message),
  );
  usage(["--token", "", "count"], /--token is empty/);
  usage(["--ca", "", "count"], /--ca is empty/);
});

Deno.test("parseClientCommand() reads ADDRESSBOOK_SERVER, and flags beat it", () => {
  const vars = env({ ADDRESSBOOK_SERVER: "bookserver.local:2010" });
  const fromEnv = parseClientCommand(["count"], vars);
  assert.equal(fromEnv.kind, "count");
  if (fromEnv.kind !== "count") return;
  assert.equal(fromEnv.config.host, "bookserver.local");
  assert.equal(fromEnv.config.port, 2010);
  const flags = parseClientCommand(["--host", "10.0.0.2", "count"], vars);
  if (flags.kind !== "count") throw new Error(flags.kind);
  assert.equal(flags.config.host, "10.0.0.2");
  assert.equal(flags.config.port, 2010, "the port still comes from the environment");
  const v6 = parseClientCommand(["count"], env({ ADDRESSBOOK_SERVER: "[::1]:2011" }));
  if (v6.kind !== "count") throw new Error(v6.kind);
  assert.equal(v6.config.host, "::1");
  assert.equal(v6.config.port, 2011);
  const hostOnly = parseClientCommand(["count"], env({ ADDRESSBOOK_SERVER: "book" }));
  if (hostOnly.kind !== "count") throw new Error(hostOnly.kind);
  assert.equal(hostOnly.config.port, 2007);
});

Deno.test("parseClientCommand() reads --timeout in seconds", () => {
  const command = parseClientCommand(["--timeout", "0.5", "count"], noEnv);
  if (command.kind !== "count") throw new Error(command.kind);
  assert.equal(command.config.timeoutMs, 500);
  usage(["--timeout", "soon", "count"], /--timeout "soon" is not a number/);
  usage(["--timeout", "0", "count"], /--timeout "0"/);
});

Deno.test("parseClientCommand() rejects bad ports, in flags and in the environment", () => {
  usage(["--port", "70000"], /--port "70000" is not a whole number from 1 to 65535/);
  usage(["--port", "abc", "list"], /--port "abc"/);
  assert.throws(
    () => parseClientCommand(["list"], env({ ADDRESSBOOK_SERVER: "host:x" })),
    /The port in ADDRESSBOOK_SERVER "x"/,
  );
});

Deno.test("parseClientCommand() parses add with repeatable labelled phones and emails", () => {
  const command = parseClientCommand([
    "add",
    "--name",
    "Bob",
    "--house",
    "12",
    "--phone",
    "mobile:555-0123",
    "--phone",
    "555-0199",
    "--email",
    "work: bob@example.com",
    "--json",
  ], noEnv);
  if (command.kind !== "add") throw new Error(command.kind);
  assert.equal(command.config.json, true);
  assert.deepEqual(command.fields, {
    name: "Bob",
    house: "12",
    phones: [{ label: "mobile", number: "555-0123" }, { label: "", number: "555-0199" }],
    emails: [{ label: "work", address: "bob@example.com" }],
  });
});

Deno.test("parseClientCommand() takes the name of add as words, once", () => {
  const command = parseClientCommand(["add", "Bob", "Smith"], noEnv);
  if (command.kind !== "add") throw new Error(command.kind);
  assert.equal(command.fields.name, "Bob Smith");
  usage(["add", "Bob", "--name", "Bob"], /not both/);
  usage(["add", "--town", "Springfield"], /add needs a name/);
});

Deno.test("parseClientCommand() parses edit: a target and the fields to change", () => {
  const command = parseClientCommand(
    ["edit", "Bob", "--town", "Shelbyville", "--phone", ""],
    noEnv,
  );
  if (command.kind !== "edit") throw new Error(command.kind);
  assert.equal(command.target, "Bob");
  assert.deepEqual(command.fields, { town: "Shelbyville", phones: [] });
  usage(["edit", "Bob"], /edit needs at least one field/);
  usage(["edit", "--town", "X"], /edit needs the id or name/);
});

Deno.test("parseClientCommand() parses find, search and list with paging", () => {
  const find = parseClientCommand(["find", "Bob", "Smith", "--limit", "5"], noEnv);
  if (find.kind !== "find") throw new Error(find.kind);
  assert.equal(find.name, "Bob Smith");
  assert.deepEqual(find.page, { limit: 5 });
  const list = parseClientCommand(["list", "--cursor", "abc"], noEnv);
  if (list.kind !== "list") throw new Error(list.kind);
  assert.deepEqual(list.page, { cursor: "abc" });
  usage(["list", "--limit", "101"], /--limit "101" is not a whole number from 1 to 100/);
  usage(["search"], /search needs a query/);
  usage(["list", "extra"], /list takes no argument/);
});

Deno.test("parseClientCommand() parses ping's count and interval", () => {
  const ping = parseClientCommand(["ping", "--count", "5", "--interval", "0.25"], noEnv);
  assert.equal(ping.kind, "ping");
  if (ping.kind !== "ping") return;
  assert.equal(ping.count, 5);
  assert.equal(ping.intervalMs, 250);
  const once = parseClientCommand(["ping"], noEnv);
  if (once.kind !== "ping") throw new Error(once.kind);
  assert.equal(once.count, 1);
  assert.equal(once.intervalMs, 1000);
});

Deno.test("parseClientCommand() names the mistake in a usage error", () => {
  usage(["frobnicate"], /Unknown command "frobnicate"; commands are add, get, find/);
  usage(["--bogus"], /^Unknown option "--bogus"$/);
  usage(["find", "--limit"], /^Option "--limit" needs a value$/);
  usage(["count", "--name", "x"], /Option --name does not apply to count/);
  usage(["--json"], /Option --json needs a command/);
  usage(["ping", "--count", "-1"], /--count/);
});

Deno.test("clientHelp() lists every option with its default and every exit code", () => {
  const help = clientHelp();
  for (
    const flag of ["--host", "--port", "--timeout", "--token", "--tls", "--ca", "--json", "--help"]
  ) {
    assert.ok(help.includes(flag), flag);
  }
  for (const command of ["add", "get", "find", "search", "list", "edit", "rm", "count", "stats"]) {
    assert.match(help, new RegExp(`^  ${command}\\b`, "m"));
  }
  assert.match(help, /--ping|ping \[--count N\] \[--interval SECONDS\]/);
  assert.match(help, /env ADDRESSBOOK_SERVER \(host:port\), default 127\.0\.0\.1/);
  assert.match(help, /default 2007/);
  assert.match(help, /env none, default 5/);
  assert.match(help, /--token TOKEN .*\n +env ADDRESSBOOK_TOKEN, default none/);
  assert.match(help, /--tls .*\n +env ADDRESSBOOK_TLS, default off/);
  assert.match(help, /--ca FILE\|PEM .*\n +env ADDRESSBOOK_CA, default system roots/);
  for (const code of [0, 1, 2, 3, 4]) assert.match(help, new RegExp(`^  ${code}  `, "m"));
});

Deno.test("parseClientCommand() reads export and import with their formats", () => {
  const plain = parseClientCommand(["export"], noEnv);
  assert.ok(plain.kind === "export");
  assert.deepEqual([plain.format, plain.vcardVersion], ["json", "3.0"]);
  const vcard = parseClientCommand(
    ["export", "--format", "vcard", "--vcard-version", "4.0"],
    noEnv,
  );
  assert.ok(vcard.kind === "export" && vcard.format === "vcard" && vcard.vcardVersion === "4.0");
  const json = parseClientCommand(["export", "--json"], noEnv);
  assert.ok(json.kind === "export" && json.format === "json");
  for (const args of [["import"], ["import", "-"], ["import", "-", "--format", "csv"]]) {
    const command = parseClientCommand(args, noEnv);
    assert.ok(command.kind === "import", args.join(" "));
    assert.equal(command.format, args.includes("csv") ? "csv" : "auto");
  }
  usage(["import", "contacts.vcf"], /^import reads standard input only/);
  usage(["import", "-", "-"], /^import reads standard input only/);
  usage(["export", "--format", "xml"], /^--format "xml" is not one of json, vcard, csv$/);
  usage(["import", "--format", "xml"], /^--format "xml" is not one of auto, json, vcard, csv$/);
  usage(["export", "--format", "vcard", "--vcard-version", "2.1"], /is not 3\.0 or 4\.0$/);
  usage(["export", "--vcard-version", "4.0"], /applies to --format vcard, not json$/);
  usage(["export", "--json", "--format", "csv"], /cannot be --format csv$/);
  usage(["import", "--vcard-version", "4.0"], /does not apply to import$/);
  usage(["export", "everything"], /^export takes no argument/);
  assert.match(clientHelp(), /export \[--format json\|vcard\|csv\]/);
  assert.match(clientHelp(), /import \[-\] \[--format auto\|json\|vcard\|csv\]/);
});
