/**
 * A store opened shared (as a KV Connect store is: other processes write it too) on a file,
 * written by another process: the path that serves KV Connect, run on this machine. The view
 * follows the other process's changes through the change-log reader; `kv.watch` does not
 * wake for another process's writes to a file, so the reader's poll finds them.
 */
import assert from "node:assert/strict";
import { type Contact, validateContact } from "../model/contact.ts";
import { ConflictError, NotFoundError } from "./errors.ts";
import { ContactStore } from "./store.ts";
import { tempDir } from "../../tests/helpers.ts";

const STORE = new URL("./store.ts", import.meta.url).href;
const CONTACT = new URL("../model/contact.ts", import.meta.url).href;

/**
 * Runs `body` in a child Deno process with `store` open (not shared: like a server that
 * owns its writes) on the KV file `path`; returns what it printed as JSON.
 */
async function inChild(dir: string, path: string, body: string): Promise<unknown> {
  const script = `${dir}/child-${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(
    script,
    `import { ContactStore } from ${JSON.stringify(STORE)};
import { validateContact } from ${JSON.stringify(CONTACT)};
const store = await ContactStore.open(${JSON.stringify(path)});
const out: unknown[] = [];
${body}
store.close();
console.log(JSON.stringify(out));
`,
  );
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      "--unstable-kv",
      "--no-prompt",
      "--allow-read",
      "--allow-write",
      script,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(text);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (at most 400 x 25 ms) until `done()` holds. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !done(); i++) await sleep(25);
  assert.ok(done(), `not seen within 10 s: ${what}`);
}

Deno.test("a file store opened shared sees another process's adds, updates and removes through its log reader", async () => {
  await using dir = await tempDir("addressbook-shared-");
  const path = `${dir.path}/store.kv`;
  {
    await using first = await ContactStore.open(path);
    await first.add(validateContact({ name: "Before", town: "Leeds" }));
  }
  await using store = await ContactStore.open(path, { shared: true, pollMs: 50 });
  assert.equal(store.countNow(), 1);
  const live = store.changes.subscribe({});
  const [ann, bob, carl] = await inChild(
    dir.path,
    path,
    `
const ann = await store.add(validateContact({ name: "Ann Lee", town: "Springfield", phones: [{ number: "555-0100" }] }));
const bob = await store.add(validateContact({ name: "Bob", town: "Leeds" }));
const carl = await store.add(validateContact({ name: "Carl" }));
const ann2 = await store.update(ann.id, ann.version, validateContact({ name: "Ann Park", town: "Shelbyville" }));
await store.remove(bob.id);
out.push(ann2, bob, carl);
`,
  ) as Contact[];
  // Another process's writes: kv.watch says nothing; the poll reads the log.
  await until(
    () => store.countNow() === 3 && store.findNow("ann park").contacts.length === 1,
    "the child's writes",
  );
  assert.equal(store.getNow(ann!.id).version, ann!.version);
  assert.equal(store.getNow(carl!.id).name, "Carl");
  assert.throws(() => store.getNow(bob!.id), NotFoundError);
  assert.deepEqual(store.findNow("ann lee").contacts, []);
  assert.deepEqual(store.searchNow("shelby").contacts.map((c) => c.id), [ann!.id]);
  assert.deepEqual(store.searchNow("spring").contacts, []);
  assert.deepEqual(store.searchNow("leeds").contacts.map((c) => c.name), ["Before"]);
  assert.deepEqual(store.listNow().contacts.map((c) => c.name), ["Ann Park", "Before", "Carl"]);
  // The changes came to the feed too, in seq order.
  const seen = [];
  for (let i = 0; i < 100 && seen.length < 5; i++) {
    await live.ready();
    seen.push(...live.take());
  }
  assert.deepEqual(seen.map((e) => [e.seq, e.type]), [
    [2, "added"],
    [3, "added"],
    [4, "added"],
    [5, "updated"],
    [6, "removed"],
  ]);
  live.close();
  const report = await store.check();
  assert.deepEqual(report.problems, []);
  assert.equal(report.contacts, 3);
});

Deno.test("a shared store checks versions against KV, reads its own writes, and never steps back", async () => {
  await using dir = await tempDir("addressbook-shared-");
  const path = `${dir.path}/store.kv`;
  // A poll too slow to run here: the view is stale until catchUp(), on purpose.
  await using store = await ContactStore.open(path, { shared: true, pollMs: 600_000 });
  const ann = await store.add(validateContact({ name: "Ann" }));
  const eve = await store.add(validateContact({ name: "Eve" }));
  const [ann2] = await inChild(
    dir.path,
    path,
    `
const ann = await store.get(${JSON.stringify(ann.id)});
out.push(await store.update(ann.id, ann.version, validateContact({ name: "Anna" })));
`,
  ) as Contact[];
  assert.notEqual(ann2!.version, ann.version);
  // The view has not read the log yet, but the write's version check reads KV: a conflict
  // that carries the other process's version.
  const error = await store.update(ann.id, ann.version, validateContact({ name: "Annie" }))
    .catch((e) => e);
  assert.ok(error instanceof ConflictError, String(error));
  assert.equal(error.current.version, ann2!.version);
  // Its own write, on KV's version, is read back at once.
  const ann3 = await store.update(ann.id, ann2!.version, validateContact({ name: "Annie" }));
  assert.equal(store.getNow(ann.id).version, ann3.version);
  await store.remove(eve.id);
  // Reading the log now (the child's update, then its own) leaves the newest of each.
  await store.catchUp();
  assert.equal(store.getNow(ann.id).version, ann3.version);
  assert.equal(store.getNow(ann.id).name, "Annie");
  assert.throws(() => store.getNow(eve.id), NotFoundError);
  assert.deepEqual(store.findNow("anna").contacts, []);
  assert.equal(store.countNow(), 1);
  assert.deepEqual((await store.check()).problems, []);
});

Deno.test("a shared store that fell behind a trimmed log rebuilds its view from the records", async () => {
  await using dir = await tempDir("addressbook-shared-");
  const path = `${dir.path}/store.kv`;
  await using store = await ContactStore.open(path, { shared: true, pollMs: 600_000 });
  const keep = await store.add(validateContact({ name: "Keep" }));
  const gone = await store.add(validateContact({ name: "Gone" }));
  await store.catchUp();
  // Another process writes 30 changes and trims its log to the last 5.
  await inChild(
    dir.path,
    path,
    `
await store.remove(${JSON.stringify(gone.id)});
for (let i = 0; i < 29; i++) await store.add(validateContact({ name: "New " + i }));
`,
  );
  {
    await using trimmer = await ContactStore.open(path, { changeLog: { maxEvents: 5 } });
    while (await trimmer.trimChanges() > 0);
    assert.equal(await trimmer.changeLogStart(), 27); // head 32, 5 kept
  }
  await store.catchUp();
  assert.equal(store.countNow(), 30);
  assert.equal(store.getNow(keep.id).name, "Keep");
  assert.throws(() => store.getNow(gone.id), NotFoundError);
  assert.equal(store.findNow("new 0").contacts.length, 1);
  assert.deepEqual((await store.check()).problems, []);
});
