import assert from "node:assert/strict";
import { CARDDAV, DAV, element, emptyElement, escapeXml, parseXml, XmlError } from "./xml.ts";

Deno.test({
  name: "parseXml() matches elements by namespace, whatever the prefixes",
  permissions: "none",
  fn() {
    for (
      const text of [
        '<A:propfind xmlns:A="DAV:"><A:prop><C:address-data xmlns:C="' + CARDDAV +
        '" version="4.0"/></A:prop></A:propfind>',
        '<propfind xmlns="DAV:"><prop><address-data xmlns="' + CARDDAV +
        '" version="4.0"/></prop></propfind>',
      ]
    ) {
      const root = parseXml(text);
      assert.equal(root.ns, DAV);
      const data = root.children[0]!.children[0]!;
      assert.deepEqual([data.ns, data.name, data.attrs.version], [CARDDAV, "address-data", "4.0"]);
    }
  },
});

Deno.test({
  name: "parseXml() refuses a DOCTYPE, undefined entities, too deep and too many elements",
  permissions: "none",
  fn() {
    const refused = (text: string, message: RegExp, limits = { maxDepth: 32, maxElements: 50 }) =>
      assert.throws(
        () => parseXml(text, limits),
        (e) => e instanceof XmlError && message.test(e.message),
      );
    refused('<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', /DOCTYPE/);
    refused("<a>&x;</a>", /not well-formed/);
    refused("<a>" + "<b>".repeat(40) + "</b>".repeat(40) + "</a>", /more than 32 deep/);
    refused("<a>" + "<b/>".repeat(60) + "</a>", /more than 50 elements/);
    refused("", /not well-formed|no root/);
    assert.equal(parseXml("<a>x &amp; &#x263a;<![CDATA[<y>]]></a>").text, "x & \u263a<y>");
  },
});

Deno.test({
  name: "escapeXml() keeps a CR, and reply elements declare namespaces they have no prefix for",
  permissions: "none",
  fn() {
    const text = 'BEGIN:VCARD\r\nNOTE:a<b>&"c"\u0001\r\n';
    const back = parseXml(`<a>${escapeXml(text)}</a>`).text;
    assert.equal(back, text.replace("\u0001", "\ufffd"));
    assert.equal(element(DAV, "getetag", "x"), "<d:getetag>x</d:getetag>");
    assert.equal(emptyElement("urn:other", "thing"), '<thing xmlns="urn:other"/>');
    assert.equal(parseXml(emptyElement("urn:other", "thing")).ns, "urn:other");
  },
});
