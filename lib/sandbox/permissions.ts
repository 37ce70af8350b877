/**
 * Least privilege, made visible: the startup permission report (`Deno.permissions.query`)
 * and the one-sentence message a denied permission becomes (never a stack trace).
 *
 * @module
 */

/** The permission kinds the report covers, in the order it prints them. */
export const PERMISSION_KINDS = ["net", "read", "write", "env", "run", "ffi", "sys"] as const;

/** One of {@link PERMISSION_KINDS}. */
export type PermissionKind = typeof PERMISSION_KINDS[number];

/**
 * What this process may do, kind by kind: `all` (unscoped), `denied`, or the scope that was
 * found granted (a host, a folder, `N documented variables`).
 */
export type PermissionReport = Record<PermissionKind, string>;

/** What the server needs, so the report can say how far each grant reaches. */
export interface PermissionScope {
  /** The address the server listens on. */
  host: string;
  port: number;
  /** The data folder (KV file, token, certificates). */
  data: string;
  /** The environment variables the program documents. */
  env: readonly string[];
}

/**
 * Reads an environment variable if this process may; unset otherwise (never prompts).
 *
 * @example
 * ```ts
 * import { readEnv } from "./permissions.ts";
 * if (readEnv("ADDRESSBOOK_NOT_GRANTED_HERE") !== undefined) throw new Error();
 * ```
 */
export function readEnv(name: string): string | undefined {
  const status = Deno.permissions.querySync({ name: "env", variable: name });
  return status.state === "granted" ? Deno.env.get(name) : undefined;
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * The parent folder of a path (`.` for a bare name, `/` for a folder at the root and for the
 * root itself, `../..` for `..`).
 *
 * @example
 * ```ts
 * import { parentFolder } from "./permissions.ts";
 * if (parentFolder("/srv/addressbook/") !== "/srv" || parentFolder("data") !== ".") {
 *   throw new Error();
 * }
 * ```
 */
export function parentFolder(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  if (trimmed === "" && path !== "") return "/";
  if (trimmed === ".." || trimmed.endsWith("/..")) return `${trimmed}/..`;
  const index = trimmed.lastIndexOf("/");
  if (index < 0) return trimmed === "." || trimmed === "" ? ".." : ".";
  if (index === 0) return "/";
  return trimmed.slice(0, index);
}

/**
 * Queries each permission kind. For read and write it reports the widest of `/`, the data
 * folder's parent and the data folder that is granted, so `read=./data` proves the grant
 * stops at the data folder. A permission that is not granted is `denied`: with
 * `--no-prompt` (every product task uses it) it would be refused.
 *
 * @example The report of a test process
 * ```ts
 * import { permissionReport } from "./permissions.ts";
 * const report = permissionReport({ host: "127.0.0.1", port: 0, data: "./data", env: [] });
 * if (!["all", "denied"].includes(report.ffi)) throw new Error(report.ffi);
 * ```
 */
export function permissionReport(scope: PermissionScope): PermissionReport {
  const files = (name: "read" | "write"): string => {
    if (granted({ name })) return "all";
    for (const path of ["/", parentFolder(scope.data), scope.data]) {
      if (granted({ name, path })) return path;
    }
    return "denied";
  };
  const netHost = scope.host.includes(":") ? `[${scope.host}]` : scope.host;
  let net = "denied";
  if (granted({ name: "net" })) net = "all";
  else if (granted({ name: "net", host: `${netHost}:${scope.port}` })) net = netHost;
  let env = "denied";
  if (granted({ name: "env" })) env = "all";
  else {
    const count = scope.env.filter((variable) => granted({ name: "env", variable })).length;
    if (count > 0) env = `${count}/${scope.env.length}-documented`;
  }
  const plain = (name: "run" | "ffi" | "sys") => granted({ name }) ? "all" : "denied";
  return {
    net,
    read: files("read"),
    write: files("write"),
    env,
    run: plain("run"),
    ffi: plain("ffi"),
    sys: plain("sys"),
  };
}

/**
 * Formats a report as one log line: `Permissions: net=127.0.0.1 read=./data ...`.
 *
 * @example
 * ```ts
 * import { formatPermissionReport } from "./permissions.ts";
 * const line = formatPermissionReport({ net: "127.0.0.1", read: "./data", write: "./data",
 *   env: "3/3-documented", run: "denied", ffi: "denied", sys: "denied" });
 * if (!line.includes(" run=denied ffi=denied sys=denied")) throw new Error(line);
 * ```
 */
export function formatPermissionReport(report: PermissionReport): string {
  const parts = PERMISSION_KINDS.map((kind) => {
    const value = report[kind];
    return `${kind}=${/\s/.test(value) ? JSON.stringify(value) : value}`;
  });
  return `Permissions: ${parts.join(" ")}`;
}

/**
 * Whether an error is a permission refusal (`NotCapable` in Deno 2, `PermissionDenied` for
 * the operating system's own refusals).
 */
export function isPermissionError(error: unknown): error is Error {
  return error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied;
}

/**
 * Turns a permission error into one sentence that names the flag to add. `hint` is appended
 * (for instance how a task grants that permission).
 *
 * @example A denied read
 * ```ts
 * import { permissionMessage } from "./permissions.ts";
 * const error = new Deno.errors.NotCapable(
 *   'Requires read access to "/srv/ab", run again with the --allow-read flag',
 * );
 * const message = permissionMessage(error);
 * if (message !== 'Not allowed to read "/srv/ab": add --allow-read=/srv/ab') {
 *   throw new Error(message);
 * }
 * ```
 */
export function permissionMessage(error: unknown, hint = ""): string {
  const text = error instanceof Error ? error.message : String(error);
  const match = /Requires (\w+) access to "?(.*?)"?, run again with the (--allow-[\w-]+) flag/
    .exec(text);
  const tail = hint ? `; ${hint}` : "";
  if (!match && error instanceof Deno.errors.PermissionDenied) {
    // The operating system said no (file owner or mode), not Deno's sandbox: a flag will not
    // help, and neither will the caller's hint about flags.
    return `The operating system denied access: ${text.split("\n")[0]}; the user this runs ` +
      "as needs access to that file (check its owner and mode)";
  }
  if (!match) return `Not allowed: ${text.split("\n")[0]}${tail}`;
  const [, kind, resource, flag] = match as unknown as [string, string, string, string];
  const verb: Record<string, string> = {
    read: "read",
    write: "write",
    net: "use the network address",
    env: "read the environment variable",
    run: "run",
    ffi: "load the library",
    sys: "read the system information",
    import: "import",
  };
  // `net` resources carry a port; the flag scopes by host so any port keeps working.
  const scope = kind === "net" ? resource.replace(/:\d+$/, "") : resource;
  return `Not allowed to ${verb[kind] ?? kind} ${JSON.stringify(resource)}: add ${flag}=${scope}` +
    tail;
}
