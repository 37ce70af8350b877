/**
 * Test helpers: start the real server as a child process with the exact permission flags of
 * `deno task serve`, on port 0, with its data folder in a temp folder; talk to it over real
 * TCP.
 *
 * @module
 */

const ROOT = new URL("../", import.meta.url);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The command a task of deno.json runs, as `[denoPath, ...args]`, with `env` as the
 * environment: its one `$(...)` (the `grants.ts` call that prints the task's permission
 * flags) is run and its words spliced in, as the task shell does, so the flags are exactly
 * the task's. A task of any other shape is an error.
 */
export function taskCommand(name: string, env: Record<string, string>): Promise<string[]> {
  const key = JSON.stringify([name, env]);
  let command = taskCommands.get(key);
  if (command === undefined) taskCommands.set(key, command = expandTask(name, env));
  return command;
}

/** The commands worked out so far (each grants.ts run is a Deno start). */
const taskCommands = new Map<string, Promise<string[]>>();

async function expandTask(name: string, env: Record<string, string>): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const task = config.tasks[name];
  const command: string = typeof task === "string" ? task : task.command;
  const match = /^deno (\S+(?: \S+)*?) \$\((deno [^)]+)\) (\S+)$/.exec(command);
  if (!match) {
    throw new Error(`The ${name} task is not "deno ... $(grants.ts ...) FILE": ${command}`);
  }
  const [, head, inner, file] = match as unknown as [string, string, string, string];
  // Every variable grants.ts reads is set ("" reads as unset), so nothing leaks in from the
  // environment the tests run in, and no env permission is needed to build the command.
  const read = ["HOST", "DATA", "CA", "TARGET", "DIST"].map((n) => `ADDRESSBOOK_${n}`);
  const output = await new Deno.Command(Deno.execPath(), {
    args: inner.split(" ").slice(1),
    cwd: ROOT,
    env: { ...Object.fromEntries(read.map((name) => [name, ""])), ...env },
    stdin: "null",
  }).output();
  if (!output.success) throw new Error(`${inner} failed: ${decoder.decode(output.stderr)}`);
  const flags = decoder.decode(output.stdout).split(/\s+/).filter(Boolean);
  return [Deno.execPath(), ...head.split(" "), ...flags, file];
}

/** The command `deno task serve` runs with the environment `env` (see {@link taskCommand}). */
export function serveCommand(env: Record<string, string>): Promise<string[]> {
  return taskCommand("serve", env);
}

/**
 * Test servers do not advertise themselves (a server on 0.0.0.0 would multicast on this
 * machine's own interfaces); tests/discovery_test.ts turns it on inside network namespaces.
 */
const NO_ADVERTISING = { ADDRESSBOOK_ADVERTISE: "off" };

/**
 * Runs the server with the serve task's flags until it exits (for startups that must fail);
 * kills it after `timeoutMs`. Returns its exit code and output.
 */
