/**
 * An in-memory index from terms (folded words, or phone digits) to the ids filed under them,
 * searched by term prefix: the view's answer to `search` without a KV range read.
 *
 * Distinct terms are kept in a sorted array, so the terms with a prefix are one range found
 * by binary search. New terms first go to a short unsorted list (scanned by each query) and
 * are merged into the sorted array when that list grows past a sixteenth of it, so adding a
 * term costs amortized O(1) moves instead of an O(n) insertion; terms left with no ids are
 * dropped at the next merge.
 *
 * @module
 */

/**
 * Terms to ids, searched by prefix.
 *
 * @example Add, search by prefix, remove
 * ```ts
 * import { PrefixIndex } from "./prefix_index.ts";
 * const index = new PrefixIndex();
 * index.add("smith", "A");
 * index.add("smithers", "B");
 * index.add("jones", "C");
 * const ids = index.lists("smi").flat().sort();
 * if (ids.join() !== "A,B") throw new Error(ids.join());
 * index.remove("smith", "A");
 * if (index.lists("smi").flat().join() !== "B") throw new Error();
 * ```
 */
export class PrefixIndex {
  /** Term -> ids (unordered). A term whose ids were all removed keeps an empty list. */
  readonly #ids = new Map<string, string[]>();
  /** Terms in UTF-16 code unit order (`Array.prototype.sort`'s), merged so far. */
  #sorted: string[] = [];
  /** Terms added since the last merge, unsorted. */
  #pending: string[] = [];

  /** Files `id` under `term`. The caller adds each pair at most once (no duplicate check). */
  add(term: string, id: string): void {
    const ids = this.#ids.get(term);
    if (ids === undefined) {
      this.#ids.set(term, [id]);
      this.#pending.push(term);
      if (this.#pending.length > Math.max(1024, this.#sorted.length >>> 4)) this.#merge();
    } else {
      ids.push(id);
    }
  }

  /** Removes `id` from under `term`, if it is there. */
  remove(term: string, id: string): void {
    const ids = this.#ids.get(term);
    if (ids === undefined) return;
    const at = ids.indexOf(id);
    if (at < 0) return;
    ids[at] = ids[ids.length - 1]!;
    ids.pop();
  }

  /**
   * The id lists of every term that starts with `prefix` (non-empty lists only; an id under
   * several such terms is in several lists). The lists are the index's own: read them at
   * once, before the index changes, and never modify them.
   */
  lists(prefix: string): string[][] {
    const out: string[][] = [];
    const sorted = this.#sorted;
    for (let i = lowerBound(sorted, prefix); i < sorted.length; i++) {
      const term = sorted[i]!;
      if (!term.startsWith(prefix)) break;
      const ids = this.#ids.get(term);
      if (ids !== undefined && ids.length > 0) out.push(ids);
    }
    for (const term of this.#pending) {
      if (!term.startsWith(prefix)) continue;
      const ids = this.#ids.get(term)!;
      if (ids.length > 0) out.push(ids);
    }
    return out;
  }

  /** Number of distinct terms held (some may have no ids until the next merge). */
  get terms(): number {
    return this.#ids.size;
  }

  /** Sorts the pending terms into the sorted array, dropping terms that have no ids. */
  #merge(): void {
    const pending = this.#pending.sort();
    const sorted = this.#sorted;
    const merged: string[] = [];
    let i = 0, j = 0;
    const keep = (term: string) => {
      if (this.#ids.get(term)!.length > 0) merged.push(term);
      else this.#ids.delete(term);
    };
    while (i < sorted.length && j < pending.length) {
      keep(sorted[i]! < pending[j]! ? sorted[i++]! : pending[j++]!);
    }
    while (i < sorted.length) keep(sorted[i++]!);
    while (j < pending.length) keep(pending[j++]!);
    this.#sorted = merged;
    this.#pending = [];
  }
}

/** The first index in sorted `terms` whose term is not less than `prefix`. */
function lowerBound(terms: string[], prefix: string): number {
  let low = 0, high = terms.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (terms[mid]! < prefix) low = mid + 1;
    else high = mid;
  }
  return low;
}
