/**
 * Finding the server on the LAN (DNS-SD, `_addressbook._tcp`) when the client is not told
 * where it is: browse for about a second ({@link BROWSE_MS}); one server found is used (and
 * named), several are offered to the menu or listed by a command that then exits 2 unless
 * `--server NAME` picks one, none leaves today's default (127.0.0.1:2007) and a note for the
 * "cannot reach" sentence. Also the `servers` subcommand.
 *
 * @module
 */

import { browse, BROWSE_MS, Browser } from "../discovery/browser.ts";
import { MdnsError } from "../discovery/mdns.ts";
import type { FoundService } from "../discovery/service.ts";
import { formatAddress } from "../protocol/address.ts";
import type { ClientConfig } from "./config.ts";
import { ExitCode, type Output } from "./commands.ts";

/** A server that answered on the LAN, as `servers --json` prints it. */
export interface FoundServer {
  /** Its advertised name, "Address book (2)": what `--server` takes. */
  name: string;
  address: string;
  port: number;
  /** TLS on its TCP port (the TXT key `tls`). */
  tls: boolean;
  /** Whether it requires a token (the TXT key `auth`). */
  auth: boolean;
  /** Its protocol version, its program and version, when its TXT says them. */
  protocol?: number;
  server?: string;
  version?: string;
}

/**
 * What an `_addressbook._tcp` answer says of a server.
 *
 * @example
 * ```ts
 * import { foundServer } from "./discover.ts";
 * const server = foundServer({
 *   name: "Address book", type: "_addressbook._tcp.local", address: "10.77.0.1", port: 2007,
 *   host: "h.local", txt: { protocol: "1", auth: "1", tls: "0", version: "0.1.0" },
 * });
 * if (!server.auth || server.tls || server.protocol !== 1) throw new Error();
 * ```
 */
export function foundServer(service: FoundService): FoundServer {
  const { txt } = service;
  const protocol = Number(txt.protocol);
  return {
    name: service.name,
    address: service.address,
    port: service.port,
    tls: txt.tls === "1",
    auth: txt.auth === "1",
    ...(Number.isInteger(protocol) && txt.protocol !== "" ? { protocol } : {}),
    ...(txt.server ? { server: txt.server } : {}),
    ...(txt.version ? { version: txt.version } : {}),
  };
}

/** One line for a server: `Address book (2)  10.77.0.1:2007  token, TLS  addressbook 0.1.0`. */
function describe(server: FoundServer, width: number): string {
  const needs = [server.auth ? "token" : "no token", ...(server.tls ? ["TLS"] : [])].join(", ");
  const program = [server.server, server.version].filter(Boolean).join(" ");
  return [
    server.name.padEnd(width),
    formatAddress(server.address, server.port).padEnd(21),
    needs.padEnd(14),
    program,
  ].join("  ").trimEnd();
}

/** The servers, one line each, names aligned. */
export function serverLines(servers: FoundServer[], indent = "  "): string[] {
  const width = Math.max(...servers.map((s) => s.name.length));
  return servers.map((server) => indent + describe(server, width));
}

/** The configuration that connects to a server found (TLS if it says so). */
export function useServer(config: ClientConfig, server: FoundServer): ClientConfig {
  const { discover: _discover, serverName: _name, ...rest } = config;
  return { ...rest, host: server.address, port: server.port, ...(server.tls ? { tls: true } : {}) };
}

/** Looks on the LAN (about a second); the socket's problem is returned, not thrown. */
export type Find = () => Promise<FoundService[]>;

async function lookOnLan(find: Find): Promise<{ servers: FoundServer[]; problem?: string }> {
  try {
    return { servers: (await find()).map(foundServer) };
  } catch (error) {
    if (!(error instanceof MdnsError)) throw error;
    return { servers: [], problem: error.message };
  }
}

/** Where to connect: the configuration, and the note for "cannot reach" if none answered. */
export interface Located {
  config: ClientConfig;
  lanNote?: string;
}

/**
 * Where the server is: the configuration as given, or (with `config.discover`) the server
 * found on the LAN. Several: `choose` picks one (the menu asks); without it, or `--server`
 * naming none of them, the list is printed and an exit code returned.
 */
