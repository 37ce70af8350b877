import assert from "node:assert/strict";
import { LineFramer, LineTooLongError, readLines } from "./framing.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function framed(chunks: Uint8Array[], max: number): string[] {
  const framer = new LineFramer(max);
  return chunks.flatMap((chunk) => framer.push(chunk)).map((line) => decoder.decode(line));
}

Deno.test({
  name: "LineFramer gives the same lines whatever the chunk boundaries",
  permissions: "none",
  fn() {
    const text = 'héllo wörld 👋\r\n{"a":1}\n\n€€€\nlast\n';
    const bytes = encoder.encode(text);
    const expected = ["héllo wörld 👋", '{"a":1}', "", "€€€", "last"];
    // Every split into two chunks, including mid-UTF-8 characters and between \r and \n.
    for (let i = 0; i <= bytes.length; i++) {
      assert.deepEqual(
        framed([bytes.subarray(0, i), bytes.subarray(i)], 100),
        expected,
        `split ${i}`,
      );
    }
    // One byte at a time.
    assert.deepEqual(framed([...bytes].map((b) => new Uint8Array([b])), 100), expected);
  },
});

Deno.test({
  name: "LineFramer holds back an unfinished line until its newline",
  permissions: "none",
  fn() {
    const framer = new LineFramer(10);
    assert.deepEqual(framer.push(encoder.encode("abc")), []);
    assert.equal(framer.pending, 3);
    assert.deepEqual(framer.push(encoder.encode("de\nf")).map((l) => decoder.decode(l)), [
      "abcde",
    ]);
    assert.equal(framer.pending, 1);
    // At the end of input, the unfinished line is the last line (a trailing \r dropped).
    framer.push(encoder.encode("g\r"));
    assert.equal(decoder.decode(framer.finish()!), "fg");
    assert.equal(framer.pending, 0);
    assert.equal(framer.finish(), null);
  },
});

Deno.test({
  name: "LineFramer throws as soon as a line passes the cap, before its newline",
  permissions: "none",
  fn() {
    const framer = new LineFramer(8);
    framer.push(encoder.encode("12345"));
    assert.throws(() => framer.push(encoder.encode("6789")), LineTooLongError);
    // Exactly the cap is fine, with or without \r.
    assert.deepEqual(framed([encoder.encode("12345678\n")], 8), ["12345678"]);
    assert.deepEqual(framed([encoder.encode("12345678\r"), encoder.encode("\n")], 8), ["12345678"]);
    assert.throws(() => framed([encoder.encode("123456789\n")], 8), LineTooLongError);
  },
});

Deno.test({
  name: "readLines() frames a ReadableStream split mid-line",
  permissions: "none",
  async fn() {
    const chunks = ['{"id":', '1}\n{"id"', ":2}\n"].map((s) => encoder.encode(s));
    const lines: string[] = [];
    for await (const line of readLines(ReadableStream.from(chunks), 64)) {
      lines.push(decoder.decode(line));
    }
    assert.deepEqual(lines, ['{"id":1}', '{"id":2}']);
  },
});
