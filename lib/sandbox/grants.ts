/**
 * The permission flags each product task gives Deno, computed from the environment in one
 * place, so `deno.json` holds short commands and no shell logic (`[`, `grep` and `${X:-y}`
 * are not part of Deno's task shell). `grants.ts` at the top prints them for a task:
 *
 * `deno run --no-prompt $(deno run -q --no-prompt --allow-env=... grants.ts serve) server.ts`
 *
 * Pure: the caller passes the environment and the documented variable names.
 *
 * @module
 */

/** The tasks whose flags are computed here. */
export const GRANT_TASKS = [
  "serve",
  "client",
  "compile:server",
  "compile:client",
  "bench",
] as const;

/** One of {@link GRANT_TASKS}. */
export type GrantTask = typeof GRANT_TASKS[number];

/** What the flags depend on besides the environment. */
export interface GrantNames {
  /** The variables the server documents (its `--help`). */
  server: readonly string[];
  /** The variables the client documents. */
  client: readonly string[];
}

/** The flags of one task, and the problems found in the environment (each one sentence). */
export interface Grants {
  flags: string[];
  problems: string[];
}

/**
 * The addresses `deno task serve` may always listen on, whatever `ADDRESSBOOK_HOST` says:
 * loopback, and every address (`--host 0.0.0.0` or `--host ::`, as an admin types it for
 * the LAN). A specific LAN address comes from `ADDRESSBOOK_HOST`.
 */
export const SERVE_HOSTS: readonly string[] = [
  "127.0.0.1",
  "[::1]",
  "localhost",
  "0.0.0.0",
  "[::]",
];

/**
 * What DNS-SD (`--advertise`, multicast DNS) needs besides: the mDNS port on every address
 * and the group's address, port 5353 only (lib/discovery/mdns.ts checks the same two).
 * The serve task always grants them, since `--host 0.0.0.0` typed after it advertises by
 * default, unless `ADDRESSBOOK_ADVERTISE` is off; a compiled server built for a LAN address.
 */
export const MDNS_HOSTS: readonly string[] = ["0.0.0.0:5353", "224.0.0.251:5353"];

/** Whether a value of `ADDRESSBOOK_ADVERTISE` turns advertising off (as the server reads it). */
function advertiseOff(value: string | undefined): boolean {
  return ["off", "0", "false", "no"].includes((value ?? "").trim().toLowerCase());
}

/** Whether an address is loopback (as the server's own check: 127.x, ::1, localhost). */
function loopbackHost(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127\./.test(host);
}

/** The data folder when `ADDRESSBOOK_DATA` is unset (relative: resolved where it runs). */
export const DEFAULT_DATA = "./data";

const PEM = "-----BEGIN";

/**
 * Brackets an IPv6 literal for `--allow-net` (`::` becomes `[::]`); leaves others alone.
 *
 * @example
 * ```ts
 * import { netHost } from "./grants.ts";
 * if (netHost("::") !== "[::]" || netHost("[fe80::1]") !== "[fe80::1]") throw new Error();
 * if (netHost("192.168.1.10") !== "192.168.1.10") throw new Error();
 * ```
 */
export function netHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * The permission flags (and other computed flags: `--target`, `--output`) of a task.
 * Values that the task shell would split or Deno would read as a list (white space, a
 * comma) are left out and reported, so the program then refuses in its own sentence.
 *
 * @example The serve task by default, and with a LAN address and a data folder
 * ```ts
 * import { taskGrants } from "./grants.ts";
 * const names = { server: ["ADDRESSBOOK_HOST", "ADDRESSBOOK_DATA"], client: [] };
 * const plain = taskGrants("serve", () => undefined, names);
 * if (!plain.flags.includes("--allow-read=./data")) throw new Error(plain.flags.join(" "));
 * const env: Record<string, string> = { ADDRESSBOOK_HOST: "192.168.1.10", ADDRESSBOOK_DATA: "/srv/book" };
 * const lan = taskGrants("serve", (name) => env[name], names);
 * const net = "--allow-net=127.0.0.1,[::1],localhost,0.0.0.0,[::],192.168.1.10,224.0.0.251:5353";
 * if (!lan.flags.includes(net)) {
 *   throw new Error(lan.flags.join(" "));
 * }
 * if (!lan.flags.includes("--allow-write=/srv/book")) throw new Error(lan.flags.join(" "));
 * ```
 */
