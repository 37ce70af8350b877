/**
 * `deno task bench`: drives the real server (started with the serve task's flags on a temp
 * KV file) and four baselines over real TCP with a closed-loop load generator that runs in
 * its own processes, and prints a table and one JSON record per scenario: ops/s, p50, p99
 * and p99.9 latency, errors, server CPU and peak RSS, and the ratios the targets are set in.
 * `--help` lists the scenarios and options.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Generator, runClient, runSqliteBulk, Target, type TargetKind } from "./child.ts";
import { benchCard } from "./data.ts";
import { formatVCard } from "../lib/formats/vcard.ts";
import { Histogram } from "./histogram.ts";
import type { LoadConfig, LoadResult, Op } from "./load.ts";
import { sample } from "./proc.ts";
import {
  type DavTarget,
  hasVdirsyncer,
  loadByPut,
  measure,
  startRadicale,
  vdirsyncerRun,
} from "./dav.ts";
import { seedClassic, type Seeded, seedJsonRpc } from "./seed.ts";

/** The settings of one bench invocation. */
interface Settings {
  quick: boolean;
  runs: number;
  warmupMs: number;
  durationMs: number;
  generators: number;
  contacts: number;
  idle: number;
  big: number;
  cards: number;
  /** Cards in carddav-10k's book (--cards when given, else 10,000, quick 500). */
  davCards: number;
}

/** The figures of one run of one target. */
export interface Figures {
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  errors: number;
  serverCpuPct: number;
  generatorCpuPct: number;
  peakRssMiB: number;
  /** Closed-loop check: mean requests in flight / requests meant to be in flight (about 1). */
  inFlightRatio: number;
  ops: number;
  windowS: number;
  [extra: string]: number;
}

/** One scenario's record: figures per target (medians of the runs), ratios, goals. */
interface ScenarioRecord {
  scenario: string;
  what: string;
  settings: Record<string, unknown>;
  results: Record<string, Figures & { runs: Figures[] }>;
  ratios: Record<string, number>;
  goals: Array<{ goal: string; value: number; met: boolean }>;
  errorSamples: string[];
}

interface Scenario {
  name: string;
  what: string;
  /** Run only when named with --scenario (it needs another program, or takes minutes). */
  optIn?: boolean;
  run(settings: Settings): Promise<ScenarioRecord>;
}

const HELP = `deno task bench [options]: load the addressbook server and its baselines over TCP

Options:
  --scenario NAME   run only this scenario (repeat, or separate with commas); default all
                    but carddav-10k (it needs Radicale and takes minutes: name it to run it)
  --quick           a short smoke run: small data, short runs, one run each
  --runs N          runs per target; figures are medians (default 3, quick 1)
  --duration S      measured seconds per run (default 10, quick 1)
  --warmup S        warm-up seconds before measuring (default 2, quick 0.5)
  --generators N    load-generator processes (default 1)
  --contacts N      contacts loaded before a run (default 1000, quick 200)
  --idle N          idle connections in idle-10k (default 10000, quick 200)
  --big N           contacts in big-100k (default 100000, quick 2000)
  --cards N         vCards in import-100k's file (default 100000, quick 2000) and in
                    carddav-10k's book (default 10000, quick 500)
  --server-flag F   a deno run flag for the server (repeat), e.g. --server-flag=--cpu-prof
                    --server-flag=--cpu-prof-dir=/tmp/prof (written when the server exits)
  --help            show this help

Scenarios:
`;

const encoder = new TextEncoder();

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** Prints a progress line on stderr (rewritten in place on a terminal). */
function progress(text: string): void {
  const line = Deno.stderr.isTerminal() ? `\r\x1b[2K${text}` : `${text}\n`;
  Deno.stderr.writeSync(encoder.encode(line));
}

function endProgress(): void {
  if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
}

/** Splits `total` into `parts` near-equal whole numbers (none zero unless total is small). */
function split(total: number, parts: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < parts; k++) {
    out.push(Math.floor(total / parts) + (k < total % parts ? 1 : 0));
  }
  return out.filter((n) => n > 0);
}

interface LoadPlan {
  protocol: LoadConfig["protocol"];
  connections: number;
  depth: number;
  mix: Partial<Record<Op, number>>;
  contacts: number;
  seeded?: Seeded[];
  maxOps?: number;
  warmupMs?: number;
  durationMs?: number;
  addBase?: number;
}

/** Runs generators against a started target and gathers the figures. */
async function drive(
  label: string,
  settings: Settings,
  target: Target,
  plan: LoadPlan,
  errorSamples: string[],
): Promise<Figures> {
  const counts = split(plan.connections, Math.min(settings.generators, plan.connections));
  const seeded = plan.seeded ?? [];
  const maxOps = plan.maxOps ?? 1e9;
  const before = await sample(target.pid);
  const started = performance.now();
  const generators = counts.map((connections, g) =>
    Generator.load({
      port: target.port,
      protocol: target.kind === "echo" ? "echo" : plan.protocol,
      mode: "run",
      connections,
      depth: plan.depth,
      warmupMs: plan.warmupMs ?? settings.warmupMs,
      durationMs: plan.durationMs ?? settings.durationMs,
      maxOps: Math.ceil(maxOps / counts.length),
      mix: plan.mix,
      contacts: plan.contacts,
      ids: seeded.slice(0, 20_000).map((s) => s.id),
      owned: seeded.filter((_, k) => k % counts.length === g),
      addBase: (plan.addBase ?? 1_000_000) + g * Math.ceil(maxOps / counts.length),
      seed: 1 + g,
      holdMs: 0,
    })
  );
  return await collect(
    label,
    generators,
    target.pid,
    before.cpuSeconds,
    started,
    plan,
    errorSamples,
  );
}

