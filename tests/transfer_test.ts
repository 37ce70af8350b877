/**
 * The client's `export` and `import` against real server processes, run with the exact
 * flags of `deno task client`, standard input piped: backups and restores, vCard and CSV
 * files, a large import in batches within the line cap, duplicates, and a backup taken
 * while another client writes.
 */

import assert from "node:assert/strict";
import { parseVCards } from "../lib/formats/vcard.ts";
import { parseCsv } from "../lib/formats/csv.ts";
import { type ClientResult, runClient } from "./client_helpers.ts";
import { type RpcConnection, TestServer } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const FIXTURES = new URL("./fixtures/", import.meta.url);
const SERVER_FIELDS = ["created", "updated", "version"];

async function client(
  server: TestServer,
  args: string[],
  stdin: string | Uint8Array = "",
  timeoutMs = 120_000,
): Promise<ClientResult> {
  return await runClient(args, { server: `127.0.0.1:${server.port}`, stdin, timeoutMs });
}

/** Runs `import --json` and returns its summary; fails unless it exits 0. */
async function importJson(server: TestServer, stdin: string | Uint8Array, args: string[] = []) {
  const result = await client(server, ["import", "-", "--json", ...args], stdin);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const lines = result.stdout.trim().split("\n");
  assert.equal(lines.length, 1, "standard output holds only the summary");
  return { summary: JSON.parse(lines[0]!), stderr: result.stderr };
}

/** Every contact of a server, by its export method. */
async function storedContacts(rpc: RpcConnection): Promise<Json[]> {
  const all: Json[] = [];
  let cursor: string | null = null;
  do {
    const page: Json = await rpc.result("export", { cursor, limit: 100 });
    all.push(...page.contacts);
    cursor = page.cursor;
  } while (cursor !== null);
  return all;
}

function withoutServerFields(contact: Json): Json {
  const copy = { ...contact };
  for (const field of SERVER_FIELDS) delete copy[field];
  return copy;
}

function jsonLines(text: string): Json[] {
  return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
}

/** A varied set of contacts: Unicode, several phones and emails, notes, uid, extra. */
function sampleContacts(count: number): Json[] {
  const contacts: Json[] = [
    {
      name: "José Núñez",
      house: "12",
      street: "High Street",
      town: "Springfield",
      postcode: "SP1 2AB",
      phones: [{ label: "mobile", number: "+44 7700 900123" }, { label: "", number: "555-0100" }],
      emails: [{ label: "work", address: "jose@example.com" }],
      notes: "Line one\nLine two, with a comma; and a semicolon",
      uid: "urn:uuid:3b241101-e2bb-4255-8caf-4136c566a962",
      extra: { vcard: ["BDAY:1970-01-01", "ORG:Example Ltd."] },
    },
    { name: "Zoë Ødegård", emails: [{ label: "", address: "zoe@example.no" }] },
    { name: "李小龍", town: "香港" },
    {
      name: "Ann Lee",
      org: "Acme, Inc.",
      title: "Engineer; R&D",
      nickname: "Annie",
      birthday: "--04-12",
      anniversary: "2005-06-30",
      urls: [{ label: "work", url: "https://acme.example/ann" }, {
        label: "Blog",
        url: "ann.example",
      }],
      groups: ["Family", "Chess club"],
      phones: [{ label: "mobile", number: "+44 20 7946 0958" }],
    },
  ];
  for (let i = contacts.length; i < count; i++) {
    contacts.push({
      name: `Person ${String(i).padStart(4, "0")}`,
      street: "Elm Road",
      house: String(i),
      phones: [{ label: "home", number: `555-${String(i).padStart(4, "0")}` }],
    });
  }
  return contacts;
}

async function addAll(rpc: RpcConnection, contacts: Json[]): Promise<Json[]> {
  const added: Json[] = [];
  for (const contact of contacts) added.push(await rpc.result("add", { contact }));
  return added;
}

