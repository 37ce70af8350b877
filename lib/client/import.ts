/**
 * The client's `import`: contacts from standard input (JSON Lines, vCard or CSV), matched
 * against the stored ones (one pass through `export`), sent in JSON-RPC batches that fit the
 * server's line cap, a few lines in flight at once, with a summary at the end.
 *
 * @module
 */

import { type BackupContact, parseJsonLines } from "../formats/backup.ts";
import type { ClientCommand, ClientConfig, ExportFormat, ImportFormatOption } from "./config.ts";
import { connectOptions, connectOrReport, ExitCode, type Output, reportError } from "./commands.ts";
import type { Contact, ContactFields } from "../model/contact.ts";
import type { Page } from "../protocol/api.ts";
import { userFields } from "./contact_edit.ts";
import { parseCsv } from "../formats/csv.ts";
import { plural } from "../model/text.ts";
import { concatBytes } from "../protocol/framing.ts";
import { type DuplicateOf, type ImportStep, planImport, sameFields } from "./import_plan.ts";
import { decodeText, detectFormat, type ImportIssue } from "../formats/interop.ts";
import { type BatchCall, batchLineBytes, type BatchOutcome, RpcClient } from "./rpc_client.ts";
import { FORMAT_NAMES, Progress, type TransferIO } from "./transfer_io.ts";
import { parseVCards } from "../formats/vcard.ts";

/** The server's default line cap (`--max-line`): a batch line is kept within it. */
export const MAX_LINE_BYTES = 64 * 1024;
/** At most this many requests go in one batch, so that each reply comes quickly. */
export const MAX_BATCH_CALLS = 100;
/**
 * A batch may take the client's --timeout plus this many milliseconds per request, counting
 * the requests of the batches sent before it that are still unanswered.
 */
export const BATCH_MS_PER_CALL = 100;
/**
 * Batch lines on their way at once: the next ones are sent while the server runs one, so it
 * always has work, and a slow server holds at most this many lines (its replies still come
 * within the timeout above).
 */
export const IMPORT_WINDOW = 4;
/**
 * Connections an import writes on at once (the first one and more, when there are enough
 * writes for them): the server runs one line of a connection at a time, so one connection
 * leaves it waiting on each line's commit; several keep its group commit fed.
 */
export const IMPORT_CONNECTIONS = 4;
/** The most standard input `import` reads. */
export const MAX_INPUT_BYTES = 256 * 1024 * 1024;
/** An update that meets CONFLICT is retried with the current version this many times. */
const MAX_ATTEMPTS = 5;
/** At most this many entries of each list are printed for people (`--json` has them all). */
const SHOWN = 20;

/**
 * Reads a stream to its end, refusing more than `max` bytes with a `RangeError`.
 *
 * @example
 * ```ts
 * import { readAll } from "./import.ts";
 * const bytes = await readAll(ReadableStream.from([new Uint8Array([1, 2]), new Uint8Array([3])]));
 * if (bytes.join() !== "1,2,3") throw new Error();
 * ```
 */
export async function readAll(
  stream: ReadableStream<Uint8Array>,
  max = MAX_INPUT_BYTES,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > max) {
      throw new RangeError(`Standard input is larger than ${max} bytes; split it into parts`);
    }
    chunks.push(chunk);
  }
  return concatBytes(chunks, size);
}

/**
 * Groups calls, in order, into batches whose line stays within `maxBytes` (whatever ids the
 * client gives them) and which hold at most `maxCalls` calls. A call too large for any batch
 * is a `RangeError` (a contact is at most 32 KiB, so it always fits a 64 KiB line).
 *
 * @example
 * ```ts
 * import { packBatches } from "./import.ts";
 * import { batchLineBytes } from "./rpc_client.ts";
 * const calls = Array.from({ length: 50 }, (_, i) => ({ method: "add", params: { contact: { name: "x".repeat(100 + i) } } }));
 * const batches = packBatches(calls, 2000, 200);
 * if (batches.flat().length !== 50 || batches.some((b) => batchLineBytes(b) > 2000)) throw new Error();
 * ```
 */
