/**
 * The layout's rules, held by walking the import graph of every module (tests apart): who
 * may import whom, where KV and sockets may appear, and no cycles. `layoutProblems` is pure
 * and is also fed a graph that breaks each rule once, so every rule is shown to fail.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** One module: its path from the repository root, its imports, and its text. */
export interface ModuleInfo {
  path: string;
  /** Resolved project paths (`lib/model/contact.ts`); `typeOnly` for `import type`. */
  imports: Array<{ path: string; typeOnly: boolean }>;
  text: string;
}

/** The sides of lib/, each a folder; what each may import besides itself. */
const MAY_IMPORT: Record<string, string[]> = {
  model: [],
  protocol: ["model"],
  formats: ["model"],
  sandbox: [],
  store: ["model", "protocol"],
  // DNS-SD (multicast DNS): the advertiser for the server, the browser for the client.
  discovery: [],
  server: ["model", "protocol", "formats", "sandbox", "store", "discovery"],
  client: ["model", "protocol", "formats", "sandbox", "discovery"],
};

/** What the entries at the top may import. */
const ENTRY_MAY_IMPORT: Record<string, string[]> = {
  "server.ts": ["model", "protocol", "sandbox", "server", "store"],
  "client.ts": ["model", "protocol", "sandbox", "client"],
  // Prints the tasks' flags from both programs' option tables (their `--help`).
  "grants.ts": ["sandbox", "server/config.ts", "client/config.ts"],
};

/** Files that may open or accept a socket. */
const SOCKET_FILES = [
  "lib/server/listener.ts",
  "lib/server/connection.ts",
  "lib/server/http/server.ts",
  "lib/server/http/web.ts",
  "lib/client/transport.ts",
  "lib/discovery/mdns.ts",
];

/** The server's front doors: they reach the store only through the methods module. */
const FRONT_DOORS = [
  "lib/server/connection.ts",
  "lib/server/classic.ts",
  "lib/server/http/dav.ts",
  "lib/server/http/web.ts",
  "lib/server/http/web_transfer.ts",
];

/** Vendored libraries (vendor/<name>@<version>/, see README) that lib/ may import. */
const VENDOR = /^vendor\/[a-z0-9-]+@[0-9.]+\/[^/]+\.js$/;