export function taskGrants(
  task: GrantTask,
  env: (name: string) => string | undefined,
  names: GrantNames,
): Grants {
  const problems: string[] = [];
  /** A set, usable value of a variable, or undefined (a problem noted when unusable). */
  const value = (name: string, kind: "path" | "host" | "text" = "path") => {
    const raw = env(name);
    if (raw === undefined || raw === "") return undefined;
    if (kind !== "text" && /[\s,]/.test(raw)) {
      problems.push(
        `${name} ${JSON.stringify(raw)} has a space or a comma, which a task cannot pass ` +
          `to Deno: use a ${kind === "path" ? "folder" : "host"} without them`,
      );
      return undefined;
    }
    return raw;
  };
  const flags: string[] = [];
  const compiled = task.startsWith("compile:");
  if (compiled) {
    const target = value("ADDRESSBOOK_TARGET", "host");
    if (target !== undefined) flags.push(`--target=${target}`);
  }
  if (task === "serve" || task === "compile:server") {
    const host = value("ADDRESSBOOK_HOST", "host");
    // An unusable ADDRESSBOOK_DATA grants no folder (not ./data, which the server won't use).
    const data = value("ADDRESSBOOK_DATA") ?? (env("ADDRESSBOOK_DATA") ? undefined : DEFAULT_DATA);
    // A compiled server may listen on loopback and the address it was built for.
    const hosts = task === "serve" ? [...SERVE_HOSTS] : ["127.0.0.1"];
    const own = netHost(host ?? (task === "serve" ? "127.0.0.1" : "0.0.0.0"));
    if (!hosts.includes(own)) hosts.push(own);
    if (!advertiseOff(env("ADDRESSBOOK_ADVERTISE")) && (task === "serve" || !loopbackHost(own))) {
      // 0.0.0.0 with any port is already there for the serve task and a 0.0.0.0 build.
      for (const mdns of MDNS_HOSTS) {
        if (!hosts.includes(mdns.replace(/:5353$/, ""))) hosts.push(mdns);
      }
    }
    flags.push(`--allow-net=${hosts.join(",")}`);
    if (data !== undefined) flags.push(`--allow-read=${data}`, `--allow-write=${data}`);
    flags.push(`--allow-env=${names.server.join(",")}`);
  } else if (task === "client" || task === "compile:client") {
    flags.push("--allow-net");
    const ca = env("ADDRESSBOOK_CA");
    // PEM text needs no file access; a path is the one file the client may read.
    if (ca !== undefined && ca !== "" && !ca.includes(PEM)) {
      const path = value("ADDRESSBOOK_CA");
      if (path !== undefined) flags.push(`--allow-read=${path}`);
    }
    flags.push(`--allow-env=${names.client.join(",")}`);
  } else {
    const tmp = value("TMPDIR") ?? "/tmp";
    flags.push(
      "--allow-run",
      "--allow-net=127.0.0.1",
      `--allow-read=.,${tmp}`,
      `--allow-write=${tmp}`,
    );
  }
  if (compiled) {
    const target = value("ADDRESSBOOK_TARGET", "host");
    const dist = value("ADDRESSBOOK_DIST") ?? (target ? `dist/${target}` : "dist");
    const binary = task === "compile:server" ? "addressbook-server" : "addressbook";
    flags.push(`--output=${dist}/${binary}`);
  }
  return { flags, problems };
}
