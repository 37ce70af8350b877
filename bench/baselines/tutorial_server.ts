/**
 * Baseline (d): a server of the tutorial's design for the classic protocol. One connection
 * is served at a time, until the client closes it; then the next is accepted. Each read is
 * one message (`add:name,details`, `rem:name`, `fnd:name`); the address book is a `Map`.
 *
 * `deno run --allow-net=127.0.0.1 bench/baselines/tutorial_server.ts --port 0`
 *
 * @module
 */

import { parseArgs } from "node:util";

const book = new Map<string, string>();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function dispatch(message: string): string {
  const colon = message.indexOf(":");
  const command = colon < 0 ? message : message.slice(0, colon);
  const data = message.slice(colon + 1);
  switch (command) {
    case "add": {
      const [name = "", ...details] = data.split(",");
      book.set(name, details.join(","));
      return `Added entry for ${name}`;
    }
    case "rem":
      return book.delete(data) ? `Removed entry for ${data}` : `Sorry, no entry for ${data}`;
    case "fnd": {
      const entry = book.get(data);
      return entry === undefined ? `Sorry, no entry for ${data}` : `${data}: ${entry}`;
    }
    default:
      return `ERROR: Unrecognised command: ${command}`;
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { port: { type: "string" } } });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(values.port ?? 0) });
  console.error(`tutorial listening on 127.0.0.1:${listener.addr.port} (pid ${Deno.pid})`);
  const buffer = new Uint8Array(1024);
  for await (const conn of listener) {
    try {
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break; // the client closed the connection
        await conn.write(encoder.encode(dispatch(decoder.decode(buffer.subarray(0, n)))));
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
}