export function packBatches<T extends BatchCall>(
  calls: readonly T[],
  maxBytes = MAX_LINE_BYTES,
  maxCalls = MAX_BATCH_CALLS,
): T[][] {
  const batches: T[][] = [];
  for (let at = 0; at < calls.length;) {
    const n = fittingCalls(calls, at, maxBytes, maxCalls, callBytes);
    if (n === 0) {
      const call = calls[at]!;
      throw new RangeError(
        `A ${JSON.stringify(call.method)} request is ${batchLineBytes([call])} bytes, more ` +
          `than a line may hold (${maxBytes})`,
      );
    }
    batches.push(calls.slice(at, at + n));
    at += n;
  }
  return batches;
}

/**
 * How many items from `start` on fit one batch, each costing `cost(item)` bytes of the line
 * (a call's JSON and its comma): at least one, or 0 when the first alone is too large.
 */
function fittingCalls<T>(
  items: readonly T[],
  start: number,
  maxBytes: number,
  maxCalls: number,
  cost: (item: T) => number,
): number {
  let bytes = 2; // "[", "]" and the line end, less the last comma
  let n = 0;
  while (start + n < items.length && n < maxCalls) {
    const itemBytes = cost(items[start + n]!);
    if (bytes + itemBytes > maxBytes) break;
    bytes += itemBytes;
    n++;
  }
  return n;
}

/** What one call adds to a batch line: its JSON (the largest id) and a comma. */
function callBytes(call: BatchCall): number {
  return batchLineBytes([call]) - 2;
}

/**
 * The `extra` keys each format carries; an update from vCard or CSV keeps the stored
 * contact's other keys (a JSON Lines backup carries all of them).
 */
const CARRIED_EXTRA: Record<ExportFormat, readonly string[] | undefined> = {
  json: undefined,
  vcard: ["vcard", "vcardN", "vcardOrg", "address"],
  csv: ["address"],
};

/** A likely duplicate added by an import, for the summary. */
export interface DuplicateReport {
  /** The record's 0-based position in the input. */
  index: number;
  name: string;
  /** The id the added contact got. */
  id: string;
  /** What it likely duplicates: stored contacts, or contacts this import added before it. */
  of: Array<{ id: string; name: string; reason: string }>;
}

/** What `import` did; `import --json` prints it. */
export interface ImportSummary {
  format: ExportFormat;
  /** Records read from the input (contacts and records skipped). */
  records: number;
  added: number;
  updated: number;
  /** Records that matched a stored contact with the same fields: nothing was written. */
  unchanged: number;
  /** Records not imported, each with the reason (the file's problems and the server's). */
  skipped: ImportIssue[];
  /** What was left out of records that were imported, and what else was noticed. */
  warnings: ImportIssue[];
  /** Added contacts that look like a contact already there: reported, not merged. */
  duplicates: DuplicateReport[];
  /** Batches sent, and the longest batch line in bytes (within the server's line cap). */
  batches: number;
  largestBatchBytes: number;
}

/** A batch line sent and not yet answered: its writes, its size, its outcomes to come. */
interface InFlight {
  writes: Write[];
  bytes: number;
  reply: Promise<BatchOutcome<Contact>[]>;
}

/** One write to send, and what it is for. */
interface Write {
  step: number;
  record: number;
  kind: "add" | "update";
  fields: ContactFields;
  id?: string;
  version?: string;
  attempts: number;
  /** What its call adds to a batch line, once measured ({@link writeBytes}). */
  bytes?: number;
}

/** The bytes a write's call adds to a batch line, measured once. */
function writeBytes(w: Write): number {
  return w.bytes ??= callBytes(toCall(w));
}
/**
 * Runs `import`: reads the contacts from `io.readInput`, adds and updates them on the server
 * and prints the summary; returns the exit code. Never throws for a server's refusal or an
 * unreachable server.
 */
