/**
 * XML for the CardDAV door: request bodies parsed by saxes (a strict, namespace-aware,
 * streaming parser that never expands an entity a DTD defines: `vendor/saxes@6.0.0`) into
 * a small element tree, with caps on depth, element count and text; and the escaping the
 * replies are written with. A document with a DOCTYPE is refused outright, so no entity can
 * be defined at all ("billion laughs" and external entities have nothing to work with).
 *
 * @module
 */

import { SaxesParser, type SaxesTagNS } from "../../../vendor/saxes@6.0.0/saxes.js";

/** The DAV namespace (RFC 4918). */
export const DAV = "DAV:";
/** The CardDAV namespace (RFC 6352). */
export const CARDDAV = "urn:ietf:params:xml:ns:carddav";
/** The CalendarServer namespace (getctag, me-card). */
export const CS = "http://calendarserver.org/ns/";
/** Apple's iCal namespace (iOS asks for a few of its properties). */
export const APPLE = "http://apple.com/ns/ical/";
/** This server's own namespace: the sentence that says why a request was refused. */
export const OWN = "https://addressbook.invalid/ns";

/** One element: its namespace and local name, attributes, children and text. */
export interface XmlElement {
  ns: string;
  name: string;
  /** Attribute values by local name (attributes without a prefix: no namespace). */
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own text (its children's text not included), whitespace kept. */
  text: string;
}

/** Caps that any request body is parsed under. */
export interface XmlLimits {
  /** Deepest nesting of elements (the root is 1). */
  maxDepth: number;
  /** Elements in the whole document. */
  maxElements: number;
}

/** The caps used unless told otherwise: WebDAV bodies nest 6 or 7 deep. */
export const XML_LIMITS: XmlLimits = { maxDepth: 32, maxElements: 100_000 };

/** A request body that is not XML this door reads; the message says why, in one sentence. */
export class XmlError extends SyntaxError {
  constructor(message: string) {
    super(message);
    this.name = "XmlError";
  }
}

/**
 * Parses a document into its root element. Throws {@link XmlError} for malformed XML, a
 * DOCTYPE (so any entity other than the five built-in ones), too deep a nesting or too many
 * elements.
 *
 * @example A PROPFIND body, whatever the prefixes
 * ```ts
 * import { DAV, parseXml } from "./xml.ts";
 * const root = parseXml('<A:propfind xmlns:A="DAV:"><A:prop><A:getetag/></A:prop></A:propfind>');
 * if (root.ns !== DAV || root.name !== "propfind") throw new Error();
 * if (root.children[0]?.children[0]?.name !== "getetag") throw new Error();
 * ```
 */
export function parseXml(text: string, limits: XmlLimits = XML_LIMITS): XmlElement {
  const parser = new SaxesParser({ xmlns: true, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  let problem: string | undefined;
  const stop = (why: string): never => {
    problem ??= why;
    throw new XmlError(why);
  };
  parser.on("doctype", () => stop("the body has a DOCTYPE, which this server does not accept"));
  parser.on("opentag", (tag: SaxesTagNS) => {
    if (++elements > limits.maxElements) {
      stop(`the body has more than ${limits.maxElements} elements`);
    }
    if (stack.length >= limits.maxDepth) {
      stop(`the body nests elements more than ${limits.maxDepth} deep`);
    }
    const attrs: Record<string, string> = {};
    for (const attribute of Object.values(tag.attributes)) {
      if (attribute.prefix === "xmlns" || attribute.name === "xmlns") continue;
      if (attribute.uri === "") attrs[attribute.local] = attribute.value;
    }
    const element: XmlElement = { ns: tag.uri, name: tag.local, attrs, children: [], text: "" };
    const parent = stack.at(-1);
    if (parent) parent.children.push(element);
    else root = element;
    stack.push(element);
  });
  parser.on("closetag", () => {
    stack.pop();
  });
  const addText = (text: string) => {
    const top = stack.at(-1);
    if (top) top.text += text;
  };
  parser.on("text", addText);
  parser.on("cdata", addText);
  try {
    parser.write(text).close();
  } catch (error) {
    if (error instanceof XmlError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new XmlError(problem ?? `the body is not well-formed XML (${message.slice(0, 200)})`);
  }
  if (root === undefined) throw new XmlError("the body has no root element");
  return root;
}

/** The first child of `element` with this namespace and name. */
export function child(element: XmlElement, ns: string, name: string): XmlElement | undefined {
  return element.children.find((c) => c.ns === ns && c.name === name);
}

/** Every child of `element` with this namespace and name. */
export function children(element: XmlElement, ns: string, name: string): XmlElement[] {
  return element.children.filter((c) => c.ns === ns && c.name === name);
}

const ESCAPES: Record<string, string> = {
  "\r": "&#13;",
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * Escapes text for an XML element or a quoted attribute (a CR as `&#13;`, which a parser
 * would otherwise turn into a line feed: a vCard's CRLF survive); characters XML 1.0 cannot carry
 * (C0 controls other than tab and line breaks, lone surrogates) become U+FFFD.
 *
 * @example
 * ```ts
 * import { escapeXml } from "./xml.ts";
 * if (escapeXml('a<b & "c"') !== "a&lt;b &amp; &quot;c&quot;") throw new Error();
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(/[\r&<>"']/g, (c) => ESCAPES[c]!)
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "\ufffd")
    .toWellFormed();
}

/** The prefixes the replies use for the namespaces they name. */
export const PREFIXES: Record<string, string> = {
  [DAV]: "d",
  [CARDDAV]: "card",
  [CS]: "cs",
  [APPLE]: "ical",
  [OWN]: "ab",
};

/** The `xmlns:` declarations of {@link PREFIXES}, for a reply's root element. */
export const NAMESPACE_DECLARATIONS = Object.entries(PREFIXES)
  .map(([ns, prefix]) => `xmlns:${prefix}="${escapeXml(ns)}"`).join(" ");

/**
 * An element's qualified name in a reply: the known prefix, or `null` when the namespace
 * has none (the caller then declares it on the element: {@link openTag}).
 */
export function qualified(ns: string, name: string): string | null {
  const prefix = PREFIXES[ns];
  return prefix === undefined ? null : `${prefix}:${name}`;
}

/**
 * An empty element for any namespace (an unknown property named back in a 404 propstat):
 * a known prefix, or the namespace declared as the element's default.
 *
 * @example
 * ```ts
 * import { emptyElement } from "./xml.ts";
 * if (emptyElement("DAV:", "getetag") !== "<d:getetag/>") throw new Error();
 * if (emptyElement("urn:x", "a") !== '<a xmlns="urn:x"/>') throw new Error();
 * ```
 */
export function emptyElement(ns: string, name: string): string {
  const q = qualified(ns, name);
  if (q !== null) return `<${q}/>`;
  return ns === "" ? `<${name} xmlns=""/>` : `<${name} xmlns="${escapeXml(ns)}"/>`;
}

/** A property element with content already written as XML (see {@link emptyElement}). */
export function element(ns: string, name: string, inner: string): string {
  if (inner === "") return emptyElement(ns, name);
  const q = qualified(ns, name);
  if (q !== null) return `<${q}>${inner}</${q}>`;
  return `<${name} xmlns="${escapeXml(ns)}">${inner}</${name}>`;
}