export async function runServerToExit(
  options: { dataDir: string; args?: string[]; env?: Record<string, string>; timeoutMs?: number },
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ADDRESSBOOK_DATA: options.dataDir, ...NO_ADVERTISING, ...options.env };
  const [cmd, ...args] = await serveCommand(env);
  const process = new Deno.Command(cmd!, {
    // The HTTP door on a free port too, even when a test names its TCP port (its default
    // then is 2008, which two servers, or another program, would contend for).
    args: [...args, "--port", "0", "--http-port", "0", ...(options.args ?? [])],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => process.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  try {
    const output = await process.output();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Makes `cert.pem` and `key.pem` in `dir` with openssl, as the README shows. `ca: true`
 * makes the plain `openssl req -x509` kind (CA:TRUE) that TLS refuses for a server; `names`
 * is its subjectAltName (default `DNS:localhost,IP:127.0.0.1`).
 */
export async function makeCertificate(
  dir: string,
  options: { ca?: boolean; names?: string } = {},
): Promise<string> {
  const args = [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "30",
    "-subj",
    "/CN=localhost",
    "-keyout",
    `${dir}/key.pem`,
    "-out",
    `${dir}/cert.pem`,
    "-addext",
    `subjectAltName=${options.names ?? "DNS:localhost,IP:127.0.0.1"}`,
  ];
  if (!options.ca) args.push("-addext", "basicConstraints=critical,CA:FALSE");
  const output = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
    .output();
  if (output.code !== 0) {
    throw new Error(`openssl failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return await Deno.readTextFile(`${dir}/cert.pem`);
}

/** Whether `python3` runs here (and can import `module`, when one is named). */
export function hasPython(module?: string): boolean {
  try {
    return new Deno.Command("python3", {
      args: module ? ["-c", `import ${module}`] : ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

/** A temp folder removed (with its contents) when disposed: `await using dir = await tempDir()`. */
export async function tempDir(
  prefix = "addressbook-test-",
): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** A server child process under test. */
export class TestServer {
  readonly process: Deno.ChildProcess;
  readonly port: number;
  readonly dataDir: string;
  /** Whether this server made its data folder (and so removes it on close). */
  readonly #ownsDataDir: boolean;
  readonly #logs: string[];
  #stderrDone: Promise<void>;
  /** Set once the test stops or kills the server: its exit is then no surprise. */
  #exitExpected = false;

  private constructor(
    process: Deno.ChildProcess,
    port: number,
    dataDir: string,
    logs: string[],
    stderrDone: Promise<void>,
    ownsDataDir: boolean,
  ) {
    this.process = process;
    this.port = port;
    this.dataDir = dataDir;
    this.#ownsDataDir = ownsDataDir;
    this.#logs = logs;
    this.#stderrDone = stderrDone;
  }

  /**
   * Starts `server.ts` with the serve task's flags on port 0 and waits for its startup line.
   * `dataDir` defaults to a new temp folder (removed on close); pass one (kept) to restart
   * on it.
   */
  static async start(
    options: { dataDir?: string; args?: string[]; env?: Record<string, string> } = {},
  ): Promise<TestServer> {
    const dataDir = options.dataDir ?? await Deno.makeTempDir({ prefix: "addressbook-test-" });
    const env = { ADDRESSBOOK_DATA: dataDir, ...NO_ADVERTISING, ...options.env };
    const [cmd, ...args] = await serveCommand(env);
    const process = new Deno.Command(cmd!, {
      // The HTTP door on a free port too, even when a test names its TCP port (its default
      // then is 2008, which two servers, or another program, would contend for).
      args: [...args, "--port", "0", "--http-port", "0", ...(options.args ?? [])],
      cwd: ROOT,
      env,
      clearEnv: false,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const logs: string[] = [];
    let onLine: ((line: string) => void) | undefined;
    const stderrDone = (async () => {
      const lines = process.stderr.pipeThrough(new TextDecoderStream());
      let partial = "";
      for await (const text of lines) {
        const parts = (partial + text).split("\n");
        partial = parts.pop()!;
        for (const line of parts) {
          logs.push(line);
          onLine?.(line);
        }
      }
      if (partial) logs.push(partial);
      onLine?.("");
    })();
    const stdoutDone = process.stdout.cancel();
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Server did not start:\n${logs.join("\n")}`)),
        20_000,
      );
      const check = (line: string) => {
        const match = / listening on .*:(\d+) /.exec(line);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        } else if (line === "") {
          clearTimeout(timer);
          reject(new Error(`Server exited before listening:\n${logs.join("\n")}`));
        }
      };
      logs.forEach(check);
      onLine = check;
    });
    onLine = undefined;
    await stdoutDone;
    const server = new TestServer(process, port, dataDir, logs, stderrDone, !options.dataDir);
    // A server that dies on its own makes the next client fail with "connection refused" and
    // nothing more: say why in the test's output, with the server's log.
    process.status.then(async (status) => {
      if (server.#exitExpected) return;
      await stderrDone;
      console.error(
        `TestServer: the server on port ${port} (pid ${process.pid}) exited unexpectedly ` +
          `(code ${status.code}, signal ${status.signal}); its log:\n${logs.join("\n")}`,
      );
    });
    return server;
  }

  /** Every line the server has logged so far. */
  get logs(): string[] {
    return this.#logs;
  }

  /**
   * Waits until the server has logged a line matching `pattern` (it logs some events just
   * after acting on them, so a client can see the effect first); true if it did in time.
   */
  async waitForLog(pattern: RegExp, timeoutMs = 5000): Promise<boolean> {
    // The bound counts timer ticks, not the wall clock: this sandbox's clock may jump forward
    // while a process sleeps, which would end a Date.now() deadline early.
    for (let waited = 0; !this.#logs.some((line) => pattern.test(line)); waited += 20) {
      if (waited >= timeoutMs) return false;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return true;
  }

  /** Opens a JSON-RPC client connection to this server. */
  connect(): Promise<RpcConnection> {
    return RpcConnection.open(this.port);
  }

  /** Sends a signal without waiting: the exit it causes is expected (not reported). */
  kill(signal: Deno.Signal): void {
    this.#exitExpected = true;
    this.process.kill(signal);
  }

  /** Sends a signal and waits for the process to exit; returns its exit code. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<number> {
    this.#exitExpected = true;
    try {
      this.process.kill(signal);
    } catch {
      // already exited
    }
    const status = await this.process.status;
    await this.#stderrDone;
    return status.code;
  }

  /** Stops the server (if running) and removes its data folder if it made it. */
  async close(): Promise<void> {
    await this.stop();
    if (this.#ownsDataDir) await Deno.remove(this.dataDir, { recursive: true }).catch(() => {});
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A raw connection that sends lines and reads reply lines. */
export class RpcConnection {
  readonly conn: Deno.TcpConn;
  #buffer = "";
  #nextId = 1;
  readonly #reader: ReadableStreamDefaultReader<string>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.#reader = conn.readable.pipeThrough(new TextDecoderStream()).getReader();
  }

  static async open(port: number): Promise<RpcConnection> {
    return new RpcConnection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Wraps a connection opened elsewhere (a TLS one from lib/transport.ts, say). */
  static wrap(conn: Deno.Conn): RpcConnection {
    return new RpcConnection(conn as Deno.TcpConn);
  }

  /** Writes raw text or bytes. */
  async send(data: string | Uint8Array): Promise<void> {
    let bytes = typeof data === "string" ? encoder.encode(data) : data;
    while (bytes.length > 0) bytes = bytes.subarray(await this.conn.write(bytes));
  }

  /** Reads one reply line (without `\n`), or null if the server closed the connection. */
  async readLine(timeoutMs = 10_000): Promise<string | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`No reply within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      while (!this.#buffer.includes("\n")) {
        const { value, done } = await Promise.race([this.#reader.read(), timeout]);
        if (done) {
          if (this.#buffer === "") return null;
          const rest = this.#buffer;
          this.#buffer = "";
          return rest;
        }
        this.#buffer += value;
      }
      const index = this.#buffer.indexOf("\n");
      const line = this.#buffer.slice(0, index);
      this.#buffer = this.#buffer.slice(index + 1);
      return line;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Reads one reply line and parses it as JSON; fails if the connection closed. */
  // deno-lint-ignore no-explicit-any
  async readJson(timeoutMs?: number): Promise<any> {
    const line = await this.readLine(timeoutMs);
    if (line === null) throw new Error("Connection closed before a reply");
    return JSON.parse(line);
  }

  /** Sends a request and returns its whole response object. */
  // deno-lint-ignore no-explicit-any
  async call(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = this.#nextId++;
    await this.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
    const response = await this.readJson();
    if (response.id !== id) throw new Error(`Reply id ${response.id} is not ${id}`);
    return response;
  }

  /** Sends a request and returns its result; throws with the error message otherwise. */
  // deno-lint-ignore no-explicit-any
  async result(method: string, params: Record<string, unknown> = {}): Promise<any> {
    const response = await this.call(method, params);
    if (response.error) {
      throw new Error(`${method} failed: ${JSON.stringify(response.error)}`);
    }
    return response.result;
  }

  /** Waits until the server closes the connection, discarding what it sends; true if it did. */
  async closedByServer(timeoutMs = 10_000): Promise<boolean> {
    try {
      while (true) {
        if (await this.readLine(timeoutMs) === null) return true;
      }
    } catch (error) {
      if (error instanceof Error && error.message.startsWith("No reply")) return false;
      return true; // reset by peer
    }
  }

  close(): void {
    try {
      this.#reader.cancel().catch(() => {});
      this.conn.close();
    } catch {
      // already closed
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Sends one classic message on its own connection and reads the reply, like the tutorial. */
export async function classic(port: number, message: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(message));
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    return n === null ? "" : decoder.decode(buffer.subarray(0, n));
  } finally {
    conn.close();
  }
}
