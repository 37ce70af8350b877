/**
 * Contact ids: 26-character ULIDs (Crockford base32), sortable by creation time and
 * monotonic within one process even when many are made in the same millisecond.
 *
 * @module
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

let lastTime = -1;
const lastRandom = new Uint8Array(10);

/**
 * Makes a new id, greater than every id this process made before.
 *
 * @example Ids sort in the order they were made
 * ```ts
 * import { newId } from "./ids.ts";
 * const a = newId(), b = newId();
 * if (!(a < b) || a.length !== 26) throw new Error();
 * ```
 */
export function newId(now = Date.now()): string {
  if (now <= lastTime) {
    // Same millisecond (or a clock step back): keep the time, increment the random part.
    for (let i = lastRandom.length - 1; i >= 0; i--) {
      lastRandom[i] = (lastRandom[i]! + 1) & 0xff;
      if (lastRandom[i] !== 0) break;
    }
  } else {
    lastTime = now;
    crypto.getRandomValues(lastRandom);
    lastRandom[0]! &= 0x7f; // headroom so increments never overflow the 80 bits
  }
  return encodeTime(lastTime) + encodeRandom(lastRandom);
}

/** Whether `value` has the shape of an id. */
export function isId(value: string): boolean {
  return /^[0-9A-HJKMNP-TV-Z]{26}$/.test(value);
}

function encodeTime(time: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[time % 32] + out;
    time = Math.floor(time / 32);
  }
  return out;
}

function encodeRandom(bytes: Uint8Array): string {
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let out = "";
  for (let i = 0; i < 16; i++) {
    out = ALPHABET[Number(bits & 31n)] + out;
    bits >>= 5n;
  }
  return out;
}
