/**
 * Telling a connection that ended from a fault: the connection and its `watch` stream both
 * stop quietly when the peer (or our own close) ended the connection.
 *
 * @module
 */

/** Whether an error only means that the peer (or our own close) ended the connection. */
export function isConnectionGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof;
}
