import assert from "node:assert/strict";
import { isConnectionGone } from "./socket_errors.ts";
import { tlsContext, TlsServerConn } from "./tls_socket.ts";

/** A fresh self-signed certificate for 127.0.0.1 (openssl), removed afterwards. */
async function certificate(): Promise<{ cert: string; key: string }> {
  const dir = await Deno.makeTempDir({ prefix: "tls-socket-test-" });
  try {
    const output = await new Deno.Command("openssl", {
      args: [
        ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
        ...["-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", `${dir}/key.pem`],
        ...["-out", `${dir}/cert.pem`, "-addext", "subjectAltName=IP:127.0.0.1"],
        ...["-addext", "basicConstraints=critical,CA:FALSE"],
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const pem = await certificate();
const context = tlsContext(pem);

/** A listener, a raw client socket and the server's TlsServerConn for it. */
async function rawPair() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = new TlsServerConn(await listener.accept(), context);
  listener.close();
  return { client, server };
}

/** Both ends of a TLS connection, handshake done. */
async function tlsPair() {
  const { client: raw, server } = await rawPair();
  const client = await Deno.startTls(raw, { hostname: "127.0.0.1", caCerts: [pem.cert] });
  await Promise.all([server.handshake(5000), client.handshake()]);
  return { client, server };
}

/** Whether `promise` is still pending after `ms`. */
async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = Symbol();
  const outcome = await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => timer = setTimeout(() => resolve(pending), ms)),
  ]);
  clearTimeout(timer);
  return outcome === pending;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("tlsContext() names what is wrong with a certificate or key", () => {
  assert.throws(
    () => tlsContext({ cert: "not a certificate", key: pem.key }),
    /the TLS certificate is not a PEM certificate that can be read/,
  );
  assert.throws(
    () => tlsContext({ cert: pem.cert, key: "not a key" }),
    /the TLS key is not a PEM private key that can be read/,
  );
});

Deno.test("TlsServerConn: a handshake that does not finish in time closes the socket", async () => {
  const { client, server } = await rawPair();
  await client.write(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0xc8, 0x01]));
  await assert.rejects(server.handshake(200), Deno.errors.TimedOut);
  await server.closed;
  // The server's side is gone: the client reads the end of the stream.
  assert.equal(await client.read(new Uint8Array(16)).catch(() => null), null);
  client.close();
});

Deno.test("TlsServerConn: data both ways, a clean end, and gone errors after close", async () => {
  const { client, server } = await tlsPair();
  await client.write(new TextEncoder().encode("ping\n"));
  const buffer = new Uint8Array(3); // smaller than what arrived: the rest waits for the next read
  assert.equal(await server.read(buffer), 3);
  assert.equal(text(buffer), "pin");
  assert.equal(await server.read(buffer), 2);
  assert.equal(text(buffer.subarray(0, 2)), "g\n");
  await server.write(new TextEncoder().encode("pong\n"));
  const pendingRead = server.read(buffer);
  server.close();
  // A read pending at the close, and any call after it, fail as a connection that is gone.
  const error = await pendingRead.catch((error) => error);
  assert.ok(isConnectionGone(error), String(error));
  const late = await server.write(new Uint8Array(1)).catch((error) => error);
  assert.ok(isConnectionGone(late), String(late));
  // The client gets the reply, then a clean end (the TLS goodbye was sent).
  const reply = new Uint8Array(16);
  const n = await client.read(reply);
  assert.equal(text(reply.subarray(0, n!)), "pong\n");
  assert.equal(await client.read(reply), null);
  await server.closed;
  client.close();
});

Deno.test("TlsServerConn: the client's end of the stream reads as null", async () => {
  const { client, server } = await tlsPair();
  await client.write(new TextEncoder().encode("last"));
  client.close();
  const buffer = new Uint8Array(16);
  assert.equal(await server.read(buffer), 4);
  assert.equal(await server.read(buffer), null);
  server.close();
  await server.closed;
});

Deno.test("TlsServerConn: a client that does not read holds the server's write", async () => {
  const { client, server } = await tlsPair();
  // Far more than the socket buffers hold (about 4 MB on loopback here).
  const write = server.write(new Uint8Array(32 * 1024 * 1024));
  assert.ok(await pendingAfter(write, 500), "the write finished with nobody reading");
  // Reading it all lets the write finish.
  const buffer = new Uint8Array(1024 * 1024);
  let received = 0;
  while (received < 32 * 1024 * 1024) {
    const n = await client.read(buffer);
    if (n === null) break;
    received += n;
  }
  assert.equal(await write, 32 * 1024 * 1024);
  server.close();
  await server.closed;
  client.close();
});

Deno.test("TlsServerConn: a server that does not read holds the client's writes", async () => {
  const { client, server } = await tlsPair();
  const write = (async () => {
    // A write may take only part of what it is given.
    let bytes = new Uint8Array(32 * 1024 * 1024);
    while (bytes.length > 0) bytes = bytes.subarray(await client.write(bytes));
  })();
  // Without a limit the TLS engine would take all 32 MiB; past 64 KiB unread it takes no more.
  assert.ok(await pendingAfter(write, 500), "32 MiB were taken with nobody reading");
  const buffer = new Uint8Array(1024 * 1024);
  let received = 0;
  while (received < 32 * 1024 * 1024) {
    const n = await server.read(buffer);
    if (n === null) break;
    received += n;
  }
  await write;
  assert.equal(received, 32 * 1024 * 1024);
  server.close();
  await server.closed;
  client.close();
});