const SOCKET =
  /\bDeno\.(listen|listenTls|listenDatagram|connect|connectTls|startTls|serve|upgradeWebSocket)\(|\b(multicastDns|createSocket)\(/;
const KV = /\bDeno\.openKv\(|\.atomic\(\)|\bkv\.(get|getMany|set|delete|list|watch)\(/;
const REMOTE_TEST = /\^https\?/;

function sideOf(path: string): string | undefined {
  return /^lib\/([^/]+)\//.exec(path)?.[1];
}

/** Code without comments (JSDoc examples hold imports and calls that do not count). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** Every way a module breaks the layout's rules, one sentence each. */
export function layoutProblems(modules: ModuleInfo[]): string[] {
  const problems: string[] = [];
  for (const module of modules) {
    const side = sideOf(module.path);
    const body = code(module.text);
    for (const { path, typeOnly } of module.imports) {
      const target = sideOf(path);
      if (side !== undefined) {
        // vendor/ holds npm packages bundled into one file each (see README), which any
        // side may use: they import nothing of the project.
        if (target === undefined) {
          if (!VENDOR.test(path)) problems.push(`${module.path} imports ${path}, outside lib/`);
        } else if (target !== side && !MAY_IMPORT[side]?.includes(target)) {
          problems.push(`${module.path} (${side}) imports ${path} (${target})`);
        }
      } else if (module.path in ENTRY_MAY_IMPORT) {
        const allowed = ENTRY_MAY_IMPORT[module.path]!;
        const inside = path.replace(/^lib\//, "");
        if (!allowed.some((a) => inside === a || inside.startsWith(`${a}/`))) {
          problems.push(`${module.path} imports ${path}`);
        }
      }
      if (target === "store" && side !== "store" && path !== "lib/store/mod.ts") {
        problems.push(`${module.path} imports ${path}, not the store's public mod.ts`);
      }
      if (FRONT_DOORS.includes(module.path) && target === "store" && !typeOnly) {
        problems.push(`${module.path} is a front door and uses the store (${path}) directly`);
      }
    }
    if (side !== "store" && KV.test(body)) {
      problems.push(`${module.path} uses KV; only the store may`);
    }
    if (side !== "store" && /\[\s*"(contacts|by_name|by_word|by_phone|changes|meta)"/.test(body)) {
      problems.push(`${module.path} spells a KV key; only the store may`);
    }
    if (SOCKET.test(body) && !SOCKET_FILES.includes(module.path)) {
      problems.push(`${module.path} opens a socket; only ${SOCKET_FILES.join(", ")} may`);
    }
    if (side !== "store" && REMOTE_TEST.test(body)) {
      problems.push(`${module.path} decides whether a store is remote; the store's storeKind does`);
    }
  }
  problems.push(...cycles(modules).map((cycle) => `import cycle: ${cycle.join(" -> ")}`));
  return problems;
}

/** The import cycles (strongly connected groups of two or more), each as a path. */
function cycles(modules: ModuleInfo[]): string[][] {
  const edges = new Map(modules.map((m) => [m.path, m.imports.map((i) => i.path)]));
  const found: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (path: string) => {
    state.set(path, "open");
    stack.push(path);
    for (const next of edges.get(path) ?? []) {
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(path, "done");
  };
  for (const path of edges.keys()) if (!state.has(path)) visit(path);
  return found;
}

/** Reads a module and resolves its project imports (static, re-exports and dynamic). */
async function readModule(path: string): Promise<ModuleInfo> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  const body = code(text);
  const imports: ModuleInfo["imports"] = [];
  const pattern =
    /^(import|export)\s+(type\s+)?[^;]*?\sfrom\s+"(\.[^"]+)"|\bimport\(\s*"(\.[^"]+)"\s*\)/gm;
  for (const match of body.matchAll(pattern)) {
    const specifier = match[3] ?? match[4]!;
    const resolved = new URL(specifier, new URL(path, ROOT)).pathname.slice(
      new URL(ROOT).pathname.length,
    );
    imports.push({ path: resolved, typeOnly: match[2] !== undefined });
  }
  return { path, imports, text };
}

async function projectModules(): Promise<ModuleInfo[]> {
  const paths = ["server.ts", "client.ts", "grants.ts"];
  const walk = async (folder: string) => {
    for await (const entry of Deno.readDir(new URL(folder, ROOT))) {
      const path = `${folder}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (path.endsWith(".ts") && !path.endsWith("_test.ts")) paths.push(path);
    }
  };
  await walk("lib");
  return await Promise.all(paths.sort().map(readModule));
}

Deno.test("the import graph keeps the layout's rules", async () => {
  const modules = await projectModules();
  assert.ok(modules.length > 40, `only ${modules.length} modules found`);
  for (const side of Object.keys(MAY_IMPORT)) {
    assert.ok(modules.some((m) => sideOf(m.path) === side), `no lib/${side}/`);
  }
  assert.ok(modules.some((m) => m.path === "lib/store/mod.ts"), "no lib/store/mod.ts");
  assert.deepEqual(layoutProblems(modules), []);
});

Deno.test("lib/ holds only the sides' folders, and each module has its folder", async () => {
  const top: string[] = [];
  for await (const entry of Deno.readDir(new URL("lib", ROOT))) top.push(entry.name);
  assert.deepEqual(top.sort(), Object.keys(MAY_IMPORT).sort());
});

Deno.test("layoutProblems() finds each kind of break (so the test above can fail)", () => {
  const m = (path: string, imports: string[], text = "", typeOnly = false): ModuleInfo => ({
    path,
    imports: imports.map((p) => ({ path: p, typeOnly })),
    text,
  });
  const broken = [
    m("lib/model/contact.ts", ["lib/protocol/jsonrpc.ts"]),
    m("lib/protocol/jsonrpc.ts", []),
    m("lib/formats/vcard.ts", ["lib/client/format.ts"]),
    m("lib/client/format.ts", ["lib/server/log.ts"]),
    m("lib/server/log.ts", ["lib/client/format.ts"]),
    m("lib/server/methods.ts", ["lib/store/store.ts"]),
    m("lib/server/classic.ts", ["lib/store/mod.ts"]),
    m("lib/server/connection.ts", ["lib/store/mod.ts"], "", true),
    m("lib/client/menu.ts", [], 'const kv = await Deno.openKv(":memory:");'),
    m("lib/client/commands.ts", [], 'const key = ["contacts", id];'),
    m("lib/server/methods2.ts", [], "const c = await Deno.connect({ port: 1 });"),
    m("lib/server/config.ts", [], "const remote = /^https?:\\/\\//.test(db);"),
    m("lib/client/quiet.ts", [], "/** const c = Deno.connect({ port: 1 }); */"),
    m("lib/discovery/browser.ts", ["lib/client/format.ts"], "const m = multicastDns({});"),
    m("client.ts", ["lib/server/methods.ts"]),
    m("lib/store/store.ts", []),
    m("lib/store/mod.ts", []),
    m("lib/model/phones.ts", ["vendor/libphonenumber-js@1.13.17/libphonenumber.js"]),
    m("lib/model/other.ts", ["vendor/entry.ts"]),
  ];
  assert.deepEqual(layoutProblems(broken), [
    "lib/model/contact.ts (model) imports lib/protocol/jsonrpc.ts (protocol)",
    "lib/formats/vcard.ts (formats) imports lib/client/format.ts (client)",
    "lib/client/format.ts (client) imports lib/server/log.ts (server)",
    "lib/server/log.ts (server) imports lib/client/format.ts (client)",
    "lib/server/methods.ts imports lib/store/store.ts, not the store's public mod.ts",
    "lib/server/classic.ts is a front door and uses the store (lib/store/mod.ts) directly",
    "lib/client/menu.ts uses KV; only the store may",
    "lib/client/commands.ts spells a KV key; only the store may",
    "lib/server/methods2.ts opens a socket; only lib/server/listener.ts, lib/server/connection.ts, lib/server/http/server.ts, lib/server/http/web.ts, lib/client/transport.ts, lib/discovery/mdns.ts may",
    "lib/server/config.ts decides whether a store is remote; the store's storeKind does",
    "lib/discovery/browser.ts (discovery) imports lib/client/format.ts (client)",
    "lib/discovery/browser.ts opens a socket; only lib/server/listener.ts, lib/server/connection.ts, lib/server/http/server.ts, lib/server/http/web.ts, lib/client/transport.ts, lib/discovery/mdns.ts may",
    "client.ts imports lib/server/methods.ts",
    "lib/model/other.ts imports vendor/entry.ts, outside lib/",
    "import cycle: lib/client/format.ts -> lib/server/log.ts -> lib/client/format.ts",
  ]);
});
