/**
 * Test helpers for the client: run `client.ts` as a child process with the exact flags of
 * `deno task client`, either once with all of its input, or as a session driven step by
 * step (answer a prompt once it shows), optionally inside a real pseudo-terminal.
 *
 * @module
 */

import { taskCommand } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url);
const encoder = new TextEncoder();

/**
 * The command `deno task client` runs with the environment `env`: `[denoPath, ...args]`, such
 * as `--allow-read=$ADDRESSBOOK_CA` when that is a path (see {@link taskCommand}).
 */
export function clientCommand(env: Record<string, string> = {}): Promise<string[]> {
  return taskCommand("client", env);
}

/**
 * The client's environment in tests: its own variables always set (empty means unset to the
 * client), so that the caller's cannot leak in.
 */
function clientEnv(server: string, env: Record<string, string> = {}): Record<string, string> {
  return {
    ADDRESSBOOK_SERVER: server,
    ADDRESSBOOK_TOKEN: "",
    ADDRESSBOOK_TLS: "",
    ADDRESSBOOK_CA: "",
    NO_COLOR: "1",
    ...env,
  };
}

/** What a finished client run printed, and its exit code. */
export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How to run the client. */
export interface ClientOptions {
  /** The value of ADDRESSBOOK_SERVER (always set, so the caller's own cannot leak in). */
  server: string;
  /** More environment: ADDRESSBOOK_TOKEN, ADDRESSBOOK_TLS, ADDRESSBOOK_CA. */
  env?: Record<string, string>;
  /** Everything standard input holds (text, or bytes as they are); it ends after this. */
  stdin?: string | Uint8Array;
  /** Milliseconds before the run is killed and the test fails. */
  timeoutMs?: number;
}

/** `argv` (a command and its arguments) run in the repository with every stream piped. */
function piped(argv: string[], env: Record<string, string>): Deno.Command {
  const [cmd, ...args] = argv;
  return new Deno.Command(cmd!, {
    args,
    cwd: ROOT,
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs the client once with `args` and waits for it to exit. */
export async function runClient(args: string[], options: ClientOptions): Promise<ClientResult> {
  const env = clientEnv(options.server, options.env);
  const child = piped([...await clientCommand(env), ...args], env).spawn();
  const writer = child.stdin.getWriter();
  const input = options.stdin ?? "";
  await writer.write(typeof input === "string" ? encoder.encode(input) : input).catch(() => {});
  await writer.close().catch(() => {});
  const timeoutMs = options.timeoutMs ?? 30_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  try {
    const { code, stdout, stderr } = await child.output();
    const decoder = new TextDecoder();
    const result = { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
    if (timedOut) {
      throw new Error(
        `client ${args.join(" ")} did not exit within ${timeoutMs} ms:\n` +
          result.stdout + result.stderr,
      );
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Quotes a word for `sh -c`. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * A client run driven step by step: wait until a prompt shows, then answer it. With
 * `terminal: true` it runs inside a real pseudo-terminal made by util-linux `script`.
 */
export class ClientSession {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;
  #output = "";
  #seen = 0;
  #onOutput: (() => void) | undefined;

  private constructor(child: Deno.ChildProcess, terminal: boolean) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    const read = async (stream: ReadableStream<Uint8Array> | null) => {
      if (stream === null) return;
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        this.#output += decoder.decode(chunk, { stream: true }).replaceAll("\r", "");
        this.#onOutput?.();
      }
    };
    this.#reading = Promise.all([read(child.stdout), read(terminal ? null : child.stderr)])
      .then(() => {});
  }

  /** Starts the client with `args`; `output` holds standard output and error together. */
  static async start(
    args: string[],
    options: { server: string; terminal?: boolean; env?: Record<string, string> },
  ): Promise<ClientSession> {
    const env = clientEnv(options.server, options.env);
    const argv = [...await clientCommand(env), ...args];
    const command = options.terminal
      ? new Deno.Command("script", {
        // script runs the client in a new pseudo-terminal and copies our pipe to it. `exec`
        // leaves no shell between them: a shell that stayed (dash does) would die of the
        // terminal's Ctrl-C with 130 while the client handles it and exits 0.
        args: [
          "-qec",
          "exec " + argv.map(shellQuote).join(" ") + " 2>&1",
          "/dev/null",
        ],
        cwd: ROOT,
        env: { ...env, TERM: "dumb", SHELL: "/bin/sh" },
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      })
      : piped(argv, env);
    return new ClientSession(command.spawn(), options.terminal ?? false);
  }

  /** Everything printed so far (carriage returns removed). */
  get output(): string {
    return this.#output;
  }

  /**
   * Waits until `text` appears in the output after what earlier waits consumed, and returns
   * the output up to and including it. Fails after `timeoutMs`.
   */
  async waitFor(text: string, timeoutMs = 20_000): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await new Promise<string>((resolve, reject) => {
        const check = () => {
          const index = this.#output.indexOf(text, this.#seen);
          if (index < 0) return false;
          const end = index + text.length;
          const part = this.#output.slice(this.#seen, end);
          this.#seen = end;
          resolve(part);
          return true;
        };
        if (check()) return;
        timer = setTimeout(() => {
          this.#onOutput = undefined;
          reject(
            new Error(
              `No ${JSON.stringify(text)} within ${timeoutMs} ms; output:\n` +
                this.#output.slice(this.#seen),
            ),
          );
        }, timeoutMs);
        this.#onOutput = () => {
          if (check()) this.#onOutput = undefined;
        };
        this.#reading.then(() => {
          if (!check()) {
            reject(
              new Error(
                `The client ended without ${JSON.stringify(text)}; output:\n` +
                  this.#output.slice(this.#seen),
              ),
            );
          }
        });
      });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Types text (add `\n` to end a line). */
  async send(text: string): Promise<void> {
    await this.#writer.write(encoder.encode(text));
  }

  /** Ends the input and waits for the exit code (killing the client after `timeoutMs`). */
  async finish(timeoutMs = 20_000): Promise<number> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), timeoutMs);
    try {
      const status = await this.#child.status;
      await this.#reading;
      return status.code;
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await this.finish();
  }
}
