/**
 * The client's `export` and `import`: every contact to standard output as JSON Lines, vCard
 * or CSV (`export.ts`), and contacts from standard input, matched against the stored ones and
 * sent in batches within the server's line cap (`import.ts`). Standard input and output keep
 * the client free of file permissions.
 *
 * @module
 */

import type { ClientCommand } from "./config.ts";
import { runExport } from "./export.ts";
import { runImport } from "./import.ts";
import type { TransferIO } from "./transfer_io.ts";

export type { TransferIO };

/** The `export` and `import` commands. */
export type TransferCommand = Extract<ClientCommand, { kind: "export" | "import" }>;

/**
 * Runs `export` or `import` and returns the exit code. Never throws for a server's refusal
 * or an unreachable server.
 *
 * @example Nothing listens: exit code 3 and one sentence
 * ```ts
 * import { runTransfer } from "./transfer.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close();
 * const err: string[] = [];
 * const code = await runTransfer(
 *   { kind: "export", format: "json", vcardVersion: "3.0",
 *     config: { host: "127.0.0.1", port, timeoutMs: 5000, json: false } },
 *   { out: () => {}, err: (line) => err.push(line), write: () => {}, progress: () => {},
 *     errIsTerminal: false, inputIsTerminal: false, readInput: () => Promise.resolve(new Uint8Array()) },
 * );
 * if (code !== 3 || !err[0]!.includes("Cannot reach")) throw new Error(err[0]);
 * ```
 */
export async function runTransfer(command: TransferCommand, io: TransferIO): Promise<number> {
  return command.kind === "export" ? await runExport(command, io) : await runImport(command, io);
}
