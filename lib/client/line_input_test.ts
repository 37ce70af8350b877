import assert from "node:assert/strict";
import { LineReader, LineSplitStream, Prompter } from "./line_input.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test({
  name: "LineReader reads lines split mid-line and mid-character, with CRLF",
  permissions: "none",
  async fn() {
    const all = bytes("José\r\nÅse\nlast");
    // Split inside "é" (2 bytes) and inside "Å".
    const chunks = [all.subarray(0, 4), all.subarray(4, 9), all.subarray(9)];
    const reader = new LineReader(ReadableStream.from(chunks));
    assert.equal(await reader.readLine(), "José");
    assert.equal(await reader.readLine(), "Åse");
    assert.equal(await reader.readLine(), "last");
    assert.equal(await reader.readLine(), null);
    assert.equal(await reader.readLine(), null, "stays at the end");
  },
});

Deno.test({
  name: "LineReader keeps empty lines, which the menu reads as Enter",
  permissions: "none",
  async fn() {
    const reader = new LineReader(ReadableStream.from([bytes("\n\nx\n")]));
    assert.deepEqual(
      [await reader.readLine(), await reader.readLine(), await reader.readLine()],
      ["", "", "x"],
    );
  },
});

Deno.test({
  name: "LineSplitStream refuses a line longer than its cap",
  permissions: "none",
  async fn() {
    const stream = ReadableStream.from(["a".repeat(30), "b".repeat(30)])
      .pipeThrough(new LineSplitStream(50));
    await assert.rejects(Array.fromAsync(stream), /Input line is longer than 50 characters/);
  },
});

Deno.test({
  name: "Prompter trims answers, echoes them only when asked to, and returns null at the end",
  permissions: "none",
  async fn() {
    let out = "";
    const quiet = new Prompter(
      new LineReader(ReadableStream.from([bytes("  Bob  \n")])),
      (text) => out += text,
      false,
    );
    assert.equal(await quiet.ask("Name: "), "Bob");
    assert.equal(out, "Name: ");
    assert.equal(await quiet.ask("Town: "), null);
    assert.equal(out, "Name: Town: \n", "the end of input ends the prompt's line");
  },
});
