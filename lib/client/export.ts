/**
 * The client's `export`: every contact to standard output as JSON Lines, vCard or CSV,
 * paging through the server's `export` (a lost connection reconnects and goes on after the
 * last contact written), with progress on standard error for large stores.
 *
 * @module
 */

import { formatJsonLine } from "../formats/backup.ts";
import type { ClientCommand, ExportFormat } from "./config.ts";
import { connectOptions, connectOrReport, ExitCode, reportError } from "./commands.ts";
import type { Contact } from "../model/contact.ts";
import type { Page } from "../protocol/api.ts";
import { formatCsv, formatCsvRows, PLAIN_COLUMNS } from "../formats/csv.ts";
import { plural } from "../model/text.ts";
import { ConnectionError, RpcClient } from "./rpc_client.ts";
import { FORMAT_NAMES, Progress, type TransferIO } from "./transfer_io.ts";
import { formatVCards, type VCardVersion } from "../formats/vcard.ts";

/** An export that loses its connection reconnects and goes on this many times. */
const MAX_RECONNECTS = 3;

/**
 * Runs `export`: writes every contact to `io.write` in the command's format and returns the
 * exit code. Never throws for a server's refusal or an unreachable server.
 */
export async function runExport(
  command: Extract<ClientCommand, { kind: "export" }>,
  io: TransferIO,
): Promise<number> {
  const options = connectOptions(command.config);
  const connected = await connectOrReport(options, false, io);
  if (typeof connected === "number") return connected;
  let client = connected;
  let exported = 0;
  const format = formatPage(command.format, command.vcardVersion);
  try {
    const { count } = await client.call<{ count: number }>("count");
    const progress = new Progress(io, "Exported", count);
    let cursor: string | null = null;
    let reconnects = 0;
    do {
      let page: Page;
      try {
        page = await client.call<Page>("export", { cursor, limit: 100 });
      } catch (error) {
        // Cursors name the last id exported, so a new connection goes on exactly there.
        if (!(error instanceof ConnectionError) || reconnects >= MAX_RECONNECTS) throw error;
        reconnects++;
        await client.dispose();
        client = await RpcClient.connect(options);
        io.err(
          `addressbook: ${error.message}; reconnected, going on after ${
            plural(exported, "contact")
          }`,
        );
        continue;
      }
      io.write(format(page.contacts, cursor === null));
      exported += page.contacts.length;
      progress.update(exported);
      cursor = page.cursor;
    } while (cursor !== null);
    progress.finish();
  } catch (error) {
    const code = reportError(error, false, io);
    io.err(`addressbook: The export is incomplete: ${plural(exported, "contact")} written`);
    return code;
  } finally {
    await client.dispose();
  }
  const version = command.format === "vcard" ? ` ${command.vcardVersion}` : "";
  io.err(`Exported ${plural(exported, "contact")} (${FORMAT_NAMES[command.format]}${version})`);
  return ExitCode.OK;
}

const CSV_HEADER = formatCsvRows([PLAIN_COLUMNS]);

/** Formats one page of an export; `first` is the first page (CSV writes its header once). */
function formatPage(
  format: ExportFormat,
  version: VCardVersion,
): (contacts: Contact[], first: boolean) => string {
  switch (format) {
    case "json":
      return (contacts) => contacts.map((contact) => formatJsonLine(contact)).join("");
    case "vcard":
      return (contacts) => formatVCards(contacts, version);
    case "csv":
      return (contacts, first) => {
        const text = formatCsv(contacts);
        return first ? text : text.slice(CSV_HEADER.length);
      };
  }
}
