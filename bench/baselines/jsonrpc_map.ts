/**
 * Baseline (c): the protocol's floor. A bare JSON-RPC 2.0 line server over in-memory `Map`s:
 * `JSON.parse` in, `JSON.stringify` out, no validation, no store, no indexes beyond a map
 * from lower-cased name to contacts. It answers the bench's ops (find, get, search, add,
 * update) with the same result shapes as the real server.
 *
 * `deno run --allow-net=127.0.0.1 bench/baselines/jsonrpc_map.ts --port 0`
 *
 * @module
 */

import { parseArgs } from "node:util";

// deno-lint-ignore no-explicit-any
type Contact = Record<string, any>;

const byId = new Map<string, Contact>();
const byName = new Map<string, Contact[]>();
let lastId = 0;
let lastVersion = 0;

function version(): string {
  return (++lastVersion).toString(16).padStart(20, "0");
}

// deno-lint-ignore no-explicit-any
function run(method: string, params: any): unknown {
  switch (method) {
    case "find":
      return { contacts: byName.get(params.name.toLowerCase()) ?? [], cursor: null };
    case "get":
      return byId.get(params.id) ?? null;
    case "search": {
      const words: string[] = params.query.toLowerCase().split(/\s+/);
      const contacts = [];
      for (const contact of byId.values()) {
        const text = `${contact.name} ${contact.town} ${contact.street}`.toLowerCase();
        if (words.every((word) => text.includes(word))) contacts.push(contact);
        if (contacts.length === 100) break;
      }
      return { contacts, cursor: null };
    }
    case "add": {
      const now = new Date().toISOString();
      const id = String(++lastId).padStart(26, "0");
      const contact = { id, ...params.contact, created: now, updated: now, version: version() };
      byId.set(id, contact);
      const key = contact.name.toLowerCase();
      byName.set(key, [...byName.get(key) ?? [], contact]);
      return contact;
    }
    case "update": {
      const old = byId.get(params.id);
      if (!old) return null;
      const contact = {
        ...params.contact,
        id: old.id,
        created: old.created,
        updated: new Date().toISOString(),
        version: version(),
      };
      byId.set(old.id, contact);
      const oldKey = old.name.toLowerCase(), key = contact.name.toLowerCase();
      byName.set(oldKey, (byName.get(oldKey) ?? []).filter((c) => c.id !== old.id));
      byName.set(key, [...byName.get(key) ?? [], contact]);
      return contact;
    }
    default:
      return null;
  }
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(16 * 1024);
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let partial = "";
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const lines = (partial + decoder.decode(buffer.subarray(0, n), { stream: true })).split("\n");
      partial = lines.pop()!;
      let out = "";
      for (const line of lines) {
        const request = JSON.parse(line);
        const result = run(request.method, request.params);
        out += JSON.stringify({ jsonrpc: "2.0", id: request.id, result }) + "\n";
      }
      let bytes = encoder.encode(out);
      while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
    }
  } catch {
    // the client left
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(values.port ?? 0) });
  console.error(`jsonrpc_map listening on 127.0.0.1:${listener.addr.port} (pid ${Deno.pid})`);
  for await (const conn of listener) {
    conn.setNoDelay(true);
    serve(conn);
  }
}
