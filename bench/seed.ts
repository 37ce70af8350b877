/**
 * Loads the bench's contacts into a target through its protocol before a run: JSON-RPC
 * `add` requests pipelined over a few connections, or the tutorial's `add:` messages, one
 * connection each. Bounded: each call sends exactly `count` requests and gives up after
 * `timeoutMs`.
 *
 * @module
 */

import { benchContact, classicAdd } from "./data.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A contact the seeding created, with what updating it needs. */
export interface Seeded {
  i: number;
  id: string;
  version: string;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new Error(`${what} did not finish within ${ms} ms`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Adds contacts `from..from+count-1` with JSON-RPC `add` (64 in flight per connection on
 * `connections` connections) and returns them in order. Throws on any error reply.
 *
 * @example
 * ```ts
 * import { Target } from "./child.ts";
 * import { seedJsonRpc } from "./seed.ts";
 * const target = await Target.start("jsonrpc_map");
 * try {
 *   const seeded = await seedJsonRpc(target.port, 0, 10);
 *   if (seeded.length !== 10 || !seeded[9]!.id) throw new Error();
 * } finally {
 *   await target.stop();
 * }
 * ```
 */
export async function seedJsonRpc(
  port: number,
  from: number,
  count: number,
  { connections = 4, depth = 64, timeoutMs = 120_000 } = {},
): Promise<Seeded[]> {
  const out: Seeded[] = new Array(count);
  let next = 0;
  const conns: Deno.Conn[] = [];
  const one = async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conns.push(conn);
    const reader = conn.readable.pipeThrough(new TextDecoderStream()).getReader();
    try {
      let buffered = "";
      while (next < count) {
        const batch: number[] = [];
        while (batch.length < depth && next < count) batch.push(next++);
        await writeAll(
          conn,
          encoder.encode(
            batch.map((k) =>
              JSON.stringify({
                jsonrpc: "2.0",
                id: k,
                method: "add",
                params: { contact: benchContact(from + k) },
              }) + "\n"
            ).join(""),
          ),
        );
        let answered = 0;
        while (answered < batch.length) {
          const { value, done } = await reader.read();
          if (done) throw new Error("The server closed the connection while seeding");
          const lines = (buffered + value).split("\n");
          buffered = lines.pop()!;
          for (const line of lines) {
            const reply = JSON.parse(line);
            if (!reply.result) throw new Error(`Seeding failed: ${line.slice(0, 300)}`);
            out[reply.id] = {
              i: from + reply.id,
              id: reply.result.id,
              version: reply.result.version,
            };
            answered++;
          }
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  await withTimeout(
    Promise.all(Array.from({ length: connections }, one)),
    timeoutMs,
    "Seeding",
    () =>
      conns.forEach((c) => {
        try {
          c.close();
        } catch {
          // already closed
        }
      }),
  );
  return out;
}

/**
 * Adds contacts `0..count-1` with the tutorial's `add:` messages, one connection each.
 *
 * @example
 * ```ts
 * import { Target } from "./child.ts";
 * import { seedClassic } from "./seed.ts";
 * const target = await Target.start("tutorial");
 * try {
 *   await seedClassic(target.port, 3);
 * } finally {
 *   await target.stop();
 * }
 * ```
 */
export async function seedClassic(port: number, count: number, timeoutMs = 120_000) {
  const deadline = performance.now() + timeoutMs;
  const buffer = new Uint8Array(1024);
  for (let i = 0; i < count; i++) {
    if (performance.now() > deadline) throw new Error(`Seeding did not finish in ${timeoutMs} ms`);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      await writeAll(conn, encoder.encode(classicAdd(i)));
      const n = await conn.read(buffer);
      const reply = n === null ? "" : decoder.decode(buffer.subarray(0, n));
      if (!reply.startsWith("Added")) throw new Error(`Seeding failed: ${reply}`);
    } finally {
      conn.close();
    }
  }
}
