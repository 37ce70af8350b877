/**
 * A small levelled logger that writes one line per event to stderr.
 *
 * @module
 */

/** The log levels, from the quietest to the most verbose. */
export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Writes log lines at or above a level. */
export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  /** Writes at "info" whatever the level: for the startup and shutdown lines. */
  always(message: string): void;
}

/**
 * Makes a logger that writes `<ISO time> <level> <message>` lines to `write` (stderr by default).
 *
 * @example Collect lines at "info" and above
 * ```ts
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * const log = createLogger("info", (line) => lines.push(line));
 * log.debug("hidden");
 * log.info("Connection 1 from 127.0.0.1:5000");
 * if (lines.length !== 1 || !lines[0]!.includes("info Connection 1")) throw new Error();
 * ```
 */
export function createLogger(
  level: LogLevel,
  write: (line: string) => void = writeStderr,
): Logger {
  const rank = LOG_LEVELS.indexOf(level);
  const line = (l: LogLevel, message: string) =>
    write(`${new Date().toISOString()} ${l} ${message}`);
  // Whether a level is written is decided once, here, not on every call.
  const at = (l: LogLevel) =>
    LOG_LEVELS.indexOf(l) <= rank ? (message: string) => line(l, message) : () => {};
  return {
    error: at("error"),
    warn: at("warn"),
    info: at("info"),
    debug: at("debug"),
    always: (message) => line("info", message),
  };
}

const encoder = new TextEncoder();

function writeStderr(line: string): void {
  try {
    let bytes = encoder.encode(line + "\n");
    while (bytes.length > 0) bytes = bytes.subarray(Deno.stderr.writeSync(bytes));
  } catch {
    // stderr is gone (closed pipe): logging must never take the server down.
  }
}
