/**
 * An in-memory index from terms (folded words, or phone digits) to the ids filed under them,
 * searched by term prefix: the view's answer to `search` without a KV range read.
 *
 * Distinct terms are kept in a sorted array, so the terms with a prefix are one range found
 * by binary search. New terms first go to a second, short sorted array (searched the same
 * way) and are merged into the long one when the short one grows past a sixteenth of it, so
 * adding a term costs amortized O(1) moves instead of an O(n) insertion into the long array;
 * terms left with no ids are dropped at the next merge.
 *
 * @module
 */

/**
 * Terms to ids (strings, or any values compared by identity), searched by prefix.
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
export class PrefixIndex<T = string> {
  /** Term -> ids (unordered). A term whose ids were all removed keeps an empty list. */
  readonly #ids = new Map<string, T[]>();
  /** Terms in UTF-16 code unit order (`<`), merged so far, and their id lists. */
  #sorted: Run<T> = { terms: [], lists: [] };
  /** Terms added since the last merge, also in order (a short array: cheap to insert in). */
  #pending: Run<T> = { terms: [], lists: [] };
  /** While loading (see {@link startLoad}), new terms are sorted in once, at the end. */
  #loading = false;

  /**
   * Starts a bulk load: the adds until {@link endLoad} only file ids under their terms;
   * `endLoad` sorts every term once. `lists` must not be called meanwhile.
   */
  startLoad(): void {
    this.#loading = true;
  }

  /** Ends a bulk load: every term, sorted once (emptied ones dropped). */
  endLoad(): void {
    if (!this.#loading) return;
    this.#loading = false;
    const terms: string[] = [];
    for (const [term, ids] of this.#ids) {
      if (ids.length > 0) terms.push(term);
      else this.#ids.delete(term);
    }
    terms.sort();
    this.#sorted = { terms, lists: terms.map((term) => this.#ids.get(term)!) };
    this.#pending = { terms: [], lists: [] };
  }

  /** Files `id` under `term`. The caller adds each pair at most once (no duplicate check). */
  add(term: string, id: T): void {
    const ids = this.#ids.get(term);
    if (ids !== undefined) {
      ids.push(id);
      return;
    }
    const list = [id];
    this.#ids.set(term, list);
    if (this.#loading) return;
    const pending = this.#pending;
    const at = lowerBound(pending.terms, term);
    pending.terms.splice(at, 0, term);
    pending.lists.splice(at, 0, list);
    if (pending.terms.length > Math.max(256, this.#sorted.terms.length >>> 4)) this.#merge();
  }

  /** Removes `id` from under `term`, if it is there. */
  remove(term: string, id: T): void {
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
  lists(prefix: string): T[][] {
    const out: T[][] = [];
    for (const run of [this.#sorted, this.#pending]) {
      const { terms, lists } = run;
      for (let i = lowerBound(terms, prefix); i < terms.length; i++) {
        if (!terms[i]!.startsWith(prefix)) break;
        const ids = lists[i]!;
        if (ids.length > 0) out.push(ids);
      }
    }
    return out;
  }

  /** Calls `fn` once for every id filed, with its term (in no particular order). */
  forEach(fn: (term: string, id: T) => void): void {
    for (const [term, ids] of this.#ids) for (const id of ids) fn(term, id);
  }

  /** Number of distinct terms held (some may have no ids until the next merge). */
  get terms(): number {
    return this.#ids.size;
  }

  /** Merges the pending terms into the sorted ones, dropping terms that have no ids. */
  #merge(): void {
    const a = this.#sorted, b = this.#pending;
    const merged: Run<T> = { terms: [], lists: [] };
    const keep = (term: string, ids: T[]) => {
      if (ids.length === 0) {
        this.#ids.delete(term);
        return;
      }
      merged.terms.push(term);
      merged.lists.push(ids);
    };
    let i = 0, j = 0;
    while (i < a.terms.length && j < b.terms.length) {
      if (a.terms[i]! < b.terms[j]!) keep(a.terms[i]!, a.lists[i++]!);
      else keep(b.terms[j]!, b.lists[j++]!);
    }
    for (; i < a.terms.length; i++) keep(a.terms[i]!, a.lists[i]!);
    for (; j < b.terms.length; j++) keep(b.terms[j]!, b.lists[j]!);
    this.#sorted = merged;
    this.#pending = { terms: [], lists: [] };
  }
}

/** Terms in order, each with its id list (the same array as in the term map). */
interface Run<T> {
  terms: string[];
  lists: T[][];
}

/**
 * The first index in `sorted` (ascending by `<`, UTF-16 code units) whose string is not less
 * than `value`: where `value` is, or would be inserted. Also the start of the strings that
 * begin with `value`.
 *
 * @example
 * ```ts
 * import { lowerBound } from "./prefix_index.ts";
 * const sorted = ["ann", "bob", "bobby", "cy"];
 * if (lowerBound(sorted, "bob") !== 1 || lowerBound(sorted, "bz") !== 3) throw new Error();
 * if (lowerBound(sorted, "zed") !== 4) throw new Error();
 * ```
 */
export function lowerBound(sorted: readonly string[], value: string): number {
  let low = 0, high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}
