/**
 * addressbook client: config -> connect -> one subcommand, or the interactive menu.
 * Run it with `deno task client`; `--help` lists the commands, options and exit codes.
 *
 * @module
 */

import { clientHelp, parseClientCommand, UsageError } from "./lib/client/config.ts";
import { connectOptions, connectOrReport, ExitCode, runCommand } from "./lib/client/commands.ts";
import { Prompter, writeStderr, writeStdout } from "./lib/client/line_input.ts";
import { runMenu } from "./lib/client/menu.ts";
import { RpcClient } from "./lib/client/rpc_client.ts";
import { readAll } from "./lib/client/import.ts";
import { runTransfer } from "./lib/client/transfer.ts";
import { VERSION } from "./lib/model/version.ts";
import { readEnv } from "./lib/sandbox/permissions.ts";
import { runWatch } from "./lib/client/watch.ts";

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
  const prompter = Prompter.stdio();
  Deno.addSignalListener("SIGINT", () => {
    prompter.write("\nBye.\n");
    Deno.exit(ExitCode.OK);
  });
  const { rows, columns } = screen();
  try {
    return await runMenu({
      prompter,
      connect: () => RpcClient.connect(options),
      pageSize: rows ? rows - 6 : undefined,
      columns,
    }, client);
  } finally {
    await prompter.input.close();
  }
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    if (error instanceof Deno.errors.BrokenPipe) Deno.exit(0); // output closed: `| head`
    throw error;
  }
}
