/**
 * Framing: splits a byte stream into lines, with a cap on the length of a line that is
 * checked while reading (a line is never buffered past the cap).
 *
 * @module
 */

/** A line longer than the cap arrived; the stream cannot be resynchronised. */
export class LineTooLongError extends RangeError {
  readonly limit: number;
  constructor(limit: number) {
    super(`Line is longer than ${limit} bytes`);
    this.name = "LineTooLongError";
    this.limit = limit;
  }
}

/**
 * Splits chunks of bytes into lines ending in `\n` (a `\r` before it is dropped).
 * Complete lines are returned as views into the chunk where possible (no copy). A line split
 * across chunks is gathered in one buffer that doubles as it fills, so an unfinished line
 * holds at most about twice its bytes however many reads brought it (one byte per read
 * included); the buffer is let go once the line is complete.
 *
 * @example Lines split across chunks, even mid-character
 * ```ts
 * import { LineFramer } from "./framing.ts";
 * const framer = new LineFramer(64);
 * const bytes = new TextEncoder().encode("héllo\r\nworld\n");
 * const lines = [...framer.push(bytes.subarray(0, 2)), ...framer.push(bytes.subarray(2))];
 * const text = lines.map((line) => new TextDecoder().decode(line));
 * if (text.join("|") !== "héllo|world") throw new Error(text.join("|"));
 * ```
 */
export class LineFramer {
  readonly maxLine: number;
  /** The unfinished line: its first {@link pending} bytes. */
  #partial = EMPTY;
  #partialBytes = 0;

  constructor(maxLine: number) {
    this.maxLine = maxLine;
  }

  /** Bytes of an unfinished line held so far. */
  get pending(): number {
    return this.#partialBytes;
  }

  /**
   * Adds a chunk; returns the lines it completes. Throws {@link LineTooLongError} as soon as
   * the unfinished line exceeds the cap, without keeping the excess.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const lines: Uint8Array[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(10, start);
      if (newline < 0) {
        const rest = chunk.length - start;
        // A trailing \r may still be followed by \n, so it does not count against the cap.
        const countable = chunk[chunk.length - 1] === 13 ? rest - 1 : rest;
        if (this.#partialBytes + countable > this.maxLine) throw new LineTooLongError(this.maxLine);
        this.#hold(chunk.subarray(start));
        break;
      }
      let line = chunk.subarray(start, newline);
      if (this.#partialBytes > 0) {
        if (this.#partialBytes + line.length > this.maxLine + 1) {
          throw new LineTooLongError(this.maxLine);
        }
        this.#hold(line);
        line = this.#partial.subarray(0, this.#partialBytes);
        this.#partial = EMPTY;
        this.#partialBytes = 0;
      }
      if (line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
      if (line.length > this.maxLine) throw new LineTooLongError(this.maxLine);
      lines.push(line);
      start = newline + 1;
    }
    return lines;
  }

  /**
   * Ends the input: returns the unfinished line (its trailing `\r` dropped), or null when
   * there is none, and forgets it. A last line without a newline is still a line.
   *
   * @example
   * ```ts
   * import { LineFramer } from "./framing.ts";
   * const framer = new LineFramer(64);
   * framer.push(new TextEncoder().encode("one\ntwo"));
   * const last = framer.finish();
   * if (new TextDecoder().decode(last!) !== "two" || framer.finish() !== null) throw new Error();
   * ```
   */
  finish(): Uint8Array | null {
    if (this.#partialBytes === 0) return null;
    let line = this.#partial.subarray(0, this.#partialBytes);
    this.#partial = EMPTY;
    this.#partialBytes = 0;
    if (line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    return line;
  }

  /** Appends bytes to the unfinished line, doubling its buffer when they do not fit. */
  #hold(bytes: Uint8Array): void {
    const needed = this.#partialBytes + bytes.length;
    if (needed > this.#partial.length) {
      // Room for the cap, its \r and one more byte at most: a line never needs more.
      const size = Math.min(Math.max(needed, 2 * this.#partial.length, 256), this.maxLine + 2);
      const grown = new Uint8Array(Math.max(size, needed));
      grown.set(this.#partial.subarray(0, this.#partialBytes));
      this.#partial = grown;
    }
    this.#partial.set(bytes, this.#partialBytes);
    this.#partialBytes = needed;
  }
}

const EMPTY = new Uint8Array(0);

/**
 * Reads a stream of byte chunks as lines, with the cap; a last line without a newline is
 * yielded too. For tools and tests; the server drives a {@link LineFramer} directly from its
 * socket.
 *
 * @example
 * ```ts
 * import { readLines } from "./framing.ts";
 * const e = new TextEncoder();
 * const lines: string[] = [];
 * for await (const line of readLines(ReadableStream.from([e.encode("a\nb"), e.encode("c\nd")]), 10)) {
 *   lines.push(new TextDecoder().decode(line));
 * }
 * if (lines.join(",") !== "a,bc,d") throw new Error();
 * ```
 */
export async function* readLines(
  stream: ReadableStream<Uint8Array>,
  maxLine: number,
): AsyncGenerator<Uint8Array> {
  const framer = new LineFramer(maxLine);
  for await (const chunk of stream) yield* framer.push(chunk);
  const last = framer.finish();
  if (last !== null) yield last;
}

/**
 * Joins byte arrays into one new array (`length`, when the caller knows it, saves a pass).
 *
 * @example
 * ```ts
 * import { concatBytes } from "./framing.ts";
 * const joined = concatBytes([new Uint8Array([1, 2]), new Uint8Array([3])]);
 * if (joined.join() !== "1,2,3") throw new Error();
 * ```
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  length = parts.reduce((sum, part) => sum + part.length, 0),
): Uint8Array {
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
