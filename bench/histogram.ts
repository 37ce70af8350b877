/**
 * A latency histogram with logarithmic buckets (2 % wide), cheap to record into and to merge
 * across load-generator processes, so percentiles come from every request, not a sample.
 *
 * @module
 */

const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
/** Buckets: [0] holds < 1 µs; bucket i (i >= 1) holds [GROWTH^(i-1), GROWTH^i) µs. */
const BUCKETS = 1200; // GROWTH^1200 µs is about 20 000 s: nothing is longer

/**
 * Latencies in microseconds, bucketed.
 *
 * @example Percentiles of recorded latencies
 * ```ts
 * import { Histogram } from "./histogram.ts";
 * const h = new Histogram();
 * for (let i = 1; i <= 1000; i++) h.record(i / 1000); // 0.001 .. 1 ms
 * const p50 = h.percentile(50);
 * if (Math.abs(p50 - 0.5) > 0.02) throw new Error(`p50 ${p50}`);
 * ```
 */
export class Histogram {
  readonly counts: Uint32Array;
  count = 0;
  /** Sum of all latencies, in milliseconds. */
  sumMs = 0;
  maxMs = 0;

  constructor(counts?: ArrayLike<number>) {
    this.counts = new Uint32Array(BUCKETS);
    if (counts) {
      for (let i = 0; i < Math.min(BUCKETS, counts.length); i++) {
        this.counts[i] = counts[i]!;
        this.count += counts[i]!;
      }
    }
  }

  /** Records one latency given in milliseconds. */
  record(ms: number): void {
    const us = ms * 1000;
    const index = us < 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(us) / LOG_GROWTH) + 1);
    this.counts[index]!++;
    this.count++;
    this.sumMs += ms;
    if (ms > this.maxMs) this.maxMs = ms;
  }

  /** Adds another histogram's counts into this one. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sumMs += other.sumMs;
    this.maxMs = Math.max(this.maxMs, other.maxMs);
  }

  /** The latency (ms) at or under which `p` percent of the records fall; 0 when empty. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(this.count * p / 100));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        if (i === 0) return 0.0005;
        // The geometric middle of the bucket, in ms.
        return Math.pow(GROWTH, i - 0.5) / 1000;
      }
    }
    return this.maxMs;
  }

  /** A compact JSON form: `[index, count]` pairs of the non-empty buckets, plus the sums. */
  toJSON(): { buckets: Array<[number, number]>; sumMs: number; maxMs: number } {
    const buckets: Array<[number, number]> = [];
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i]) buckets.push([i, this.counts[i]!]);
    return { buckets, sumMs: this.sumMs, maxMs: this.maxMs };
  }

  /** The inverse of {@link Histogram.toJSON}. */
  static fromJSON(json: { buckets: Array<[number, number]>; sumMs: number; maxMs: number }) {
    const h = new Histogram();
    for (const [index, count] of json.buckets) {
      h.counts[index] = count;
      h.count += count;
    }
    h.sumMs = json.sumMs;
    h.maxMs = json.maxMs;
    return h;
  }
}