async function collect(
  label: string,
  generators: Generator[],
  pid: number,
  cpuBefore: number,
  started: number,
  plan: { connections: number; depth: number },
  errorSamples: string[],
): Promise<Figures> {
  let lastOps = 0, lastTime = performance.now();
  const ticker = setInterval(() => {
    const ops = generators.reduce((sum, g) => sum + (g.progress?.ops ?? 0), 0);
    const errors = generators.reduce((sum, g) => sum + (g.progress?.errors ?? 0), 0);
    const phase = generators[0]?.progress?.phase ?? "starting";
    const now = performance.now();
    const rate = (ops - lastOps) / ((now - lastTime) / 1000);
    lastOps = ops;
    lastTime = now;
    progress(
      `${label}: ${phase} ${((now - started) / 1000).toFixed(0)} s, ` +
        `${phase === "measure" ? Math.round(rate).toLocaleString("en") : "-"} ops/s, ` +
        `${errors} errors`,
    );
  }, 1000);
  let results: LoadResult[];
  let server, generatorCpu = 0;
  try {
    results = await Promise.all(generators.map((g) => g.done));
    server = await sample(pid);
    for (const g of generators) {
      const cpu = (await sample(g.process.pid)).cpuSeconds;
      generatorCpu += 100 * cpu / ((performance.now() - g.started) / 1000);
    }
  } finally {
    clearInterval(ticker);
    endProgress();
    for (const g of generators) g.release();
    await Promise.all(generators.map((g) => g.exited));
  }
  const elapsed = (performance.now() - started) / 1000;
  return figures(results, {
    cpuPct: 100 * (server.cpuSeconds - cpuBefore) / elapsed,
    generatorCpuPct: generatorCpu,
    peakRssMiB: server.hwmKiB / 1024,
    inFlight: plan.connections * plan.depth,
    errorSamples,
  });
}

function figures(
  results: LoadResult[],
  extra: {
    cpuPct: number;
    generatorCpuPct: number;
    peakRssMiB: number;
    inFlight: number;
    errorSamples: string[];
  },
): Figures {
  const histogram = new Histogram();
  let ops = 0, opsPerSec = 0, errors = 0, meanInFlight = 0, windowMs = 0;
  for (const result of results) {
    histogram.merge(Histogram.fromJSON(result.histogram));
    ops += result.ops;
    opsPerSec += result.windowMs > 0 ? result.ops / (result.windowMs / 1000) : 0;
    errors += result.errors;
    meanInFlight += result.meanInFlight;
    windowMs = Math.max(windowMs, result.windowMs);
    for (const sample of result.errorSamples) {
      if (extra.errorSamples.length < 10) extra.errorSamples.push(sample);
    }
  }
  return {
    opsPerSec: round(opsPerSec, 0),
    p50Ms: round(histogram.percentile(50)),
    p99Ms: round(histogram.percentile(99)),
    p999Ms: round(histogram.percentile(99.9)),
    errors,
    serverCpuPct: round(extra.cpuPct, 0),
    generatorCpuPct: round(extra.generatorCpuPct, 0),
    peakRssMiB: round(extra.peakRssMiB, 1),
    inFlightRatio: round(meanInFlight / extra.inFlight, 2),
    ops,
    windowS: round(windowMs / 1000, 2),
  };
}

/** Medians over runs, field by field. */
function medians(runs: Figures[]): Figures & { runs: Figures[] } {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(runs[0] ?? {})) {
    out[key] = key === "errors"
      ? runs.reduce((sum, r) => sum + r[key]!, 0) // errors: the total, never hidden by a median
      : round(median(runs.map((r) => r[key]!)), 3);
  }
  out.runs = runs;
  return out as Figures & { runs: Figures[] };
}

/** Starts a target, seeds it, drives it with `plan`, stops it: one run. */
async function loadRun(
  kind: TargetKind,
  label: string,
  settings: Settings,
  plan: LoadPlan & { seed?: "jsonrpc" | "classic" | "none" },
  errorSamples: string[],
): Promise<Figures> {
  const target = kind === "server"
    ? await Target.start(kind, serverArgs(), serverDenoFlags)
    : await Target.start(kind);
  try {
    if (plan.seed !== "none") progress(`${label}: loading ${plan.contacts} contacts`);
    let seeded: Seeded[] = [];
    if (plan.seed === "classic") await seedClassic(target.port, plan.contacts);
    else if (plan.seed !== "none") seeded = await seedJsonRpc(target.port, 0, plan.contacts);
    return await drive(label, settings, target, { ...plan, seeded }, errorSamples);
  } finally {
    await target.stop();
    if (target.logs.some((line) => / (error|warn) /.test(line))) {
      const shown = target.logs.filter((line) => / (error|warn) /.test(line)).slice(0, 5);
      console.error(`${label}: the server logged:\n  ${shown.join("\n  ")}`);
    }
  }
}