Deno.test("export then import into an empty store gives back the same contacts; a re-import updates, never duplicates", async () => {
  await using source = await TestServer.start();
  await using target = await TestServer.start();
  using src = await source.connect();
  using dst = await target.connect();
  await addAll(src, sampleContacts(130)); // more than one export page of 100

  const exported = await client(source, ["export"]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(exported.stderr, "Exported 130 contacts (JSON)\n");
  const lines = jsonLines(exported.stdout);
  assert.deepEqual(lines, await storedContacts(src), "JSON Lines: the server's contact objects");

  // Into an empty store: the same ids and fields; created, updated and version are new.
  const { summary } = await importJson(target, exported.stdout);
  assert.deepEqual(
    [summary.format, summary.records, summary.added, summary.updated, summary.unchanged],
    ["json", 130, 130, 0, 0],
  );
  assert.deepEqual(summary.skipped, []);
  assert.deepEqual(summary.warnings, []);
  const restored = await storedContacts(dst);
  assert.deepEqual(restored.map(withoutServerFields), lines.map(withoutServerFields));
  assert.deepEqual((await dst.result("check")).problems, []);

  // The same backup again: matched by id, nothing written, nothing duplicated.
  const again = await importJson(target, exported.stdout);
  assert.deepEqual(
    [again.summary.added, again.summary.updated, again.summary.unchanged],
    [0, 0, 130],
  );
  assert.deepEqual(await storedContacts(dst), restored, "versions unchanged: no write at all");

  // Changed and removed contacts are put back as they were in the backup.
  const [first, , third, second] = restored; // José, 李小龍, Ann Lee (a phone)
  await dst.result("update", {
    id: first.id,
    version: first.version,
    contact: { ...first, town: "Shelbyville" },
  });
  await dst.result("update", {
    id: second.id,
    version: second.version,
    contact: { ...second, phones: [] },
  });
  await dst.result("remove", { id: third.id });
  const repair = await importJson(target, exported.stdout);
  assert.deepEqual(
    [repair.summary.added, repair.summary.updated, repair.summary.unchanged],
    [1, 2, 127],
  );
  assert.deepEqual(
    (await storedContacts(dst)).map(withoutServerFields),
    lines.map(withoutServerFields),
  );
  assert.equal((await dst.result("count")).count, 130);
});

Deno.test("import reads the vCard and CSV fixtures from standard input", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  let total = 0;
  for (
    const file of [
      "android-2.1.vcf",
      "google-3.0.vcf",
      "ios-3.0.vcf",
      "outlook-2.1.vcf",
      "thunderbird-4.0.vcf",
      "google.csv",
      "google-2024.csv",
      "outlook.csv",
    ]
  ) {
    const bytes = await Deno.readFile(new URL(file, FIXTURES));
    const parsed = file.endsWith(".vcf") ? parseVCards(bytes) : parseCsv(bytes);
    const { summary } = await importJson(server, bytes);
    assert.equal(summary.format, file.endsWith(".vcf") ? "vcard" : "csv", file);
    assert.equal(summary.added, parsed.contacts.length, file);
    assert.ok(summary.added > 0, file);
    assert.deepEqual(summary.skipped, parsed.skipped, file);
    assert.deepEqual(summary.warnings, parsed.warnings, file);
    total += summary.added;
  }
  assert.equal((await rpc.result("count")).count, total);
  // Bytes, not text: the Windows-1252 names of the Outlook files arrive intact.
  assert.equal((await rpc.result("find", { name: "Jürgen Müller" })).contacts.length, 1);
  assert.equal((await rpc.result("find", { name: "François Dupré" })).contacts.length, 1);
  const alice = (await rpc.result("search", { query: "Übermann" })).contacts[0];
  assert.equal(alice.uid, "8f6b5c1e-2d3a-4b5c-9d8e-7f6a5b4c3d2e");

  // A file with UIDs updates on a second import; one without is unchanged where its cards
  // equal stored contacts (issue 17), and a card edited since is added and reported as a
  // likely duplicate.
  const thunderbird = await Deno.readFile(new URL("thunderbird-4.0.vcf", FIXTURES));
  const again = await importJson(server, thunderbird);
  assert.deepEqual([again.summary.added, again.summary.unchanged], [0, 1]);
  const google = await Deno.readFile(new URL("google-3.0.vcf", FIXTURES));
  const same = await importJson(server, google);
  assert.deepEqual([same.summary.added, same.summary.unchanged], [0, 2]);
  const edited = (note: string) =>
    new TextEncoder().encode(
      new TextDecoder().decode(google).replace("Met at the conference", note)
        .replace("TEL;TYPE=WORK:0161 496 0000", `TEL;TYPE=WORK:0161 496 0000\nNOTE:${note}`),
    );
  const twice = await importJson(server, edited("Met at the fair"));
  assert.equal(twice.summary.added, 2);
  assert.deepEqual(
    twice.summary.duplicates.map((d: Json) => [d.name, d.of.length, d.of[0].reason]),
    [
      ["Jane Doe", 1, 'same name and phone "+44 7700 900456"'],
      ["Plumbing Ltd.", 1, 'same name and phone "0161 496 0000"'],
    ],
  );
  // For people: the same summary in sentences.
  const human = await client(server, ["import"], edited("Met at the market"));
  assert.equal(human.code, 0);
  assert.match(
    human.stdout,
    /^Read 2 records \(vCard\): 2 added, 0 updated, 0 unchanged, 0 skipped\.$/m,
  );
  assert.match(
    human.stdout,
    /^Likely duplicates \(added all the same; merge or remove them by hand\):$/m,
  );
  assert.match(
    human.stdout,
    /^ {2}Jane Doe \(record 1, id [0-9A-Z]{26}\) and Jane Doe \(id [0-9A-Z]{26}\): same name and phone/m,
  );
});

