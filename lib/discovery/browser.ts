/**
 * Finding servers on the LAN with DNS-SD (RFC 6763): PTR queries for a service type (the
 * PTRs already heard given as known answers, so servers found stay quiet), SRV, TXT and A
 * queries for what a server's first answer left out, and a cache of what answered, where a
 * goodbye (TTL 0) removes a server at once.
 *
 * @module
 */

import type { Packet } from "../../vendor/multicast-dns@7.2.5/multicast-dns.js";
import { type MdnsSocket, openMdns } from "./mdns.ts";
import { ADDRESSBOOK_TYPE, type FoundService, ServiceCache } from "./service.ts";

/** How long the client browses before it decides, in milliseconds (README: about a second). */
export const BROWSE_MS = 1000;

/** A change in what answers: a server found, or gone (its goodbye, or its records expired). */
export interface BrowseEvent {
  event: "found" | "gone";
  service: FoundService;
}

/** How to browse. */
export interface BrowserOptions {
  /** The service type (default `_addressbook._tcp.local`). */
  type?: string;
  /** Opens the socket on an interface (default {@link openMdns} on `0.0.0.0`). */
  open?: (iface: string) => Promise<MdnsSocket>;
}

function key(service: FoundService): string {
  return `${service.name.toLowerCase()} ${service.address}:${service.port}`;
}

/**
 * A browser that keeps listening until closed: {@link Browser.query} asks, and
 * {@link Browser.services} says what answered and is still alive.
 */
export class Browser {
  readonly #socket: MdnsSocket;
  readonly #type: string;
  readonly #cache = new ServiceCache();
  readonly #listeners: Array<(event: BrowseEvent) => void> = [];
  #known = new Map<string, FoundService>();

  private constructor(socket: MdnsSocket, type: string) {
    this.#socket = socket;
    this.#type = type;
    socket.onPacket((packet) => this.#receive(packet));
  }

  /** Opens the socket (see `mdns.ts` for the permission it needs). */
  static async open(options: BrowserOptions = {}): Promise<Browser> {
    const socket = await (options.open ?? openMdns)("0.0.0.0");
    return new Browser(socket, options.type ?? ADDRESSBOOK_TYPE);
  }

  /** Calls `listener` for each server found or gone from now on. */
  onChange(listener: (event: BrowseEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** Sends the PTR query, with the known answers, and asks for what is still missing. */
  async query(): Promise<void> {
    const now = Date.now();
    const questions = [{ name: this.#type, type: "PTR" }];
    for (const instance of this.#cache.instances(this.#type, now)) {
      questions.push(...this.#cache.missing(instance, now));
    }
    await this.#socket.send({
      type: "query",
      id: 0,
      questions,
      answers: this.#cache.knownAnswers(this.#type, now),
    });
  }

  /** The servers that answered and are alive, sorted by name. */
  services(): FoundService[] {
    return this.#cache.services(this.#type, Date.now());
  }

  /** Looks again for servers gone by expiry (a goodbye is seen as it comes). */
  refresh(): void {
    this.#update();
  }

  #receive(packet: Packet): void {
    if (packet.type !== "response") return;
    this.#cache.add(packet, Date.now());
    this.#update();
    // A server whose answer lacked its SRV, TXT or A: ask for them (at most once per answer).
    const now = Date.now();
    const missing = this.#cache.instances(this.#type, now).flatMap((instance) =>
      this.#cache.missing(instance, now)
    );
    if (missing.length > 0 && (packet.answers ?? []).some((r) => r.type === "PTR")) {
      this.#socket.send({ type: "query", id: 0, questions: missing }).catch(() => {});
    }
  }

  #update(): void {
    const now = new Map(this.services().map((s) => [key(s), s]));
    for (const [k, service] of this.#known) {
      if (!now.has(k)) this.#emit({ event: "gone", service });
    }
    for (const [k, service] of now) {
      if (!this.#known.has(k)) this.#emit({ event: "found", service });
    }
    this.#known = now;
  }

  #emit(event: BrowseEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /** Closes the socket. */
  async close(): Promise<void> {
    await this.#socket.close();
  }
}

/**
 * Browses for `ms` milliseconds (queries at the start and halfway) and returns what
 * answered, sorted by name.
 */
export async function browse(
  ms = BROWSE_MS,
  options: BrowserOptions = {},
): Promise<FoundService[]> {
  const browser = await Browser.open(options);
  try {
    await browser.query();
    await new Promise((resolve) => setTimeout(resolve, ms / 2));
    await browser.query();
    await new Promise((resolve) => setTimeout(resolve, ms / 2));
    return browser.services();
  } finally {
    await browser.close();
  }
}
