/**
 * CardDAV (RFC 6352 on WebDAV, RFC 4918; sync RFC 6578; discovery RFC 6764; RFC 5397) for
 * the HTTP door: one shared address book. Every read and write goes through the methods
 * module (`dispatch`, with a context whose session is the request's Basic auth), so access
 * checks, validation and limits are those of the TCP door. DAV.md documents the URL layout
 * and what is supported.
 *
 * URL layout: `/.well-known/carddav` redirects to `/dav/`; `/dav/` (and `/`) is the DAV
 * root, `/dav/principal/` the one principal, `/dav/books/` its address book home and
 * `/dav/books/shared/` the book, whose members are `/dav/books/shared/<name>.vcf`.
 *
 * @module
 */

import type { Access } from "../auth.ts";
import type { Logger } from "../log.ts";
import { dispatch, dispatchNow, type MethodContext } from "../methods.ts";
import { MAX_PAGE, type Page } from "../../protocol/api.ts";
import type { Contact } from "../../model/contact.ts";
import type { ContactStore } from "../../store/mod.ts";
import type { VCardVersion } from "../../formats/vcard.ts";
import type { RequestInfo } from "./server.ts";
import { BodyTimeoutError, BodyTooLargeError } from "./server.ts";
import type { BasicAuth } from "./basic_auth.ts";
import { DavBook } from "./book.ts";
import {
  CardError,
  cardText,
  cardUid,
  fieldsFromCard,
  MAX_CARD_BYTES,
  resourceName,
} from "./card.ts";
import {
  APPLE,
  CARDDAV,
  child,
  children,
  CS,
  DAV,
  element,
  emptyElement,
  escapeXml,
  NAMESPACE_DECLARATIONS,
  parseXml,
  type XmlElement,
  XmlError,
} from "./xml.ts";

/** The paths of the layout. */
export const PATHS = {
  root: "/dav/",
  principal: "/dav/principal/",
  home: "/dav/books/",
  book: "/dav/books/shared/",
} as const;

/** The methods a resource allows, for `Allow` and OPTIONS. */
const ALLOW = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, REPORT";

/** Members per `sync-collection` answer at most are whatever changed; the log bounds it. */
const XML_HEADER = '<?xml version="1.0" encoding="utf-8"?>\n';

/** What the CardDAV handler needs from the server. */
export interface DavOptions {
  store: ContactStore;
  log: Logger;
  auth: BasicAuth;
  /**
   * Off loopback without TLS and not allowed by `--http-plain-auth`: credentials are
   * refused (every request of a protected server gets 403 saying why).
   */
  refusePlainAuth: boolean;
  /** Figures for `stats` (the methods' context). */
  serverStats: MethodContext["serverStats"];
}

/** A request refused with a status and, for DAV, a precondition element. */
class DavError extends Error {
  readonly status: number;
  readonly condition: string | undefined;
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    message: string,
    condition?: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.condition = condition;
    this.headers = headers;
  }
}

/** One property asked for: its namespace and name. */
interface PropName {
  ns: string;
  name: string;
  /** The request element (address-data carries its wanted version). */
  el?: XmlElement;
}

/** What a PROPFIND or REPORT asks of each resource. */
type PropRequest = { kind: "prop"; props: PropName[] } | { kind: "allprop" } | {
  kind: "propname";
};

/** The kinds of resource in the layout. */
type Place =
  | { kind: "root" | "principal" | "home" | "book" }
  | { kind: "card"; name: string }
  | { kind: "none" };

/** A request's per-call state: who asks, and the methods' context. */
interface Call {
  access: Exclude<Access, "none">;
  context: MethodContext;
  info: RequestInfo;
}

const CARD_TYPE = "text/vcard; charset=utf-8";

/**
 * Content types a PUT card may come as: vCard's own, and the generic ones that tools send
 * by default (curl's form type, fetch's text/plain); anything else (HTML, JSON...) is 415.
 */
const CARD_TYPES = [
  "text/vcard",
  "text/x-vcard",
  "text/directory",
  "text/plain",
  "application/octet-stream",
  "application/x-www-form-urlencoded",
  "",
];

/**
 * The CardDAV handler: routes a request, checks its credentials, answers it.
 *
 * @example OPTIONS on an open server
 * ```ts
 * import { CardDav } from "./dav.ts";
 * import { BasicAuth } from "./basic_auth.ts";
 * import { ContactStore } from "../../store/mod.ts";
 * import { createLogger } from "../log.ts";
 * await using store = await ContactStore.open(":memory:");
 * const log = createLogger("error");
 * const dav = new CardDav({ store, log, auth: new BasicAuth(undefined, undefined, log),
 *   refusePlainAuth: false, serverStats: () => ({ open: 0, total: 0, requests: 0, uptime: 0 }) });
 * const info = { peer: "127.0.0.1:1", host: "127.0.0.1", number: 1,
 *   body: () => Promise.resolve(new Uint8Array()), stream: () => new ReadableStream() };
 * const reply = await dav.handle(new Request("http://x/dav/", { method: "OPTIONS" }), info);
 * if (!reply.headers.get("dav")?.includes("addressbook")) throw new Error();
 * ```
 */
export class CardDav {
  readonly #options: DavOptions;
  readonly #book: DavBook;
  /** Writes run one at a time, so a UID is checked and taken atomically. */
  #writing: Promise<unknown> = Promise.resolve();
  /** PROPPATCHed values (displayname, me-card), kept while the server runs. */
  readonly #patched = new Map<string, string>();