Deno.test("export --format vcard and csv, then import: stable round trips", async () => {
  await using source = await TestServer.start();
  await using target = await TestServer.start();
  using src = await source.connect();
  using dst = await target.connect();
  await addAll(src, sampleContacts(12));
  for (const [format, version] of [["vcard", "3.0"], ["vcard", "4.0"], ["csv", ""]] as const) {
    const args = ["export", "--format", format, ...(version ? ["--vcard-version", version] : [])];
    const first = await client(source, args);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stderr,
      new RegExp(`^Exported 12 contacts \\(${format === "csv" ? "CSV" : `vCard ${version}`}\\)\n$`),
    );
    if (format === "vcard") {
      assert.equal(first.stdout.split("BEGIN:VCARD\r\n").length - 1, 12);
      assert.ok(first.stdout.includes(`VERSION:${version}\r\n`));
    } else {
      assert.equal(
        first.stdout.split("\r\n")[0],
        "name,house,street,town,postcode,phones,emails,notes,uid,org,title,nickname,birthday," +
          "anniversary,urls,groups",
      );
    }
    // Back into the same store: every card matches its contact by UID; nothing changes.
    const same = await importJson(source, first.stdout);
    assert.deepEqual([same.summary.added, same.summary.updated, same.summary.unchanged], [
      0,
      0,
      12,
    ]);
    // Into another store: added once, then matched by UID; its export is the same text.
    const into = await importJson(target, first.stdout);
    const expectAdded = format === "vcard" && version === "3.0" ? 12 : 0;
    assert.equal(into.summary.added, expectAdded, `${format} ${version}`);
    const second = await client(target, args);
    assert.equal(second.stdout, first.stdout, `${format} ${version}: export -> import -> export`);
  }
  assert.equal((await dst.result("count")).count, 12);
  assert.equal((await src.result("count")).count, 12);
});

Deno.test("import sizes its batches to the line cap the server reports in hello", async () => {
  await using server = await TestServer.start({ args: ["--max-line", "4096"] });
  using rpc = await server.connect();
  assert.equal((await rpc.result("hello")).maxLine, 4096);
  const contacts: Json[] = Array.from({ length: 200 }, (_, i) => ({
    name: `Member ${String(i).padStart(3, "0")}`,
    town: "Ogdenville",
    notes: "n".repeat(200),
  }));
  // Valid (under 32 KiB) but longer than this server reads on one line.
  contacts.splice(100, 0, {
    name: "Too Big",
    notes: "n".repeat(1000),
    extra: { blob: "x".repeat(5000) },
  });
  const input = contacts.map((c) => JSON.stringify(c)).join("\n") + "\n";
  const result = await client(server, ["import", "-", "--json"], input);
  assert.equal(result.code, 4, "a contact was refused: " + result.stderr);
  const summary = JSON.parse(result.stdout.trim());
  assert.equal(summary.added, 200);
  assert.equal(summary.skipped.length, 1);
  assert.equal(summary.skipped[0].name, "Too Big");
  assert.match(
    summary.skipped[0].reason,
    /Too large for the server's request line cap .*at most 4096/,
  );
  assert.ok(summary.largestBatchBytes <= 4096, `${summary.largestBatchBytes} bytes`);
  assert.ok(summary.largestBatchBytes > 3000, "batches fill the server's line");
  assert.equal((await rpc.result("count")).count, 200);
  assert.ok(
    !server.logs.some((line) => /TOO_LARGE|longer than/.test(line)),
    server.logs.join("\n"),
  );
});

