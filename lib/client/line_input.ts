/**
 * Line input for the menu: lines read from a byte stream (standard input by default) through
 * `TextDecoderStream` and a line splitter. It works the same on a terminal and on a pipe,
 * where the global `prompt()` returns null at once; it returns null at the end of input.
 *
 * @module
 */

/** Longest input line kept, in characters; a longer one is an error, not a memory hog. */
export const MAX_INPUT_LINE = 64 * 1024;

/**
 * Splits text into lines: `\n` or `\r\n` ends a line (the ending is dropped); a last line
 * without an ending is kept. Throws a `RangeError` for a line longer than `maxLine`.
 *
 * @example
 * ```ts
 * import { LineSplitStream } from "./line_input.ts";
 * const lines = await Array.fromAsync(
 *   ReadableStream.from(["one\r\ntw", "o\n", "three"]).pipeThrough(new LineSplitStream()),
 * );
 * if (lines.join("|") !== "one|two|three") throw new Error(lines.join("|"));
 * ```
 */
export class LineSplitStream extends TransformStream<string, string> {
  constructor(maxLine = MAX_INPUT_LINE) {
    let partial = "";
    super({
      transform(chunk, controller) {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop()!;
        for (const part of parts) controller.enqueue(part.replace(/\r$/, ""));
        if (partial.length > maxLine) {
          throw new RangeError(`Input line is longer than ${maxLine} characters`);
        }
      },
      flush(controller) {
        if (partial !== "") controller.enqueue(partial.replace(/\r$/, ""));
      },
    });
  }
}

/**
 * Reads lines from a byte stream, one at a time.
 *
 * @example Two lines, then the end of input
 * ```ts
 * import { LineReader } from "./line_input.ts";
 * const bytes = new TextEncoder().encode("Bob\nSmith\n");
 * const reader = new LineReader(ReadableStream.from([bytes]));
 * const got = [await reader.readLine(), await reader.readLine(), await reader.readLine()];
 * if (got[0] !== "Bob" || got[1] !== "Smith" || got[2] !== null) throw new Error();
 * ```
 */
export class LineReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #done = false;

  constructor(stream: ReadableStream<Uint8Array>, maxLine = MAX_INPUT_LINE) {
    this.#reader = stream.pipeThrough(new TextDecoderStream())
      .pipeThrough(new LineSplitStream(maxLine)).getReader();
  }

  /** The next line without its ending, or null at the end of input. */
  async readLine(): Promise<string | null> {
    if (this.#done) return null;
    const { value, done } = await this.#reader.read();
    if (done) {
      this.#done = true;
      return null;
    }
    return value;
  }

  /** Stops reading; later reads return null. */
  async close(): Promise<void> {
    this.#done = true;
    await this.#reader.cancel().catch(() => {});
  }
}

/** Where text goes: a function that writes it out in full. */
export type Write = (text: string) => void;

const encoder = new TextEncoder();

/**
 * Writes text to standard output in full, synchronously (so a prompt shows before the read
 * that waits for its answer).
 *
 * @example
 * ```ts
 * import { writeStdout } from "./line_input.ts";
 * writeStdout("hello\n");
 * ```
 */
export function writeStdout(text: string): void {
  writeAllSync(Deno.stdout, text);
}

/**
 * Writes text to standard error in full, synchronously (messages and progress).
 *
 * @example
 * ```ts
 * import { writeStderr } from "./line_input.ts";
 * writeStderr("a message\n");
 * ```
 */
export function writeStderr(text: string): void {
  writeAllSync(Deno.stderr, text);
}

function writeAllSync(file: { writeSync(bytes: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/**
 * Asks questions and reads answers. When the input is not a terminal (a pipe, a file), each
 * answer is echoed after its question, so a transcript reads like the session it was.
 *
 * @example Answers from a pipe are echoed
 * ```ts
 * import { LineReader, Prompter } from "./line_input.ts";
 * let out = "";
 * const input = new LineReader(ReadableStream.from([new TextEncoder().encode("Bob\n")]));
 * const prompter = new Prompter(input, (text) => out += text, true);
 * const name = await prompter.ask("Enter the name: ");
 * if (name !== "Bob" || out !== "Enter the name: Bob\n") throw new Error(out);
 * if (await prompter.ask("Again: ") !== null) throw new Error();
 * ```
 */
export class Prompter {
  readonly input: LineReader;
  readonly write: Write;
  readonly echo: boolean;

  constructor(input: LineReader, write: Write, echo: boolean) {
    this.input = input;
    this.write = write;
    this.echo = echo;
  }

  /** Standard input and output; echoes answers when standard input is not a terminal. */
  static stdio(): Prompter {
    return new Prompter(new LineReader(Deno.stdin.readable), writeStdout, !Deno.stdin.isTerminal());
  }

  /** Writes a line (or several). */
  print(text = ""): void {
    this.write(text + "\n");
  }

  /** Shows the question, then returns the answer trimmed, or null at the end of input. */
  async ask(question: string): Promise<string | null> {
    this.write(question);
    const answer = await this.input.readLine();
    if (answer === null) {
      this.write("\n");
      return null;
    }
    if (this.echo) this.write(answer + "\n");
    return answer.trim();
  }
}
