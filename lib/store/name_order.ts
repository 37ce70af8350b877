/**
 * The view's contacts in name order, for `list` and `find`: a sorted sequence kept as a list
 * of sorted blocks of at most {@link MAX_BLOCK} items, so that an insert or a delete moves at
 * most one block's items (plus the short array of blocks when one splits or empties) instead
 * of the whole sequence: at 100,000 contacts about 200 blocks of 256-1,024 items. A position is
 * found by a binary search over the blocks' last items, then one within the block. Built from
 * scratch (at start), it is one sort of every item, cut into half-full blocks.
 *
 * @module
 */

/** Most items in one block; a block that would grow past it is split in two. */
export const MAX_BLOCK = 1024;

/** Where an item is: its block and its index in that block. */
interface Position {
  block: number;
  index: number;
}

/**
 * Items sorted by `compare`, each at most once (two items that compare equal are the same
 * key: a second insert of one is refused).
 *
 * @example Insert, page after a key, delete
 * ```ts
 * import { SortedBlocks } from "./name_order.ts";
 * const order = new SortedBlocks<number>((a, b) => a - b);
 * for (const n of [5, 1, 3]) order.insert(n);
 * if (order.after(1, 10).join() !== "3,5" || order.size !== 3) throw new Error();
 * order.delete(3);
 * if (order.from(0, 10).join() !== "1,5") throw new Error();
 * ```
 */
export class SortedBlocks<T> {
  readonly #compare: (a: T, b: T) => number;
  /** Most items in a block; a build cuts blocks half this size; a block under an eighth merges. */
  readonly #max: number;
  #blocks: T[][] = [];
  #size = 0;

  /** `maxBlock` (default {@link MAX_BLOCK}, at least 2) is for tests. */
  constructor(compare: (a: T, b: T) => number, maxBlock = MAX_BLOCK) {
    this.#compare = compare;
    this.#max = Math.max(2, maxBlock);
  }

  /** Number of items held. */
  get size(): number {
    return this.#size;
  }

  /** Number of blocks (for tests and measurements). */
  get blocks(): number {
    return this.#blocks.length;
  }

  /** Replaces the whole sequence with `items` (any order): one sort, then half-full blocks. */
  build(items: T[]): void {
    items.sort(this.#compare);
    const blocks: T[][] = [];
    const size = Math.max(1, this.#max >>> 1);
    for (let i = 0; i < items.length; i += size) blocks.push(items.slice(i, i + size));
    this.#blocks = blocks;
    this.#size = items.length;
  }

  /** Inserts `item`; returns false (and changes nothing) if an equal item is there. */
  insert(item: T): boolean {
    const blocks = this.#blocks;
    if (blocks.length === 0) {
      blocks.push([item]);
      this.#size = 1;
      return true;
    }
    const { block, index } = this.#lowerBound(item);
    // Past the last item: it goes at the end of the last block.
    const b = Math.min(block, blocks.length - 1);
    const items = blocks[b]!;
    const at = block === blocks.length ? items.length : index;
    if (at < items.length && this.#compare(items[at]!, item) === 0) return false;
    items.splice(at, 0, item);
    this.#size++;
    if (items.length > this.#max) {
      blocks.splice(b + 1, 0, items.splice(items.length >>> 1));
    }
    return true;
  }

  /** Deletes the item equal to `item`; returns whether one was there. */
  delete(item: T): boolean {
    const blocks = this.#blocks;
    const { block, index } = this.#lowerBound(item);
    const items = blocks[block];
    if (items === undefined || index >= items.length) return false;
    if (this.#compare(items[index]!, item) !== 0) return false;
    items.splice(index, 1);
    this.#size--;
    if (items.length === 0) {
      blocks.splice(block, 1);
    } else if (items.length < this.#max >>> 3) {
      // Merge with the smaller neighbour when the two fit in one block.
      const before = blocks[block - 1], after = blocks[block + 1];
      const into = before !== undefined && (after === undefined || before.length <= after.length)
        ? block - 1
        : block;
      const left = blocks[into], right = blocks[into + 1];
      if (left !== undefined && right !== undefined && left.length + right.length <= this.#max) {
        left.push(...right);
        blocks.splice(into + 1, 1);
      }
    }
    return true;
  }

  /** Up to `limit` items from the first one not less than `probe`, in order. */
  from(probe: T, limit: number): T[] {
    return this.#take(this.#lowerBound(probe), limit);
  }

  /** Up to `limit` items after `probe` (exclusive), in order. */
  after(probe: T, limit: number): T[] {
    const position = this.#lowerBound(probe);
    const items = this.#blocks[position.block];
    if (items !== undefined && this.#compare(items[position.index]!, probe) === 0) {
      position.index++;
    }
    return this.#take(position, limit);
  }

  /** The first `limit` items. */
  first(limit: number): T[] {
    return this.#take({ block: 0, index: 0 }, limit);
  }

  /** Every item, in order. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (const items of this.#blocks) yield* items;
  }

  /** Whether the blocks hold their invariants: sorted, none empty or over-full (for checks). */
  sound(): boolean {
    let count = 0;
    let last: T | undefined;
    for (const items of this.#blocks) {
      if (items.length === 0 || items.length > this.#max) return false;
      for (const item of items) {
        if (last !== undefined && this.#compare(last, item) >= 0) return false;
        last = item;
        count++;
      }
    }
    return count === this.#size;
  }

  /** Items from `position` on, at most `limit`. */
  #take(position: Position, limit: number): T[] {
    const out: T[] = [];
    const blocks = this.#blocks;
    let { block, index } = position;
    while (out.length < limit && block < blocks.length) {
      const items = blocks[block]!;
      const end = Math.min(items.length, index + limit - out.length);
      for (let i = index; i < end; i++) out.push(items[i]!);
      block++;
      index = 0;
    }
    return out;
  }

  /**
   * The position of the first item not less than `probe`: in the first block whose last item
   * is not less than it; `{ block: blocks.length, index: 0 }` when every item is less.
   */
  #lowerBound(probe: T): Position {
    const blocks = this.#blocks, compare = this.#compare;
    let low = 0, high = blocks.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const items = blocks[mid]!;
      if (compare(items[items.length - 1]!, probe) < 0) low = mid + 1;
      else high = mid;
    }
    const items = blocks[low];
    if (items === undefined) return { block: low, index: 0 };
    let a = 0, b = items.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (compare(items[mid]!, probe) < 0) a = mid + 1;
      else b = mid;
    }
    return { block: low, index: a };
  }
}
