/**
 * The closed-loop load generator, run as its own process (`deno run --allow-net=127.0.0.1
 * bench/load.ts` with a {@link LoadConfig} as JSON on stdin) so that it does not share an
 * event loop with the bench's bookkeeping. Each connection keeps `depth` requests in flight
 * and sends the next as soon as a reply arrives. Latencies are recorded only for replies that
 * arrive inside the measured window (after the warm-up); every loop stops at a deadline and
 * after a maximum number of requests. Progress and the result are JSON lines on stdout.
 *
 * @module
 */

import { benchContact, benchName, searchQuery } from "./data.ts";
import { Histogram } from "./histogram.ts";

/** The operations a mix can hold. */
export type Op = "find" | "get" | "search" | "add" | "update";

/** What one generator process does. */
export interface LoadConfig {
  port: number;
  /** `jsonrpc`: the protocol's requests; `echo`: the same lines, any reply line counts;
   * `classic`: `fnd:` messages, one connection per message as the tutorial's client does. */
  protocol: "jsonrpc" | "echo" | "classic";
  /** `run`: closed loop; `idle`: open the connections, ping once on each, hold them. */
  mode: "run" | "idle";
  connections: number;
  depth: number;
  warmupMs: number;
  durationMs: number;
  /** Requests issued at most (the count bound); the run also ends at its deadline. */
  maxOps: number;
  /** Relative weights of each op. */
  mix: Partial<Record<Op, number>>;
  /** Contacts 0..contacts-1 exist (their names can be found). */
  contacts: number;
  /** Ids of existing contacts, for `get`. */
  ids: string[];
  /** Contacts this process may update (split over its connections), with their versions. */
  owned: Array<{ id: string; version: string; i: number }>;
  /** Index of the first contact this process adds. */
  addBase: number;
  seed: number;
  /** Idle mode: hold the connections this long at most. */
  holdMs: number;
}

