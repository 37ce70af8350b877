/**
 * Helpers for the CardDAV tests: a real server process with its HTTP door on a free port,
 * requests over real HTTP (fetch), and answers' XML read by a real XML parser (saxes, the
 * vendored bundle the server uses, checked against npm in dav_vendor_test.ts).
 *
 * @module
 */

import { TestServer } from "./helpers.ts";
import { child, children, DAV, parseXml, type XmlElement } from "../lib/server/http/xml.ts";

export { CARDDAV, child, children, CS, DAV, type XmlElement } from "../lib/server/http/xml.ts";

/** The book's path on the server. */
export const BOOK = "/dav/books/shared/";

/** A test server with its CardDAV URL. */
export interface DavServer {
  server: TestServer;
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a server with `--http-port 0` and reads its CardDAV URL from the startup line. */
export async function startDav(
  options: { args?: string[]; env?: Record<string, string>; dataDir?: string } = {},
): Promise<DavServer> {
  const server = await TestServer.start({
    ...options,
    args: ["--http-port", "0", ...(options.args ?? [])],
  });
  const line = server.logs.find((l) => / listening on /.test(l)) ?? "";
  const match = /CardDAV on (https?:\/\/\S+?)\/dav\//.exec(line);
  if (!match) {
    await server.close();
    throw new Error(`No CardDAV URL in the startup line: ${line}`);
  }
  return { server, url: match[1]!, [Symbol.asyncDispose]: () => server.close() };
}

/** An answer: status, headers, body text, and the body's XML when it is XML. */
export interface DavReply {
  status: number;
  headers: Headers;
  text: string;
  xml?: XmlElement;
}

/** Sends one request and reads the whole answer. */
export async function request(
  url: string,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string | Uint8Array; auth?: string } = {},
): Promise<DavReply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.auth !== undefined) headers.authorization = `Basic ${btoa(`user:${options.auth}`)}`;
  const reply = await fetch(url + path, {
    method,
    headers,
    ...(options.body !== undefined ? { body: options.body as BodyInit } : {}),
    redirect: "manual",
  });
  const text = await reply.text();
  const type = reply.headers.get("content-type") ?? "";
  const xml = /xml/.test(type) && text.trim() !== ""
    ? parseXml(text, { maxDepth: 64, maxElements: 10_000_000 })
    : undefined;
  return { status: reply.status, headers: reply.headers, text, ...(xml ? { xml } : {}) };
}

/** A PROPFIND of the named DAV-namespace (or `[ns, name]`) properties. */
export function propfind(
  url: string,
  path: string,
  depth: "0" | "1" | "infinity",
  props: (string | [string, string])[],
  auth?: string,
): Promise<DavReply> {
  const body = `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop>${
    props.map((p) => typeof p === "string" ? `<d:${p}/>` : `<x:${p[1]} xmlns:x="${p[0]}"/>`)
      .join("")
  }</d:prop></d:propfind>`;
  return request(url, "PROPFIND", path, {
    headers: { depth, "content-type": "application/xml" },
    body,
    ...(auth !== undefined ? { auth } : {}),
  });
}

/** One `response` of a multistatus: its href, and its properties by status. */
export interface Member {
  href: string;
  status?: number;
  /** `ns name` -> the property element, for those answered 200. */
  found: Map<string, XmlElement>;
  /** `ns name` of those answered 404. */
  missing: Set<string>;
}

/** The responses of a 207 multistatus answer. */
export function members(reply: DavReply): Member[] {
  if (reply.status !== 207 || reply.xml === undefined) {
    throw new Error(`Not a multistatus (${reply.status}): ${reply.text.slice(0, 300)}`);
  }
  if (reply.xml.ns !== DAV || reply.xml.name !== "multistatus") throw new Error(reply.text);
  return children(reply.xml, DAV, "response").map((response) => {
    const found = new Map<string, XmlElement>();
    const missing = new Set<string>();
    for (const propstat of children(response, DAV, "propstat")) {
      const status = Number(
        /HTTP\/1\.1 (\d+)/.exec(child(propstat, DAV, "status")?.text ?? "")?.[1],
      );
      for (const prop of child(propstat, DAV, "prop")?.children ?? []) {
        if (status === 200) found.set(`${prop.ns} ${prop.name}`, prop);
        else if (status === 404) missing.add(`${prop.ns} ${prop.name}`);
      }
    }
    const statusText = child(response, DAV, "status")?.text;
    const status = statusText ? Number(/HTTP\/1\.1 (\d+)/.exec(statusText)?.[1]) : undefined;
    return {
      href: child(response, DAV, "href")?.text.trim() ?? "",
      ...(status !== undefined ? { status } : {}),
      found,
      missing,
    };
  });
}

/** The precondition named in a DAV:error body (`ns name`), or undefined. */
export function precondition(reply: DavReply): string | undefined {
  const first = reply.xml?.children.find((c) => c.name !== "message");
  return first ? `${first.ns} ${first.name}` : undefined;
}

/** A vCard 3.0 text with CRLF line ends. */
export function vcard(lines: string[]): string {
  return ["BEGIN:VCARD", "VERSION:3.0", ...lines, "END:VCARD"].join("\r\n") + "\r\n";
}
