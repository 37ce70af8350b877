/** Property tests: framing and parsing hold for any input, split anywhere. */
import assert from "node:assert/strict";
import fc from "../../tests/fast_check.ts";
import { validateContact } from "../model/contact.ts";
import { fold } from "../model/search_terms.ts";
import { LineFramer, LineTooLongError } from "./framing.ts";
import { dispatch, standaloneContext } from "../server/methods.ts";
import { formatRequest, isResponse, parseLine } from "./jsonrpc.ts";
import { ContactStore } from "../store/mod.ts";

/** The lines of `bytes` as a simple reference implementation sees them, or "too long". */
function referenceLines(bytes: Uint8Array, max: number): Uint8Array[] | "too long" {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 10) continue;
    let line = bytes.subarray(start, i);
    if (line[line.length - 1] === 13) line = line.subarray(0, -1);
    if (line.length > max) return "too long";
    lines.push(line);
    start = i + 1;
  }
  const rest = bytes.subarray(start);
  const restLength = rest[rest.length - 1] === 13 ? rest.length - 1 : rest.length;
  if (restLength > max) return "too long";
  return lines;
}

/** Bytes biased towards newlines, carriage returns and multi-byte UTF-8. */
const bytesWithLines = fc.array(
  fc.oneof(
    fc.constantFrom(10, 13, 0x7b, 0x7d, 0x22, 0xc3, 0xa9, 0xf0, 0x9f),
    fc.integer({ min: 0, max: 255 }),
  ),
  { maxLength: 300 },
).map((a) => new Uint8Array(a));

Deno.test({
  name: "LineFramer gives the reference lines for any bytes split at any boundaries",
  permissions: "none",
  fn() {
    fc.assert(
      fc.property(
        bytesWithLines,
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.integer({ min: 1, max: 64 }),
        (bytes, cuts, max) => {
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) =>
            a - b
          );
          const chunks: Uint8Array[] = [];
          let previous = 0;
          for (const point of [...points, bytes.length]) {
            chunks.push(bytes.slice(previous, point));
            previous = point;
          }
          const expected = referenceLines(bytes, max);
          const framer = new LineFramer(max);
          const got: Uint8Array[] = [];
          try {
            for (const chunk of chunks) got.push(...framer.push(chunk).map((l) => l.slice()));
          } catch (error) {
            assert.ok(error instanceof LineTooLongError);
            assert.equal(expected, "too long");
            return;
          }
          assert.notEqual(expected, "too long");
          assert.deepEqual(got, expected);
        },
      ),
      { numRuns: 2000 },
    );
  },
});

Deno.test({
  name: "parseLine() never throws and always yields requests or error responses",
  permissions: "none",
  fn() {
    const anyLine = fc.oneof(
      bytesWithLines,
      fc.json().map((s) => new TextEncoder().encode(s)),
      fc.record({
        jsonrpc: fc.oneof(fc.constant("2.0"), fc.string()),
        id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.object()),
        method: fc.oneof(fc.string(), fc.integer()),
        params: fc.oneof(fc.object(), fc.array(fc.anything()), fc.string()),
      }, { requiredKeys: [] }).map((r) => new TextEncoder().encode(JSON.stringify(r))),
    );
    fc.assert(
      fc.property(anyLine, (line) => {
        const parsed = parseLine(line);
        assert.ok(parsed.items.length >= 1);
        for (const item of parsed.items) {
          if (isResponse(item)) {
            assert.ok("error" in item);
            assert.equal(typeof item.error.code, "number");
            assert.equal(item.error.data.reason, "BAD_REQUEST");
            assert.ok(item.error.message.length > 0);
          } else {
            assert.equal(typeof item.method, "string");
            assert.equal(typeof item.params, "object");
            assert.ok(!Array.isArray(item.params));
          }
        }
        // What the server sends back is always one valid JSON line.
        assert.doesNotThrow(() => JSON.parse(JSON.stringify(parsed.items)));
      }),
      { numRuns: 3000 },
    );
  },
});

/** Valid contacts: text without control characters or edge spaces, within the caps. */
const text = (max: number) =>
  fc.string({ unit: "grapheme", maxLength: max }).map((s) =>
    // deno-lint-ignore no-control-regex
    s.replace(/[\u0000-\u001f\u007f]/g, "").normalize("NFC").trim()
  );
/** A contact date: none, or a real day with or without its year. */
const date = fc.oneof(
  fc.constant(""),
  fc.record({
    year: fc.option(fc.integer({ min: 1, max: 9999 })),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
  }).map(({ year, month, day }) =>
    `${year === null ? "-" : String(year).padStart(4, "0")}-${String(month).padStart(2, "0")}-${
      String(day).padStart(2, "0")
    }`
  ),
);
const validContact = fc.record({
  name: text(40).filter((s) => fold(s) !== ""), // only marks and spaces: refused
  house: text(10),
  street: text(40),
  town: text(40),
  postcode: text(10),
  phones: fc.array(
    fc.record({ label: text(10), number: fc.stringMatching(/^\+?[0-9][0-9 ()-]{0,15}[0-9]$/) }),
    { maxLength: 3 },
  ),
  emails: fc.array(
    fc.record({ label: text(10), address: fc.emailAddress() }),
    { maxLength: 3 },
  ),
  urls: fc.array(fc.record({ label: text(10), url: fc.webUrl() }), { maxLength: 3 }),
  org: text(40),
  title: text(40),
  nickname: text(20),
  birthday: date,
  anniversary: date,
  groups: fc.uniqueArray(
    text(20).map((s) => s.replaceAll(",", "")).filter((s) => s !== "" && s.trim() === s),
    {
      maxLength: 4,
      selector: fold,
    },
  ),
  notes: text(100),
  uid: text(20),
  extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), {
    maxKeys: 3,
  }),
}).map((contact) => JSON.parse(JSON.stringify(contact))); // plain objects, as from the wire

Deno.test("valid contacts round-trip through the protocol and the store unchanged", async () => {
  await using store = await ContactStore.open(":memory:");
  const context = standaloneContext(store);
  await fc.assert(
    fc.asyncProperty(validContact, async (contact) => {
      assert.deepEqual(validateContact(contact), contact);
      const line = formatRequest(1, "add", { contact });
      const [request] = parseLine(new TextEncoder().encode(line.trimEnd())).items;
      assert.ok(request && !isResponse(request));
      const added = await dispatch(request, context);
      assert.ok(added && "result" in added, JSON.stringify(added));
      const wire = JSON.parse(JSON.stringify(added.result));
      const { id, version, created, updated, ...fields } = wire;
      assert.deepEqual(fields, contact);
      const got = await dispatch({ id: 2, method: "get", params: { id } }, context);
      assert.ok(got && "result" in got);
      assert.deepEqual(JSON.parse(JSON.stringify(got.result)), {
        ...contact,
        id,
        version,
        created,
        updated,
      });
    }),
    { numRuns: 150 },
  );
});