/** The last line a generator prints. */
export interface LoadResult {
  type: "done";
  /** Replies received inside the measured window. */
  ops: number;
  /** Error replies, failed connections and unanswered requests, over the whole run. */
  errors: number;
  errorSamples: string[];
  /** Length of the measured window (ms, from performance.now()). */
  windowMs: number;
  /** Requests in flight on average over the window (sum of latencies / window). */
  meanInFlight: number;
  histogram: ReturnType<Histogram["toJSON"]>;
  byOp: Record<string, number>;
  /** Idle mode: connections opened and answered. */
  opened?: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DRAIN_MS = 5_000;

/** A small seeded PRNG (mulberry32), so runs draw the same ops. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes one JSON line to standard output (what the bench reads from its children). */
export function emit(value: unknown): void {
  const bytes = encoder.encode(JSON.stringify(value) + "\n");
  let offset = 0;
  while (offset < bytes.length) offset += Deno.stdout.writeSync(bytes.subarray(offset));
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

/** Shared state of one generator run. */
class Run {
  readonly config: LoadConfig;
  readonly histogram = new Histogram();
  readonly random: () => number;
  readonly byOp: Record<string, number> = {};
  readonly errorSamples: string[] = [];
  readonly start = performance.now();
  readonly measureFrom: number;
  readonly measureTo: number;
  readonly hardStop: number;
  readonly ops: Op[] = [];
  readonly weights: number[] = [];
  totalWeight = 0;
  issued = 0;
  measured = 0;
  completed = 0;
  errors = 0;
  nextId = 1;
  nextAdd: number;
  stopped = false;

  constructor(config: LoadConfig) {
    this.config = config;
    this.random = prng(config.seed);
    this.measureFrom = this.start + config.warmupMs;
    this.measureTo = this.measureFrom + config.durationMs;
    this.hardStop = this.measureTo + DRAIN_MS;
    this.nextAdd = config.addBase;
    for (const [op, weight] of Object.entries(config.mix)) {
      if (!weight) continue;
      this.ops.push(op as Op);
      this.totalWeight += weight;
      this.weights.push(this.totalWeight);
    }
    if (this.ops.length === 0) this.ops.push("find"), this.weights.push(this.totalWeight = 1);
  }

  /** Whether another request may be issued now. */
  mayIssue(now: number): boolean {
    return !this.stopped && now < this.measureTo && this.issued < this.config.maxOps;
  }

  pickOp(): Op {
    const r = this.random() * this.totalWeight;
    for (let i = 0; i < this.ops.length; i++) if (r < this.weights[i]!) return this.ops[i]!;
    return this.ops[this.ops.length - 1]!;
  }

  /** Records a completed request that was sent at `sent`. */
  done(op: string, sent: number, now: number, error: string | null): void {
    this.completed++;
    if (error !== null) {
      this.errors++;
      if (this.errorSamples.length < 5) this.errorSamples.push(`${op}: ${error.slice(0, 300)}`);
    }
    if (now >= this.measureFrom && now < this.measureTo) {
      this.measured++;
      this.histogram.record(now - sent);
      this.byOp[op] = (this.byOp[op] ?? 0) + 1;
    }
  }

  fail(what: string): void {
    this.errors++;
    if (this.errorSamples.length < 5) this.errorSamples.push(what.slice(0, 300));
  }

  result(extra: Partial<LoadResult> = {}): LoadResult {
    const windowMs = Math.min(performance.now(), this.measureTo) - this.measureFrom;
    return {
      type: "done",
      ops: this.measured,
      errors: this.errors,
      errorSamples: this.errorSamples,
      windowMs: Math.max(0, windowMs),
      meanInFlight: windowMs > 0 ? this.histogram.sumMs / windowMs : 0,
      histogram: this.histogram.toJSON(),
      byOp: this.byOp,
      ...extra,
    };
  }
}

interface Pending {
  op: Op | "echo";
  sent: number;
  owned?: Owned;
}

interface Owned {
  id: string;
  version: string;
  busy: boolean;
}

/** One JSON-RPC (or echo) connection with up to `depth` requests in flight. */
class LineClient {
  readonly #run: Run;
  readonly #conn: Deno.Conn;
  readonly #owned: Owned[];
  readonly #queue: Pending[] = [];
  #head = 0;
  #buffer = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  constructor(run: Run, conn: Deno.Conn, owned: Owned[]) {
    this.#run = run;
    this.#conn = conn;
    this.#owned = owned;
  }

  get inFlight(): number {
    return this.#queue.length - this.#head;
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Sends the first `depth` requests, then one more per reply, until the run ends. */
  async drive(): Promise<void> {
    const run = this.#run;
    let out = "";
    for (let i = 0; i < run.config.depth && run.mayIssue(performance.now()); i++) {
      out += this.#request(performance.now());
    }
    if (out === "") return;
    await writeAll(this.#conn, encoder.encode(out));
    while (this.inFlight > 0) {
      if (this.#end === this.#buffer.length) this.#makeRoom();
      const n = await this.#conn.read(this.#buffer.subarray(this.#end));
      if (n === null) {
        run.fail(`server closed the connection with ${this.inFlight} requests in flight`);
        return;
      }
      this.#end += n;
      const now = performance.now();
      out = "";
      let newline: number;
      while ((newline = this.#buffer.indexOf(10, this.#start)) >= 0 && newline < this.#end) {
        this.#reply(this.#buffer.subarray(this.#start, newline), now);
        this.#start = newline + 1;
        if (run.mayIssue(now)) out += this.#request(now);
      }
      if (this.#start === this.#end) this.#start = this.#end = 0;
      if (out !== "") await writeAll(this.#conn, encoder.encode(out));
    }
  }

  #makeRoom(): void {
    const rest = this.#end - this.#start;
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    } else {
      const bigger = new Uint8Array(this.#buffer.length * 2);
      bigger.set(this.#buffer.subarray(0, rest));
      this.#buffer = bigger;
    }
    this.#start = 0;
    this.#end = rest;
  }

  #request(now: number): string {
    const run = this.#run;
    const config = run.config;
    run.issued++;
    const id = run.nextId++;
    const pending: Pending = { op: "echo", sent: now };
    let params: string;
    let op = run.pickOp();
    let owned: Owned | undefined;
    if (op === "update") {
      owned = this.#pickOwned();
      if (owned === undefined) op = "get";
    }
    if (op === "get" && config.ids.length === 0) op = "find";
    switch (op) {
      case "find":
        params = `{"name":${
          JSON.stringify(benchName(Math.floor(run.random() * config.contacts)))
        }}`;
        break;
      case "get":
        params = `{"id":"${config.ids[Math.floor(run.random() * config.ids.length)]}"}`;
        break;
      case "search":
        params = `{"query":${JSON.stringify(searchQuery(run.random, config.contacts))}}`;
        break;
      case "add":
        params = `{"contact":${JSON.stringify(benchContact(run.nextAdd++))}}`;
        break;
      case "update": {
        owned!.busy = true;
        pending.owned = owned;
        const contact = benchContact(run.nextAdd++ % 1_000_000);
        params = `{"id":"${owned!.id}","version":"${owned!.version}","contact":${
          JSON.stringify(contact)
        }}`;
        break;
      }
    }
    pending.op = config.protocol === "echo" ? "echo" : op;
    this.#queue.push(pending);
    return `{"jsonrpc":"2.0","id":${id},"method":"${op}","params":${params}}\n`;
  }

  #pickOwned(): Owned | undefined {
    const n = this.#owned.length;
    if (n === 0) return undefined;
    const from = Math.floor(this.#run.random() * n);
    for (let k = 0; k < n; k++) {
      const candidate = this.#owned[(from + k) % n]!;
      if (!candidate.busy) return candidate;
    }
    return undefined;
  }

  #reply(line: Uint8Array, now: number): void {
    const pending = this.#queue[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    if (pending === undefined) {
      this.#run.fail("a reply arrived with no request in flight");
      return;
    }
    let error: string | null = null;
    if (pending.op !== "echo") {
      // `{"jsonrpc":"2.0","id":N,"result"...` or `..."error"...`: look at the first bytes only.
      const head = decoder.decode(line.subarray(0, 48));
      if (!head.includes('"result"')) error = decoder.decode(line);
      if (pending.owned) {
        const owned = pending.owned;
        owned.busy = false;
        try {
          // deno-lint-ignore no-explicit-any
          const reply: any = JSON.parse(decoder.decode(line));
          const version = reply.result?.version ?? reply.error?.data?.current?.version;
          if (typeof version === "string") owned.version = version;
        } catch {
          error ??= "unparsable reply";
        }
      }
    }
    this.#run.done(pending.op, pending.sent, now, error);
  }
}

async function runLines(run: Run): Promise<LoadResult> {
  const { config } = run;
  const clients: LineClient[] = [];
  const owned: Owned[][] = Array.from({ length: config.connections }, () => []);
  config.owned.forEach((o, k) =>
    owned[k % config.connections]!.push({ id: o.id, version: o.version, busy: false })
  );
  for (let c = 0; c < config.connections; c++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: config.port });
      conn.setNoDelay(true);
      clients.push(new LineClient(run, conn, owned[c]!));
    } catch (error) {
      run.fail(`connect: ${error}`);
    }
  }
  const timer = setTimeout(() => {
    run.stopped = true;
    for (const client of clients) {
      if (client.inFlight > 0) run.fail(`${client.inFlight} requests unanswered at the deadline`);
      client.close();
    }
  }, run.hardStop - performance.now());
  const progress = setInterval(() => emitProgress(run), 1000);
  try {
    await Promise.all(clients.map(async (client) => {
      try {
        await client.drive();
      } catch (error) {
        if (!run.stopped) run.fail(`connection: ${error}`);
      } finally {
        client.close();
      }
    }));
  } finally {
    clearTimeout(timer);
    clearInterval(progress);
  }
  return run.result();
}

/** The tutorial's way: every message on its own connection; the reply is one read. */
async function runClassic(run: Run): Promise<LoadResult> {
  const { config } = run;
  const progress = setInterval(() => emitProgress(run), 1000);
  const client = async () => {
    const mine = new Uint8Array(4096);
    while (run.mayIssue(performance.now())) {
      run.issued++;
      const name = benchName(Math.floor(run.random() * config.contacts));
      const sent = performance.now();
      let conn: Deno.Conn | undefined;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port: config.port });
        await writeAll(conn, encoder.encode(`fnd:${name}`));
        const n = await conn.read(mine);
        const text = n === null ? "" : decoder.decode(mine.subarray(0, n));
        const ok = text.startsWith(`${name}:`);
        run.done("fnd", sent, performance.now(), ok ? null : `reply ${JSON.stringify(text)}`);
      } catch (error) {
        run.fail(`classic: ${error}`);
      } finally {
        try {
          conn?.close();
        } catch {
          // already closed
        }
      }
    }
  };
  const timer = setTimeout(() => run.stopped = true, run.hardStop - performance.now());
  try {
    await Promise.all(Array.from({ length: config.connections }, client));
  } finally {
    clearTimeout(timer);
    clearInterval(progress);
  }
  return run.result();
}

