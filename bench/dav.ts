/**
 * The carddav-10k scenario's parts: Radicale (the Debian package `radicale`, no auth, storage
 * in a temp folder, on a free 127.0.0.1 port) as the baseline, and the requests both servers
 * are measured with. Every request is bounded by a timeout; one that times out counts as an
 * error and its time as NaN.
 *
 * @module
 */

import { benchCard } from "./data.ts";
import { formatVCard } from "../lib/formats/vcard.ts";

const encoder = new TextEncoder();

/** A CardDAV server under test: where its book is, how to reach it, its process. */
export interface DavTarget {
  name: string;
  /** The book's URL, ending in `/`. */
  book: string;
  /** Headers every request carries (Radicale's Basic user; none for the server). */
  headers: Record<string, string>;
  pid: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (bound, read and released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Card `i`'s name in the book. */
export function cardName(i: number): string {
  return `bench-${i}.vcf`;
}

/** Card `i` as vCard 3.0 text; `revision` > 0 changes its note (a change). */
export function cardText(i: number, revision = 0): string {
  const card = benchCard(i);
  return formatVCard(revision ? { ...card, notes: `revision ${revision}` } : card, "3.0");
}

/**
 * Starts Radicale with its storage in `dir`, the book `/bench/book/` written there directly
 * as `count` .vcf files (Radicale builds its cache on the first request that reads them).
 */
export async function startRadicale(dir: string, count: number): Promise<DavTarget> {
  const storage = `${dir}/storage`;
  const book = `${storage}/collection-root/bench/book`;
  await Deno.mkdir(book, { recursive: true });
  await Deno.writeTextFile(
    `${book}/.Radicale.props`,
    JSON.stringify({ tag: "VADDRESSBOOK", "D:displayname": "bench" }),
  );
  for (let i = 0; i < count; i++) await Deno.writeTextFile(`${book}/${cardName(i)}`, cardText(i));
  const port = freePort();
  const config = `${dir}/config`;
  await Deno.writeTextFile(
    config,
    `[server]\nhosts = 127.0.0.1:${port}\nmax_connections = 8\ntimeout = 600\n` +
      `[auth]\ntype = none\n[rights]\ntype = owner_only\n` +
      `[storage]\nfilesystem_folder = ${storage}\n[logging]\nlevel = warning\n`,
  );
  let process: Deno.ChildProcess;
  try {
    process = new Deno.Command("radicale", {
      args: ["-C", config],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new Error("radicale is not installed (Debian: apt-get install radicale)");
  }
  const target: DavTarget = {
    name: "radicale",
    book: `http://127.0.0.1:${port}/bench/book/`,
    headers: { authorization: `Basic ${btoa("bench:bench")}` },
    pid: process.pid,
    async stop() {
      try {
        process.kill("SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 5000);
      await process.status;
      clearTimeout(timer);
    },
  };
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, {
        method: "OPTIONS",
        signal: AbortSignal.timeout(1000),
      });
      await res.body?.cancel();
      return target;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  await target.stop();
  throw new Error("radicale did not answer within 10 s");
}

/** What one request gave: its status, body and time. */
export interface Timed {
  status: number;
  body: string;
  ms: number;
}

/** One request, timed to the end of its body, bounded by `timeoutMs` (status 0 on failure). */
export async function timed(
  target: DavTarget,
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
): Promise<Timed> {
  const started = performance.now();
  try {
    const res = await fetch(url, {
      method,
      headers: { ...target.headers, ...headers },
      ...(body === undefined ? {} : { body: encoder.encode(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, body: text, ms: performance.now() - started };
  } catch (error) {
    return { status: 0, body: String(error), ms: NaN };
  }
}

const XML = { "content-type": "application/xml; charset=utf-8" };

/** PROPFIND depth 1 of the book: resourcetype, getetag, getcontenttype. */
export const PROPFIND_1 = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getetag/><d:getcontenttype/></d:prop></d:propfind>`;

/** PROPFIND depth 0 of the book: getctag and sync-token. */
export const PROPFIND_0 = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/><d:sync-token/></d:prop></d:propfind>`;

/** addressbook-multiget of `hrefs` (getetag and address-data). */
export function multiget(hrefs: string[]): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<c:addressbook-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><c:address-data/></d:prop>${
    hrefs.map((h) => `<d:href>${h}</d:href>`).join("")
  }</c:addressbook-multiget>`;
}

/** sync-collection from `token` ("" for the first sync), getetag. */
export function syncCollection(token: string): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<d:sync-collection xmlns:d="DAV:"><d:sync-token>${token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>`;
}

/** The `<sync-token>` of a multistatus (the first one, any prefix). */
export function syncToken(body: string): string {
  const match = /<(?:[\w-]+:)?sync-token[^>]*>([^<]*)</.exec(body);
  return match?.[1] ?? "";
}

/** The number of `<response>` elements of a multistatus. */
export function responses(body: string): number {
  return body.match(/<(?:[\w-]+:)?response[\s>]/g)?.length ?? 0;
}

/** The hrefs (paths) of a multistatus's responses that end in `.vcf`. */
export function cardHrefs(body: string): string[] {
  return [...body.matchAll(/<(?:[\w-]+:)?href>([^<]*\.vcf)</g)].map((m) => m[1]!);
}

/** The requests of the scenario, in order, on one target; ms per request (NaN on failure). */
export async function measure(
  target: DavTarget,
  count: number,
  timeoutMs: number,
  onStep: (step: string) => void,
  errors: string[],
): Promise<Record<string, number>> {
  const ms: Record<string, number> = {};
  const step = async (
    name: string,
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
    ok: (r: Timed) => boolean,
  ): Promise<Timed> => {
    onStep(`${target.name}: ${name}`);
    const r = await timed(target, method, url, headers, body, timeoutMs);
    const good = r.status !== 0 && ok(r);
    ms[name] = good ? r.ms : NaN;
    if (!good) errors.push(`${target.name} ${name}: ${r.status} ${r.body.slice(0, 200)}`);
    return r;
  };
  const ms207 = (expect: number) => (r: Timed) => r.status === 207 && responses(r.body) >= expect;
  const first = await step(
    "propfind1FirstMs",
    "PROPFIND",
    target.book,
    { ...XML, depth: "1" },
    PROPFIND_1,
    ms207(count),
  );
  await step(
    "propfind1Ms",
    "PROPFIND",
    target.book,
    { ...XML, depth: "1" },
    PROPFIND_1,
    ms207(count),
  );
  await step("propfind0Ms", "PROPFIND", target.book, { ...XML, depth: "0" }, PROPFIND_0, ms207(1));
  const hrefs = cardHrefs(first.body);
  ms.hrefs = hrefs.length;
  await step(
    "multigetAllMs",
    "REPORT",
    target.book,
    { ...XML, depth: "1" },
    multiget(hrefs),
    ms207(count),
  );
  const initial = await step(
    "syncEmptyMs",
    "REPORT",
    target.book,
    { ...XML, depth: "1" },
    syncCollection(""),
    ms207(count),
  );
  const latest = syncToken(initial.body);
  await step(
    "syncLatestMs",
    "REPORT",
    target.book,
    { ...XML, depth: "1" },
    syncCollection(latest),
    (r) => r.status === 207,
  );
  let changed = 0;
  for (let i = 0; i < 10; i++) {
    onStep(`${target.name}: change ${i + 1}/10`);
    const r = await timed(
      target,
      "PUT",
      `${target.book}${cardName(i)}`,
      { "content-type": "text/vcard; charset=utf-8" },
      cardText(i, 1),
      timeoutMs,
    );
    if (r.status === 201 || r.status === 204) changed++;
    else errors.push(`${target.name} change ${i}: ${r.status} ${r.body.slice(0, 200)}`);
  }
  ms.changed = changed;
  await step(
    "sync10ChangesMs",
    "REPORT",
    target.book,
    { ...XML, depth: "1" },
    syncCollection(latest),
    (r) => r.status === 207 && responses(r.body) >= 10,
  );
  await step(
    "putNewMs",
    "PUT",
    `${target.book}${cardName(count)}`,
    { "content-type": "text/vcard; charset=utf-8", "if-none-match": "*" },
    cardText(count),
    (r) => r.status === 201 || r.status === 204,
  );
  await step(
    "deleteMs",
    "DELETE",
    `${target.book}${cardName(count)}`,
    {},
    undefined,
    (r) => r.status === 204 || r.status === 200,
  );
  return ms;
}

/** PUTs cards 0 .. count-1 into `book` on `connections` parallel loops; the failures. */
export async function loadByPut(
  target: DavTarget,
  count: number,
  connections: number,
  timeoutMs: number,
  onProgress: (done: number) => void,
): Promise<number> {
  let next = 0, done = 0, failed = 0;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (next < count) {
      const i = next++;
      const r = await timed(
        target,
        "PUT",
        `${target.book}${cardName(i)}`,
        { "content-type": "text/vcard; charset=utf-8" },
        cardText(i),
        timeoutMs,
      );
      if (r.status !== 201 && r.status !== 204) failed++;
      if (++done % 500 === 0) onProgress(done);
    }
  }));
  return failed;
}

/** Whether `vdirsyncer --version` runs. */
export function hasVdirsyncer(): boolean {
  try {
    return new Deno.Command("vdirsyncer", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** Runs vdirsyncer with `args`, bounded by `timeoutMs`; its seconds, or NaN when it failed. */
async function vdirsyncer(
  config: string,
  args: string[],
  timeoutMs: number,
  errors: string[],
): Promise<number> {
  const started = performance.now();
  const child = new Deno.Command("vdirsyncer", {
    args: ["-c", config, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { LANG: "C.UTF-8" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode("y\ny\ny\n"));
  await writer.close();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }, timeoutMs);
  const output = await child.output();
  clearTimeout(timer);
  const seconds = (performance.now() - started) / 1000;
  if (output.success) return seconds;
  const text = new TextDecoder().decode(output.stderr).slice(-300);
  errors.push(`vdirsyncer ${args.join(" ")} exited ${output.code}: ${text}`);
  return NaN;
}

/**
 * vdirsyncer end to end on one target (one pair: a folder in `dir`, the book's URL): the
 * first sync, a sync with nothing changed, one after 10 cards changed on the server. Each
 * figure is the sync's seconds and the server's CPU seconds within it.
 */
export async function vdirsyncerRun(
  target: DavTarget,
  dir: string,
  cpuSeconds: () => Promise<number>,
  timeoutMs: number,
  onStep: (step: string) => void,
  errors: string[],
): Promise<Record<string, number>> {
  const base = `${dir}/vdirsyncer-${target.name}`;
  await Deno.mkdir(`${base}/contacts`, { recursive: true });
  const config = `${base}/config`;
  const basic = target.headers.authorization;
  const user = basic ? atob(basic.slice(6)).split(":") : ["bench", "bench"];
  await Deno.writeTextFile(
    config,
    `[general]\nstatus_path = "${base}/status/"\n\n` +
      `[pair book]\na = "local"\nb = "remote"\ncollections = null\n` +
      `conflict_resolution = "b wins"\n\n` +
      `[storage local]\ntype = "filesystem"\npath = "${base}/contacts/"\nfileext = ".vcf"\n\n` +
      `[storage remote]\ntype = "carddav"\nurl = "${target.book}"\n` +
      `username = "${user[0]}"\npassword = "${user[1]}"\n`,
  );
  const out: Record<string, number> = {};
  const timedSync = async (name: string) => {
    onStep(`${target.name}: vdirsyncer ${name}`);
    const cpu = await cpuSeconds();
    const seconds = await vdirsyncer(config, ["sync"], timeoutMs, errors);
    out[`vdirsyncer${name}S`] = seconds;
    out[`vdirsyncer${name}ServerCpuS`] = (await cpuSeconds()) - cpu;
  };
  await vdirsyncer(config, ["discover"], timeoutMs, errors);
  await timedSync("First");
  await timedSync("NoChange");
  for (let i = 10; i < 20; i++) {
    const r = await timed(
      target,
      "PUT",
      `${target.book}${cardName(i)}`,
      { "content-type": "text/vcard; charset=utf-8" },
      cardText(i, 2),
      timeoutMs,
    );
    if (r.status !== 201 && r.status !== 204) {
      errors.push(`${target.name} vdirsyncer change ${i}: ${r.status} ${r.body.slice(0, 200)}`);
    }
  }
  await timedSync("After10");
  return out;
}
