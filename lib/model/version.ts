/**
 * The product's name and version, reported by `hello`, `--version` and the startup line.
 *
 * @example Print the version
 * ```ts
 * import { VERSION } from "./version.ts";
 * console.log(`addressbook ${VERSION}`);
 * ```
 */
export const VERSION = "0.1.0";

/** The server name reported by `hello`. */
export const SERVER_NAME = "addressbook";

/** The wire protocol version reported by `hello`. */
export const PROTOCOL_VERSION = 1;
