/**
 * addressbook client: config -> connect -> one subcommand, or the interactive menu.
 * Run it with `deno task client`; `--help` lists the commands, options and exit codes.
 *
 * @module
 */

import {
  type ClientCommand,
  clientHelp,
  parseClientCommand,
  UsageError,
} from "./lib/client/config.ts";
import {
  caFileProblem,
  connectOptions,
  connectOrReport,
  ExitCode,
  type Output,
  runCommand,
} from "./lib/client/commands.ts";
import { Prompter, writeStderr, writeStdout } from "./lib/client/line_input.ts";
import { runMenu } from "./lib/client/menu.ts";
import { RpcClient } from "./lib/client/rpc_client.ts";
import { readAll } from "./lib/client/import.ts";
import { runTransfer } from "./lib/client/transfer.ts";
import { VERSION } from "./lib/model/version.ts";
import { readEnv } from "./lib/sandbox/permissions.ts";
import { runWatch } from "./lib/client/watch.ts";
import { askWhichServer, locateServer, runServers } from "./lib/client/discover.ts";

const output = {
  out: (line: string) => writeStdout(line + "\n"),
  err: (line: string) => writeStderr(line + "\n"),
};

/** Rows and columns of the terminal, when there is one. */
function screen(): { rows?: number; columns?: number } {
  if (!Deno.stdout.isTerminal()) return {};
  try {
    const { rows, columns } = Deno.consoleSize();
    return { rows: rows || undefined, columns: columns || undefined };
  } catch {
    return {};
  }
}

async function main(args: string[]): Promise<number> {
  let command;
  try {
    command = parseClientCommand(args, readEnv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    output.err(`addressbook: ${error.message}\nRun with --help to see the commands and options.`);
    return ExitCode.USAGE;
  }
  if (command.kind === "help") {
    output.out(clientHelp());
    return ExitCode.OK;
  }
  if (command.kind === "version") {
    output.out(`addressbook client ${VERSION}`);
    return ExitCode.OK;
  }
  const caProblem = await caFileProblem(command.config);
  if (caProblem !== undefined) {
    output.err(`addressbook: ${caProblem}\nRun with --help to see the commands and options.`);
    return ExitCode.USAGE;
  }
  if (command.kind === "servers") {
    const stop = new AbortController();
    if (command.watch) Deno.addSignalListener("SIGINT", () => stop.abort());
    return await runServers(command, output, { signal: stop.signal });
  }
  // No address given: look on the LAN first (lib/client/discover.ts). The menu asks which
  // of several servers to use, so it reads its input from here on.
  const prompter = command.kind === "menu" ? Prompter.stdio() : undefined;
  try {
    const located = await locateServer(
      command.config,
      output,
      prompter ? (servers) => askWhichServer(servers, prompter) : undefined,
    );
    if (typeof located === "number") return located;
    command.config = located.config;
    return await run(command, prompter, {
      ...output,
      ...(located.lanNote ? { lanNote: located.lanNote } : {}),
    });
  } finally {
    await prompter?.input.close();
  }
}

/** Runs a command once the server's address is known. */
async function run(
  command: Exclude<ClientCommand, { kind: "help" | "version" | "servers" }>,
  menuPrompter: Prompter | undefined,
  output: Output,
): Promise<number> {
  if (command.kind === "export" || command.kind === "import") {
    return await runTransfer(command, {
      ...output,
      write: writeStdout,
      progress: writeStderr,
      errIsTerminal: Deno.stderr.isTerminal(),
      inputIsTerminal: Deno.stdin.isTerminal(),
      readInput: () => readAll(Deno.stdin.readable),
    });
  }
  if (command.kind === "watch") {
    Deno.addSignalListener("SIGINT", () => Deno.exit(ExitCode.OK));
    return await runWatch(command, output);
  }
  if (command.kind !== "menu") return await runCommand(command, output);

  const options = connectOptions(command.config);
  const client = await connectOrReport(options, false, output);
  if (typeof client === "number") return client;
  const prompter = menuPrompter!; // made (and closed) by main for the menu
  Deno.addSignalListener("SIGINT", () => {
    prompter.write("\nBye.\n");
    Deno.exit(ExitCode.OK);
  });
  const { rows, columns } = screen();
  return await runMenu({
    prompter,
    connect: () => RpcClient.connect(options),
    pageSize: rows ? rows - 6 : undefined,
    columns,
  }, client);
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) Deno.exit(0); // output closed: `| head`
    throw error;
  }
}
