// The bundle's entry: `deno bundle` of this file (see README.md) gives saxes.js.
export { EVENTS, SaxesParser } from "npm:saxes@6.0.0";