Deno.test("a large import goes in batches within the 64 KiB line cap, with progress on standard error", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const big = "x".repeat(15_000);
  const contacts = Array.from({ length: 3000 }, (_, i) => ({
    name: `Member ${String(i).padStart(4, "0")}`,
    town: "Ogdenville",
    phones: [{ label: "mobile", number: `555-${String(i).padStart(4, "0")}` }],
    emails: [{ label: "", address: `member${i}@example.org` }],
    notes: i % 2 === 0 ? "n".repeat(900) : "", // so that bytes, not the count, end batches
    // Every 300th is near the size cap: a batch of its own, or nearly.
    extra: i % 300 === 0 ? { blob: big } : {},
  }));
  const input = contacts.map((c) => JSON.stringify(c)).join("\n") + "\n";
  const { summary, stderr } = await importJson(server, input);
  assert.equal(summary.added, 3000);
  assert.ok(summary.batches >= 30, `${summary.batches} batches of at most 100`);
  assert.ok(summary.largestBatchBytes <= 64 * 1024, `${summary.largestBatchBytes} bytes`);
  assert.ok(summary.largestBatchBytes > 60 * 1024, "batches fill the line when contacts are large");
  assert.deepEqual(
    stderr.trim().split("\n"),
    [
      "Imported 1000 of 3000 contacts...",
      "Imported 2000 of 3000 contacts...",
      "Imported 3000 of 3000 contacts...",
    ],
  );
  assert.equal((await rpc.result("count")).count, 3000);
  assert.ok(
    !server.logs.some((line) => /TOO_LARGE|longer than/.test(line)),
    server.logs.join("\n"),
  );

  const exported = await client(server, ["export"]);
  assert.equal(exported.code, 0);
  assert.equal(jsonLines(exported.stdout).length, 3000, "standard output holds only contacts");
  assert.deepEqual(exported.stderr.trim().split("\n"), [
    "Exported 1000 of 3000 contacts...",
    "Exported 2000 of 3000 contacts...",
    "Exported 3000 of 3000 contacts...",
    "Exported 3000 contacts (JSON)",
  ]);
});

Deno.test("import reports likely duplicates and adds them all the same; skips what it cannot use", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const bob = await rpc.result("add", {
    contact: { name: "Bob Smith", phones: [{ label: "", number: "555-0123" }] },
  });
  const vcf = [
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:bob smith\r\nTEL:(555) 012-3\r\nEND:VCARD\r\n",
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Eve\r\nEMAIL:eve@example.com\r\nEND:VCARD\r\n",
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:EVE\r\nEMAIL:Eve@Example.com\r\nEND:VCARD\r\n",
    "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob Smith\r\nEND:VCARD\r\n", // a name alone
    "BEGIN:VCARD\r\nVERSION:3.0\r\nNOTE:no name at all\r\nEND:VCARD\r\n",
  ].join("");
  const { summary } = await importJson(server, vcf);
  assert.deepEqual([summary.records, summary.added, summary.skipped.length], [5, 4, 1]);
  assert.equal(summary.skipped[0].index, 4);
  assert.equal(summary.duplicates.length, 2);
  const [first, second] = summary.duplicates;
  assert.equal(first.index, 0);
  assert.deepEqual(first.of, [{
    id: bob.id,
    name: "Bob Smith",
    reason: 'same name and phone "(555) 012-3"',
  }]);
  assert.equal(second.name, "EVE");
  assert.equal(second.of[0].name, "Eve");
  assert.equal((await rpc.result("find", { name: "eve" })).contacts.length, 2, "not merged");
  assert.equal((await rpc.result("count")).count, 5);
});

