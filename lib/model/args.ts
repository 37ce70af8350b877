/**
 * Command-line parsing errors in the project's own words. `node:util` `parseArgs` throws
 * messages such as `Unknown option '--frob'. To specify a positional argument starting with a
 * '-', place it at the end of the command after '--', as in '-- "--frob"`; both entry points
 * turn them into one sentence with the offending value quoted.
 *
 * @module
 */

/**
 * Rewrites what `parseArgs` threw as one sentence (sentence case, the option quoted, no
 * trailing period). Anything else is passed through as its message.
 *
 * @example An unknown option
 * ```ts
 * import { parseArgs } from "node:util";
 * import { argsErrorMessage } from "./args.ts";
 * try {
 *   parseArgs({ args: ["--frob"], options: {}, strict: true, allowPositionals: true });
 * } catch (error) {
 *   if (argsErrorMessage(error) !== 'Unknown option "--frob"') throw error;
 * }
 * ```
 */
export function argsErrorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") {
    const argument = /'([^']*)'/.exec(message)?.[1] ?? "";
    return `Unexpected argument ${JSON.stringify(argument)}: only options are taken`;
  }
  const option = /'(-[^' <]*)/.exec(message)?.[1];
  if (option === undefined) return message;
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `Unknown option ${JSON.stringify(option)}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (/argument missing/.test(message)) return `Option ${JSON.stringify(option)} needs a value`;
    if (/does not take an argument/.test(message)) {
      return `Option ${JSON.stringify(option)} takes no value`;
    }
    if (/ambiguous/.test(message)) {
      return `Option ${JSON.stringify(option)} needs a value, and the next argument is an ` +
        `option; to give a value that starts with "-", write ${option}=VALUE`;
    }
  }
  return message;
}