/** Extra `deno run` flags for the server (`--server-flag`), e.g. `--cpu-prof`. */
let serverDenoFlags: string[] = [];

function serverArgs(): string[] {
  // Every bench client connects from 127.0.0.1: one address may hold them all.
  return ["--max-connections", "20000", "--max-per-peer", "20000"];
}

/** A scenario comparing targets under one load plan, run `settings.runs` times each. */
function compare(
  name: string,
  what: string,
  targets: Array<{ kind: TargetKind; seed: "jsonrpc" | "classic" | "none" }>,
  plan: (s: Settings) => Omit<LoadPlan, "contacts"> & { contacts?: number },
  goals: (results: ScenarioRecord["results"]) => {
    ratios: Record<string, number>;
    goals: ScenarioRecord["goals"];
  },
): Scenario {
  return {
    name,
    what,
    async run(settings) {
      const errorSamples: string[] = [];
      const runs: Record<string, Figures[]> = {};
      const p = { contacts: settings.contacts, ...plan(settings) };
      for (let r = 1; r <= settings.runs; r++) {
        for (const { kind, seed } of targets) {
          const label = `[${name}] ${kind} run ${r}/${settings.runs}`;
          (runs[kind] ??= []).push(
            await loadRun(kind, label, settings, { ...p, seed }, errorSamples),
          );
        }
      }
      const results = Object.fromEntries(
        Object.entries(runs).map(([kind, list]) => [kind, medians(list)]),
      );
      return {
        scenario: name,
        what,
        settings: {
          connections: p.connections,
          depth: p.depth,
          mix: p.mix,
          contacts: p.contacts,
          protocol: p.protocol,
          runs: settings.runs,
          warmupS: settings.warmupMs / 1000,
          durationS: settings.durationMs / 1000,
          generators: settings.generators,
        },
        results,
        ...goals(results),
        errorSamples,
      };
    },
  };
}

/**
 * `a[key] / b[key]`. When both have the same number of runs (the targets take turns, run by
 * run), the median of the per-run ratios: runs close in time share the machine's background
 * load, so this is steadier than a ratio of medians on a busy machine.
 */
function ratio(
  a: (Figures & { runs?: Figures[] }) | undefined,
  b: (Figures & { runs?: Figures[] }) | undefined,
  key = "opsPerSec",
): number {
  if (!a || !b || !b[key]) return NaN;
  if (a.runs && b.runs && a.runs.length === b.runs.length && a.runs.length > 1) {
    return round(median(a.runs.map((run, i) => run[key]! / b.runs![i]![key]!)), 2);
  }
  return round(a[key]! / b[key]!, 2);
}

const FIND: Partial<Record<Op, number>> = { find: 1 };