Deno.test("import and export usage: stdin only, formats checked, bad input reported", async () => {
  await using server = await TestServer.start();
  const file = await client(server, ["import", "contacts.vcf"]);
  assert.equal(file.code, 2);
  assert.match(
    file.stderr,
    /^addressbook: import reads standard input only \(the client may not open files\), got "contacts\.vcf": import - < contacts\.vcf$/m,
  );
  const format = await client(server, ["export", "--format", "xml"]);
  assert.equal(format.code, 2);
  assert.match(format.stderr, /--format "xml" is not one of json, vcard, csv/);
  const version = await client(server, ["export", "--vcard-version", "2.1", "--format", "vcard"]);
  assert.equal(version.code, 2);
  const mixed = await client(server, ["export", "--vcard-version", "4.0"]);
  assert.match(mixed.stderr, /--vcard-version applies to --format vcard, not json/);
  assert.equal((await client(server, ["import", "--vcard-version", "4.0"])).code, 2);

  // A JSON backup with a broken line: the rest is imported, the line reported.
  const text = '{"name":"Ann"}\n{"name":\n{"name":"Bob","phones":[{"number":"none"}]}\n';
  const { summary } = await importJson(server, text, ["--format", "json"]);
  assert.equal(summary.added, 1);
  assert.deepEqual(summary.skipped.map((s: Json) => [s.line, s.reason.slice(0, 20)]), [
    [2, "Line 2 is not JSON: "],
    [3, 'Phone number "none" '],
  ]);
  // Empty input: nothing to do.
  const empty = await importJson(server, "");
  assert.deepEqual([empty.summary.records, empty.summary.added], [0, 0]);
  // --format forces a reading: a vCard read as CSV is an unknown header, reported.
  const forced = await client(
    server,
    ["import", "--format", "csv"],
    "BEGIN:VCARD\r\nFN:X\r\nEND:VCARD\r\n",
  );
  assert.equal(forced.code, 0);
  assert.match(forced.stdout, /0 added/);
});

Deno.test("a backup taken while another client writes: every contact there throughout appears once, as one of its acknowledged versions", async () => {
  await using source = await TestServer.start();
  await using target = await TestServer.start();
  using writer = await source.connect();
  const initial = await addAll(writer, sampleContacts(600));
  const versions = new Map<string, Set<string>>(
    initial.map((c: Json) => [c.id, new Set([c.version])]),
  );
  const removed = new Set<string>();
  let stop = false;
  let writes = 0;
  const writing = (async () => {
    // Bounded: at most 3,000 writes, and only while the export runs.
    for (let i = 0; !stop && i < 3000; i++) {
      const pick = initial[(i * 7919) % initial.length];
      if (i % 50 === 49 && !removed.has(pick.id)) {
        await writer.result("remove", { id: pick.id });
        removed.add(pick.id);
      } else if (i % 3 === 0) {
        const added = await writer.result("add", { contact: { name: `New ${i}` } });
        versions.set(added.id, new Set([added.version]));
      } else if (!removed.has(pick.id)) {
        const current = await writer.result("get", { id: pick.id });
        const saved = await writer.call("update", {
          id: pick.id,
          version: current.version,
          contact: { ...current, notes: `edit ${i}` },
        });
        if (saved.result) versions.get(pick.id)!.add(saved.result.version);
      }
      writes++;
    }
  })();
  const exported = await client(source, ["export"]);
  stop = true;
  await writing;
  assert.equal(exported.code, 0, exported.stderr);
  const lines = jsonLines(exported.stdout);
  const ids = lines.map((c) => c.id);
  assert.equal(new Set(ids).size, ids.length, "no contact twice");
  for (const contact of initial) {
    if (!removed.has(contact.id)) assert.ok(ids.includes(contact.id), `${contact.id} missing`);
  }
  for (const contact of lines) {
    assert.ok(
      versions.get(contact.id)?.has(contact.version),
      `${contact.name} is exported at a version that was acknowledged`,
    );
  }
  assert.deepEqual(ids, [...ids].sort(), "id order");
  // The backup restores to exactly what it holds.
  const { summary } = await importJson(target, exported.stdout);
  assert.equal(summary.added, lines.length);
  using dst = await target.connect();
  assert.deepEqual(
    (await storedContacts(dst)).map(withoutServerFields),
    lines.map(withoutServerFields),
  );
  assert.ok(writes > 0, "the writer wrote during the export");
});

/**
 * A TCP relay to the server that shows `hook` each chunk a client sends (with the number of
 * its connection, from 1) before passing it on; the hook may act on the server on its own
 * connection first, or return "drop" to cut that client's connection instead. A way to time
 * other writes and lost connections exactly, with the real server deciding what happens.
 * `onReply` sees each chunk the server sends back (with the number of the client's
 * connection) before it goes on to the client (it may hold it there, as a slow server would).
 */
