/**
 * DNS Service Discovery (RFC 6763) over multicast DNS (RFC 6762), the pure part: the service
 * types, the records a server advertises, the answer to a query, what counts as a conflict
 * while probing and who wins a probe tie-break, the next name after a conflict
 * ("Address book (2)"), and the cache a browser keeps of what answered. No sockets here:
 * `mdns.ts` has the socket, `advertiser.ts` and `browser.ts` drive it.
 *
 * @module
 */

import {
  type Answer,
  dnsPacket,
  type Packet,
} from "../../vendor/multicast-dns@7.2.5/multicast-dns.js";

/** The product's own protocol (JSON-RPC over TCP), for its client. */
export const ADDRESSBOOK_TYPE = "_addressbook._tcp.local";
/** CardDAV over plain HTTP (RFC 6764). */
export const CARDDAV_TYPE = "_carddav._tcp.local";
/** CardDAV over HTTPS (RFC 6764). */
export const CARDDAVS_TYPE = "_carddavs._tcp.local";
/** The DNS-SD meta-query that lists every service type on the link (RFC 6763 section 9). */
export const SERVICE_TYPES = "_services._dns-sd._udp.local";
/** The name a server advertises first; a conflict makes it "Address book (2)". */
export const DEFAULT_NAME = "Address book";
/** The TTL of records that name a host (A, SRV), in seconds (RFC 6762 section 10). */
export const HOST_TTL = 120;
/** The TTL of the other records (PTR, TXT), in seconds. */
export const OTHER_TTL = 4500;

/** One service a server offers: its type, its TCP port and its TXT keys. */
export interface ServiceSpec {
  /** `_addressbook._tcp.local`, `_carddav._tcp.local` or `_carddavs._tcp.local`. */
  type: string;
  port: number;
  txt: Record<string, string>;
}

/** Everything a server advertises under one name. */
export interface Advertisement {
  /** The instance name, "Address book" (no dots). */
  name: string;
  /** The host name the SRV records point at, `addressbook-10-77-0-1.local`. */
  host: string;
  /** The IPv4 address of that host name. */
  address: string;
  services: ServiceSpec[];
}

/**
 * The host name for an IPv4 address: unique on the LAN as the address is, and needing no
 * permission to read the machine's own name.
 *
 * @example
 * ```ts
 * import { hostNameFor } from "./service.ts";
 * if (hostNameFor("10.77.0.1") !== "addressbook-10-77-0-1.local") throw new Error();
 * ```
 */
export function hostNameFor(address: string): string {
  return `addressbook-${address.replaceAll(".", "-")}.local`;
}

/**
 * The name to try after a conflict (RFC 6762 section 9): "Address book" becomes
 * "Address book (2)", "Address book (2)" becomes "Address book (3)".
 *
 * @example
 * ```ts
 * import { nextName } from "./service.ts";
 * if (nextName("Address book") !== "Address book (2)") throw new Error();
 * if (nextName("Address book (9)") !== "Address book (10)") throw new Error();
 * ```
 */
export function nextName(name: string): string {
  const match = /^(.*) \((\d+)\)$/.exec(name);
  return match ? `${match[1]} (${Number(match[2]) + 1})` : `${name} (2)`;
}

/** The full name of an instance of a service type: `Address book._addressbook._tcp.local`. */
export function instanceName(name: string, type: string): string {
  return `${name}.${type}`;
}

/** TXT keys as the strings of a TXT record (`key=value`), in the order given. */
export function txtStrings(txt: Record<string, string>): string[] {
  return Object.entries(txt).map(([key, value]) => `${key}=${value}`);
}

const decoder = new TextDecoder();

/**
 * The keys of a TXT record as decoded (a list of byte strings, or strings): keys in lower
 * case, the first of a repeated key kept (RFC 6763 section 6.4), a key without `=` is "".
 *
 * @example
 * ```ts
 * import { parseTxt } from "./service.ts";
 * const txt = parseTxt([new TextEncoder().encode("Path=/dav/"), "tls=1", "tls=0", "flag"]);
 * if (txt.path !== "/dav/" || txt.tls !== "1" || txt.flag !== "") throw new Error();
 * ```
 */