export async function runImport(
  command: Extract<ClientCommand, { kind: "import" }>,
  io: TransferIO,
): Promise<number> {
  const { json } = command.config;
  if (io.inputIsTerminal) {
    io.err(
      "addressbook: import reads the contacts from standard input; pipe a file into it: " +
        "deno task client import - < contacts.vcf",
    );
    return ExitCode.USAGE;
  }
  let bytes: Uint8Array;
  try {
    bytes = await io.readInput();
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    io.err(`addressbook: ${error.message}`);
    return ExitCode.USAGE;
  }
  const { format, contacts, skipped, warnings } = parseInput(bytes, command.format);
  const summary: ImportSummary = {
    format,
    records: contacts.length + skipped.length,
    added: 0,
    updated: 0,
    unchanged: 0,
    skipped: [...skipped],
    warnings: [...warnings],
    duplicates: [],
    batches: 0,
    largestBatchBytes: 0,
  };

  const client = await connectOrReport(connectOptions(command.config), json, io);
  if (typeof client === "number") return client;
  let code: number = ExitCode.OK;
  let extra: RpcClient[] = [];
  try {
    const stored = await readStored(client);
    const plan = planImport(contacts, stored, { carries: CARRIED_EXTRA[format] });
    summary.warnings.push(...plan.warnings);
    const writes = plan.steps.filter((step) => step.kind !== "unchanged").length;
    extra = await openMore(
      command.config,
      Math.min(IMPORT_CONNECTIONS, Math.ceil(writes / MAX_BATCH_CALLS)) - 1,
    );
    code = await write([client, ...extra], plan.steps, summary, io, command.config.timeoutMs);
  } catch (error) {
    code = reportError(error, json && summary.batches === 0, io);
    if (summary.batches > 0) {
      io.err(
        "addressbook: The import stopped part way; running it again is safe: what was " +
          "imported is matched by id or uid and left as it is",
      );
      printSummary(summary, json, io);
    }
    return code;
  } finally {
    await Promise.all([client, ...extra].map((c) => c.dispose()));
  }
  printSummary(summary, json, io);
  return code;
}

/**
 * Up to `count` more connections to the server, opened together; one that cannot be opened
 * (the server's connection cap, say) is left out: the import goes on with those it has.
 */
async function openMore(config: ClientConfig, count: number): Promise<RpcClient[]> {
  const opened = await Promise.allSettled(
    Array.from({ length: Math.max(0, count) }, () => RpcClient.connect(connectOptions(config))),
  );
  return opened.flatMap((end) => end.status === "fulfilled" ? [end.value] : []);
}

/** Parses the input in the format asked for, or the one its start shows. */
function parseInput(
  bytes: Uint8Array,
  asked: ImportFormatOption,
): {
  format: ExportFormat;
  contacts: Array<{ record: number; contact: BackupContact }>;
  skipped: ImportIssue[];
  warnings: ImportIssue[];
} {
  const { text, fallback } = decodeText(bytes);
  const format = asked === "auto" ? detectFormat(text) : asked;
  if (text.trim() === "") return { format, contacts: [], skipped: [], warnings: [] };
  const result = format === "vcard"
    ? parseVCards(bytes)
    : format === "csv"
    ? parseCsv(bytes)
    : parseJsonLines(text);
  if (format === "json" && fallback) {
    result.warnings.unshift({ reason: "The input is not UTF-8: it was read as Windows-1252" });
  }
  // The k-th contact is the k-th record the parser did not skip.
  const skippedAt = new Set(result.skipped.map((issue) => issue.index));
  const contacts: Array<{ record: number; contact: BackupContact }> = [];
  let record = 0;
  for (const contact of result.contacts) {
    while (skippedAt.has(record)) record++;
    contacts.push({ record: record++, contact });
  }
  return { format, contacts, skipped: result.skipped, warnings: result.warnings };
}

/** Every stored contact, paging through `export`. */
async function readStored(client: RpcClient): Promise<Contact[]> {
  const stored: Contact[] = [];
  let cursor: string | null = null;
  do {
    const page: Page = await client.call<Page>("export", { cursor, limit: 100 });
    stored.push(...page.contacts);
    cursor = page.cursor;
  } while (cursor !== null);
  return stored;
}