  constructor(options: DavOptions) {
    this.#options = options;
    this.#book = new DavBook(options.store);
  }

  /** Answers one request; never throws for a client's mistake (4xx), only for a fault. */
  async handle(request: Request, info: RequestInfo): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method.toUpperCase();
    if (path === "/.well-known/carddav" || path === "/.well-known/carddav/") {
      return new Response(null, {
        status: 301,
        headers: { location: PATHS.root, "cache-control": "no-store" },
      });
    }
    if (method === "OPTIONS") {
      await drain(request);
      return options();
    }
    try {
      const access = await this.#authorize(request, info);
      const context = this.#context(access, info);
      const call: Call = { access, context, info };
      const place = placeOf(path);
      if (place.kind === "none") {
        await drain(request);
        throw new DavError(404, `Nothing is at ${JSON.stringify(path.slice(0, 200))}`);
      }
      switch (method) {
        case "PROPFIND":
          return await this.#propfind(request, call, place, path);
        case "REPORT":
          return await this.#report(request, call, place);
        case "GET":
        case "HEAD":
          return await this.#get(request, call, place, method === "HEAD");
        case "PUT":
          return await this.#exclusive(() => this.#put(request, call, place));
        case "DELETE":
          return await this.#exclusive(() => this.#delete(request, call, place));
        case "PROPPATCH":
          return await this.#proppatch(request, call, place, path);
        default:
          await drain(request);
          throw new DavError(405, `${method.slice(0, 20)} is not supported here`, undefined, {
            allow: ALLOW,
          });
      }
    } catch (error) {
      await drain(request);
      return this.#errorReply(error, info);
    }
  }

  /** Runs writes one after another (each awaits the one before). */
  #exclusive<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#writing.then(run, run);
    this.#writing = next.catch(() => {});
    return next;
  }

  async #authorize(request: Request, info: RequestInfo): Promise<Exclude<Access, "none">> {
    const { auth, refusePlainAuth } = this.#options;
    if (!auth.required) return "write";
    if (refusePlainAuth) {
      throw new DavError(
        403,
        "This server does not take tokens over plain HTTP off loopback: give it a TLS " +
          "certificate (cert.pem and key.pem in the data folder), or start it with " +
          "--http-plain-auth to accept them in clear",
      );
    }
    const outcome = await auth.check(
      request.headers.get("authorization"),
      info.peer,
      info.host,
      info.number,
    );
    if (outcome.kind === "ok") return outcome.access;
    if (outcome.kind === "wait") {
      throw new DavError(429, outcome.message, undefined, {
        "retry-after": String(outcome.retryAfter),
      });
    }
    throw new DavError(401, outcome.message, undefined, {
      "www-authenticate": 'Basic realm="addressbook", charset="UTF-8"',
    });
  }

  #context(access: Exclude<Access, "none">, info: RequestInfo): MethodContext {
    const required = this.#options.auth.required;
    return {
      store: this.#options.store,
      connection: info.number,
      requests: 1,
      log: this.#options.log,
      serverStats: this.#options.serverStats,
      session: {
        required,
        access,
        authenticate: () => Promise.reject(new Error("HTTP requests authenticate with Basic")),
      },
    };
  }

  /** Runs a method through the methods module; an error reply becomes a {@link DavError}. */
  async #call(
    call: Call,
    method: string,
    params: Record<string, unknown>,
    what: string,
  ): Promise<unknown> {
    const request = { id: 1, method, params };
    const response = dispatchNow(request, call.context) || await dispatch(request, call.context);
    if (response === undefined) throw new Error("no response to a request with an id");
    if ("result" in response) return response.result;
    const { message, data } = response.error;
    switch (data.reason) {
      case "UNAUTHORIZED":
        throw needPrivileges(what);
      case "NOT_FOUND":
        throw new DavError(404, message);
      case "CONFLICT":
        throw new DavError(412, `The card changed meanwhile: ${message}`);
      case "BAD_REQUEST":
        throw new DavError(403, message, `${CARDDAV} valid-address-data`);
      case "TOO_LARGE":
        throw new DavError(413, message, `${CARDDAV} max-resource-size`);
      case "UNAVAILABLE":
        throw new DavError(507, message);
      case "BUSY":
        throw new DavError(503, message, undefined, { "retry-after": "1" });
      default:
        throw new DavError(500, message);
    }
  }

  #getContact(call: Call, id: string): Contact {
    const response = dispatchNow({ id: 1, method: "get", params: { id } }, call.context);
    if (response && "result" in response) return response.result as Contact;
    if (response && response.error.data.reason === "NOT_FOUND") {
      throw new DavError(404, "No card has this name");
    }
    throw new DavError(500, response ? response.error.message : "The store cannot answer now");
  }

  /** Every contact, a page at a time, through the methods module's `list`. */
  async *#contacts(call: Call): AsyncGenerator<Contact> {
    let cursor: string | null = null;
    do {
      const page = await this.#call(
        call,
        "list",
        { limit: MAX_PAGE, ...(cursor ? { cursor } : {}) },
        "read",
      ) as Page;
      yield* page.contacts;
      cursor = page.cursor;
    } while (cursor !== null);
  }

  // -------------------------------------------------------------------------------------
  // PROPFIND

  async #propfind(request: Request, call: Call, place: Place, path: string): Promise<Response> {
    const depth = (request.headers.get("depth") ?? "0").trim().toLowerCase();
    if (depth !== "0" && depth !== "1") {
      await drain(request);
      throw new DavError(
        403,
        "PROPFIND with Depth: infinity is not supported: ask with Depth 0 or 1",
        `${DAV} propfind-finite-depth`,
      );
    }
    const props = propRequest(await this.#xmlBody(call, true), "propfind");
    await this.#book.catchUp();
    const base = baseUrl(request);
    if (place.kind === "card") {
      return multistatus(
        multistatusOpen() + this.#cardResponse(call, place.name, props) + "</d:multistatus>\n",
      );
    }
    const body = async function* (self: CardDav): AsyncGenerator<string> {
      yield multistatusOpen();
      {
        yield self.#collectionResponse(
          call,
          place.kind as CollectionKind,
          props,
          pathOf(place, path),
          base,
        );
        if (depth === "1") {
          const members: Record<string, CollectionKind | undefined> = {
            root: "principal",
            principal: undefined,
            home: "book",
            book: undefined,
          };
          const member = members[place.kind];
          if (member) yield self.#collectionResponse(call, member, props, PATHS[member], base);
          if (place.kind === "root") {
            yield self.#collectionResponse(call, "home", props, PATHS.home, base);
          }
          if (place.kind === "book") {
            for await (const contact of self.#contacts(call)) {
              yield self.#memberResponse(call, contact, resourceName(contact), props);
            }
          }
        }
      }
      yield "</d:multistatus>\n";
    };
    return multistatus(call.info.stream(body(this)));
  }

  /** A `response` for a collection of the layout. */
  #collectionResponse(
    call: Call,
    kind: CollectionKind,
    props: PropRequest,
    href: string,
    base: string,
  ): string {
    const values = this.#collectionProps(call, kind, base);
    return response(href, props, values);
  }

  /** The properties of a collection: name -> XML content (or a function giving it). */
  #collectionProps(call: Call, kind: CollectionKind, _base: string): Map<string, () => string> {
    const props = new Map<string, () => string>();
    const set = (ns: string, name: string, value: () => string) =>
      props.set(`${ns} ${name}`, value);
    const href = (path: string) => `<d:href>${escapeXml(path)}</d:href>`;
    set(DAV, "current-user-principal", () => href(PATHS.principal));
    set(DAV, "principal-URL", () => href(PATHS.principal));
    set(DAV, "owner", () => href(PATHS.principal));
    set(CARDDAV, "addressbook-home-set", () => href(PATHS.home));
    set(DAV, "current-user-privilege-set", () => privileges(call.access));
    set(DAV, "supported-report-set", () => supportedReports(kind));
    const names: Record<CollectionKind, string> = {
      root: "addressbook",
      principal: "addressbook user",
      home: "Address books",
      book: this.#patched.get("displayname") ?? "Shared address book",
    };
    set(DAV, "displayname", () => escapeXml(names[kind]));
    const types: Record<CollectionKind, string> = {
      root: "<d:collection/>",
      principal: "<d:collection/><d:principal/>",
      home: "<d:collection/>",
      book: "<d:collection/><card:addressbook/>",
    };
    set(DAV, "resourcetype", () => types[kind]);
    if (kind === "principal") {
      set(DAV, "principal-collection-set", () => href(PATHS.root));
      set(DAV, "alternate-URI-set", () => "");
      set(DAV, "group-membership", () => "");
    }
    if (kind === "book") {
      const token = this.#book.token(this.#book.seq);
      set(DAV, "sync-token", () => escapeXml(token));
      set(CS, "getctag", () => escapeXml(token));
      set(
        CARDDAV,
        "supported-address-data",
        () =>
          '<card:address-data-type content-type="text/vcard" version="3.0"/>' +
          '<card:address-data-type content-type="text/vcard" version="4.0"/>',
      );
      set(CARDDAV, "max-resource-size", () => String(MAX_CARD_BYTES));
      set(CARDDAV, "addressbook-description", () => "The shared address book of this server");
      const me = this.#patched.get("me-card");
      if (me !== undefined) set(CS, "me-card", () => href(me));
    }
    return props;
  }

  /** A `response` for one member card (PROPFIND depth 1, REPORTs). */
  #memberResponse(call: Call, contact: Contact, name: string, props: PropRequest): string {
    return response(PATHS.book + encodeURIComponent(name), props, cardProps(call, contact));
  }

  #cardResponse(call: Call, name: string, props: PropRequest): string {
    const id = this.#book.idOf(name);
    if (id === undefined) throw new DavError(404, "No card has this name");
    return this.#memberResponse(call, this.#getContact(call, id), name, props);
  }

  // -------------------------------------------------------------------------------------
  // REPORT

  async #report(request: Request, call: Call, place: Place): Promise<Response> {
    const root = await this.#xmlBody(call, false);
    if (root === undefined) throw new DavError(400, "A REPORT needs an XML body");
    await this.#book.catchUp();
    const kind = `${root.ns} ${root.name}`;
    if (kind === `${CARDDAV} addressbook-multiget`) return this.#multiget(call, place, root);
    if (kind === `${CARDDAV} addressbook-query`) return this.#query(call, place, root);
    if (kind === `${DAV} sync-collection`) return await this.#sync(call, place, root);
    void request;
    throw new DavError(403, `The report ${root.name} is not supported`, `${DAV} supported-report`);
  }

  #multiget(call: Call, place: Place, root: XmlElement): Response {
    if (place.kind !== "book") {
      throw new DavError(
        403,
        "addressbook-multiget is a report on the address book",
        `${DAV} supported-report`,
      );
    }
    const props = propRequest(root, "addressbook-multiget");
    const hrefs = children(root, DAV, "href").map((h) => h.text.trim());
    const body = async function* (self: CardDav): AsyncGenerator<string> {
      yield multistatusOpen();
      for (const href of hrefs) {
        const name = memberName(href);
        const id = name === undefined ? undefined : self.#book.idOf(name);
        let contact: Contact | undefined;
        if (id !== undefined) {
          try {
            contact = self.#getContact(call, id);
          } catch (error) {
            if (!(error instanceof DavError && error.status === 404)) throw error;
          }
        }
        yield contact
          ? self.#memberResponse(call, contact, name!, props)
          : `<d:response><d:href>${
            escapeXml(href)
          }</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response>\n`;
      }
      yield "</d:multistatus>\n";
    };
    return multistatus(call.info.stream(body(this)));
  }

  #query(call: Call, place: Place, root: XmlElement): Response {
    if (place.kind !== "book") {
      throw new DavError(
        403,
        "addressbook-query is a report on the address book",
        `${DAV} supported-report`,
      );
    }
    const props = propRequest(root, "addressbook-query");
    const matcher = queryMatcher(child(root, CARDDAV, "filter"));
    const limitText = child(root, CARDDAV, "limit") &&
      child(child(root, CARDDAV, "limit")!, CARDDAV, "nresults")?.text.trim();
    let limit = Infinity;
    if (limitText !== undefined && limitText !== null) {
      if (!/^\d{1,9}$/.test(limitText) || Number(limitText) < 1) {
        throw new DavError(
          400,
          `The limit ${JSON.stringify(limitText.slice(0, 20))} is not a whole number from 1`,
        );
      }
      limit = Number(limitText);
    }
    const body = async function* (self: CardDav): AsyncGenerator<string> {
      yield multistatusOpen();
      let found = 0;
      let truncated = false;
      for await (const contact of self.#contacts(call)) {
        if (!matcher(contact)) continue;
        if (found >= limit) {
          truncated = true;
          break;
        }
        found++;
        yield self.#memberResponse(call, contact, resourceName(contact), props);
      }
      if (truncated) {
        yield `<d:response><d:href>${PATHS.book}</d:href><d:status>HTTP/1.1 507 Insufficient Storage</d:status>` +
          `<d:error><d:number-of-matches-within-limits/></d:error></d:response>\n`;
      }
      yield "</d:multistatus>\n";
    };
    return multistatus(call.info.stream(body(this)));
  }

  async #sync(call: Call, place: Place, root: XmlElement): Promise<Response> {
    if (place.kind !== "book") {
      throw new DavError(
        403,
        "sync-collection is a report on the address book",
        `${DAV} supported-report`,
      );
    }
    const level = child(root, DAV, "sync-level")?.text.trim() ?? "1";
    if (level !== "1") {
      throw new DavError(
        403,
        "Only sync-level 1 is supported (the book has no sub-collections)",
        `${DAV} supported-report`,
      );
    }
    const props = propRequest(root, "sync-collection");
    const given = child(root, DAV, "sync-token")?.text.trim() ?? "";
    const book = this.#book;
    const store = this.#options.store;
    const head = book.seq;
    if (given === "") {
      const all = async function* (self: CardDav): AsyncGenerator<string> {
        yield multistatusOpen();
        for await (const contact of self.#contacts(call)) {
          yield self.#memberResponse(call, contact, resourceName(contact), props);
        }
        yield `<d:sync-token>${escapeXml(book.token(head))}</d:sync-token>\n</d:multistatus>\n`;
      };
      return multistatus(call.info.stream(all(this)));
    }
    const checked = await book.checkToken(given);
    if (!checked.ok) {
      throw new DavError(
        403,
        `The sync token cannot be used: ${checked.why}; sync again from scratch`,
        `${DAV} valid-sync-token`,
      );
    }
    // The ids changed after the token, each once (the log holds at most its limit).
    const changed = new Map<string, number>();
    for (let after = checked.seq; after < head;) {
      const events = await store.changesAfter(after, 1000);
      if (events.length === 0 || events[0]!.seq !== after + 1) {
        throw new DavError(
          403,
          "The sync token is older than the change log the server keeps; sync again from scratch",
          `${DAV} valid-sync-token`,
        );
      }
      for (const event of events) {
        if (event.seq > head) break;
        changed.delete(event.id);
        changed.set(event.id, event.seq);
        after = event.seq;
      }
    }
    const gone: [string, string][] = [];
    const present: Contact[] = [];
    for (const [id, seq] of changed) {
      let contact: Contact | undefined;
      try {
        contact = this.#getContact(call, id);
      } catch (error) {
        if (!(error instanceof DavError && error.status === 404)) throw error;
      }
      if (contact) present.push(contact);
      else {
        const href = book.removedHref(id, seq);
        if (href === undefined) {
          throw new DavError(
            403,
            "The sync token is from before this server started and a card removed since " +
              "cannot be named; sync again from scratch",
            `${DAV} valid-sync-token`,
          );
        }
        gone.push([id, href]);
      }
    }
    const body = async function* (self: CardDav): AsyncGenerator<string> {
      yield multistatusOpen();
      for (const contact of present) {
        yield self.#memberResponse(call, contact, resourceName(contact), props);
      }
      for (const [, href] of gone) {
        yield `<d:response><d:href>${escapeXml(PATHS.book + encodeURIComponent(href))}</d:href>` +
          "<d:status>HTTP/1.1 404 Not Found</d:status></d:response>\n";
      }
      yield `<d:sync-token>${escapeXml(book.token(head))}</d:sync-token>\n</d:multistatus>\n`;
    };
    return multistatus(call.info.stream(body(this)));
  }

  // -------------------------------------------------------------------------------------
  // GET, PUT, DELETE

  async #get(request: Request, call: Call, place: Place, head: boolean): Promise<Response> {
    await drain(request);
    await this.#book.catchUp();
    const version = wantedVersion(request.headers.get("accept"));
    if (place.kind === "book") {
      // The whole book as one vCard file, streamed.
      const all = async function* (self: CardDav): AsyncGenerator<string> {
        for await (const contact of self.#contacts(call)) yield cardText(contact, version).text;
      };
      return new Response(head ? null : call.info.stream(all(this)), {
        headers: {
          "content-type": CARD_TYPE,
          "content-disposition": 'inline; filename="book.vcf"',
        },
      });
    }
    if (place.kind !== "card") {
      return new Response(
        head
          ? null
          : `This is a CardDAV server: add ${
            baseUrl(request)
          }${PATHS.root} to a contacts app (see DAV.md)\n`,
        {
          headers: { "content-type": "text/plain; charset=utf-8" },
        },
      );
    }
    const id = this.#book.idOf(place.name);
    if (id === undefined) throw new DavError(404, "No card has this name");
    const contact = this.#getContact(call, id);
    const etag = `"${contact.version}"`;
    const headers = {
      etag,
      "content-type": CARD_TYPE,
      "last-modified": new Date(contact.updated).toUTCString(),
    };
    const none = request.headers.get("if-none-match");
    if (none !== null && matchesEtag(none, etag)) {
      return new Response(null, { status: 304, headers });
    }
    const { text } = cardText(contact, version);
    return new Response(head ? null : text, { headers });
  }

  async #put(request: Request, call: Call, place: Place): Promise<Response> {
    if (place.kind !== "card") {
      throw new DavError(405, "PUT takes a card inside the address book", undefined, {
        allow: ALLOW,
      });
    }
    if (call.access !== "write") throw needPrivileges("write-content");
    const type = (request.headers.get("content-type") ?? "text/vcard").split(";")[0]!.trim()
      .toLowerCase();
    if (
      !CARD_TYPES.includes(
        type,
      )
    ) {
      throw new DavError(
        415,
        `A card must be text/vcard, not ${JSON.stringify(type.slice(0, 60))}`,
        `${CARDDAV} supported-address-data`,
      );
    }
    const body = await readCapped(call.info, MAX_CARD_BYTES);
    await this.#book.catchUp();
    const name = place.name;
    const { fields, exact, uid } = (() => {
      try {
        return fieldsFromCard(body, name);
      } catch (error) {
        if (error instanceof CardError) {
          throw new DavError(
            error.condition === "max-resource-size" ? 413 : 403,
            error.message,
            `${CARDDAV} ${error.condition}`,
          );
        }
        throw error;
      }
    })();
    const id = this.#book.idOf(name);
    const current = id === undefined ? undefined : this.#getContact(call, id);
    const ifMatch = request.headers.get("if-match");
    const ifNone = request.headers.get("if-none-match");
    if (current === undefined) {
      if (ifMatch !== null) throw new DavError(412, "If-Match names a card that does not exist");
    } else {
      const etag = `"${current.version}"`;
      if (ifNone !== null && (ifNone.trim() === "*" || matchesEtag(ifNone, etag))) {
        throw new DavError(412, "If-None-Match: the card exists already");
      }
      if (ifMatch !== null && !matchesEtag(ifMatch, etag)) {
        throw new DavError(412, "If-Match: the card has changed since (its ETag is another now)");
      }
    }
    if (uid !== "") {
      const owner = this.#book.idOfUid(uid);
      if (owner !== undefined && owner !== current?.id) {
        const href = PATHS.book + encodeURIComponent(this.#book.hrefOf(owner) ?? "");
        throw new DavError(
          409,
          `Another card (${href}) has the UID ${JSON.stringify(uid.slice(0, 100))}`,
          `${CARDDAV} no-uid-conflict`,
          {},
        );
      }
    }
    if (current !== undefined && uid !== cardUid(current) && !(uid === "" && current.uid === "")) {
      throw new DavError(
        409,
        `A PUT may not change a card's UID (it is ${
          JSON.stringify(cardUid(current).slice(0, 100))
        })`,
        `${CARDDAV} no-uid-conflict`,
      );
    }
    let stored: Contact;
    if (current === undefined) {
      stored = await this.#call(call, "add", { contact: fields }, "bind") as Contact;
    } else {
      // The version read above: a write by another door meanwhile is a CONFLICT (412).
      const params = { id: current.id, version: current.version, contact: fields };
      stored = await this.#call(call, "update", params, "write-content") as Contact;
    }
    this.#book.put(stored);
    const headers: Record<string, string> = {};
    if (exact) headers.etag = `"${stored.version}"`;
    if (current === undefined) headers.location = PATHS.book + encodeURIComponent(name);
    return new Response(null, { status: current === undefined ? 201 : 204, headers });
  }

  async #delete(request: Request, call: Call, place: Place): Promise<Response> {
    await drain(request);
    if (place.kind !== "card") {
      throw new DavError(
        403,
        "Only a card can be deleted, not a collection",
        `${DAV} need-privileges`,
      );
    }
    if (call.access !== "write") throw needPrivileges("unbind");
    await this.#book.catchUp();
    const id = this.#book.idOf(place.name);
    if (id === undefined) throw new DavError(404, "No card has this name");
    const current = this.#getContact(call, id);
    const ifMatch = request.headers.get("if-match");
    if (ifMatch !== null && !matchesEtag(ifMatch, `"${current.version}"`)) {
      throw new DavError(412, "If-Match: the card has changed since (its ETag is another now)");
    }
    await this.#call(call, "remove", { id, version: current.version }, "unbind");
    this.#book.removed(id);
    return new Response(null, { status: 204 });
  }

  // -------------------------------------------------------------------------------------
  // PROPPATCH

  async #proppatch(request: Request, call: Call, place: Place, path: string): Promise<Response> {
    const root = await this.#xmlBody(call, false);
    if (call.access !== "write") throw needPrivileges("write-properties");
    if (root === undefined || root.ns !== DAV || root.name !== "propertyupdate") {
      throw new DavError(400, "A PROPPATCH body is a DAV:propertyupdate");
    }
    void request;
    const wanted: { ns: string; name: string; value: string; remove: boolean }[] = [];
    for (const action of root.children) {
      if (action.ns !== DAV || (action.name !== "set" && action.name !== "remove")) continue;
      for (const prop of children(action, DAV, "prop")) {
        for (const p of prop.children) {
          const value = p.name === "me-card"
            ? (child(p, DAV, "href")?.text.trim() ?? "")
            : p.text.trim();
          wanted.push({
            ns: p.ns,
            name: p.name,
            value: value.slice(0, 1000),
            remove: action.name === "remove",
          });
        }
      }
    }
    const allowed = (ns: string, name: string) =>
      (ns === DAV && name === "displayname") || (ns === CS && name === "me-card") ||
      (ns === APPLE && name === "addressbook-color");
    const ok = place.kind === "book" && wanted.every((w) => allowed(w.ns, w.name));
    if (ok) {
      for (const w of wanted) {
        const key = w.name === "displayname" ? "displayname" : w.name;
        if (w.remove) this.#patched.delete(key);
        else this.#patched.set(key, w.value);
      }
    }
    const statusOf = (w: { ns: string; name: string }) =>
      ok
        ? "HTTP/1.1 200 OK"
        : place.kind === "book" && allowed(w.ns, w.name)
        ? "HTTP/1.1 424 Failed Dependency"
        : "HTTP/1.1 403 Forbidden";
    let xml = multistatusOpen() + `<d:response><d:href>${escapeXml(path)}</d:href>`;
    for (const w of wanted) {
      xml += `<d:propstat><d:prop>${emptyElement(w.ns, w.name)}</d:prop><d:status>${
        statusOf(w)
      }</d:status></d:propstat>`;
    }
    xml += "</d:response>\n</d:multistatus>\n";
    return multistatus(xml);
  }

  // -------------------------------------------------------------------------------------

  /** The request's XML body, or undefined when it has none (`optional`). */
  async #xmlBody(call: Call, optional: boolean): Promise<XmlElement | undefined> {
    const bytes = await readCapped(call.info, Infinity);
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new DavError(400, "The body is not UTF-8 text");
    }
    if (text.trim() === "") {
      if (optional) return undefined;
      throw new DavError(400, "The request needs an XML body");
    }
    try {
      return parseXml(text);
    } catch (error) {
      if (error instanceof XmlError) {
        throw new DavError(400, `Cannot read the body: ${error.message}`);
      }
      throw error;
    }
  }

  #errorReply(error: unknown, info: RequestInfo): Response {
    if (error instanceof BodyTooLargeError) {
      error = new DavError(413, error.message, `${CARDDAV} max-resource-size`, {
        connection: "close",
      });
    } else if (error instanceof BodyTimeoutError) {
      error = new DavError(408, error.message, undefined, { connection: "close" });
    }
    if (!(error instanceof DavError)) {
      this.#options.log.error(
        `HTTP ${info.number} from ${info.peer}: internal error: ${
          error instanceof Error ? error.stack ?? error.message : String(error)
        }`,
      );
      error = new DavError(
        500,
        "Internal error: the request was not completed; the server logged the details",
      );
    }
    const e = error as DavError;
    const condition = e.condition === undefined ? "" : conditionElement(e.condition, e.message);
    const body = XML_HEADER + `<d:error ${NAMESPACE_DECLARATIONS}>${condition}` +
      `<ab:message>${escapeXml(e.message)}</ab:message></d:error>\n`;
    return new Response(body, {
      status: e.status,
      headers: { "content-type": "application/xml; charset=utf-8", ...e.headers },
    });
  }
}

