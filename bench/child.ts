/**
 * The bench's child processes: the system under test (the real server with the serve task's
 * flags, or a baseline) and the load generators. Each child is bounded in time: a start
 * that does not report within 30 s fails, and a stop escalates to SIGKILL after 5 s.
 *
 * @module
 */

import { serveCommand, taskCommand } from "../tests/helpers.ts";
import type { LoadConfig, LoadResult } from "./load.ts";

const BENCH = new URL("./", import.meta.url);
const ROOT = new URL("../", import.meta.url);
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Which program serves: the product, or one of the baselines. */
export type TargetKind = "server" | "echo" | "jsonrpc_map" | "tutorial";

/** Reads a child's output stream as lines, calling `onLine` for each; resolves at its end. */
async function eachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let partial = "";
  for await (const chunk of stream) {
    const parts = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = parts.pop()!;
    for (const line of parts) onLine(line);
  }
  if (partial) onLine(partial);
}

/**
 * A running server (the product or a baseline) listening on 127.0.0.1.
 *
 * @example Start and stop the echo baseline
 * ```ts
 * import { Target } from "./child.ts";
 * const echo = await Target.start("echo");
 * if (!(echo.port > 0)) throw new Error();
 * await echo.stop();
 * ```
 */
export class Target {
  readonly kind: TargetKind;
  readonly process: Deno.ChildProcess;
  readonly port: number;
  /** The last lines the process wrote to stderr. */
  readonly logs: string[];
  readonly #stderrDone: Promise<void>;
  readonly #dataDir: string | undefined;

  private constructor(
    kind: TargetKind,
    process: Deno.ChildProcess,
    port: number,
    logs: string[],
    stderrDone: Promise<void>,
    dataDir: string | undefined,
  ) {
    this.kind = kind;
    this.process = process;
    this.port = port;
    this.logs = logs;
    this.#stderrDone = stderrDone;
    this.#dataDir = dataDir;
  }

  get pid(): number {
    return this.process.pid;
  }

  /** The server's data folder (its KV file), until {@link Target.stop} removes it. */
  get dataDir(): string | undefined {
    return this.#dataDir;
  }

