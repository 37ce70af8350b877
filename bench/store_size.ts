/**
 * The store's own figures at scale (issue 16), apart from the server: the KV file's size for
 * N contacts added through `ContactStore` (and its ratio to the same contacts exported as
 * vCard 3.0), the time `ContactStore.open` takes to build the view from them, and the memory
 * the view holds per contact, part by part. Each measurement runs in a fresh child process
 * (with `--v8-flags=--expose-gc`, so heap figures are after a full collection).
 *
 * ```sh
 * deno run -A bench/store_size.ts --contacts 100000
 * # the same fill with another store module (e.g. layout 3's, in a worktree of 8025dbc):
 * deno run -A bench/store_size.ts --contacts 100000 --store /tmp/layout3/lib/store/mod.ts
 * ```
 *
 * Prints one JSON record. `--parts` only works with this tree's store (it builds the view's
 * parts from its modules), and so does the server's start: from spawn to its "listening" line,
 * with the serve task's exact command (`--http-port off`), on the store and on an empty one,
 * and its RSS then.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { serveCommand } from "../tests/helpers.ts";
import { benchCard } from "./data.ts";
import { formatVCard } from "../lib/formats/vcard.ts";
import type { ContactFields, StoredContact } from "../lib/model/contact.ts";

interface Store {
  add(fields: ContactFields): Promise<unknown>;
  findNow?(name: string, options?: { limit?: number }): unknown;
  find(name: string, options?: { limit?: number }): Promise<unknown>;
  count(): Promise<number>;
  close(): void;
}
interface StoreModule {
  ContactStore: { open(path: string): Promise<Store> };
}

const args = parseArgs({
  args: Deno.args,
  options: {
    contacts: { type: "string", default: "100000" },
    store: { type: "string" },
    child: { type: "string" },
    path: { type: "string" },
    parts: { type: "boolean", default: true },
  },
});
const N = Number(args.values.contacts);
const STORE_URL = args.values.store
  ? new URL(args.values.store, `file://${Deno.cwd()}/`).href
  : new URL("../lib/store/mod.ts", import.meta.url).href;

const gc = (globalThis as { gc?: () => void }).gc;
function heap(): number {
  gc?.();
  gc?.();
  return Deno.memoryUsage().heapUsed;
}
const mib = (bytes: number) => Math.round(bytes / 1024 / 1024 * 10) / 10;

/** Child: open the store at `path`, time it, and measure the heap it holds. */
async function childOpen(path: string): Promise<unknown> {
  const { ContactStore } = await import(STORE_URL) as StoreModule;
  const before = heap();
  const rssBefore = Deno.memoryUsage().rss;
  const start = performance.now();
  const store = await ContactStore.open(path);
  const openMs = performance.now() - start;
  const count = await store.count();
  const after = heap();
  // The first-page cache at its fullest: 10,000 names asked once each.
  for (let i = 0; i < 10_000; i++) await store.find(benchCard(i).name, { limit: 100 });
  const cached = heap();
  const rss = Deno.memoryUsage().rss;
  store.close();
  return {
    count,
    openMs: Math.round(openMs),
    viewBytesPerContact: Math.round((after - before) / count),
    firstPageCacheBytesPer10kNames: Math.round(cached - after),
    rssMiBAfterOpen: mib(rss),
    rssGrowthBytesPerContact: Math.round((rss - rssBefore) / count),
  };
}