/** Opens the connections (a few at a time), pings once on each, holds them, closes them. */
async function runIdle(run: Run): Promise<LoadResult> {
  const { config } = run;
  const conns: Deno.Conn[] = [];
  const ping = encoder.encode('{"jsonrpc":"2.0","id":1,"method":"ping"}\n');
  let opened = 0;
  const deadline = performance.now() + config.holdMs;
  let started = 0;
  const open = async () => {
    const buffer = new Uint8Array(1024);
    while (started < config.connections && performance.now() < deadline) {
      started++;
      let conn: Deno.Conn;
      try {
        conn = await Deno.connect({ hostname: "127.0.0.1", port: config.port });
      } catch (error) {
        run.fail(`connect: ${error}`);
        return;
      }
      conns.push(conn);
      try {
        await writeAll(conn, ping);
        const n = await conn.read(buffer);
        const text = n === null ? "" : decoder.decode(buffer.subarray(0, n));
        if (text.includes('"result"') || text.includes('"ping"')) opened++;
        else run.fail(`ping reply ${JSON.stringify(text.slice(0, 200))}`);
      } catch (error) {
        run.fail(`ping: ${error}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 50 }, open));
  emit({ type: "connected", opened, errors: run.errors });
  // Held until the parent has measured (it then closes our stdin), or the hold time ends.
  const reader = Deno.stdin.readable.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    reader.read().catch(() => {}),
    new Promise((resolve) =>
      timer = setTimeout(resolve, Math.max(0, deadline - performance.now()))
    ),
  ]);
  clearTimeout(timer);
  reader.cancel().catch(() => {});
  for (const conn of conns) {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  return run.result({ opened });
}

/** Waits until the parent closes our stdin (it is done measuring us), at most `ms`. */
export async function stdinClosed(ms: number): Promise<void> {
  const reader = Deno.stdin.readable.getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    (async () => {
      while (!(await reader.read()).done) {
        // discard
      }
    })().catch(() => {}),
    new Promise((resolve) => timer = setTimeout(resolve, Math.max(0, ms))),
  ]);
  clearTimeout(timer);
  reader.cancel().catch(() => {});
}

function emitProgress(run: Run): void {
  const now = performance.now();
  emit({
    type: "progress",
    phase: now < run.measureFrom ? "warmup" : "measure",
    ops: run.measured,
    completed: run.completed,
    errors: run.errors,
  });
}

async function main(): Promise<void> {
  // The config is the first line of stdin (idle mode keeps reading stdin as its release).
  const reader = Deno.stdin.readable.getReader();
  let text = "";
  const bytes: Uint8Array[] = [];
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    bytes.push(value);
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  const config: LoadConfig = JSON.parse(text.slice(0, text.indexOf("\n") >>> 0));
  const run = new Run(config);
  let result: LoadResult;
  if (config.mode === "idle") result = await runIdle(run);
  else if (config.protocol === "classic") result = await runClassic(run);
  else result = await runLines(run);
  emit(result);
  // The parent samples this process's CPU time, then closes stdin.
  if (config.mode !== "idle") await stdinClosed(10_000);
}

if (import.meta.main) await main();
