/**
 * A server's DNS-SD advertisement on the LAN (RFC 6762, RFC 6763): it probes for its name
 * three times 250 ms apart and takes the next one ("Address book (2)") when another host
 * holds it, announces its records twice a second apart, answers queries for them (the
 * known answers a browser already holds left out, each record multicast at most once a
 * second but in answer to a probe, legacy unicast queries answered to their sender), goes
 * back to probing if a conflict shows up later, and says goodbye (the records with TTL 0)
 * when it stops.
 *
 * @module
 */

import { dnsPacket, type Packet } from "../../vendor/multicast-dns@7.2.5/multicast-dns.js";
import { MDNS_PORT, type MdnsSocket, openMdns, type Peer } from "./mdns.ts";
import {
  ADDRESSBOOK_TYPE,
  type Advertisement,
  announcement,
  conflicts,
  hostNameFor,
  nextName,
  probeBeatsUs,
  probePacket,
  replyTo,
  type ServiceSpec,
} from "./service.ts";

/** Where the advertiser writes what it did (the server's logger fits). */
export interface AdvertiseLog {
  info(line: string): void;
  warn(line: string): void;
  debug(line: string): void;
}

/** What to advertise, where. */
export interface AdvertiserOptions {
  /**
   * The IPv4 address the server listens on, or `0.0.0.0` (every address): then the address
   * the system sends multicast from, learnt from the loopback copy of a first query.
   */
  address: string;
  /** The name to try first. */
  name: string;
  services: ServiceSpec[];
  log: AdvertiseLog;
  /** Opens the socket on an interface address (default: {@link openMdns}). */
  open?: (iface: string) => Promise<MdnsSocket>;
  /** The probe's step in milliseconds (default 250, RFC 6762 section 8.1). */
  probeMs?: number;
}

/** Conflicts in a row before the advertiser gives up (RFC 6762 asks for a pause after 15). */
const MAX_CONFLICTS = 15;

/** The short names of the services, for the log: `_addressbook._tcp port 2007`. */
function describe(services: ServiceSpec[]): string {
  return services.map((s) => {
    const path = s.txt.path ? ` path=${s.txt.path}` : "";
    return `${s.type.replace(/\.local$/, "")} port ${s.port}${path}`;
  }).join(", ");
}

/**
 * Advertises services under a name unique on the LAN until {@link Advertiser.stop}.
 *
 * @example With a stand-in socket that hears only itself
 * ```ts
 * import { Advertiser } from "./advertiser.ts";
 * import type { Packet } from "../../vendor/multicast-dns@7.2.5/multicast-dns.js";
 * const sent: Packet[] = [];
 * const listeners: Array<(p: Packet, f: { address: string; port: number }) => void> = [];
 * const advertiser = Advertiser.start({
 *   address: "10.77.0.1",
 *   name: "Address book",
 *   services: [{ type: "_addressbook._tcp.local", port: 2007, txt: { protocol: "1" } }],
 *   log: { info() {}, warn() {}, debug() {} },
 *   probeMs: 1,
 *   open: () => Promise.resolve({
 *     send: (p) => (sent.push(p), listeners.forEach((l) => l(p, { address: "10.77.0.1", port: 5353 })), Promise.resolve()),
 *     onPacket: (l) => void listeners.push(l),
 *     close: () => Promise.resolve(),
 *   }),
 * });
 * const ad = await advertiser.ready;
 * if (ad?.name !== "Address book") throw new Error();
 * await advertiser.stop();
 * if (sent.at(-1)?.answers?.some((r) => r.ttl !== 0)) throw new Error("no goodbye");
 * ```
 */
export class Advertiser {
  readonly #options: AdvertiserOptions;
  readonly #probeMs: number;
  #socket: MdnsSocket | undefined;
  #ad: Advertisement | undefined;
  #state: "starting" | "probing" | "announced" | "stopped" = "starting";
  /** Set by the packet listener while probing. */
  #probeTrouble: "conflict" | "lost" | undefined;
  /** When each record was last multicast (RFC 6762 section 6.2). */
  readonly #lastSent = new Map<string, number>();
  readonly #waits = new Set<
    { timer: ReturnType<typeof setTimeout> | undefined; resolve: () => void }
  >();
  readonly #sends = new Set<Promise<void>>();
  #run: Promise<void> | undefined;
  #resolveReady!: (ad: Advertisement | undefined) => void;
  /** The advertisement once announced; undefined if it could not be (the log says why). */
  readonly ready: Promise<Advertisement | undefined>;

