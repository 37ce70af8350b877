/**
 * addressbook server: config -> start (store, listener) -> serve until SIGINT/SIGTERM.
 * Run it with `deno task serve`; `--help` lists the options. The work is in
 * `lib/server/startup.ts`; this file maps what goes wrong to one sentence and an exit code.
 *
 * @module
 */

import { VERSION } from "./lib/model/version.ts";
import { isPermissionError, permissionMessage, readEnv } from "./lib/sandbox/permissions.ts";
import { ConfigError, parseServerCommand, serverHelp } from "./lib/server/config.ts";
import { createLogger } from "./lib/server/log.ts";
import { startServer, StartupError, stopOnSignals } from "./lib/server/startup.ts";

/** Prints a one-sentence error (no stack trace) and exits. */
function fail(message: string, code = 1): never {
  console.error(`addressbook: ${message}`);
  Deno.exit(code);
}

async function main(args: string[]): Promise<void> {
  let command;
  try {
    command = parseServerCommand(args, readEnv);
  } catch (error) {
    if (error instanceof ConfigError) {
      fail(`${error.message}\nRun with --help to see the options.`, 2);
    }
    throw error;
  }
  if (command.kind === "help") return console.log(serverHelp());
  if (command.kind === "version") return console.log(`addressbook server ${VERSION}`);
  const log = createLogger(command.config.logLevel);
  stopOnSignals(await startServer(command.config, log), log);
}

if (import.meta.main) {
  // A permission refused anywhere is one sentence naming the flag, never a stack trace.
  const refuse = (error: unknown, event: Event) => {
    if (!isPermissionError(error)) return;
    event.preventDefault();
    fail(permissionMessage(error));
  };
  globalThis.addEventListener("unhandledrejection", (event) => refuse(event.reason, event));
  globalThis.addEventListener("error", (event) => refuse(event.error, event));
  try {
    await main(Deno.args);
  } catch (error) {
    if (error instanceof StartupError) fail(error.message);
    if (isPermissionError(error)) fail(permissionMessage(error));
    throw error;
  }
}
