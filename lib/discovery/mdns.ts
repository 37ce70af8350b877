/**
 * The multicast DNS socket (RFC 6762): UDP port 5353 on every address, joined to the group
 * 224.0.0.251 on one interface, through the vendored multicast-dns (see README). Binding
 * `0.0.0.0` with the interface named needs exactly `--allow-net=0.0.0.0:5353,224.0.0.251:5353`
 * and no `--allow-sys` (multicast-dns lists the machine's interfaces only when none is named).
 * The only module that opens a UDP socket; IPv4 only.
 *
 * @module
 */

import { multicastDns, type Packet } from "../../vendor/multicast-dns@7.2.5/multicast-dns.js";

/** The mDNS group and port. */
export const MDNS_GROUP = "224.0.0.251";
export const MDNS_PORT = 5353;

/** Exactly what this socket needs from Deno's net permission. */
export const MDNS_NET = [`0.0.0.0:${MDNS_PORT}`, `${MDNS_GROUP}:${MDNS_PORT}`] as const;

/** Where a message came from, or goes to. */
export interface Peer {
  address: string;
  port: number;
}

/** An open mDNS socket, or a stand-in for it in tests (see `advertiser_test.ts`). */
export interface MdnsSocket {
  /** Sends a message to the group, or to one peer (a legacy unicast reply). */
  send(packet: Packet, to?: Peer): Promise<void>;
  /** Calls `listener` with every message received (its own included: loopback is on). */
  onPacket(listener: (packet: Packet, from: Peer) => void): void;
  /** Leaves the group and closes the socket. */
  close(): Promise<void>;
}

/**
 * The `--allow-net` entries of {@link MDNS_NET} this process lacks (none: an empty list).
 *
 * @example
 * ```ts
 * import { missingMdnsGrants } from "./mdns.ts";
 * // `deno test --doc` here runs with the test task's net grant, loopback only.
 * if (!Array.isArray(missingMdnsGrants())) throw new Error();
 * ```
 */
export function missingMdnsGrants(): string[] {
  return MDNS_NET.filter((host) =>
    Deno.permissions.querySync({ name: "net", host }).state !== "granted"
  );
}

/** Why mDNS cannot be used here, as one sentence (a missing grant, or the socket's error). */
export class MdnsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MdnsError";
  }
}

/**
 * Opens the socket on the interface with the IPv4 address `iface` (`0.0.0.0`: the one the
 * system routes multicast through) and waits until it is bound and joined. Throws an
 * {@link MdnsError} naming the flags when a grant is missing (a send without the group's
 * grant would fail only as "send UNKNOWN").
 */
export async function openMdns(iface: string): Promise<MdnsSocket> {
  const missing = missingMdnsGrants();
  if (missing.length > 0) {
    throw new MdnsError(
      `DNS-SD needs --allow-net=${MDNS_NET.join(",")} (missing: ${missing.join(", ")})`,
    );
  }
  const mdns = multicastDns({ interface: iface, bind: "0.0.0.0", port: MDNS_PORT, loopback: true });
  const listeners: Array<(packet: Packet, from: Peer) => void> = [];
  // multicast-dns reports what it can go on from (a malformed packet) as warnings.
  mdns.on("warning", () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      mdns.once("ready", resolve);
      mdns.once("error", reject);
    });
  } catch (error) {
    await new Promise<void>((resolve) => mdns.destroy(resolve));
    const reason = error instanceof Error ? error.message : String(error);
    throw new MdnsError(`Cannot open the mDNS port ${MDNS_PORT}: ${reason}`, { cause: error });
  }
  mdns.on("error", () => {});
  mdns.on("packet", (packet, rinfo) => {
    for (const listener of listeners) {
      listener(packet, { address: rinfo.address, port: rinfo.port });
    }
  });
  let closed: Promise<void> | undefined;
  return {
    send(packet, to) {
      return new Promise((resolve, reject) => {
        mdns.send(packet, to ? { address: to.address, port: to.port } : null, (error) => {
          if (error) {
            reject(new MdnsError(`Cannot send on mDNS: ${error.message}`, { cause: error }));
          } else resolve();
        });
      });
    },
    onPacket(listener) {
      listeners.push(listener);
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        mdns.removeAllListeners("packet");
        mdns.destroy(resolve);
      });
      return closed;
    },
  };
}