/** Child: the view's parts, each built alone from the records, and their heap. */
async function childParts(path: string): Promise<unknown> {
  const { ContactView } = await import("../lib/store/contact_view.ts");
  const { PrefixIndex } = await import("../lib/store/prefix_index.ts");
  const { SortedBlocks } = await import("../lib/store/name_order.ts");
  const { contactTerms, fold } = await import("../lib/model/search_terms.ts");
  const { withJsonText } = await import("../lib/protocol/jsonrpc.ts");
  const kv = await Deno.openKv(path);
  const read = async () => {
    const out: Array<[StoredContact, string]> = [];
    for await (const e of kv.list<StoredContact>({ prefix: ["contacts"] }, { batchSize: 1000 })) {
      out.push([e.value, e.versionstamp]);
    }
    return out;
  };
  const n = (await read()).length;
  await read(); // KV's own buffers settle after a first full read
  const parts: Record<string, number> = {};
  const measure = async <T>(name: string, build: () => T | Promise<T>): Promise<T> => {
    const before = heap();
    const built = await build();
    parts[name] = Math.round((heap() - before) / n);
    return built;
  };
  const deepFreeze = (value: unknown): void => {
    if (typeof value !== "object" || value === null || Object.isFrozen(value)) return;
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  };
  // A first measure of the same kind, thrown away: the first one after the reads above also
  // saw their buffers freed.
  await measure("warm-up", async () => (await read()).map(([r]) => r.name.length));
  delete parts["warm-up"];
  const base = heap();
  // Each part is built from records read afresh (then dropped) and stays alive while the
  // next is measured, as in the view.
  const texts = await measure(
    "JSON text (all the view keeps of a contact's fields)",
    async () => (await read()).map(([r, v]) => JSON.stringify({ ...r, version: v })),
  );
  const ids = await measure("id strings", async () => (await read()).map(([r]) => r.id));
  const folded = await measure(
    "folded names",
    async () => (await read()).map(([r]) => fold(r.name)),
  );
  const terms = await measure(
    "terms, as one string per contact",
    async () =>
      (await read()).map(([r]) => {
        const t = contactTerms(r);
        return t.words.join("\n") + "\t" + t.phones.join("\n");
      }),
  );
  const indexes = await measure("word and phone prefix indexes", async () => {
    const words = new PrefixIndex<number>(), phones = new PrefixIndex<number>();
    words.startLoad();
    phones.startLoad();
    (await read()).forEach(([r], slot) => {
      const t = contactTerms(r);
      for (const w of t.words) words.add(w, slot);
      for (const p of t.phones) phones.add(p, slot);
    });
    words.endLoad();
    phones.endLoad();
    return [words, phones];
  });
  const entries = await measure(
    "entry objects (slot, id, text, name, terms, flag)",
    () =>
      texts.map((text, i) => ({
        slot: i,
        id: ids[i],
        text,
        folded: folded[i],
        terms: terms[i],
        plain: true,
      })),
  );
  const map = await measure("id map", () => new Map(entries.map((e) => [e.id!, e])));
  const order = await measure("name order (sorted blocks of entries)", () => {
    const blocks = new SortedBlocks<{ folded: string; id: string }>((a, b) =>
      a.folded < b.folded ? -1 : a.folded > b.folded ? 1 : a.id < b.id ? -1 : 1
    );
    blocks.build(entries.map((e) => ({ folded: e.folded!, id: e.id! })));
    return blocks;
  });
  const sum = heap() - base;
  const objects = await measure(
    "(not kept) a frozen object per contact, as before",
    async () =>
      (await read()).map(([r, v]) => {
        const c = { ...r, version: v };
        for (const value of Object.values(c)) deepFreeze(value);
        return Object.freeze(withJsonText(c, ""));
      }),
  );
  const kept = [texts, ids, folded, terms, indexes, entries, map, order, objects];
  kept.length = 0;
  for (const list of [texts, ids, folded, terms, entries, objects]) list.length = 0;
  const whole = await measure("the whole ContactView (as the store builds it)", async () => {
    const view = new ContactView();
    view.startLoad();
    for (const [r, v] of await read()) view.load(r, v);
    view.endLoad();
    return view;
  });
  kv.close();
  return {
    contacts: n,
    bytesPerContact: parts,
    sumOfPartsBytes: Math.round(sum / n),
    viewSize: whole.size,
  };
}

