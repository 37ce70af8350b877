/**
 * dns-packet from npm, pinned here and nowhere else (its integrity, and multicast-dns's, in
 * `tests/deno.lock`, which only the test and check commands use), to check the bundle the
 * product imports (`vendor/multicast-dns@7.2.5/`, see `lib/discovery/mdns.ts`) against the
 * package it was made from. Imported by its full `npm:` specifier so that `deno task serve`
 * never needs npm.
 *
 * @module
 */
// deno-lint-ignore no-import-prefix -- pinned here on purpose, out of deno.json (see above)
import * as npm from "npm:dns-packet@5.6.1";
import type { dnsPacket as Codec } from "../vendor/multicast-dns@7.2.5/multicast-dns.js";

/** The npm package's codec, with the vendored bundle's types (neither package ships any). */
export const dnsPacket = npm as unknown as typeof Codec;