type CollectionKind = "root" | "principal" | "home" | "book";

/** The precondition element of an error body. */
function conditionElement(condition: string, message: string): string {
  const [ns, name] = condition.split(" ") as [string, string];
  if (name === "need-privileges") {
    const privilege = /needs the (\S+) privilege/.exec(message)?.[1] ?? "write";
    return `<d:need-privileges><d:resource><d:href>${PATHS.book}</d:href><d:privilege><d:${privilege}/></d:privilege></d:resource></d:need-privileges>`;
  }
  return emptyElement(ns, name);
}

function needPrivileges(privilege: string): DavError {
  const name =
    ["read", "write", "write-content", "write-properties", "bind", "unbind"].includes(privilege)
      ? privilege
      : "write";
  return new DavError(
    403,
    `This token may only read: the request needs the ${name} privilege (use the read-write token)`,
    `${DAV} need-privileges`,
  );
}

/** The OPTIONS answer (RFC 6352 section 6.1). */
function options(): Response {
  return new Response(null, {
    status: 200,
    headers: {
      dav: "1, 3, addressbook, access-control, extended-mkcol",
      allow: ALLOW,
      "content-length": "0",
    },
  });
}

/** Reads what is left of a body so the connection can be reused; never throws. */
async function drain(request: Request): Promise<void> {
  if (request.body !== null && !request.bodyUsed) await request.body.cancel().catch(() => {});
}