/**
 * Sends the plan's writes in batches over the connections given, each with up to
 * {@link IMPORT_WINDOW} lines on its way at once; fills in the summary. Returns the exit code.
 * Batches hold independent contacts, so which connection carries one does not matter; a
 * retry (after a conflict) goes back to the shared queue. When one connection fails, the
 * others send nothing more, their lines already sent are answered and counted, and the
 * first failure is thrown.
 */
async function write(
  clients: readonly RpcClient[],
  steps: ImportStep[],
  summary: ImportSummary,
  io: TransferIO,
  timeoutMs: number,
): Promise<number> {
  let code: number = ExitCode.OK;
  const addedIds = new Map<number, string>(); // record -> id it got
  const queue: Write[] = [];
  steps.forEach((step, at) => {
    if (step.kind === "unchanged") summary.unchanged++;
    else if (step.kind === "add") {
      queue.push({
        step: at,
        record: step.record,
        kind: "add",
        fields: step.fields,
        ...(step.id !== undefined ? { id: step.id } : {}),
        attempts: 0,
      });
    } else {
      queue.push({
        step: at,
        record: step.record,
        kind: "update",
        fields: step.fields,
        id: step.target.id,
        version: step.target.version,
        attempts: 0,
      });
    }
  });
  const progress = new Progress(io, "Imported", queue.length);
  let done = 0;
  const refuse = (w: Write, reason: string) => {
    summary.skipped.push({ index: w.record, name: w.fields.name, reason });
  };
  // Requests sent on any connection and not answered yet: the server shares its time
  // between the connections, so each of them adds to a batch's wait.
  let callsInFlight = 0;
  let failed = false;

  /** What one batch's outcomes did: counted, refused, or queued again. */
  const settle = (batch: InFlight, outcomes: BatchOutcome<Contact>[]) => {
    summary.batches++;
    summary.largestBatchBytes = Math.max(summary.largestBatchBytes, batch.bytes);
    batch.writes.forEach((w, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) {
        done++;
        if (w.kind === "add") {
          summary.added++;
          addedIds.set(w.record, outcome.result.id);
        } else {
          summary.updated++;
        }
        return;
      }
      const error = outcome.error;
      const current = error.data.current as Contact | undefined;
      if (error.reason === "CONFLICT" && current) {
        // Changed by someone else since it was read (or, for an add, its id is taken now):
        // this import's fields go over the current version.
        if (sameFields(w.fields, userFields(current))) {
          done++;
          summary.unchanged++;
        } else if (w.attempts + 1 >= MAX_ATTEMPTS) {
          done++;
          refuse(w, `Changed by someone else ${MAX_ATTEMPTS} times during the import: not updated`);
        } else {
          queue.push({
            ...w,
            kind: "update",
            id: current.id,
            version: current.version,
            attempts: w.attempts + 1,
            bytes: undefined,
          });
        }
        return;
      }
      if (error.reason === "NOT_FOUND" && w.kind === "update") {
        summary.warnings.push({
          index: w.record,
          name: w.fields.name,
          reason: `Removed by someone else during the import: added again`,
        });
        queue.push({ ...w, kind: "add", attempts: w.attempts + 1, bytes: undefined });
        return;
      }
      done++;
      code = ExitCode.REFUSED;
      refuse(w, `The server refused it: ${error.message} (${error.reason})`);
    });
    progress.update(done);
  };

  /**
   * One connection's part: up to IMPORT_WINDOW batch lines on their way at once; its server
   * answers them in order, so the oldest one's reply is the next to come. It ends when the
   * queue is empty and its lines are answered (a retry another connection queues later is
   * sent by that one).
   */
  const send = async (client: RpcClient) => {
    const maxBytes = client.hello.maxLine ?? MAX_LINE_BYTES;
    const window: InFlight[] = [];
    while ((queue.length > 0 && !failed) || window.length > 0) {
      while (window.length < IMPORT_WINDOW && queue.length > 0 && !failed) {
        const n = fittingCalls(queue, 0, maxBytes, MAX_BATCH_CALLS, writeBytes);
        if (n === 0) {
          // Larger than this server reads on one line (it was started with a small --max-line).
          done++;
          code = ExitCode.REFUSED;
          const w = queue.shift()!;
          refuse(
            w,
            `Too large for the server's request line cap (${writeBytes(w) + 2} bytes, ` +
              `the server reads at most ${maxBytes})`,
          );
          continue;
        }
        const writes = queue.splice(0, n);
        const sent = writes.map(toCall);
        callsInFlight += n;
        // The server runs the lines before this one first: each request ahead of its reply,
        // its own included, adds BATCH_MS_PER_CALL to the wait.
        const reply = client.batch<Contact>(sent, {
          timeoutMs: timeoutMs + callsInFlight * BATCH_MS_PER_CALL,
        });
        reply.catch(() => {}); // awaited below, in order: a lost connection fails them all
        const bytes = writes.reduce((sum, w) => sum + writeBytes(w), 2);
        window.push({ writes, bytes, reply });
      }
      const batch = window.shift();
      if (batch === undefined) continue; // every call left was too large and refused
      let outcomes: BatchOutcome<Contact>[];
      try {
        outcomes = await batch.reply;
      } catch (error) {
        failed = true;
        for (const rest of window) callsInFlight -= rest.writes.length;
        callsInFlight -= batch.writes.length;
        throw error;
      }
      callsInFlight -= batch.writes.length;
      settle(batch, outcomes);
    }
  };

  const ends = await Promise.allSettled(clients.map(send));
  const failure = ends.find((end) => end.status === "rejected");
  if (failure !== undefined) throw failure.reason;
  progress.finish();
  steps.forEach((step) => {
    if (step.kind !== "add" || step.duplicates.length === 0) return;
    const id = addedIds.get(step.record);
    if (id === undefined) return;
    const of = step.duplicates.flatMap((d: DuplicateOf) => {
      const otherId = d.id ?? (d.record !== undefined ? addedIds.get(d.record) : undefined);
      return otherId === undefined ? [] : [{ id: otherId, name: d.name, reason: d.reason }];
    });
    if (of.length > 0) {
      summary.duplicates.push({ index: step.record, name: step.fields.name, id, of });
    }
  });
  return code;
}