  /**
   * Starts `kind` on a free port. The server gets the serve task's flags and a new temp data
   * folder (its KV file), removed again by {@link Target.stop}; `args` are added to its flags,
   * and `denoFlags` (e.g. `--cpu-prof`) to `deno run`'s, for the server only.
   */
  static async start(
    kind: TargetKind,
    args: string[] = [],
    denoFlags: string[] = [],
  ): Promise<Target> {
    let cmd: string[];
    let env: Record<string, string> = {};
    let dataDir: string | undefined;
    if (kind === "server") {
      dataDir = await Deno.makeTempDir({ prefix: "addressbook-bench-" });
      env = { ADDRESSBOOK_DATA: dataDir };
      const [deno, run, ...rest] = await serveCommand(env);
      cmd = [deno!, run!, ...denoFlags, ...rest, "--port", "0", ...args];
    } else {
      const file =
        { echo: "echo.ts", jsonrpc_map: "jsonrpc_map.ts", tutorial: "tutorial_server.ts" }[
          kind
        ];
      cmd = [
        Deno.execPath(),
        "run",
        "--allow-net=127.0.0.1",
        new URL(`baselines/${file}`, BENCH).pathname,
        "--port",
        "0",
        ...args,
      ];
    }
    const process = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      cwd: ROOT,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const logs: string[] = [];
    let onLine: ((line: string | null) => void) | undefined;
    const stderrDone = eachLine(process.stderr, (line) => {
      logs.push(line);
      if (logs.length > 200) logs.shift();
      onLine?.(line);
    }).catch(() => {}).finally(() => onLine?.(null));
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${kind} did not start within 30 s`)), 30_000);
        onLine = (line) => {
          const match = line === null ? null : / listening on .*:(\d+) /.exec(line);
          if (match) resolve(Number(match[1]));
          else if (line === null) reject(new Error(`${kind} exited:\n${logs.join("\n")}`));
        };
        logs.forEach((line) => onLine!(line));
      });
      onLine = undefined;
      return new Target(kind, process, port, logs, stderrDone, dataDir);
    } catch (error) {
      await stopProcess(process);
      await stderrDone;
      if (dataDir) await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and removes its data folder. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    await stopProcess(this.process, signal);
    await this.#stderrDone;
    if (this.#dataDir) await Deno.remove(this.#dataDir, { recursive: true }).catch(() => {});
  }
}

async function stopProcess(process: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM") {
  try {
    process.kill(signal);
  } catch {
    // already exited
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      try {
        process.kill("SIGKILL");
      } catch {
        // already exited
      }
      resolve();
    }, 5000);
  });
  await Promise.race([process.status, killed]);
  await process.status;
  clearTimeout(timer);
}

/** What a run of the client ended with. */
export interface ClientRun {
  code: number;
  /** From spawning the client to its exit. */
  seconds: number;
  stdout: string;
  /** Its last lines on standard error. */
  stderr: string[];
}

/**
 * Runs the client (`deno task client`'s exact command and flags) against the server at
 * `port` on 127.0.0.1 with `args`, standard input read from the file `input`; `onLine` sees
 * each line it writes to standard error (its progress). Killed at `deadlineMs`.
 */
export async function runClient(
  port: number,
  args: string[],
  input: string,
  deadlineMs: number,
  onLine: (line: string) => void = () => {},
): Promise<ClientRun> {
  // Its own variables always set ("" reads as unset), so the caller's cannot leak in.
  const env = {
    ADDRESSBOOK_SERVER: `127.0.0.1:${port}`,
    ADDRESSBOOK_TOKEN: "",
    ADDRESSBOOK_TLS: "",
    ADDRESSBOOK_CA: "",
    NO_COLOR: "1",
  };
  const [cmd, ...flags] = await taskCommand("client", env);
  const file = await Deno.open(input);
  const started = performance.now();
  const process = new Deno.Command(cmd!, {
    args: [...flags, ...args],
    cwd: ROOT,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      process.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, deadlineMs);
  const stderr: string[] = [];
  try {
    const feeding = file.readable.pipeTo(process.stdin).catch(() => {});
    const [stdout] = await Promise.all([
      new Response(process.stdout).text(),
      eachLine(process.stderr, (line) => {
        stderr.push(line);
        if (stderr.length > 50) stderr.shift();
        onLine(line);
      }),
      feeding,
    ]);
    const { code } = await process.status;
    return { code, seconds: (performance.now() - started) / 1000, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the SQLite baseline (e): `count` contacts into a new database file in `dir`; resolves
 * with its report and the time from spawning it to its exit.
 */
export async function runSqliteBulk(
  dir: string,
  count: number,
): Promise<{ seconds: number; innerSeconds: number; rows: number; bytes: number; rssKiB: number }> {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      new URL("baselines/sqlite_bulk.ts", BENCH).pathname,
      "--path",
      `${dir}/baseline.db`,
      "--count",
      String(count),
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  const line = decoder.decode(output.stdout).split("\n").find((l) => l.startsWith("{"));
  if (!output.success || line === undefined) {
    throw new Error(`The SQLite baseline failed (exit code ${output.code})`);
  }
  const report = JSON.parse(line);
  const { rows, bytes, rssKiB } = report;
  return { seconds, innerSeconds: report.seconds, rows, bytes, rssKiB };
}

/** What a generator reports while it runs. */
export interface Progress {
  type: "progress";
  phase: "warmup" | "measure";
  ops: number;
  errors?: number;
}

/**
 * A load-generator process (`bench/load.ts`, or the KV baseline, which speaks the same
 * lines). `done` resolves with its result line; it then waits, so that its CPU time can be
 * sampled, until {@link Generator.release} closes its stdin. `connected` (idle mode)
 * resolves when its connections are open. It is killed if still running at its deadline.
 */
export class Generator {
  readonly process: Deno.ChildProcess;
  readonly started = performance.now();
  readonly done: Promise<LoadResult>;
  readonly exited: Promise<void>;
  readonly connected: Promise<{ opened: number; errors: number }>;
  progress: Progress | undefined;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;

  private constructor(cmd: string[], config: unknown, deadlineMs: number) {
    const process = new Deno.Command(cmd[0]!, {
      args: cmd.slice(1),
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.process = process;
    const stdin = process.stdin.getWriter();
    this.#stdin = stdin;
    stdin.write(encoder.encode(JSON.stringify(config) + "\n")).catch(() => {});
    let resolveConnected!: (value: { opened: number; errors: number }) => void;
    this.connected = new Promise((resolve) => resolveConnected = resolve);
    let resolveDone!: (value: LoadResult) => void;
    let rejectDone!: (error: Error) => void;
    this.done = new Promise((resolve, reject) => {
      resolveDone = resolve;
      rejectDone = reject;
    });
    this.done.catch(() => {}); // awaited by the caller; never an unhandled rejection
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          process.kill("SIGKILL");
        } catch {
          // already exited
        }
        resolve();
      }, deadlineMs);
    });
    const lines = eachLine(process.stdout, (line) => {
      if (!line.startsWith("{")) return;
      const message = JSON.parse(line);
      if (message.type === "progress") this.progress = message;
      else if (message.type === "connected") resolveConnected(message);
      else if (message.type === "done") resolveDone(message);
    });
    this.exited = (async () => {
      await Promise.race([Promise.all([lines, process.status]), deadline]);
      clearTimeout(timer);
      await process.status;
      await stdin.close().catch(() => {});
      resolveConnected({ opened: 0, errors: 1 });
      rejectDone(new Error(`A generator ended without a result (${cmd.join(" ")})`));
    })();
  }

  /** Starts `bench/load.ts` with `config`. */
  static load(config: LoadConfig): Generator {
    const cmd = [
      Deno.execPath(),
      "run",
      "--allow-net=127.0.0.1",
      new URL("load.ts", BENCH).pathname,
    ];
    const bound = config.mode === "idle" ? config.holdMs : config.warmupMs + config.durationMs;
    return new Generator(cmd, config, bound + 30_000);
  }

  /** Starts the KV baseline (b) on a KV file in `dir`. */
  static kvAtomic(dir: string, warmupMs: number, durationMs: number): Generator {
    const cmd = [
      Deno.execPath(),
      "run",
      `--allow-read=${dir}`,
      `--allow-write=${dir}`,
      new URL("baselines/kv_atomic.ts", BENCH).pathname,
      "--path",
      `${dir}/baseline.kv`,
      "--warmup",
      String(warmupMs),
      "--duration",
      String(durationMs),
    ];
    return new Generator(cmd, {}, warmupMs + durationMs + 30_000);
  }

  /** Closes the generator's stdin: it then ends (an idle one closes its connections first). */
  release(): void {
    this.#stdin.close().catch(() => {});
  }
}
