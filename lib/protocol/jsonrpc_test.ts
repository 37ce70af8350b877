import assert from "node:assert/strict";
import { formatRequest, isResponse, parseLine, type Request, type Response } from "./jsonrpc.ts";

const error = (item: Request | Response) => {
  assert.ok(isResponse(item) && "error" in item, "expected an error response");
  return item.error;
};

Deno.test({
  name: "parseLine() accepts a request and a notification",
  permissions: "none",
  fn() {
    const parsed = parseLine('{"jsonrpc":"2.0","id":"x","method":"find","params":{"name":"Bob"}}');
    assert.deepEqual(parsed, {
      batch: false,
      malformed: false,
      items: [{ id: "x", method: "find", params: { name: "Bob" } }],
    });
    const note = parseLine('{"jsonrpc":"2.0","method":"ping"}');
    assert.deepEqual(note.items, [{ method: "ping", params: {} }]);
    assert.ok(!("id" in note.items[0]!));
    const nullId = parseLine('{"jsonrpc":"2.0","id":null,"method":"ping"}');
    assert.deepEqual(nullId.items, [{ id: null, method: "ping", params: {} }]);
  },
});

Deno.test({
  name: "parseLine() rejects what is not a JSON-RPC 2.0 request",
  permissions: "none",
  fn() {
    const cases: Array<[string | Uint8Array, number]> = [
      ["fnd:Bob", -32700],
      ["{", -32700],
      [new Uint8Array([0xc3, 0x28]), -32700],
      ["[]", -32600],
      ["42", -32600],
      ['"hello"', -32600],
      ["null", -32600],
      ['{"id":1,"method":"ping"}', -32600],
      ['{"jsonrpc":"2.0","id":1}', -32600],
      ['{"jsonrpc":"2.0","id":1,"method":""}', -32600],
      ['{"jsonrpc":"2.0","id":[1],"method":"ping"}', -32600],
      ['{"jsonrpc":"2.0","id":1,"method":"ping","x":1}', -32600],
      ['{"jsonrpc":"2.0","id":1,"method":"find","params":["Bob"]}', -32602],
      ['{"jsonrpc":"2.0","id":1,"method":"find","params":null}', -32602],
    ];
    for (const [line, code] of cases) {
      const parsed = parseLine(line);
      assert.equal(parsed.items.length, 1, String(line));
      const e = error(parsed.items[0]!);
      assert.equal(e.code, code, String(line));
      assert.equal(e.data.reason, "BAD_REQUEST");
    }
  },
});

Deno.test({
  name: "parseLine() keeps the id of a request it cannot run",
  permissions: "none",
  fn() {
    const parsed = parseLine('{"jsonrpc":"2.0","id":9,"method":"find","params":[1]}');
    const item = parsed.items[0]!;
    assert.ok(isResponse(item));
    assert.equal(item.id, 9);
    assert.equal(parsed.malformed, true);
  },
});

Deno.test({
  name: "parseLine() splits a batch and marks only an all-bad batch as malformed",
  permissions: "none",
  fn() {
    const mixed = parseLine('[{"jsonrpc":"2.0","id":1,"method":"ping"}, 5]');
    assert.equal(mixed.batch, true);
    assert.equal(mixed.items.length, 2);
    assert.equal(mixed.malformed, false);
    assert.equal(parseLine("[1,2]").malformed, true);
  },
});

Deno.test({
  name: "formatRequest() and parseLine() agree",
  permissions: "none",
  fn() {
    const line = formatRequest(3, "add", { contact: { name: "Zoë" } });
    assert.deepEqual(parseLine(line.trimEnd()).items, [
      { id: 3, method: "add", params: { contact: { name: "Zoë" } } },
    ]);
  },
});