/** The body, under the door's cap and a smaller one of the caller's. */
async function readCapped(info: RequestInfo, max: number): Promise<Uint8Array> {
  const body = await info.body();
  if (body.length > max) {
    throw new DavError(
      413,
      `The card is larger than ${max} bytes, the most this server takes`,
      `${CARDDAV} max-resource-size`,
    );
  }
  return body;
}

/** Where a path is in the layout. */
function placeOf(path: string): Place {
  const p = path === "/" ? PATHS.root : path.endsWith("/") ? path : path + "/";
  if (p === PATHS.root || p === "/dav/") return { kind: "root" };
  if (p === PATHS.principal) return { kind: "principal" };
  if (p === PATHS.home) return { kind: "home" };
  if (p === PATHS.book) return { kind: "book" };
  if (path.startsWith(PATHS.book)) {
    let name: string;
    try {
      name = decodeURIComponent(path.slice(PATHS.book.length));
    } catch {
      return { kind: "none" };
    }
    if (validName(name)) return { kind: "card", name };
  }
  return { kind: "none" };
}

/** Whether a resource name is one this server keeps: no slash, no control, 1 to 255 bytes. */
function validName(name: string): boolean {
  // deno-lint-ignore no-control-regex
  return name.length > 0 && name.length <= 255 && !/[/\\\u0000-\u001f\u007f]/.test(name) &&
    name !== "." && name !== ".." && name.isWellFormed();
}

