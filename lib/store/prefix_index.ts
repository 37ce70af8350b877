/**
 * An in-memory index from terms (folded words, or phone digits) to the ids filed under them,
 * searched by term prefix: the view's answer to `search` without a KV range read.
 *
 * Distinct terms are kept in a sorted array, so the terms with a prefix are one range found
 * by binary search, and so is one term (there is no map beside it). New terms first go to a
 * second, short sorted array (searched the same way) and are merged into the long one when
 * the short one grows past a sixteenth of it, so adding a term costs amortized O(1) moves
 * instead of an O(n) insertion into the long array; terms left with no ids are dropped at the
 * next merge. Beside each term is its one id, or an array of its ids when it has several:
 * most terms of an address book (a phone number, the number in an email address) belong to
 * one contact, and an array per term cost about 60 bytes more. A bulk load
 * ({@link PrefixIndex.startLoad}) sorts every term once at its end.
 *
 * @module
 */

/** What a term holds: its one id, several in an array, or nothing (all removed). */
type Held<T> = T | T[] | undefined;

/**
 * Terms to ids (strings, numbers, or any values compared by identity, but never arrays),
 * searched by prefix.
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
  /** Terms in UTF-16 code unit order (`<`), merged so far, and what each holds. */
  #sorted: Run<T> = { terms: [], held: [] };
  /** Terms added since the last merge, also in order (a short array: cheap to insert in). */
  #pending: Run<T> = { terms: [], held: [] };
  /** While loading (see {@link startLoad}): the new terms, unsorted, by term. */
  #loading: Map<string, T | T[]> | undefined;

  /**
   * Starts a bulk load: the adds until {@link endLoad} only collect ids by term; `endLoad`
   * sorts the new terms once. `lists` must not be called meanwhile.
   */
  startLoad(): void {
    this.#loading ??= new Map();
  }

  /** Ends a bulk load: the new terms, sorted once, merged with those already there. */
  endLoad(): void {
    const loaded = this.#loading;
    if (loaded === undefined) return;
    this.#loading = undefined;
    const terms = [...loaded.keys()].sort();
    this.#merge({ terms, held: terms.map((term) => loaded.get(term)) });
  }

  /** Files `id` under `term`. The caller adds each pair at most once (no duplicate check). */
  add(term: string, id: T): void {
    const loading = this.#loading;
    if (
      loading !== undefined && !this.#has(this.#sorted, term) && !this.#has(this.#pending, term)
    ) {
      const held = loading.get(term);
      if (held === undefined) loading.set(term, id);
      else if (Array.isArray(held)) held.push(id);
      else loading.set(term, [held, id]);
      return;
    }
    for (const run of [this.#sorted, this.#pending]) {
      const at = lowerBound(run.terms, term);
      if (run.terms[at] !== term) continue;
      const held = run.held[at];
      if (held === undefined) run.held[at] = id;
      else if (Array.isArray(held)) held.push(id);
      else run.held[at] = [held, id];
      return;
    }
    const pending = this.#pending;
    const at = lowerBound(pending.terms, term);
    pending.terms.splice(at, 0, term);
    pending.held.splice(at, 0, id);
    if (pending.terms.length > Math.max(256, this.#sorted.terms.length >>> 4)) {
      this.#pending = { terms: [], held: [] };
      this.#merge(pending);
    }
  }

  /** Removes `id` from under `term`, if it is there. */
  remove(term: string, id: T): void {
    const loading = this.#loading?.get(term);
    if (loading !== undefined) {
      if (loading === id) this.#loading!.delete(term);
      else if (Array.isArray(loading) && loading.includes(id)) {
        loading.splice(loading.indexOf(id), 1);
      }
      return;
    }
    for (const run of [this.#sorted, this.#pending]) {
      const at = lowerBound(run.terms, term);
      if (run.terms[at] !== term) continue;
      const held = run.held[at];
      if (held === id) {
        run.held[at] = undefined;
      } else if (Array.isArray(held)) {
        const i = held.indexOf(id);
        if (i < 0) return;
        held[i] = held[held.length - 1]!;
        held.pop();
        if (held.length === 1) run.held[at] = held[0];
      }
      return;
    }
  }

  /**
   * The ids of every term that starts with `prefix`, in lists (an id under several such
   * terms is there several times; terms with one id share one list). The lists may be the
   * index's own: read them at once, before the index changes, and never modify them.
   */
  lists(prefix: string): T[][] {
    const out: T[][] = [];
    const singles: T[] = [];
    for (const run of [this.#sorted, this.#pending]) {
      const { terms, held } = run;
      for (let i = lowerBound(terms, prefix); i < terms.length; i++) {
        if (!terms[i]!.startsWith(prefix)) break;
        const ids = held[i];
        if (ids === undefined) continue;
        if (Array.isArray(ids)) out.push(ids);
        else singles.push(ids);
      }
    }
    if (singles.length > 0) out.push(singles);
    return out;
  }

  /** Calls `fn` once for every id filed, with its term (in no particular order). */
  forEach(fn: (term: string, id: T) => void): void {
    for (const run of [this.#sorted, this.#pending]) {
      run.terms.forEach((term, i) => {
        const held = run.held[i];
        if (held === undefined) return;
        if (Array.isArray(held)) { for (const id of held) fn(term, id); }
        else fn(term, held);
      });
    }
    for (const [term, held] of this.#loading ?? []) {
      if (Array.isArray(held)) { for (const id of held) fn(term, id); }
      else fn(term, held);
    }
  }

  /** Number of distinct terms held (some may have no ids until the next merge). */
  get terms(): number {
    return this.#sorted.terms.length + this.#pending.terms.length + (this.#loading?.size ?? 0);
  }

  #has(run: Run<T>, term: string): boolean {
    return run.terms[lowerBound(run.terms, term)] === term;
  }

  /** Merges `b` (sorted, no term of it in the sorted run) into the sorted run, dropping empties. */
  #merge(b: Run<T>): void {
    const a = this.#sorted;
    const merged: Run<T> = { terms: [], held: [] };
    const keep = (term: string, held: Held<T>) => {
      if (held === undefined || (Array.isArray(held) && held.length === 0)) return;
      merged.terms.push(term);
      merged.held.push(held);
    };
    let i = 0, j = 0;
    while (i < a.terms.length && j < b.terms.length) {
      if (a.terms[i]! < b.terms[j]!) keep(a.terms[i]!, a.held[i++]);
      else keep(b.terms[j]!, b.held[j++]);
    }
    for (; i < a.terms.length; i++) keep(a.terms[i]!, a.held[i]);
    for (; j < b.terms.length; j++) keep(b.terms[j]!, b.held[j]);
    this.#sorted = merged;
  }
}

/** Terms in order, each with what it holds. */
interface Run<T> {
  terms: string[];
  held: Array<Held<T>>;
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
