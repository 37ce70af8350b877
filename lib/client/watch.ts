/**
 * `watch`, the client command: subscribes to the server's changes and prints each as it
 * happens (a line for people, or JSON Lines), until it is stopped. After a lost connection it
 * reconnects, with a growing pause, and resumes with `since` = the last seq it printed, so it
 * neither misses nor repeats a change; if the server was dropped it for falling behind, it
 * watches again from there on the same connection.
 *
 * @module
 */

import type { ClientCommand } from "./config.ts";
import { connectOptions, type Output, reportError } from "./commands.ts";
import { ConnectionError, RpcClient } from "./rpc_client.ts";
import type { ChangedParams } from "../protocol/api.ts";

/** The `watch` command as parsed. */
export type WatchCommand = Extract<ClientCommand, { kind: "watch" }>;

/** Longest pause between two reconnection attempts (milliseconds). */
export const MAX_RECONNECT_DELAY_MS = 10_000;

/**
 * One change as a line for people.
 *
 * @example
 * ```ts
 * import { formatChange } from "./watch.ts";
 * const line = formatChange({ type: "updated", id: "01J0000000000000000000000B", name: "Bob",
 *   version: "00000000000000010000", seq: 7 });
 * if (line !== "7  updated  Bob  (id 01J0000000000000000000000B)") throw new Error(line);
 * ```
 */
export function formatChange(change: ChangedParams): string {
  return `${change.seq}  ${change.type.padEnd(7)}  ${change.name}  (id ${change.id})`;
}

/**
 * Runs `watch` until the process is stopped. Returns an exit code only when it cannot go on:
 * 3 when the server cannot be reached at the start, 4 when the server refuses the watch (a
 * `--since` older than its change log: reload, and watch without it).
 *
 * @example Nothing listens: exit code 3
 * ```ts
 * import { runWatch } from "./watch.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = listener.addr.port;
 * listener.close();
 * const code = await runWatch(
 *   { kind: "watch", config: { host: "127.0.0.1", port, timeoutMs: 5000, json: true } },
 *   { out: () => {}, err: () => {} },
 * );
 * if (code !== 3) throw new Error(String(code));
 * ```
 */
export async function runWatch(command: WatchCommand, io: Output): Promise<number> {
  const { json } = command.config;
  const options = connectOptions(command.config);
  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
  let since = command.since;
  let connected = false;
  let delay = 0;
  while (true) {
    let client: RpcClient;
    try {
      client = await RpcClient.connect(options);
    } catch (error) {
      if (!connected || !(error instanceof ConnectionError)) return reportError(error, json, io);
      delay = Math.min(MAX_RECONNECT_DELAY_MS, delay === 0 ? 500 : delay * 2);
      io.err(`addressbook: ${error.message}; trying again in ${delay / 1000} s`);
      await sleep(delay);
      continue;
    }
    let wake: () => void = () => {};
    let dropped = false;
    client.onNotification = ({ method, params }) => {
      if (method === "changed") {
        const change = params as unknown as ChangedParams;
        if (typeof change.seq !== "number" || (since !== undefined && change.seq <= since)) return;
        since = change.seq;
        io.out(json ? JSON.stringify(change) : formatChange(change));
      } else if (method === "watch_dropped") {
        dropped = true;
        wake();
      }
    };
    try {
      while (true) {
        const params: Record<string, unknown> = {};
        if (since !== undefined) params.since = since;
        if (command.query !== undefined) params.query = command.query;
        dropped = false;
        // Replayed events may arrive (and move `since`) before the reply resolves the call.
        const resumedAfter = since;
        const { seq } = await client.call<{ seq: number }>("watch", params);
        if (!connected && !json) {
          io.err(
            `Watching ${client.address} for changes` +
              (command.query === undefined ? "" : ` matching ${JSON.stringify(command.query)}`) +
              ` after seq ${since ?? seq} (Ctrl-C to stop)`,
          );
        } else if (connected && delay > 0) {
          io.err(
            `addressbook: reconnected to ${client.address}; resuming after seq ${resumedAfter}`,
          );
        }
        since ??= seq;
        connected = true;
        delay = 0;
        const fellBehind = new Promise<void>((resolve) => wake = resolve);
        if (!dropped) await Promise.race([client.lost, fellBehind]);
        if (!dropped) break;
        io.err(`addressbook: fell behind the server's changes; resuming after seq ${since}`);
      }
      const lost = await client.lost;
      delay = 500;
      io.err(`addressbook: ${lost.message}; reconnecting`);
    } catch (error) {
      if (!(error instanceof ConnectionError)) return reportError(error, json, io);
      delay = Math.max(delay, 500);
      io.err(`addressbook: ${error.message}; reconnecting`);
    } finally {
      await client.dispose();
    }
    await sleep(delay);
  }
}
