// The parts of multicast-dns 7.2.5 and dns-packet 5.6.1 that lib/discovery/ uses, typed by
// hand from their READMEs and code (neither package ships types).

/** A question of a DNS message. */
export interface Question {
  name: string;
  /** `A`, `PTR`, `SRV`, `TXT`, `ANY`, ... */
  type: string;
  class?: string;
  /** mDNS: the unicast-response bit (RFC 6762 section 5.4). */
  qu?: boolean;
}

/** SRV data. */
export interface SrvData {
  port: number;
  target: string;
  priority?: number;
  weight?: number;
}

/**
 * A resource record. `data` is a string for A and PTR, {@link SrvData} for SRV, and for TXT a
 * string, a byte array or a list of them when encoding; decoding gives a list of byte arrays.
 */
export interface Answer {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  /** mDNS: the cache-flush bit (RFC 6762 section 10.2). */
  flush?: boolean;
  data: unknown;
}

/** A DNS message. */
export interface Packet {
  id?: number;
  type?: "query" | "response";
  flags?: number;
  questions?: Question[];
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

/** Where a message came from. */
export interface RemoteInfo {
  address: string;
  family: string;
  port: number;
  size: number;
}

/** multicast-dns's options (those used here and their defaults). */
export interface MulticastDnsOptions {
  /** The interface address to join the group on and send from (default: every interface). */
  interface?: string;
  /** The address to bind (default: `interface`). */
  bind?: string | false;
  /** Default 5353. */
  port?: number;
  /** Default 224.0.0.251. */
  ip?: string;
  /** Receive what this socket sends (default true). */
  loopback?: boolean;
  /** Default 255. */
  ttl?: number;
  /** Default true. */
  reuseAddr?: boolean;
  /** Join the group (default true). */
  multicast?: boolean;
}

/** Where to send: default the group on port 5353. */
export interface Destination {
  address?: string;
  host?: string;
  port: number;
}

/** An open mDNS socket (an EventEmitter). */
export interface MulticastDns {
  on(event: "ready" | "networkInterface", listener: () => void): this;
  on(event: "warning" | "error", listener: (error: Error) => void): this;
  on(
    event: "packet" | "query" | "response",
    listener: (packet: Packet, rinfo: RemoteInfo) => void,
  ): this;
  once(event: "ready", listener: () => void): this;
  once(event: "error", listener: (error: Error) => void): this;
  removeListener(event: string, listener: (...args: never[]) => void): this;
  removeAllListeners(event?: string): this;
  send(packet: Packet, to: Destination | null, callback?: (error?: Error | null) => void): void;
  destroy(callback?: () => void): void;
}

/** Opens a socket on port 5353 (bound and joined to the group once `ready`). */
export function multicastDns(options?: MulticastDnsOptions): MulticastDns;

/** dns-packet's codec. */
export const dnsPacket: {
  encode(packet: Packet): Uint8Array;
  decode(bytes: Uint8Array): Packet;
  /** Bits of `flags`. */
  AUTHORITATIVE_ANSWER: number;
  /** One record's data in wire form (a probe tie-break compares them). */
  srv: { encode(data: SrvData): Uint8Array };
  txt: { encode(data: unknown): Uint8Array };
  a: { encode(address: string): Uint8Array };
};