  private constructor(options: AdvertiserOptions) {
    this.#options = options;
    this.#probeMs = options.probeMs ?? 250;
    this.ready = new Promise((resolve) => this.#resolveReady = resolve);
  }

  /** Starts probing at once; {@link Advertiser.ready} tells when the name is announced. */
  static start(options: AdvertiserOptions): Advertiser {
    const advertiser = new Advertiser(options);
    advertiser.#run = advertiser.#start().catch((error) => {
      if (advertiser.#state !== "stopped") {
        options.log.warn(
          `Not advertised on the LAN (DNS-SD): ${error instanceof Error ? error.message : error}`,
        );
      }
      advertiser.#resolveReady(undefined);
    });
    return advertiser;
  }

  /** Whether {@link Advertiser.stop} was called (a method: the state changes while awaiting). */
  #stopped(): boolean {
    return this.#state === "stopped";
  }

  /** What is advertised now (its name may have changed after a conflict). */
  get advertisement(): Advertisement | undefined {
    return this.#state === "announced" ? this.#ad : undefined;
  }

  async #start(): Promise<void> {
    const { log } = this.#options;
    const open = this.#options.open ?? openMdns;
    const every = this.#options.address === "0.0.0.0";
    this.#socket = await open(every ? "0.0.0.0" : this.#options.address);
    if (this.#stopped()) return;
    this.#socket.onPacket((packet, from) => this.#receive(packet, from));
    const address = every ? await this.#ownAddress() : this.#options.address;
    if (this.#stopped()) return;
    this.#ad = {
      name: this.#options.name,
      host: hostNameFor(address),
      address,
      services: this.#options.services,
    };
    await this.#claim();
    if (this.#state !== "announced") return;
    log.info(
      `Advertised on the LAN (DNS-SD) as ${JSON.stringify(this.#ad.name)} at ${address}: ` +
        describe(this.#ad.services),
    );
    this.#resolveReady(this.#ad);
  }

  /**
   * The address multicast leaves from: a query is sent with a random id, and the copy that
   * loopback hands back says where it came from (no `--allow-sys` needed to list interfaces).
   */
  async #ownAddress(): Promise<string> {
    const id = 1 + Math.floor(Math.random() * 0xfffe);
    let found: string | undefined;
    this.#echo = (packet, from) => {
      if (packet.type === "query" && packet.id === id) found = from.address;
    };
    try {
      for (let attempt = 0; attempt < 3 && found === undefined; attempt++) {
        await this.#send({
          type: "query",
          id,
          questions: [{ name: ADDRESSBOOK_TYPE, type: "PTR" }],
        });
        for (let i = 0; i < 8 && found === undefined && !this.#stopped(); i++) {
          await this.#sleep(this.#probeMs / 4);
        }
      }
    } finally {
      this.#echo = undefined;
    }
    if (found === undefined) {
      throw new Error(
        "this machine's own query never came back, so its LAN address is unknown: give " +
          "--host the address to advertise",
      );
    }
    if (found.startsWith("127.")) {
      throw new Error(`multicast leaves through loopback (${found}): give --host a LAN address`);
    }
    return found;
  }

  #echo: ((packet: Packet, from: Peer) => void) | undefined;

  /** Probes until a name is ours, renaming after each conflict; then announces it. */
  async #claim(): Promise<void> {
    const { log } = this.#options;
    let conflictsInRow = 0;
    while (!this.#stopped()) {
      this.#state = "probing";
      const outcome = await this.#probe();
      if (this.#stopped()) return;
      if (outcome === "won") break;
      if (outcome === "lost") {
        // A simultaneous probe beat ours: wait a second, then probe again (section 8.2).
        log.debug(`DNS-SD: another host probes for ${JSON.stringify(this.#ad!.name)}; waiting`);
        await this.#sleep(this.#probeMs * 4);
        continue;
      }
      if (++conflictsInRow > MAX_CONFLICTS) {
        throw new Error(`${MAX_CONFLICTS} names in a row were taken on the LAN`);
      }
      const name = nextName(this.#ad!.name);
      log.info(
        `The name ${JSON.stringify(this.#ad!.name)} is taken on the LAN (DNS-SD): ` +
          `trying ${JSON.stringify(name)}`,
      );
      this.#ad = { ...this.#ad!, name };
    }
    if (this.#stopped()) return;
    this.#state = "announced";
    await this.#send(announcement(this.#ad!));
    // The second announcement a second later (section 8.3), unless stopped meanwhile.
    this.#later(this.#probeMs * 4, () => this.#send(announcement(this.#ad!)));
  }

  /** Three probes 250 ms apart after a random wait; "won" once 250 ms pass after the last. */
  async #probe(): Promise<"won" | "conflict" | "lost"> {
    this.#probeTrouble = undefined;
    await this.#sleep(Math.random() * this.#probeMs);
    for (let i = 0; i < 3; i++) {
      if (this.#probeTrouble || this.#stopped()) break;
      await this.#send(probePacket(this.#ad!));
      await this.#sleep(this.#probeMs);
    }
    return this.#probeTrouble ?? "won";
  }

  #receive(packet: Packet, from: Peer): void {
    this.#echo?.(packet, from);
    const ad = this.#ad;
    if (ad === undefined || this.#stopped()) return;
    if (this.#state === "probing") {
      if (conflicts(packet, ad)) this.#probeTrouble = "conflict";
      else if (probeBeatsUs(packet, ad)) this.#probeTrouble ??= "lost";
      return;
    }
    if (this.#state !== "announced") return;
    if (packet.type === "response" && conflicts(packet, ad)) {
      // Someone else now claims our name (section 9): probe again, and rename if need be.
      this.#options.log.warn(
        `DNS-SD: ${from.address} claims the name ${JSON.stringify(ad.name)}; probing again`,
      );
      this.#state = "probing";
      this.#run = this.#run?.then(() => this.#reclaim()).catch((error) => {
        this.#options.log.warn(
          `No longer advertised on the LAN (DNS-SD): ${
            error instanceof Error ? error.message : error
          }`,
        );
      });
      return;
    }
    if (packet.type === "query") this.#answer(packet, from, ad);
  }

  async #reclaim(): Promise<void> {
    await this.#claim();
    const ad = this.#ad;
    if (this.#state === "announced" && ad) {
      this.#options.log.info(`Advertised on the LAN (DNS-SD) as ${JSON.stringify(ad.name)}`);
    }
  }

  #answer(query: Packet, from: Peer, ad: Advertisement): void {
    const reply = replyTo(query, ad);
    if (reply.answers.length === 0) return;
    if (from.port !== MDNS_PORT) {
      // A legacy unicast query (section 6.7): to its sender, with its id and question,
      // TTLs of at most 10 s and no cache-flush bits.
      const legacy = (records: typeof reply.answers) =>
        records.map((r) => ({ ...r, flush: false, ttl: Math.min(r.ttl ?? 0, 10) }));
      this.#sendSoon(0, {
        type: "response",
        id: query.id ?? 0,
        flags: dnsPacket.AUTHORITATIVE_ANSWER,
        questions: query.questions ?? [],
        answers: legacy(reply.answers),
        additionals: legacy(reply.additionals),
      }, from);
      return;
    }
    const probe = (query.authorities ?? []).length > 0;
    const now = Date.now();
    const key = (r: { name: string; type: string }) => `${r.name.toLowerCase()} ${r.type}`;
    const answers = probe
      ? reply.answers
      : reply.answers.filter((r) => now - (this.#lastSent.get(key(r)) ?? -Infinity) >= 1000);
    if (answers.length === 0) return;
    for (const r of answers) this.#lastSent.set(key(r), now);
    // A shared record (PTR) waits 20-120 ms, so that answers from several hosts spread out.
    const delay = reply.shared && !probe ? 20 + Math.random() * 100 : 0;
    this.#sendSoon(delay, {
      type: "response",
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      answers,
      additionals: reply.additionals,
    });
  }

  #sendSoon(delay: number, packet: Packet, to?: Peer): void {
    this.#later(delay, () => this.#send(packet, to));
  }

  #later(delay: number, action: () => Promise<void>): void {
    const entry = {
      timer: undefined as ReturnType<typeof setTimeout> | undefined,
      resolve: () => {},
    };
    entry.timer = setTimeout(() => {
      this.#waits.delete(entry);
      if (this.#state === "announced") action().catch(() => {});
    }, delay);
    this.#waits.add(entry);
  }

  async #send(packet: Packet, to?: Peer): Promise<void> {
    const sending = this.#socket!.send(packet, to);
    this.#sends.add(sending);
    try {
      await sending;
    } finally {
      this.#sends.delete(sending);
    }
  }

  /** Waits `ms`, or less if the advertiser stops meanwhile. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = { timer: undefined as ReturnType<typeof setTimeout> | undefined, resolve };
      entry.timer = setTimeout(() => {
        this.#waits.delete(entry);
        resolve();
      }, ms);
      this.#waits.add(entry);
    });
  }

  /**
   * Stops: says goodbye if the name was announced (every record with TTL 0, so browsers
   * drop the server at once), waits for what was being sent, and closes the socket.
   */
  async stop(): Promise<void> {
    if (this.#stopped()) return await this.#run;
    const announced = this.#state === "announced";
    this.#state = "stopped";
    for (const wait of this.#waits) {
      clearTimeout(wait.timer);
      wait.resolve();
    }
    this.#waits.clear();
    await this.#run;
    await Promise.allSettled([...this.#sends]);
    const socket = this.#socket;
    if (socket === undefined) return;
    if (announced && this.#ad) {
      try {
        await socket.send(announcement(this.#ad, true));
        this.#options.log.info(
          `Said goodbye on the LAN (DNS-SD): ${JSON.stringify(this.#ad.name)} is gone`,
        );
      } catch (error) {
        this.#options.log.warn(
          `DNS-SD goodbye not sent: ${error instanceof Error ? error.message : error}`,
        );
      }
    }
    await socket.close();
    this.#resolveReady(undefined);
  }
}
