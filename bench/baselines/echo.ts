/**
 * Baseline (a): a bare Deno TCP echo server, the network's limit for this runtime. Each
 * connection reads into its own buffer and writes back what it read; line framing is the
 * client's business, so request lines come back as reply lines.
 *
 * `deno run --allow-net=127.0.0.1 bench/baselines/echo.ts --port 0`
 *
 * @module
 */

import { parseArgs } from "node:util";

/** Bytes each connection reads at once: the same as the server's read buffer was (16 KiB). */
const BUFFER = 16 * 1024;

async function echo(conn: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(BUFFER);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      let bytes = buffer.subarray(0, n);
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
  console.error(`echo listening on 127.0.0.1:${listener.addr.port} (pid ${Deno.pid})`);
  for await (const conn of listener) {
    conn.setNoDelay(true);
    echo(conn);
  }
}