export async function locateServer(
  config: ClientConfig,
  io: Output,
  choose?: (servers: FoundServer[]) => Promise<FoundServer | null>,
  find: Find = () => browse(BROWSE_MS),
): Promise<Located | number> {
  if (!config.discover) return { config };
  const { servers, problem } = await lookOnLan(find);
  const seconds = `${BROWSE_MS / 1000} s`;
  if (config.serverName !== undefined) {
    const wanted = config.serverName.toLowerCase();
    const server = servers.find((s) => s.name.toLowerCase() === wanted);
    if (server) return { config: useServer(config, server) };
    io.err(
      `addressbook: No server named ${JSON.stringify(config.serverName)} answered on the LAN ` +
        `within ${seconds}${problem ? ` (${problem})` : ""}` +
        (servers.length > 0 ? "; these did:" : "; none did"),
    );
    for (const line of serverLines(servers)) io.err(line);
    return ExitCode.UNREACHABLE;
  }
  if (servers.length === 1) {
    const server = servers[0]!;
    io.err(
      `addressbook: using ${JSON.stringify(server.name)}, found on the LAN at ` +
        formatAddress(server.address, server.port),
    );
    return { config: useServer(config, server) };
  }
  if (servers.length > 1) {
    if (choose) {
      const server = await choose(servers);
      return server ? { config: useServer(config, server) } : ExitCode.OK;
    }
    io.err(
      `addressbook: ${servers.length} servers answered on the LAN: pick one with --server NAME ` +
        "(or give --host)",
    );
    for (const line of serverLines(servers)) io.err(line);
    return ExitCode.USAGE;
  }
  const { discover: _discover, ...rest } = config;
  return {
    config: rest,
    lanNote: problem
      ? `the client could not look for one on the LAN: ${problem}`
      : `no server answered on the LAN either (DNS-SD, ${seconds})`,
  };
}

/** How the menu asks which of several servers to use: a number or a name, 5 tries. */
export async function askWhichServer(
  servers: FoundServer[],
  prompter: { print(text?: string): void; ask(question: string): Promise<string | null> },
): Promise<FoundServer | null> {
  prompter.print(`${servers.length} servers answered on the LAN:`);
  serverLines(servers, "").forEach((line, i) => prompter.print(`  ${i + 1}. ${line}`));
  for (let attempt = 0; attempt < 5; attempt++) {
    const answer = await prompter.ask(`Which one? [1-${servers.length}] `);
    if (answer === null) return null;
    const text = answer.trim();
    const byNumber = /^\d+$/.test(text) ? servers[Number(text) - 1] : undefined;
    const server = byNumber ?? servers.find((s) => s.name.toLowerCase() === text.toLowerCase());
    if (server) return server;
    prompter.print(`Type a number from 1 to ${servers.length}, or a name from the list.`);
  }
  return null;
}

/**
 * `servers`: what answers on the LAN within about a second (exit 1 if nothing does), or
 * with `watch`, each server found or gone until `signal` aborts (queries at 0, 1, 2, 4 ... s,
 * at most a minute apart, RFC 6762 section 5.2).
 */
export async function runServers(
  command: { config: ClientConfig; watch: boolean },
  io: Output,
  options: { find?: Find; open?: () => Promise<Browser>; signal?: AbortSignal } = {},
): Promise<number> {
  const { json } = command.config;
  if (!command.watch) {
    const { servers, problem } = await lookOnLan(options.find ?? (() => browse(BROWSE_MS)));
    if (problem) {
      io.err(`addressbook: Cannot look for servers on the LAN: ${problem}`);
      return ExitCode.UNREACHABLE;
    }
    if (json) io.out(JSON.stringify(servers));
    else for (const line of serverLines(servers, "")) io.out(line);
    if (servers.length === 0) {
      io.err(`addressbook: No server answered on the LAN within ${BROWSE_MS / 1000} s (DNS-SD)`);
      return ExitCode.NOTHING_FOUND;
    }
    return ExitCode.OK;
  }
  let browser: Browser;
  try {
    browser = await (options.open ?? (() => Browser.open()))();
  } catch (error) {
    if (!(error instanceof MdnsError)) throw error;
    io.err(`addressbook: Cannot look for servers on the LAN: ${error.message}`);
    return ExitCode.UNREACHABLE;
  }
  try {
    browser.onChange(({ event, service }) => {
      const server = foundServer(service);
      if (json) io.out(JSON.stringify({ event, ...server }));
      else io.out(`${event === "found" ? "found" : "gone "}  ${serverLines([server], "")[0]}`);
    });
    const signal = options.signal;
    let wait = 1000;
    await browser.query();
    for (let elapsed = 0; !signal?.aborted;) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, 1000);
        signal?.addEventListener("abort", done, { once: true });
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        }
      });
      elapsed += 1000;
      browser.refresh();
      if (elapsed >= wait && !signal?.aborted) {
        await browser.query();
        elapsed = 0;
        wait = Math.min(wait * 2, 60_000);
      }
    }
    return ExitCode.OK;
  } finally {
    await browser.close();
  }
}