export function parseTxt(data: unknown): Record<string, string> {
  const txt: Record<string, string> = {};
  const items = Array.isArray(data) ? data : [data];
  for (const item of items) {
    const text = typeof item === "string"
      ? item
      : item instanceof Uint8Array
      ? decoder.decode(item)
      : "";
    if (text === "") continue;
    const at = text.indexOf("=");
    const key = (at < 0 ? text : text.slice(0, at)).toLowerCase();
    if (key !== "" && !(key in txt)) txt[key] = at < 0 ? "" : text.slice(at + 1);
  }
  return txt;
}

function same(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/** The records of an advertisement: PTRs (shared), and SRV, TXT, A (unique to it). */
export function advertisedRecords(ad: Advertisement, ttlScale = 1): {
  shared: Answer[];
  unique: Answer[];
} {
  const ttl = (seconds: number) => Math.round(seconds * ttlScale);
  const shared: Answer[] = [];
  const unique: Answer[] = [];
  for (const service of ad.services) {
    const instance = instanceName(ad.name, service.type);
    shared.push({ name: service.type, type: "PTR", ttl: ttl(OTHER_TTL), data: instance });
    shared.push({ name: SERVICE_TYPES, type: "PTR", ttl: ttl(OTHER_TTL), data: service.type });
    unique.push({
      name: instance,
      type: "SRV",
      ttl: ttl(HOST_TTL),
      flush: true,
      data: { port: service.port, target: ad.host, priority: 0, weight: 0 },
    });
    unique.push({
      name: instance,
      type: "TXT",
      ttl: ttl(OTHER_TTL),
      flush: true,
      data: txtStrings(service.txt),
    });
  }
  unique.push({ name: ad.host, type: "A", ttl: ttl(HOST_TTL), flush: true, data: ad.address });
  return { shared, unique };
}

/** The names this advertisement claims alone: its instances and its host name. */
export function uniqueNames(ad: Advertisement): string[] {
  return [...ad.services.map((s) => instanceName(ad.name, s.type)), ad.host];
}

/**
 * The probe for an advertisement (RFC 6762 section 8.1): a question of type ANY for each
 * unique name, and the records proposed for them in the authority section.
 */
export function probePacket(ad: Advertisement): Packet {
  return {
    type: "query",
    id: 0,
    questions: uniqueNames(ad).map((name) => ({ name, type: "ANY", qu: true })),
    authorities: advertisedRecords(ad).unique.map((r) => ({ ...r, flush: false })),
  };
}

/** The announcement (every record), or with `goodbye` the same records with TTL 0. */
export function announcement(ad: Advertisement, goodbye = false): Packet {
  const { shared, unique } = advertisedRecords(ad, goodbye ? 0 : 1);
  return {
    type: "response",
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    answers: [...shared, ...unique],
  };
}

/** A record's rdata in wire form, without its length (for comparing records raw). */
export function rdataBytes(record: Answer): Uint8Array {
  try {
    switch (record.type) {
      case "SRV":
        return dnsPacket.srv.encode(record.data as never).subarray(2);
      case "TXT":
        return dnsPacket.txt.encode(record.data).subarray(2);
      case "A":
        return dnsPacket.a.encode(String(record.data)).subarray(2);
    }
  } catch {
    // data that does not encode as its type: compared as text below
  }
  return new TextEncoder().encode(JSON.stringify(record.data));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const TYPE_CODES: Record<string, number> = { A: 1, PTR: 12, TXT: 16, SRV: 33, ANY: 255 };

function compareRecords(a: Answer, b: Answer): number {
  // Class IN for all (the cache-flush bit excluded), then the type's number, then rdata.
  const type = (TYPE_CODES[a.type] ?? 0) - (TYPE_CODES[b.type] ?? 0);
  return type !== 0 ? Math.sign(type) : compareBytes(rdataBytes(a), rdataBytes(b));
}

/**
 * The simultaneous-probe tie-break (RFC 6762 section 8.2) for one name: each side's
 * proposed records sorted, compared pairwise; the lexicographically later set wins, and a
 * set that is a prefix of the other loses. 1: ours wins, -1: theirs wins, 0: the same
 * records (our own probe, looped back).
 *
 * @example
 * ```ts
 * import { tieBreak } from "./service.ts";
 * const srv = (port: number) => ({
 *   name: "A._addressbook._tcp.local", type: "SRV", data: { port, target: "h.local" },
 * });
 * if (tieBreak([srv(2007)], [srv(2008)]) !== -1 || tieBreak([srv(2008)], [srv(2008)]) !== 0) {
 *   throw new Error();
 * }
 * ```
 */
export function tieBreak(ours: Answer[], theirs: Answer[]): -1 | 0 | 1 {
  const a = [...ours].sort(compareRecords);
  const b = [...theirs].sort(compareRecords);
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = compareRecords(a[i]!, b[i]!);
    if (order !== 0) return order > 0 ? 1 : -1;
  }
  return a.length === b.length ? 0 : a.length > b.length ? 1 : -1;
}

/** Whether two records of one name and type hold the same data. */
function sameData(a: Answer, b: Answer): boolean {
  return compareBytes(rdataBytes(a), rdataBytes(b)) === 0;
}

/**
 * Whether a response claims one of our unique names with other data (RFC 6762 sections 8.1
 * and 9): a record of that name and a type we hold, whose data differs from ours. The same
 * data (our own answer looped back, or a copy of it) is no conflict.
 *
 * @example
 * ```ts
 * import { conflicts } from "./service.ts";
 * const ad = { name: "Address book", host: "h.local", address: "10.0.0.1", services: [] };
 * const other = { type: "response" as const, answers: [{ name: "H.local", type: "A", data: "10.0.0.2" }] };
 * if (!conflicts(other, ad)) throw new Error();
 * const echo = { type: "response" as const, answers: [{ name: "h.local", type: "A", data: "10.0.0.1" }] };
 * if (conflicts(echo, ad)) throw new Error();
 * ```
 */
export function conflicts(packet: Packet, ad: Advertisement): boolean {
  if (packet.type !== "response") return false;
  const ours = advertisedRecords(ad).unique;
  for (const record of [...packet.answers ?? [], ...packet.additionals ?? []]) {
    const mine = ours.filter((r) => same(r.name, record.name));
    if (mine.length === 0) continue;
    const sameType = mine.filter((r) => r.type === record.type);
    if (sameType.length === 0) continue;
    if (!sameType.some((r) => sameData(r, record))) return true;
  }
  return false;
}

/**
 * Whether a probe from someone else for one of our names beats ours (we then wait a second
 * and probe again, RFC 6762 section 8.2). Our own probe, looped back, ties and is ignored.
 */
export function probeBeatsUs(packet: Packet, ad: Advertisement): boolean {
  if (packet.type !== "query" || (packet.authorities ?? []).length === 0) return false;
  const ours = advertisedRecords(ad).unique;
  for (const name of uniqueNames(ad)) {
    const theirs = (packet.authorities ?? []).filter((r) => same(r.name, name));
    if (theirs.length === 0) continue;
    const mine = ours.filter((r) => same(r.name, name));
    if (tieBreak(mine, theirs) < 0) return true;
  }
  return false;
}

/** The answer to a query: the records asked for, and the additional ones that go with them. */
export interface Reply {
  answers: Answer[];
  additionals: Answer[];
  /** Whether a shared record (a PTR) is among the answers: sent after a short random delay. */
  shared: boolean;
}

/**
 * What this advertisement answers to a query (RFC 6762 section 6, RFC 6763 section 12):
 * a PTR question for one of its types gets the PTR, with SRV, TXT and A as additional
 * records; the meta-query gets the types; SRV, TXT, A or ANY of a name it holds gets those
 * records. Known answers in the query (with at least half their TTL left) are left out.
 *
 * @example A browse for the product's type
 * ```ts
 * import { replyTo } from "./service.ts";
 * const ad = {
 *   name: "Address book", host: "h.local", address: "10.0.0.1",
 *   services: [{ type: "_addressbook._tcp.local", port: 2007, txt: { protocol: "1" } }],
 * };
 * const reply = replyTo({ type: "query", questions: [{ name: "_addressbook._tcp.local", type: "PTR" }] }, ad);
 * if (reply.answers[0]?.data !== "Address book._addressbook._tcp.local") throw new Error();
 * if (reply.additionals.map((r) => r.type).join() !== "SRV,TXT,A") throw new Error();
 * ```
 */
export function replyTo(query: Packet, ad: Advertisement): Reply {
  const { shared, unique } = advertisedRecords(ad);
  const all = [...shared, ...unique];
  const answers: Answer[] = [];
  const add = (list: Answer[], record: Answer) => {
    if (!list.some((r) => r === record)) list.push(record);
  };
  for (const question of query.questions ?? []) {
    const any = question.type === "ANY";
    for (const record of all) {
      if (!same(record.name, question.name)) continue;
      if (any || record.type === question.type) add(answers, record);
    }
  }
  // Known-answer suppression (RFC 6762 section 7.1).
  const known = query.answers ?? [];
  const fresh = answers.filter((record) =>
    !known.some((k) =>
      same(k.name, record.name) && k.type === record.type && sameData(k, record) &&
      (k.ttl ?? 0) * 2 >= (record.ttl ?? 0)
    )
  );
  const additionals: Answer[] = [];
  const a = unique.find((r) => r.type === "A")!;
  for (const record of fresh) {
    if (record.type === "PTR" && !same(record.name, SERVICE_TYPES)) {
      for (const r of unique) if (same(r.name, String(record.data))) add(additionals, r);
      add(additionals, a);
    } else if (record.type === "SRV") {
      add(additionals, a);
    }
  }
  return {
    answers: fresh,
    additionals: additionals.filter((r) => !fresh.includes(r)),
    shared: fresh.some((r) => r.type === "PTR"),
  };
}

/** A server found on the LAN: its name, where it is, and what its TXT record says. */
export interface FoundService {
  /** The instance name, "Address book (2)". */
  name: string;
  /** The service type, `_addressbook._tcp.local`. */
  type: string;
  /** The IPv4 address to connect to. */
  address: string;
  port: number;
  /** The host name its SRV record names. */
  host: string;
  txt: Record<string, string>;
}

interface Cached<T> {
  value: T;
  expires: number;
}

/**
 * What a browser has heard: PTR, SRV, TXT and A records with their expiry (a TTL of 0, a
 * goodbye, removes a record at once, RFC 6762 section 10.1). Pure: the caller gives the time.
 *
 * @example A response, then its goodbye
 * ```ts
 * import { ServiceCache } from "./service.ts";
 * const cache = new ServiceCache();
 * const records = (ttl: number) => [
 *   { name: "_addressbook._tcp.local", type: "PTR", ttl, data: "Book._addressbook._tcp.local" },
 *   { name: "Book._addressbook._tcp.local", type: "SRV", ttl, data: { port: 2007, target: "h.local" } },
 *   { name: "h.local", type: "A", ttl, data: "10.0.0.1" },
 * ];
 * cache.add({ type: "response", answers: records(120) }, 0);
 * if (cache.services("_addressbook._tcp.local", 1000)[0]?.address !== "10.0.0.1") throw new Error();
 * cache.add({ type: "response", answers: records(0) }, 2000);
 * if (cache.services("_addressbook._tcp.local", 2000).length !== 0) throw new Error();
 * ```
 */
export class ServiceCache {
  /** Instance names by type (lower case keys). */
  readonly #ptr = new Map<string, Map<string, Cached<string>>>();
  readonly #srv = new Map<string, Cached<{ port: number; target: string }>>();
  readonly #txt = new Map<string, Cached<Record<string, string>>>();
  readonly #a = new Map<string, Cached<string>>();

  /** Takes in every record of a response received at `now` (milliseconds). */
  add(packet: Packet, now: number): void {
    if (packet.type !== "response") return;
    for (const record of [...packet.answers ?? [], ...packet.additionals ?? []]) {
      const key = record.name.toLowerCase();
      // A goodbye is kept one second (RFC 6762 section 10.1), read as gone at once here.
      const ttl = record.ttl ?? 0;
      const expires = ttl === 0 ? now : now + ttl * 1000;
      if (record.type === "PTR" && typeof record.data === "string") {
        const instances = this.#ptr.get(key) ?? new Map<string, Cached<string>>();
        this.#ptr.set(key, instances);
        instances.set(record.data.toLowerCase(), { value: record.data, expires });
      } else if (record.type === "SRV" && isSrv(record.data)) {
        const { port, target } = record.data;
        this.#srv.set(key, { value: { port, target }, expires });
      } else if (record.type === "TXT") {
        this.#txt.set(key, { value: parseTxt(record.data), expires });
      } else if (record.type === "A" && typeof record.data === "string") {
        this.#a.set(key, { value: record.data, expires });
      }
    }
  }

  /** The known instances of a type (full names), complete or not. */
  instances(type: string, now: number): string[] {
    const instances = this.#ptr.get(type.toLowerCase());
    if (!instances) return [];
    return [...instances.values()].filter((c) => c.expires > now).map((c) => c.value);
  }

  /** What is still missing to reach an instance: its SRV, TXT, or its host's A record. */
  missing(instance: string, now: number): Array<{ name: string; type: string }> {
    const key = instance.toLowerCase();
    const live = <T>(c: Cached<T> | undefined) => c !== undefined && c.expires > now;
    const wanted: Array<{ name: string; type: string }> = [];
    const srv = this.#srv.get(key);
    if (!live(srv)) wanted.push({ name: instance, type: "SRV" });
    if (!live(this.#txt.get(key))) wanted.push({ name: instance, type: "TXT" });
    if (live(srv) && !live(this.#a.get(srv!.value.target.toLowerCase()))) {
      wanted.push({ name: srv!.value.target, type: "A" });
    }
    return wanted;
  }

  /** The instances of a type that can be reached (PTR, SRV and A alive), sorted by name. */
  services(type: string, now: number): FoundService[] {
    const found: FoundService[] = [];
    for (const instance of this.instances(type, now)) {
      const key = instance.toLowerCase();
      const srv = this.#srv.get(key);
      if (!srv || srv.expires <= now) continue;
      const a = this.#a.get(srv.value.target.toLowerCase());
      if (!a || a.expires <= now) continue;
      const txt = this.#txt.get(key);
      found.push({
        name: instance.slice(0, instance.length - type.length - 1),
        type,
        address: a.value,
        port: srv.value.port,
        host: srv.value.target,
        txt: txt && txt.expires > now ? txt.value : {},
      });
    }
    return found.sort((x, y) => x.name.localeCompare(y.name));
  }

  /** Known answers for a PTR query of a type: the PTRs with their remaining TTL. */
  knownAnswers(type: string, now: number): Answer[] {
    const instances = this.#ptr.get(type.toLowerCase());
    if (!instances) return [];
    return [...instances.values()].filter((c) => c.expires > now).map((c) => ({
      name: type,
      type: "PTR",
      ttl: Math.floor((c.expires - now) / 1000),
      data: c.value,
    }));
  }
}

function isSrv(data: unknown): data is { port: number; target: string } {
  const srv = data as { port?: unknown; target?: unknown } | null;
  return typeof srv?.port === "number" && typeof srv.target === "string";
}
