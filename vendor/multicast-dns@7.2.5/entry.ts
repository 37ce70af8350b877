// The bundle's entry: `deno bundle` of this file (update.sh, see README.md) gives
// multicast-dns.js: multicast-dns and the packet codec it uses (dns-packet, which the
// advertiser also uses to compare records in a probe tie-break).
import multicastDns from "npm:multicast-dns@7.2.5";
import * as dnsPacket from "npm:dns-packet@5.6.1";

export { dnsPacket, multicastDns };
