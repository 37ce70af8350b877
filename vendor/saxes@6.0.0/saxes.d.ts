// The part of saxes 6.0.0's API that lib/server/http/xml.ts uses (the package's own
// saxes.d.ts does not pass strict type checking; these are a subset, written to match it).

/** An attribute of a start tag, with namespaces resolved. */
export interface SaxesAttributeNS {
  name: string;
  prefix: string;
  local: string;
  uri: string;
  value: string;
}

/** A start tag with namespaces resolved (`xmlns: true`). */
export interface SaxesTagNS {
  name: string;
  prefix: string;
  local: string;
  uri: string;
  attributes: Record<string, SaxesAttributeNS>;
  isSelfClosing: boolean;
}

/** The options xml.ts sets. */
export interface SaxesOptions {
  xmlns?: boolean;
  position?: boolean;
  fileName?: string;
}

/** A streaming, namespace-aware, non-validating XML parser (no DTD, no entity expansion). */
export declare class SaxesParser {
  constructor(options?: SaxesOptions);
  on(name: "opentag", handler: (tag: SaxesTagNS) => void): void;
  on(name: "closetag", handler: (tag: SaxesTagNS) => void): void;
  on(name: "text", handler: (text: string) => void): void;
  on(name: "cdata", handler: (text: string) => void): void;
  on(name: "doctype", handler: (doctype: string) => void): void;
  on(name: "error", handler: (error: Error) => void): void;
  on(name: "end", handler: () => void): void;
  write(chunk: string | null): this;
  close(): this;
}