const SCENARIOS: Scenario[] = [
  compare(
    "find-16",
    "find by name, 16 connections, no pipelining",
    [
      { kind: "server", seed: "jsonrpc" },
      { kind: "jsonrpc_map", seed: "jsonrpc" },
      { kind: "echo", seed: "none" },
    ],
    () => ({ protocol: "jsonrpc", connections: 16, depth: 1, mix: FIND }),
    (r) => {
      const vsMap = ratio(r.server, r.jsonrpc_map), vsEcho = ratio(r.server, r.echo);
      return {
        ratios: { "server/jsonrpc_map": vsMap, "server/echo": vsEcho },
        goals: [
          { goal: "ops/s >= 1.0x jsonrpc_map (c)", value: vsMap, met: vsMap >= 1.0 },
          { goal: "p99 <= 2 ms", value: r.server?.p99Ms ?? NaN, met: (r.server?.p99Ms ?? 99) <= 2 },
        ],
      };
    },
  ),
  compare(
    "find-64x16",
    "find by name, 64 connections, 16 pipelined requests each",
    [
      { kind: "server", seed: "jsonrpc" },
      { kind: "jsonrpc_map", seed: "jsonrpc" },
      { kind: "echo", seed: "none" },
    ],
    () => ({ protocol: "jsonrpc", connections: 64, depth: 16, mix: FIND }),
    (r) => {
      const vsMap = ratio(r.server, r.jsonrpc_map), vsEcho = ratio(r.server, r.echo);
      return {
        ratios: { "server/jsonrpc_map": vsMap, "server/echo": vsEcho },
        goals: [{ goal: "ops/s >= 0.8x jsonrpc_map (c)", value: vsMap, met: vsMap >= 0.8 }],
      };
    },
  ),
  {
    name: "add-64",
    what: "durable add, 64 connections, no pipelining, vs one kv.atomic() per write in-process",
    async run(settings) {
      const errorSamples: string[] = [];
      const server: Figures[] = [], kv: Figures[] = [];
      const plan: LoadPlan = {
        protocol: "jsonrpc",
        connections: 64,
        depth: 1,
        mix: { add: 1 },
        contacts: 0,
      };
      for (let r = 1; r <= settings.runs; r++) {
        server.push(
          await loadRun("server", `[add-64] server run ${r}/${settings.runs}`, settings, {
            ...plan,
            seed: "none",
          }, errorSamples),
        );
        kv.push(await kvBaseline(`[add-64] kv_atomic run ${r}/${settings.runs}`, settings));
      }
      const results = { server: medians(server), kv_atomic: medians(kv) };
      const vsKv = ratio(results.server, results.kv_atomic);
      return {
        scenario: "add-64",
        what: this.what,
        settings: { connections: 64, depth: 1, mix: plan.mix, runs: settings.runs },
        results,
        ratios: { "server/kv_atomic": vsKv },
        goals: [{ goal: "ops/s >= 3x kv_atomic (b)", value: vsKv, met: vsKv >= 3 }],
        errorSamples,
      };
    },
  },
  compare(
    "mix-16",
    "a mix of find 50, get 20, search 15, add 10, update 5 at 16 connections",
    [{ kind: "server", seed: "jsonrpc" }, { kind: "jsonrpc_map", seed: "jsonrpc" }],
    () => ({
      protocol: "jsonrpc",
      connections: 16,
      depth: 1,
      mix: { find: 50, get: 20, search: 15, add: 10, update: 5 },
    }),
    (r) => ({ ratios: { "server/jsonrpc_map": ratio(r.server, r.jsonrpc_map) }, goals: [] }),
  ),
  compare(
    "classic-16",
    "the classic fnd: protocol, 16 clients, one connection per message (the tutorial's client)",
    [{ kind: "server", seed: "jsonrpc" }, { kind: "tutorial", seed: "classic" }],
    () => ({ protocol: "classic", connections: 16, depth: 1, mix: FIND }),
    (r) => {
      const vsTutorial = ratio(r.server, r.tutorial);
      return {
        ratios: { "server/tutorial": vsTutorial },
        goals: [{ goal: "ops/s >= 8x tutorial (d)", value: vsTutorial, met: vsTutorial >= 8 }],
      };
    },
  ),
  {
    name: "idle-10k",
    what: "idle connections (each pinged once, then held): server memory per connection",
    async run(settings) {
      const errorSamples: string[] = [];
      const runs: Record<string, Figures[]> = { server: [], echo: [] };
      for (let r = 1; r <= settings.runs; r++) {
        for (const kind of ["server", "echo"] as const) {
          runs[kind]!.push(
            await idleRun(
              kind,
              `[idle-10k] ${kind} run ${r}/${settings.runs}`,
              settings,
              errorSamples,
            ),
          );
        }
      }
      const results = { server: medians(runs.server!), echo: medians(runs.echo!) };
      const perConn = ratio(results.server, results.echo, "kibPerConnection");
      return {
        scenario: "idle-10k",
        what: this.what,
        settings: { connections: settings.idle, runs: settings.runs },
        results,
        ratios: { "server/echo KiB per connection": perConn },
        goals: [{
          goal: "memory per connection <= 1.5x echo (a)",
          value: perConn,
          met: perConn <= 1.5,
        }],
        errorSamples,
      };
    },
  },
  {
    name: "big-100k",
    what: "load contacts in bulk through the protocol, then search at 1 connection, then " +
      "page through them all with list",
    async run(settings) {
      const errorSamples: string[] = [];
      const runs: Figures[] = [];
      for (let r = 1; r <= settings.runs; r++) {
        runs.push(
          await bigRun(`[big-100k] server run ${r}/${settings.runs}`, settings, errorSamples),
        );
      }
      const server = medians(runs);
      return {
        scenario: "big-100k",
        what: this.what,
        settings: { contacts: settings.big, runs: settings.runs },
        results: { server },
        ratios: { "list last/first page time": server.listSlowdown! },
        goals: [
          { goal: "search p99 <= 5 ms", value: server.p99Ms, met: server.p99Ms <= 5 },
          { goal: "bulk load <= 20 s", value: server.loadS!, met: server.loadS! <= 20 },
          {
            goal: "list does not slow down page by page (last/first <= 1.5)",
            value: server.listSlowdown!,
            met: server.listSlowdown! <= 1.5,
          },
        ],
        errorSamples,
      };
    },
  },
  {
    name: "import-100k",
    what: "the client's import of a vCard 3.0 file into a fresh server, end to end, vs the " +
      "same contacts' JSON into SQLite in one transaction",
    async run(settings) {
      const errorSamples: string[] = [];
      const dir = await Deno.makeTempDir({ prefix: "addressbook-bench-import-" });
      try {
        const file = `${dir}/cards.vcf`;
        progress(`[import-100k] writing ${settings.cards} vCards`);
        const bytes = await writeCards(file, settings.cards);
        const server: Figures[] = [], sqlite: Figures[] = [];
        for (let r = 1; r <= settings.runs; r++) {
          const label = `run ${r}/${settings.runs}`;
          server.push(
            await importRun(`[import-100k] server ${label}`, file, bytes, settings, errorSamples),
          );
          sqlite.push(await sqliteRun(`[import-100k] sqlite ${label}`, dir, settings.cards));
        }
        endProgress();
        const results = { server: medians(server), sqlite: medians(sqlite) };
        const vsSqlite = ratio(results.server, results.sqlite, "seconds");
        return {
          scenario: "import-100k",
          what: this.what,
          settings: {
            cards: settings.cards,
            fileMiB: round(bytes / 2 ** 20, 1),
            runs: settings.runs,
          },
          results,
          ratios: { "import/sqlite time": vsSqlite },
          goals: [{
            goal: "import <= 20 s per 100,000 cards",
            value: results.server.seconds!,
            met: results.server.seconds! <= 20 * settings.cards / 100_000,
          }],
          errorSamples,
        };
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  },
  {
    name: "carddav-10k",
    optIn: true,
    what: "CardDAV on --http-port vs Radicale (Debian's radicale, no auth), each with the same " +
      "cards: PROPFIND depth 1 and 0, multiget of all, sync-collection, PUT, DELETE",
    async run(settings) {
      const errorSamples: string[] = [];
      const count = settings.davCards;
      const timeoutMs = 300_000;
      const results: Record<string, Figures & { runs: Figures[] }> = {};
      const dir = await Deno.makeTempDir({ prefix: "addressbook-bench-dav-" });
      try {
        // The server: the serve task's command, cards loaded by PUT over its HTTP door.
        const target = await Target.start("server", [...serverArgs(), "--http-port", "0"], [
          ...serverDenoFlags,
        ]);
        try {
          const url = target.logs.map((l) => / CardDAV on (\S+?)\/dav\//.exec(l)?.[1]).find(
            Boolean,
          );
          if (!url) throw new Error(`the server named no CardDAV URL:\n${target.logs.join("\n")}`);
          const dav: DavTarget = {
            name: "server",
            book: `${url}/dav/books/shared/`,
            headers: {},
            pid: target.pid,
            stop: () => target.stop(),
          };
          const started = performance.now();
          const failed = await loadByPut(dav, count, 8, timeoutMs, (done) => {
            progress(`[carddav-10k] server: loaded ${done}/${count} by PUT`);
          });
          const loadS = (performance.now() - started) / 1000;
          if (failed) errorSamples.push(`server: ${failed} of ${count} PUTs failed`);
          results.server = await davFigures(dav, count, timeoutMs, errorSamples, {
            loadS: round(loadS, 2),
            loadFailed: failed,
          });
        } finally {
          await target.stop();
        }
        // Radicale: the same cards written as .vcf files into its collection folder.
        progress(`[carddav-10k] radicale: writing ${count} .vcf files`);
        const radicale = await startRadicale(dir, count);
        try {
          results.radicale = await davFigures(radicale, count, timeoutMs, errorSamples, {});
        } finally {
          await radicale.stop();
        }
        endProgress();
      } finally {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
      const ratios: Record<string, number> = {};
      for (const key of Object.keys(results.server!)) {
        const sync = /^vdirsyncer\w+S$/.test(key) && !key.endsWith("CpuS");
        if (!(key.endsWith("Ms") || sync) || BASE_KEYS.has(key)) continue;
        ratios[`radicale/server ${key}`] = round(
          (results.radicale![key] as number) / (results.server![key] as number),
          1,
        );
      }
      const s = results.server!;
      // The requests' ratios (vdirsyncer's syncs are bound by vdirsyncer itself).
      const requestRatios = Object.entries(ratios).filter(([k]) => k.endsWith("Ms"))
        .map(([, v]) => v);
      return {
        scenario: "carddav-10k",
        what: this.what,
        settings: { cards: count, timeoutS: timeoutMs / 1000, runs: 1 },
        results,
        ratios,
        goals: [
          {
            goal: `PROPFIND depth 1 of ${count} <= ${round(count / 10_000, 3)} s`,
            value: s.propfind1Ms!,
            met: s.propfind1Ms! <= 1000 * count / 10_000,
          },
          { goal: "PUT <= 50 ms", value: s.putNewMs!, met: s.putNewMs! <= 50 },
          { goal: "depth-0 PROPFIND <= 50 ms", value: s.propfind0Ms!, met: s.propfind0Ms! <= 50 },
          {
            goal: "every request >= 20x faster than Radicale",
            value: Math.min(...requestRatios),
            met: requestRatios.every((r) => r >= 20),
          },
        ],
        errorSamples: errorSamples.slice(0, 10),
      };
    },
  },
];

/** One CardDAV target's requests (see bench/dav.ts), with its CPU and memory around them. */
async function davFigures(
  target: DavTarget,
  count: number,
  timeoutMs: number,
  errorSamples: string[],
  extra: Record<string, number>,
): Promise<Figures & { runs: Figures[] }> {
  const before = await sample(target.pid);
  const started = performance.now();
  const errors: string[] = [];
  const ms = await measure(target, count, timeoutMs, (step) => {
    progress(`[carddav-10k] ${step}`);
  }, errors);
  const seconds = (performance.now() - started) / 1000;
  const after = await sample(target.pid);
  if (hasVdirsyncer()) {
    const vdir = await Deno.makeTempDir({ prefix: "addressbook-bench-vdirsyncer-" });
    try {
      Object.assign(
        ms,
        await vdirsyncerRun(
          target,
          vdir,
          async () => (await sample(target.pid)).cpuSeconds,
          timeoutMs,
          (step) => progress(`[carddav-10k] ${step}`),
          errors,
        ),
      );
    } finally {
      await Deno.remove(vdir, { recursive: true }).catch(() => {});
    }
  } else {
    console.error("carddav-10k: vdirsyncer is not installed; its syncs are not measured");
  }
  const end = await sample(target.pid);
  errorSamples.push(...errors);
  const rounded = Object.fromEntries(
    Object.entries(ms).map(([k, v]) => [k, round(v, k.endsWith("S") ? 2 : 1)]),
  );
  const figures: Figures = {
    opsPerSec: NaN,
    p50Ms: NaN,
    p99Ms: NaN,
    p999Ms: NaN,
    errors: errors.length + (extra.loadFailed ?? 0),
    serverCpuPct: round(100 * (after.cpuSeconds - before.cpuSeconds) / seconds, 0),
    generatorCpuPct: NaN,
    peakRssMiB: round(end.hwmKiB / 1024, 1),
    inFlightRatio: NaN,
    ops: Object.keys(ms).length,
    windowS: round(seconds, 2),
    ...rounded,
    rssBeforeMiB: round(before.rssKiB / 1024, 1),
    rssAfterMiB: round(after.rssKiB / 1024, 1),
    rssEndMiB: round(end.rssKiB / 1024, 1),
    ...extra,
  };
  return medians([figures]);
}

/** Writes bench cards 0 .. count-1 as one vCard 3.0 file, as `export` writes them; its bytes. */
async function writeCards(path: string, count: number): Promise<number> {
  using file = await Deno.open(path, { write: true, createNew: true });
  let bytes = 0;
  for (let at = 0; at < count; at += 1000) {
    let text = "";
    for (let i = at; i < Math.min(count, at + 1000); i++) text += formatVCard(benchCard(i), "3.0");
    const chunk = encoder.encode(text);
    bytes += chunk.length;
    for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
  }
  return bytes;
}

/** The bytes of the files in a folder (a KV file and its -wal and -shm). */
async function folderBytes(dir: string | undefined): Promise<number> {
  if (dir === undefined) return NaN;
  let bytes = 0;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile) bytes += (await Deno.stat(`${dir}/${entry.name}`)).size;
  }
  return bytes;
}

/** One import: a fresh server, `deno task client import -` of the file, timed end to end. */
async function importRun(
  label: string,
  file: string,
  fileBytes: number,
  settings: Settings,
  errorSamples: string[],
): Promise<Figures> {
  const target = await Target.start("server", serverArgs(), serverDenoFlags);
  try {
    await sleep(300);
    const before = await sample(target.pid);
    progress(`${label}: starting the client`);
    const run = await runClient(
      target.port,
      ["import", "-", "--json"],
      file,
      30 * 60_000,
      (line) => {
        progress(`${label}: ${line}`);
      },
    );
    const after = await sample(target.pid);
    const kvBytes = await folderBytes(target.dataDir);
    let summary: { added?: number; batches?: number; skipped?: unknown[] } = {};
    try {
      summary = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "");
    } catch {
      // reported below
    }
    const errors = (run.code === 0 ? 0 : 1) + settings.cards - (summary.added ?? 0);
    if (errors > 0 && errorSamples.length < 10) {
      errorSamples.push(
        `import exited ${run.code}, added ${summary.added}: ${run.stderr.join(" | ")}`,
      );
    }
    return {
      opsPerSec: round(settings.cards / run.seconds, 0),
      p50Ms: NaN,
      p99Ms: NaN,
      p999Ms: NaN,
      errors,
      serverCpuPct: round(100 * (after.cpuSeconds - before.cpuSeconds) / run.seconds, 0),
      generatorCpuPct: NaN,
      peakRssMiB: round(after.hwmKiB / 1024, 1),
      inFlightRatio: NaN,
      ops: summary.added ?? 0,
      windowS: round(run.seconds, 2),
      seconds: round(run.seconds, 2),
      batches: summary.batches ?? NaN,
      fileMiB: round(fileBytes / 2 ** 20, 1),
      kvMiB: round(kvBytes / 2 ** 20, 1),
      kvToFile: round(kvBytes / fileBytes, 2),
      rssEmptyMiB: round(before.rssKiB / 1024, 1),
      rssAfterMiB: round(after.rssKiB / 1024, 1),
      kibPerContact: round((after.rssKiB - before.rssKiB) / settings.cards, 2),
    };
  } finally {
    await target.stop();
    if (target.logs.some((line) => / (error|warn) /.test(line))) {
      const shown = target.logs.filter((line) => / (error|warn) /.test(line)).slice(0, 5);
      console.error(`${label}: the server logged:\n  ${shown.join("\n  ")}`);
    }
  }
}