/** The member name of an href given in a multiget (absolute URL or path), or undefined. */
function memberName(href: string): string | undefined {
  let path = href;
  try {
    path = new URL(href, "http://x").pathname;
  } catch {
    return undefined;
  }
  const place = placeOf(path);
  return place.kind === "card" ? place.name : undefined;
}

/** The path a collection answers as: the one asked for (`/` stays `/`). */
function pathOf(place: Place, path: string): string {
  if (place.kind === "root") return path === "/" ? "/" : PATHS.root;
  return PATHS[place.kind as CollectionKind];
}

function baseUrl(request: Request): string {
  const url = new URL(request.url);
  return `${url.protocol}//${url.host}`;
}

/** The vCard version an Accept header asks for (undefined: the server's choice). */
function wantedVersion(accept: string | null): VCardVersion | undefined {
  if (accept === null) return undefined;
  if (/text\/vcard\s*;[^,]*version\s*=\s*"?4\.0/i.test(accept)) return "4.0";
  if (/text\/vcard\s*;[^,]*version\s*=\s*"?3\.0/i.test(accept)) return "3.0";
  return undefined;
}

/** Whether an If-Match / If-None-Match list names `etag` (or is `*`). */
function matchesEtag(header: string, etag: string): boolean {
  return header.split(",").map((t) => t.trim().replace(/^W\//, "")).some((t) =>
    t === "*" || t === etag
  );
}

/** What a PROPFIND body (or a REPORT's prop list) asks for. */
function propRequest(root: XmlElement | undefined, what: string): PropRequest {
  if (root === undefined) return { kind: "allprop" };
  if (what === "propfind" && (root.ns !== DAV || root.name !== "propfind")) {
    throw new DavError(400, "A PROPFIND body is a DAV:propfind");
  }
  if (child(root, DAV, "propname")) return { kind: "propname" };
  const prop = child(root, DAV, "prop");
  if (prop) {
    return { kind: "prop", props: prop.children.map((el) => ({ ns: el.ns, name: el.name, el })) };
  }
  return { kind: "allprop" };
}

/** The properties a card has: name -> XML content. */
function cardProps(call: Call, contact: Contact): Map<string, (el?: XmlElement) => string> {
  const props = new Map<string, (el?: XmlElement) => string>();
  const etag = `"${contact.version}"`;
  props.set(`${DAV} getetag`, () => escapeXml(etag));
  props.set(`${DAV} getcontenttype`, () => CARD_TYPE);
  props.set(`${DAV} getlastmodified`, () => new Date(contact.updated).toUTCString());
  props.set(`${DAV} resourcetype`, () => "");
  props.set(`${DAV} displayname`, () => escapeXml(contact.name));
  props.set(`${DAV} current-user-privilege-set`, () => privileges(call.access));
  props.set(`${DAV} owner`, () => `<d:href>${PATHS.principal}</d:href>`);
  props.set(`${CARDDAV} address-data`, (el) => {
    const version = el?.attrs.version === "4.0"
      ? "4.0"
      : el?.attrs.version === "3.0"
      ? "3.0"
      : undefined;
    return escapeXml(cardText(contact, version).text);
  });
  props.set(
    `${DAV} getcontentlength`,
    () => String(new TextEncoder().encode(cardText(contact).text).length),
  );
  return props;
}

/** Properties left out of allprop (costly, or asked for by name only). */
const NOT_IN_ALLPROP = new Set([
  `${CARDDAV} address-data`,
  `${DAV} current-user-privilege-set`,
  `${DAV} supported-report-set`,
  `${DAV} getcontentlength`,
]);

/** One `response` element: the asked properties found (200) and not (404). */
function response(
  href: string,
  request: PropRequest,
  values: Map<string, (el?: XmlElement) => string>,
): string {
  let found = "";
  let missing = "";
  if (request.kind === "propname") {
    for (const key of values.keys()) {
      const [ns, name] = key.split(" ") as [string, string];
      found += emptyElement(ns, name);
    }
  } else if (request.kind === "allprop") {
    for (const [key, value] of values) {
      if (NOT_IN_ALLPROP.has(key)) continue;
      const [ns, name] = key.split(" ") as [string, string];
      found += element(ns, name, value());
    }
  } else {
    for (const { ns, name, el } of request.props) {
      const value = values.get(`${ns} ${name}`);
      if (value) found += element(ns, name, value(el));
      else missing += emptyElement(ns, name);
    }
  }
  let xml = `<d:response><d:href>${escapeXml(href)}</d:href>`;
  if (found !== "" || missing === "") {
    xml += `<d:propstat><d:prop>${found}</d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat>`;
  }
  if (missing !== "") {
    xml +=
      `<d:propstat><d:prop>${missing}</d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>`;
  }
  return xml + "</d:response>\n";
}

function multistatusOpen(): string {
  return XML_HEADER + `<d:multistatus ${NAMESPACE_DECLARATIONS}>\n`;
}

function multistatus(body: BodyInit): Response {
  return new Response(body, {
    status: 207,
    headers: { "content-type": "application/xml; charset=utf-8" },
  });
}

function privileges(access: Exclude<Access, "none">): string {
  const names = access === "write"
    ? [
      "read",
      "write",
      "write-properties",
      "write-content",
      "bind",
      "unbind",
      "read-current-user-privilege-set",
    ]
    : ["read", "read-current-user-privilege-set"];
  return names.map((n) => `<d:privilege><d:${n}/></d:privilege>`).join("");
}

function supportedReports(kind: CollectionKind): string {
  if (kind !== "book") return "";
  return ["<card:addressbook-multiget/>", "<card:addressbook-query/>", "<d:sync-collection/>"]
    .map((r) => `<d:supported-report><d:report>${r}</d:report></d:supported-report>`).join("");
}

// ---------------------------------------------------------------------------------------
// addressbook-query filters (RFC 6352 section 10.5)

type Matcher = (contact: Contact) => boolean;

/** The values of a card property a filter can test. */
function valuesOf(contact: Contact, property: string): string[] | undefined {
  switch (property) {
    case "FN":
      return [contact.name];
    case "EMAIL":
      return contact.emails.map((e) => e.address);
    case "TEL":
      return contact.phones.map((p) => p.number);
    case "UID":
      return [cardUid(contact)];
    case "NICKNAME":
      return contact.nickname ? [contact.nickname] : [];
    case "ORG":
      return contact.org ? [contact.org] : [];
    case "NOTE":
      return contact.notes ? [contact.notes] : [];
    default:
      return undefined;
  }
}

/** Folds text as `i;unicode-casemap` compares it. */
function caseFold(text: string): string {
  return text.normalize("NFKC").toLowerCase();
}

function queryMatcher(filter: XmlElement | undefined): Matcher {
  if (filter === undefined) return () => true;
  const anyof = (filter.attrs.test ?? "anyof") !== "allof";
  const tests = children(filter, CARDDAV, "prop-filter").map(propFilter);
  if (tests.length === 0) return () => true;
  return (contact) => anyof ? tests.some((t) => t(contact)) : tests.every((t) => t(contact));
}

function propFilter(filter: XmlElement): Matcher {
  const property = (filter.attrs.name ?? "").toUpperCase();
  if (children(filter, CARDDAV, "param-filter").length > 0) {
    throw new DavError(403, "param-filter is not supported", `${CARDDAV} supported-filter`);
  }
  if (
    valuesOf(
      { name: "", emails: [], phones: [], nickname: "", org: "", notes: "" } as unknown as Contact,
      property,
    ) === undefined
  ) {
    throw new DavError(
      403,
      `Filtering on ${
        JSON.stringify(property.slice(0, 40))
      } is not supported (FN, EMAIL, TEL, UID, NICKNAME, ORG, NOTE are)`,
      `${CARDDAV} supported-filter`,
    );
  }
  if (child(filter, CARDDAV, "is-not-defined")) {
    return (contact) => (valuesOf(contact, property) ?? []).every((v) => v === "");
  }
  const anyof = (filter.attrs.test ?? "anyof") !== "allof";
  const matches = children(filter, CARDDAV, "text-match").map((m) => {
    const collation = m.attrs.collation ?? "i;unicode-casemap";
    if (!["i;unicode-casemap", "i;ascii-casemap", "i;octet"].includes(collation)) {
      throw new DavError(
        403,
        `The collation ${JSON.stringify(collation.slice(0, 40))} is not supported`,
        `${CARDDAV} supported-collation`,
      );
    }
    const fold = collation === "i;octet" ? (t: string) => t : caseFold;
    const needle = fold(m.text);
    const type = m.attrs["match-type"] ?? "contains";
    const negate = m.attrs["negate-condition"] === "yes";
    const test = (value: string) => {
      const v = fold(value);
      switch (type) {
        case "equals":
          return v === needle;
        case "starts-with":
          return v.startsWith(needle);
        case "ends-with":
          return v.endsWith(needle);
        default:
          return v.includes(needle);
      }
    };
    return (contact: Contact) => {
      const hit = (valuesOf(contact, property) ?? []).some(test);
      return negate ? !hit : hit;
    };
  });
  if (matches.length === 0) {
    return (contact) => (valuesOf(contact, property) ?? []).some((v) => v !== "");
  }
  return (contact) => anyof ? matches.some((t) => t(contact)) : matches.every((t) => t(contact));
}
