/**
 * A log line that a flood would repeat (a connection refused, ten thousand times a second):
 * the first of a burst is written at once, the rest are counted and summed up in one line at
 * the end of each window, so the log grows with the length of the flood, not its rate.
 *
 * @module
 */

/** How long a window of counted lines lasts (milliseconds). */
export const LOG_WINDOW_MS = 10_000;

/**
 * Writes the first line of a burst and one summary per window after it.
 *
 * @example
 * ```ts
 * import { LogWindow } from "./log_window.ts";
 * const lines: string[] = [];
 * const window = new LogWindow((line) => lines.push(line), "connections refused");
 * for (let i = 0; i < 1000; i++) window.note(`Connection ${i} refused: busy`);
 * window.flush();
 * window.close();
 * if (lines.length !== 2 || !lines[1]!.startsWith("999 more connections refused")) throw new Error();
 * ```
 */
export class LogWindow {
  readonly #write: (line: string) => void;
  readonly #what: string;
  #counted = 0;
  #last = "";
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** `what` names the lines in the summary ("connections refused"). */
  constructor(write: (line: string) => void, what: string) {
    this.#write = write;
    this.#what = what;
  }

  /** Writes `line` if no window is open (and opens one), or counts it. */
  note(line: string): void {
    if (this.#timer === undefined) {
      this.#write(line);
      this.#open();
      return;
    }
    this.#counted++;
    this.#last = line;
  }

  /** Writes the summary of what was counted, if anything. */
  flush(): void {
    if (this.#counted === 0) return;
    this.#write(
      `${this.#counted} more ${this.#what} in the last ${LOG_WINDOW_MS / 1000} s (the last: ` +
        `${this.#last})`,
    );
    this.#counted = 0;
  }

  /** Writes what was counted and stops the window's timer. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flush();
  }

  #open(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // A window that counted something is followed by another; a quiet one ends.
      if (this.#counted > 0) {
        this.flush();
        this.#open();
      }
    }, LOG_WINDOW_MS);
    Deno.unrefTimer(this.#timer);
  }
}
