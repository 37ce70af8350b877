/**
 * Wording helpers shared by every message the programs print.
 *
 * @module
 */

/**
 * A count with its noun: `1 contact`, `2 contacts`, `0 entries`.
 *
 * @example
 * ```ts
 * import { plural } from "./text.ts";
 * if (plural(1, "contact") !== "1 contact" || plural(0, "entry", "entries") !== "0 entries") throw new Error();
 * ```
 */
export function plural(count: number, noun: string, nouns = noun + "s"): string {
  return `${count} ${count === 1 ? noun : nouns}`;
}
