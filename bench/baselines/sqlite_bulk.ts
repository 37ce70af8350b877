/**
 * Baseline (e): about the floor for storing an import's contacts durably on this disk. The
 * JSON of bench contacts 0 .. count-1 (as the store keeps a contact: id, the user fields,
 * created and updated) written by `node:sqlite` into one table with one index (a unique one
 * on the id), in one transaction, SQLite's defaults otherwise (rollback journal,
 * `synchronous=FULL`: the commit is on disk when it returns). No network, no protocol, no
 * parsing. Prints one JSON line: `{"type":"done","seconds":...,"rows":...,"bytes":...,"rssKiB":...}`.
 *
 * `deno run --allow-read=DIR --allow-write=DIR bench/baselines/sqlite_bulk.ts --path DIR/db
 *   --count 100000`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DatabaseSync } from "node:sqlite";
import { benchCard } from "../data.ts";

/** A fixed 26-character id for contact `i`, of the store's shape (a ULID). */
function benchId(i: number): string {
  const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
  let tail = "";
  for (let n = i, k = 0; k < 8; k++, n = Math.floor(n / 32)) tail = alphabet[n % 32] + tail;
  return "01J0000000000000ZZ" + tail;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { path: { type: "string" }, count: { type: "string", default: "100000" } },
  });
  if (!values.path) throw new TypeError("--path is required");
  const count = Number(values.count);
  const started = performance.now();
  const db = new DatabaseSync(values.path);
  db.exec("CREATE TABLE contacts (id TEXT NOT NULL, json TEXT NOT NULL)");
  db.exec("CREATE UNIQUE INDEX contacts_id ON contacts (id)");
  const insert = db.prepare("INSERT INTO contacts (id, json) VALUES (?, ?)");
  db.exec("BEGIN");
  const now = new Date().toISOString();
  for (let i = 0; i < count; i++) {
    const id = benchId(i);
    insert.run(id, JSON.stringify({ id, ...benchCard(i), created: now, updated: now }));
  }
  db.exec("COMMIT");
  const rows = (db.prepare("SELECT count(*) AS n FROM contacts").get() as { n: number }).n;
  db.close();
  const seconds = (performance.now() - started) / 1000;
  const bytes = (await Deno.stat(values.path)).size;
  const rssKiB = Deno.memoryUsage().rss / 1024; // at its end: about its peak
  console.log(JSON.stringify({ type: "done", seconds, rows, bytes, rssKiB }));
}