/** Baseline (e): the same contacts' JSON into SQLite, in one transaction, on the same disk. */
async function sqliteRun(label: string, parent: string, count: number): Promise<Figures> {
  const dir = await Deno.makeTempDir({ dir: parent, prefix: "sqlite-" });
  try {
    progress(`${label}: writing ${count} rows`);
    const run = await runSqliteBulk(dir, count);
    return {
      opsPerSec: round(count / run.seconds, 0),
      p50Ms: NaN,
      p99Ms: NaN,
      p999Ms: NaN,
      errors: count - run.rows,
      serverCpuPct: NaN,
      generatorCpuPct: NaN,
      peakRssMiB: round(run.rssKiB / 1024, 1), // its RSS at the end, about its peak
      inFlightRatio: NaN,
      ops: run.rows,
      windowS: round(run.seconds, 2),
      seconds: round(run.seconds, 2),
      innerSeconds: round(run.innerSeconds, 2),
      dbMiB: round(run.bytes / 2 ** 20, 1),
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Baseline (b): the in-process kv.atomic() loop, on a temp KV file. */
async function kvBaseline(label: string, settings: Settings): Promise<Figures> {
  const dir = await Deno.makeTempDir({ prefix: "addressbook-bench-kv-" });
  try {
    const generator = Generator.kvAtomic(dir, settings.warmupMs, settings.durationMs);
    // Its own process is the "server" here: its CPU and peak RSS are the figures.
    return await collect(label, [generator], generator.process.pid, 0, generator.started, {
      connections: 1,
      depth: 1,
    }, []);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** Opens `settings.idle` connections, pings each once, and measures the server's RSS growth. */
async function idleRun(
  kind: "server" | "echo",
  label: string,
  settings: Settings,
  errorSamples: string[],
): Promise<Figures> {
  const target = kind === "server"
    ? await Target.start(kind, serverArgs(), serverDenoFlags)
    : await Target.start(kind);
  try {
    await sleep(500);
    const before = (await sample(target.pid)).rssKiB;
    const counts = split(settings.idle, Math.min(settings.generators, settings.idle));
    progress(`${label}: opening ${settings.idle} connections`);
    const generators = counts.map((connections, g) =>
      Generator.load({
        port: target.port,
        protocol: kind === "echo" ? "echo" : "jsonrpc",
        mode: "idle",
        connections,
        depth: 1,
        warmupMs: 0,
        durationMs: 0,
        maxOps: connections,
        mix: {},
        contacts: 0,
        ids: [],
        owned: [],
        addBase: 0,
        seed: g + 1,
        holdMs: 120_000,
      })
    );
    let opened = 0;
    for (const generator of generators) opened += (await generator.connected).opened;
    await sleep(1000);
    const after = await sample(target.pid);
    for (const generator of generators) generator.release();
    const results = await Promise.all(generators.map((g) => g.done));
    await Promise.all(generators.map((g) => g.exited));
    endProgress();
    let errors = 0;
    for (const result of results) {
      errors += result.errors;
      for (const sample of result.errorSamples) {
        if (errorSamples.length < 10) errorSamples.push(sample);
      }
    }
    return {
      opsPerSec: NaN,
      p50Ms: NaN,
      p99Ms: NaN,
      p999Ms: NaN,
      errors,
      serverCpuPct: NaN,
      generatorCpuPct: NaN,
      peakRssMiB: round(after.hwmKiB / 1024, 1),
      inFlightRatio: NaN,
      ops: opened,
      windowS: NaN,
      connections: opened,
      rssBeforeMiB: round(before / 1024, 1),
      rssAfterMiB: round(after.rssKiB / 1024, 1),
      kibPerConnection: round((after.rssKiB - before) / Math.max(1, opened), 2),
    };
  } finally {
    await target.stop();
  }
}

/** Bulk load, search p99 at one connection, and a full list walk, on one server. */
async function bigRun(label: string, settings: Settings, errorSamples: string[]): Promise<Figures> {
  const target = await Target.start("server", serverArgs(), serverDenoFlags);
  try {
    const total = settings.big;
    const load = await drive(`${label} load`, settings, target, {
      protocol: "jsonrpc",
      connections: 64,
      depth: 1,
      mix: { add: 1 },
      contacts: 0,
      maxOps: total,
      warmupMs: 0,
      durationMs: 120_000,
      addBase: 0,
    }, errorSamples);
    const search = await drive(`${label} search`, settings, target, {
      protocol: "jsonrpc",
      connections: 1,
      depth: 1,
      mix: { search: 1 },
      contacts: total,
    }, errorSamples);
    progress(`${label}: listing`);
    const list = await listAll(target.port, total);
    endProgress();
    return {
      ...search,
      errors: search.errors + load.errors + list.errors,
      loaded: load.ops,
      loadS: load.windowS,
      loadOpsPerSec: load.opsPerSec,
      loadP99Ms: load.p99Ms,
      pages: list.pages,
      listed: list.listed,
      listS: list.seconds,
      firstPagesMs: list.firstMs,
      lastPagesMs: list.lastMs,
      listSlowdown: round(list.lastMs / list.firstMs, 2),
    };
  } finally {
    await target.stop();
  }
}

/** Pages through every contact with `list` (100 per page) on one connection. */
async function listAll(port: number, total: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const reader = conn.readable.pipeThrough(new TextDecoderStream()).getReader();
  const times: number[] = [];
  let cursor: string | null = null, listed = 0, errors = 0, buffered = "";
  const deadline = performance.now() + 120_000;
  try {
    for (let page = 0; page < total / 100 + 10 && performance.now() < deadline; page++) {
      const request = { jsonrpc: "2.0", id: page, method: "list", params: { cursor, limit: 100 } };
      const sent = performance.now();
      await conn.write(encoder.encode(JSON.stringify(request) + "\n"));
      while (!buffered.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("The server closed the connection while listing");
        buffered += value;
      }
      const newline = buffered.indexOf("\n");
      const reply = JSON.parse(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
      times.push(performance.now() - sent);
      if (!reply.result) {
        errors++;
        break;
      }
      listed += reply.result.contacts.length;
      cursor = reply.result.cursor;
      if (cursor === null) break;
    }
  } finally {
    await reader.cancel().catch(() => {});
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  const k = Math.max(1, Math.min(10, Math.floor(times.length / 4)));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return {
    pages: times.length,
    listed,
    errors: errors + (listed === total ? 0 : 1),
    seconds: round(times.reduce((a, b) => a + b, 0) / 1000, 2),
    firstMs: round(mean(times.slice(1, k + 1)), 3), // page 0 warms up the code path
    lastMs: round(mean(times.slice(-k)), 3),
  };
}

function table(records: ScenarioRecord[]): string {
  const head = [
    "scenario",
    "target",
    "ops/s",
    "p50 ms",
    "p99 ms",
    "p99.9 ms",
    "errors",
    "srv CPU %",
    "gen CPU %",
    "peak RSS MiB",
    "in-flight",
  ];
  const rows: string[][] = [head];
  const fmt = (v: number | undefined) =>
    v === undefined || Number.isNaN(v) ? "-" : v.toLocaleString("en", { maximumFractionDigits: 3 });
  for (const record of records) {
    for (const [target, f] of Object.entries(record.results)) {
      rows.push([
        record.scenario,
        target,
        fmt(f.opsPerSec),
        fmt(f.p50Ms),
        fmt(f.p99Ms),
        fmt(f.p999Ms),
        fmt(f.errors),
        fmt(f.serverCpuPct),
        fmt(f.generatorCpuPct),
        fmt(f.peakRssMiB),
        fmt(f.inFlightRatio),
      ]);
    }
  }
  const widths = head.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) =>
    row.map((cell, c) => c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)).join("  ")
  );
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  for (const record of records) {
    const parts = [
      ...Object.entries(record.ratios).map(([k, v]) => `${k} ${fmt(v)}`),
      ...record.goals.map((g) => `${g.met ? "MET" : "MISSED"}: ${g.goal} (${fmt(g.value)})`),
    ];
    const extra = Object.entries(record.results).flatMap(([target, f]) =>
      Object.keys(f).filter((k) => !head.includes(k) && !BASE_KEYS.has(k)).map((k) =>
        `${target}.${k} ${fmt(f[k] as number)}`
      )
    );
    lines.push(`${record.scenario}: ${[...parts, ...extra].join("; ")}`);
  }
  return lines.join("\n");
}

const BASE_KEYS = new Set([
  "opsPerSec",
  "p50Ms",
  "p99Ms",
  "p999Ms",
  "errors",
  "serverCpuPct",
  "generatorCpuPct",
  "peakRssMiB",
  "inFlightRatio",
  "runs",
]);

function parseSettings(args: string[]): { settings: Settings; scenarios: Scenario[] } | null {
  const { values } = parseArgs({
    args,
    options: {
      scenario: { type: "string", multiple: true },
      quick: { type: "boolean" },
      runs: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      generators: { type: "string" },
      contacts: { type: "string" },
      idle: { type: "string" },
      big: { type: "string" },
      cards: { type: "string" },
      "server-flag": { type: "string", multiple: true },
      help: { type: "boolean" },
    },
    strict: true,
  });
  if (values.help) return null;
  const quick = values.quick ?? false;
  const number = (value: string | undefined, fallback: number, name: string) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new RangeError(`--${name} ${JSON.stringify(value)} is not a positive number`);
    }
    return n;
  };
  const settings: Settings = {
    quick,
    runs: Math.round(number(values.runs, quick ? 1 : 3, "runs")),
    warmupMs: number(values.warmup, quick ? 0.5 : 2, "warmup") * 1000,
    durationMs: number(values.duration, quick ? 1 : 10, "duration") * 1000,
    generators: Math.round(number(values.generators, 1, "generators")),
    contacts: Math.round(number(values.contacts, quick ? 200 : 1000, "contacts")),
    idle: Math.round(number(values.idle, quick ? 200 : 10_000, "idle")),
    big: Math.round(number(values.big, quick ? 2000 : 100_000, "big")),
    cards: Math.round(number(values.cards, quick ? 2000 : 100_000, "cards")),
    davCards: Math.round(number(values.cards, quick ? 500 : 10_000, "cards")),
  };
  serverDenoFlags = values["server-flag"] ?? [];
  const names = (values.scenario ?? []).flatMap((s) => s.split(",")).map((s) => s.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!SCENARIOS.some((s) => s.name === name)) {
      throw new RangeError(
        `Scenario ${JSON.stringify(name)} does not exist; scenarios are ${
          SCENARIOS.map((s) => s.name).join(", ")
        }`,
      );
    }
  }
  const scenarios = names.length
    ? SCENARIOS.filter((s) => names.includes(s.name))
    : SCENARIOS.filter((s) => !s.optIn);
  return { settings, scenarios };
}

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseSettings(args);
  } catch (error) {
    console.error(`bench: ${error instanceof Error ? error.message : error}`);
    return 2;
  }
  if (parsed === null) {
    console.log(HELP + SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.what}`).join("\n"));
    return 0;
  }
  const { settings, scenarios } = parsed;
  const records: ScenarioRecord[] = [];
  for (const scenario of scenarios) records.push(await scenario.run(settings));
  console.log(table(records));
  for (const record of records) console.log(JSON.stringify(record, jsonNumbers));
  return records.some((r) => Object.values(r.results).some((f) => f.errors > 0)) ? 1 : 0;
}

/** NaN is not JSON: write null for a figure that does not apply. */
function jsonNumbers(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? null : value;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
