/**
 * The check every vendored library's test makes: the folder's SHA256SUMS (written by its
 * update.sh) names exactly `files`, and each file's bytes still have the recorded sum.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Asserts that `folder`'s SHA256SUMS lists exactly `files` and that each matches its sum. */
export async function assertVendorSums(folder: URL, files: string[]): Promise<void> {
  const sums = await Deno.readTextFile(new URL("SHA256SUMS", folder));
  const lines = sums.trim().split("\n");
  assert.deepEqual(lines.map((line) => line.split(/\s+/)[1]).sort(), [...files].sort());
  for (const line of lines) {
    const [sum, name] = line.split(/\s+/) as [string, string];
    const bytes = await Deno.readFile(new URL(name, folder));
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    assert.equal(hex, sum, name);
  }
}
