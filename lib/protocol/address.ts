/**
 * How both ends write a server's address.
 *
 * @module
 */

/**
 * Formats a host and port as an address, bracketing an IPv6 literal.
 *
 * @example
 * ```ts
 * import { formatAddress } from "./address.ts";
 * if (formatAddress("::1", 2007) !== "[::1]:2007") throw new Error();
 * if (formatAddress("bookserver.local", 2007) !== "bookserver.local:2007") throw new Error();
 * ```
 */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
