/**
 * The server's DNS-SD advertisement (`--advertise`, see `lib/discovery/`): whether to
 * advertise, decided before the store opens (on by default off loopback; `on` without the
 * permission refuses to start, the default warns and serves unadvertised), and what: the
 * product's own protocol as `_addressbook._tcp`, and the CardDAV door as `_carddav._tcp` or,
 * with TLS, `_carddavs._tcp` with its path (RFC 6764), on the address the server listens on.
 *
 * @module
 */

import { type AdvertiseLog, Advertiser } from "../discovery/advertiser.ts";
import { MDNS_NET, missingMdnsGrants } from "../discovery/mdns.ts";
import {
  ADDRESSBOOK_TYPE,
  CARDDAV_TYPE,
  CARDDAVS_TYPE,
  DEFAULT_NAME,
  type ServiceSpec,
} from "../discovery/service.ts";
import { PROTOCOL_VERSION, SERVER_NAME, VERSION } from "../model/version.ts";
import { isLoopback } from "./auth.ts";
import type { ServerConfig } from "./config.ts";

/** What to do about advertising, decided before the store opens. */
export interface AdvertisePlan {
  advertise: boolean;
  /** Why the server must not start (`--advertise on` without the permission it needs). */
  refusal?: string;
  /** A line to log (the default wanted it, the permission is missing). */
  warning?: string;
}

/**
 * Whether to advertise: `--advertise on|off`, else on when the server listens off loopback.
 *
 * @example
 * ```ts
 * import { advertisePlan } from "./advertise.ts";
 * const plan = advertisePlan({ host: "127.0.0.1", advertise: "auto" });
 * if (plan.advertise) throw new Error("loopback is not advertised");
 * ```
 */
export function advertisePlan(config: Pick<ServerConfig, "host" | "advertise">): AdvertisePlan {
  if (config.advertise === "off") return { advertise: false };
  if (config.advertise === "auto" && isLoopback(config.host)) return { advertise: false };
  const missing = missingMdnsGrants();
  if (missing.length === 0) return { advertise: true };
  const needs = `DNS-SD needs --allow-net=${MDNS_NET.join(",")} (deno task serve grants it ` +
    "unless ADDRESSBOOK_ADVERTISE=off)";
  if (config.advertise === "on") {
    return { advertise: false, refusal: `Not allowed to advertise on the LAN: ${needs}` };
  }
  return {
    advertise: false,
    warning: `Not advertised on the LAN: ${needs}; --advertise off hides this line`,
  };
}

/** What the server serves, for its TXT records. */
export interface Served {
  /** The TCP door's address as it listens (`0.0.0.0`, `10.77.0.1`, `::`). */
  tcp: Deno.NetAddr;
  tls: boolean;
  auth: boolean;
  /** The HTTP door's port and whether it speaks TLS, unless `--http-port off`. */
  http?: { port: number; tls: boolean };
  /** The DAV root (RFC 6764's `path`). */
  davPath: string;
}

/**
 * The services a server advertises and their TXT keys: `_addressbook._tcp` (txtvers,
 * protocol, auth, tls, server, version) and the CardDAV door with its path.
 *
 * @example
 * ```ts
 * import { advertisedServices } from "./advertise.ts";
 * const services = advertisedServices({
 *   tcp: { transport: "tcp", hostname: "0.0.0.0", port: 2007 }, tls: true, auth: true,
 *   http: { port: 2008, tls: true }, davPath: "/dav/",
 * });
 * if (services[1]?.type !== "_carddavs._tcp.local" || services[1].txt.path !== "/dav/") {
 *   throw new Error();
 * }
 * if (services[0]?.txt.auth !== "1" || services[0].txt.tls !== "1") throw new Error();
 * ```
 */
export function advertisedServices(served: Served): ServiceSpec[] {
  const services: ServiceSpec[] = [{
    type: ADDRESSBOOK_TYPE,
    port: served.tcp.port,
    txt: {
      txtvers: "1",
      protocol: String(PROTOCOL_VERSION),
      auth: served.auth ? "1" : "0",
      tls: served.tls ? "1" : "0",
      server: SERVER_NAME,
      version: VERSION,
    },
  }];
  if (served.http) {
    services.push({
      type: served.http.tls ? CARDDAVS_TYPE : CARDDAV_TYPE,
      port: served.http.port,
      txt: { txtvers: "1", path: served.davPath },
    });
  }
  return services;
}

/**
 * Starts advertising where the server listens: its IPv4 address, or for `0.0.0.0` and `::`
 * the address the system sends multicast from. An IPv6 address is not advertised (DNS-SD
 * here is IPv4), which `--advertise on` logs.
 */
export function startAdvertising(
  config: Pick<ServerConfig, "advertise">,
  served: Served,
  log: AdvertiseLog,
): Advertiser | undefined {
  const host = served.tcp.hostname;
  const every = host === "0.0.0.0" || host === "::";
  if (!every && (!/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || isLoopback(host))) {
    const line =
      `Not advertised on the LAN: DNS-SD here is IPv4, and the server listens on ${host}`;
    if (config.advertise === "on") log.warn(line);
    else log.debug(line);
    return undefined;
  }
  return Advertiser.start({
    address: every ? "0.0.0.0" : host,
    name: DEFAULT_NAME,
    services: advertisedServices(served),
    log,
  });
}
