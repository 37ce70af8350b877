/**
 * What the client's `export` and `import` share: where they read and write
 * ({@link TransferIO}), the progress line of a large job, and the formats' names for people.
 *
 * @module
 */

import type { ExportFormat } from "./config.ts";
import type { Output } from "./commands.ts";

/** Inputs and exports larger than this show progress on standard error. */
export const PROGRESS_FROM = 1000;
/** Without a terminal, a progress line is printed every this many contacts. */
export const PROGRESS_EVERY = 1000;

/** Where `export` and `import` read and write, beyond the lines of {@link Output}. */
export interface TransferIO extends Output {
  /** Writes text to standard output as it is (export data). */
  write(text: string): void;
  /** Writes text to standard error as it is (a progress line rewritten in place). */
  progress(text: string): void;
  /** Whether standard error is a terminal. */
  errIsTerminal: boolean;
  /** Whether standard input is a terminal (import will not wait for typing). */
  inputIsTerminal: boolean;
  /** Reads all of standard input. */
  readInput(): Promise<Uint8Array>;
}

/**
 * A progress line on standard error for large jobs: rewritten in place on a terminal,
 * otherwise one line every {@link PROGRESS_EVERY} contacts. Silent below
 * {@link PROGRESS_FROM}.
 */
export class Progress {
  readonly #io: TransferIO;
  readonly #verb: string;
  readonly #total: number;
  readonly #on: boolean;
  #printed = 0;
  #shown = false;
  #lastDraw = 0;

  /** `verb` starts the line (`Exported`); `total` is the number of contacts the job has. */
  constructor(io: TransferIO, verb: string, total: number) {
    this.#io = io;
    this.#verb = verb;
    this.#total = total;
    this.#on = total > PROGRESS_FROM;
  }

  /** Shows that `done` of the contacts are done (a terminal's line at most every 100 ms). */
  update(done: number): void {
    if (!this.#on) return;
    if (this.#io.errIsTerminal) {
      const now = performance.now();
      if (now - this.#lastDraw < 100 && done < this.#total) return;
      this.#lastDraw = now;
      this.#io.progress(`\r${this.#verb} ${done} of ${this.#total} contacts...`);
      this.#shown = true;
      return;
    }
    while (done >= this.#printed + PROGRESS_EVERY) {
      this.#printed += PROGRESS_EVERY;
      this.#io.err(`${this.#verb} ${this.#printed} of ${this.#total} contacts...`);
    }
  }

  /** Clears the line on a terminal. */
  finish(): void {
    if (this.#shown) this.#io.progress("\r\x1b[K");
    this.#shown = false;
  }
}

/** Each format's name for people (`vCard`), in the closing line of `export` and `import`. */
export const FORMAT_NAMES: Record<ExportFormat, string> = {
  json: "JSON",
  vcard: "vCard",
  csv: "CSV",
};
