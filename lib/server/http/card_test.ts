import assert from "node:assert/strict";
import { CardError, cardText, fieldsFromCard, fieldsSum, keptCard } from "./card.ts";
import type { Contact } from "../../model/contact.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const CARD = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u-1\r\nFN:Ann Example\r\n" +
  "item1.TEL:+1 555 0100\r\nitem1.X-ABLabel:Gym\r\nX-FOO;BAR=1:baz\r\nEND:VCARD\r\n";

function stored(fields: ReturnType<typeof fieldsFromCard>["fields"]): Contact {
  return {
    ...fields,
    id: "01HZY0Q4J8V3M6T0W9X2B5C7D1",
    created: "2026-01-01T00:00:00.000Z",
    updated: "2026-01-01T00:00:00.000Z",
    version: "00000000000000010000",
  };
}

Deno.test({
  name: "fieldsFromCard() keeps the card's text, its href and UID; cardText() gives it back",
  permissions: "none",
  fn() {
    const { fields, exact, uid } = fieldsFromCard(encode(CARD), "u-1.vcf");
    assert.equal(exact, true);
    assert.equal(uid, "u-1");
    assert.equal(fields.name, "Ann Example");
    assert.deepEqual(fields.phones, [{ label: "Gym", number: "+1 555 0100" }]);
    assert.equal(keptCard(fields)?.href, "u-1.vcf");
    const contact = stored(fields);
    assert.deepEqual(cardText(contact), { text: CARD, exact: true });
    assert.match(cardText(contact, "4.0").text, /^BEGIN:VCARD\r\nVERSION:4\.0\r\n/);
  },
});

Deno.test({
  name: "cardText() writes the card from the fields once another door changed them",
  permissions: "none",
  fn() {
    const contact = stored(fieldsFromCard(encode(CARD), "u-1.vcf").fields);
    const edited = { ...contact, town: "Springfield" };
    assert.notEqual(fieldsSum(edited), fieldsSum(contact));
    const { text, exact } = cardText(edited);
    assert.equal(exact, false);
    assert.match(text, /ADR:;;;Springfield;;;/);
    assert.match(text, /UID:u-1/);
    assert.doesNotMatch(text, /carddav/i);
  },
});

Deno.test({
  name: "fieldsFromCard() refuses what is not one vCard in UTF-8 with a name",
  permissions: "none",
  fn() {
    for (
      const body of [
        encode("hello"),
        encode(CARD + CARD),
        encode("BEGIN:VCARD\r\nVERSION:3.0\r\nNOTE:x\r\nEND:VCARD\r\n"),
        Uint8Array.from([0x42, 0xff]),
      ]
    ) {
      assert.throws(
        () => fieldsFromCard(body, "x.vcf"),
        (e) => e instanceof CardError && e.condition === "valid-address-data",
      );
    }
  },
});

Deno.test({
  name: "fieldsFromCard() stores a card past the contact's caps without its text (exact false)",
  permissions: "none",
  fn() {
    const big = CARD.replace("END:VCARD", `PHOTO;ENCODING=b:${"A".repeat(40_000)}\r\nEND:VCARD`);
    const { fields, exact } = fieldsFromCard(encode(big), "big.vcf");
    assert.equal(exact, false);
    assert.equal(keptCard(fields)?.card, undefined);
    assert.equal(keptCard(fields)?.href, "big.vcf");
  },
});