/**
 * The server on the folder holding `path` (the serve task's exact command, as
 * `tests/helpers.ts` builds it), from spawn to its "listening" line; then stopped with
 * SIGTERM. Its RSS when listening, from /proc.
 */
async function serveStart(path: string): Promise<{ startMs: number; rssMiB: number }> {
  const dataDir = path.slice(0, path.lastIndexOf("/"));
  const env = { ADDRESSBOOK_DATA: dataDir };
  const [cmd, ...rest] = await serveCommand(env);
  const start = performance.now();
  const server = new Deno.Command(cmd!, {
    args: [...rest, "--port", "0", "--http-port", "off", "--log-level", "warn"],
    env,
    cwd: new URL("../", import.meta.url),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let log = "";
  const watchdog = setTimeout(() => server.kill("SIGKILL"), 120_000);
  try {
    while (!log.includes(" listening on ")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`The server did not start:\n${log}`);
      log += value;
    }
    const startMs = performance.now() - start;
    const status = await Deno.readTextFile(`/proc/${server.pid}/status`).catch(() => "");
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    server.kill("SIGTERM");
    return { startMs: Math.round(startMs), rssMiB: mib(rssKiB * 1024) };
  } finally {
    clearTimeout(watchdog);
    await reader.cancel().catch(() => {});
    await server.status;
  }
}

async function child(mode: string, path: string): Promise<unknown> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      "--v8-flags=--expose-gc",
      import.meta.filename!,
      "--child",
      mode,
      "--path",
      path,
      ...(args.values.store ? ["--store", STORE_URL] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

if (args.values.child) {
  const out = args.values.child === "open"
    ? await childOpen(args.values.path!)
    : await childParts(args.values.path!);
  console.log(JSON.stringify(out));
} else {
  const dir = await Deno.makeTempDir({ prefix: "addressbook-size-" });
  try {
    const path = `${dir}/addressbook.kv`;
    const { ContactStore } = await import(STORE_URL) as StoreModule;
    const store = await ContactStore.open(path);
    const start = performance.now();
    for (let i = 0; i < N; i += 500) {
      const batch = [];
      for (let j = i; j < Math.min(N, i + 500); j++) batch.push(store.add(benchCard(j)));
      await Promise.all(batch);
    }
    const fillS = (performance.now() - start) / 1000;
    store.close();
    let kvBytes = 0;
    for (const suffix of ["", "-wal", "-shm"]) {
      kvBytes += await Deno.stat(path + suffix).then((s) => s.size, () => 0);
    }
    let vcardBytes = 0;
    const encoder = new TextEncoder();
    for (let i = 0; i < N; i++) {
      vcardBytes += encoder.encode(formatVCard(benchCard(i), "3.0")).length;
    }
    const opened = await child("open", path);
    // The server, on this store and on an empty one (for the RSS above an empty server's).
    const served = args.values.store ? null : await serveStart(path);
    let empty = null;
    if (served) {
      const emptyDir = await Deno.makeTempDir({ dir, prefix: "empty-" });
      empty = await serveStart(`${emptyDir}/addressbook.kv`);
    }
    const parts = args.values.parts && !args.values.store ? await child("parts", path) : null;
    console.log(JSON.stringify(
      {
        store: args.values.store ?? "this tree",
        contacts: N,
        fillS: Math.round(fillS * 10) / 10,
        kvMiB: mib(kvBytes),
        vcardMiB: mib(vcardBytes),
        kvToVcard: Math.round(kvBytes / vcardBytes * 100) / 100,
        kvBytesPerContact: Math.round(kvBytes / N),
        open: opened,
        serve: served && empty
          ? {
            startMs: served.startMs,
            rssMiB: served.rssMiB,
            emptyStartMs: empty.startMs,
            emptyRssMiB: empty.rssMiB,
            rssAboveEmptyBytesPerContact: Math.round(
              (served.rssMiB - empty.rssMiB) * 1024 * 1024 / N,
            ),
          }
          : null,
        parts,
      },
      null,
      2,
    ));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