function relay(
  upstreamPort: number,
  hook: (text: string, connection: number) => Promise<"drop" | void>,
  onReply: (text: string, connection: number) => Promise<void> = () => Promise.resolve(),
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const tasks: Promise<void>[] = [];
  let accepted = 0;
  const pump = async (from: Deno.Conn, to: Deno.Conn, connection: number, up: boolean) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        let chunk = buffer.slice(0, n);
        if (up) {
          if (await hook(new TextDecoder().decode(chunk), connection) === "drop") break;
        } else {
          await onReply(new TextDecoder().decode(chunk), connection);
        }
        while (chunk.length > 0) chunk = chunk.subarray(await to.write(chunk));
      }
    } catch {
      // a side went away
    } finally {
      for (const conn of [from, to]) {
        try {
          conn.close();
        } catch {
          // already closed
        }
      }
    }
  };
  const accepting = (async () => {
    for await (const down of listener) {
      const up = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
      conns.push(down, up);
      const connection = ++accepted;
      tasks.push(pump(down, up, connection, true), pump(up, down, connection, false));
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      await Promise.all(tasks);
    },
  };
}

Deno.test("import retries an update that meets CONFLICT, and adds back a contact removed meanwhile", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const [ann, bob] = await addAll(rpc, [{ name: "Ann", town: "A" }, { name: "Bob", town: "B" }]);
  const backup = [{ ...ann, town: "From the backup" }, { ...bob, town: "From the backup too" }]
    .map((c) => JSON.stringify(c)).join("\n");
  let fired = false;
  await using proxy = relay(server.port, async (text) => {
    if (fired || !(text.startsWith("[") || text.includes("\n["))) return;
    fired = true;
    // After the import read the contacts, before its writes arrive: someone else edits Ann and
    // removes Bob.
    await rpc.result("update", {
      id: ann.id,
      version: ann.version,
      contact: { ...ann, town: "Elsewhere" },
    });
    await rpc.result("remove", { id: bob.id });
  });
  const result = await runClient(["import", "--json"], {
    server: `127.0.0.1:${proxy.port}`,
    stdin: backup,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(fired);
  const summary = JSON.parse(result.stdout);
  assert.deepEqual([summary.added, summary.updated, summary.unchanged], [1, 1, 0]);
  assert.deepEqual(summary.warnings, [{
    index: 1,
    name: "Bob",
    reason: "Removed by someone else during the import: added again",
  }]);
  assert.ok(summary.batches >= 2, "the retries went in a later batch");
  const stored = await storedContacts(rpc);
  assert.deepEqual(stored.map((c) => [c.id, c.town]), [
    [ann.id, "From the backup"],
    [bob.id, "From the backup too"],
  ]);
});

Deno.test("import writes on 4 connections, each with at most 4 batch lines in flight to a slow server, and fills that window", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const contacts = sampleContacts(1500); // 15 batches of 100
  const input = contacts.map((c) => JSON.stringify(c)).join("\n") + "\n";
  // Per connection: request lines the client has sent whose reply it has not been given yet,
  // the most at once, and what it sent.
  const waiting = new Map<number, number>(), most = new Map<number, number>();
  const sent = new Map<number, string>();
  let requests = 0;
  const lines = (text: string) => text.split("\n").length - 1;
  await using proxy = relay(
    server.port,
    (text, connection) => {
      requests += lines(text);
      const now = (waiting.get(connection) ?? 0) + lines(text);
      waiting.set(connection, now);
      most.set(connection, Math.max(most.get(connection) ?? 0, now));
      sent.set(connection, (sent.get(connection) ?? "") + text);
      return Promise.resolve();
    },
    async (text, connection) => {
      // A slow server: each reply is held a while, so an unbounded client would send on.
      await new Promise((resolve) => setTimeout(resolve, 40));
      waiting.set(connection, waiting.get(connection)! - lines(text));
    },
  );
  const result = await runClient(["import", "--json"], {
    server: `127.0.0.1:${proxy.port}`,
    stdin: input,
  });
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout);
  assert.equal(summary.added, 1500);
  assert.equal(summary.batches, 15);
  assert.equal(sent.size, 4, "the first connection and 3 more");
  const mostOfAll = Math.max(...most.values());
  assert.equal(mostOfAll, 4, `at most ${mostOfAll} lines were waiting on one connection at once`);
  assert.equal(requests, 2 + 3 + 15, "hello and one export page, hello on 3 more, the batches");
  // Each reply is matched to its request by id: no id is used twice on a connection.
  let calls = 0;
  for (const text of sent.values()) {
    const ids = text.trim().split("\n").flatMap((line) =>
      [JSON.parse(line)].flat().map((r) => r.id)
    );
    assert.equal(new Set(ids).size, ids.length);
    calls += ids.length;
  }
  assert.equal(calls, 2 + 3 + 1500);
  assert.equal(result.stderr, "Imported 1000 of 1500 contacts...\n");
  const stored = await storedContacts(rpc);
  assert.deepEqual(
    stored.map(withoutServerFields).map((c) => c.name).sort(),
    contacts.map((c) => c.name).sort(),
  );
});