function toCall(w: Write): BatchCall {
  if (w.kind === "add") {
    return {
      method: "add",
      params: w.id !== undefined ? { contact: w.fields, id: w.id } : { contact: w.fields },
    };
  }
  return { method: "update", params: { id: w.id, version: w.version, contact: w.fields } };
}

function printSummary(summary: ImportSummary, json: boolean, io: Output): void {
  if (json) {
    io.out(JSON.stringify(summary));
    return;
  }
  io.out(
    `Read ${plural(summary.records, "record")} (${FORMAT_NAMES[summary.format]}): ` +
      `${summary.added} added, ${summary.updated} updated, ${summary.unchanged} unchanged, ` +
      `${summary.skipped.length} skipped.`,
  );
  const section = <T>(title: string, items: T[], line: (item: T) => string) => {
    if (items.length === 0) return;
    io.out(title);
    for (const item of items.slice(0, SHOWN)) io.out(`  ${line(item)}`);
    if (items.length > SHOWN) {
      io.out(`  ... and ${items.length - SHOWN} more (--json lists them all)`);
    }
  };
  section("Skipped:", summary.skipped, issueText);
  section("Warnings:", summary.warnings, issueText);
  section(
    "Likely duplicates (added all the same; merge or remove them by hand):",
    summary.duplicates,
    (d) =>
      `${d.name} (record ${d.index + 1}, id ${d.id}) and ` +
      d.of.map((o) => `${o.name} (id ${o.id}): ${o.reason}`).join("; "),
  );
}

/** An issue for people: `record 3, line 40, "Ann": reason`. */
function issueText(issue: ImportIssue): string {
  const where = [
    issue.index !== undefined ? `record ${issue.index + 1}` : "",
    issue.line !== undefined ? `line ${issue.line}` : "",
    issue.name !== undefined ? JSON.stringify(issue.name) : "",
  ].filter(Boolean).join(", ");
  return where ? `${where}: ${issue.reason}` : issue.reason;
}