Deno.test("import that loses one of its connections stops, reports, and a second run completes it", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  const contacts = sampleContacts(1500).map((c, i) => ({ ...c, uid: c.uid ?? `uid-${i}` }));
  const input = contacts.map((c) => JSON.stringify(c)).join("\n") + "\n";
  let batchesOnThird = 0;
  await using proxy = relay(server.port, async (text, connection) => {
    await Promise.resolve();
    if (connection === 3 && text.startsWith("[") && ++batchesOnThird === 1) return "drop";
  });
  const first = await runClient(["import", "--json"], {
    server: `127.0.0.1:${proxy.port}`,
    stdin: input,
  });
  assert.equal(first.code, 3, first.stderr);
  assert.match(first.stderr, /Lost the connection|closed the connection/);
  assert.match(first.stderr, /The import stopped part way; running it again is safe/);
  const partial = JSON.parse(first.stdout.trim().split("\n").at(-1)!);
  assert.ok(partial.added > 0 && partial.added < 1500, `added ${partial.added}`);
  assert.equal((await rpc.result("count", {}) as { count: number }).count, partial.added);
  const second = await runClient(["import", "--json"], {
    server: `127.0.0.1:${server.port}`,
    stdin: input,
  });
  assert.equal(second.code, 0, second.stderr);
  const summary = JSON.parse(second.stdout);
  assert.deepEqual([summary.added, summary.unchanged], [1500 - partial.added, partial.added]);
  const stored = await storedContacts(rpc);
  assert.deepEqual(
    stored.map((c) => c.name).sort(),
    contacts.map((c) => c.name).sort(),
  );
});

Deno.test("export goes on where it was after a dropped connection, and says when it cannot", async () => {
  await using server = await TestServer.start();
  using rpc = await server.connect();
  await addAll(rpc, sampleContacts(450));
  const exportsSeen = new Map<number, number>();
  const dropThird = async (text: string, connection: number) => {
    await Promise.resolve();
    if (!text.includes('"method":"export"')) return;
    const seen = (exportsSeen.get(connection) ?? 0) + 1;
    exportsSeen.set(connection, seen);
    if (connection === 1 && seen === 3) return "drop" as const; // the first connection, once
  };
  await using proxy = relay(server.port, dropThird);
  const result = await runClient(["export"], { server: `127.0.0.1:${proxy.port}` });
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stderr,
    /^addressbook: Lost the connection to the server at "127\.0\.0\.1:\d+": the server closed the connection; reconnected, going on after 200 contacts\nExported 450 contacts \(JSON\)\n$/,
  );
  assert.deepEqual(
    jsonLines(result.stdout),
    await storedContacts(rpc),
    "each contact once, in order",
  );

  // A connection that keeps dropping: the export gives up, says so, and exits 3.
  await using flaky = relay(server.port, async (text) => {
    await Promise.resolve();
    return text.includes('"method":"export"') && text.includes('"cursor":"') ? "drop" : undefined;
  });
  const failed = await runClient(["export"], { server: `127.0.0.1:${flaky.port}` });
  assert.equal(failed.code, 3);
  assert.equal(jsonLines(failed.stdout).length, 100, "the first page was written");
  assert.match(failed.stderr, /addressbook: The export is incomplete: 100 contacts written\n$/);
});
