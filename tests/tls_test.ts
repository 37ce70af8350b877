/**
 * TLS as a new user sets it up: a certificate made with openssl as the README says, put in
 * the data folder, and clients that do and do not trust it.
 */
import assert from "node:assert/strict";
import { connect, TransportError } from "../lib/client/transport.ts";
import { makeCertificate, RpcConnection, runServerToExit, tempDir, TestServer } from "./helpers.ts";

async function dataWithCertificate(
  options: { ca?: boolean; names?: string } = {},
): Promise<{ path: string } & AsyncDisposable> {
  const dir = await tempDir();
  await makeCertificate(dir.path, options);
  return dir;
}

Deno.test("TLS round trip: cert.pem and key.pem in the data folder, client with --ca", async () => {
  await using data = await dataWithCertificate();
  const dataDir = data.path;
  await using server = await TestServer.start({ dataDir });
  assert.ok(
    server.logs.some((line) => / listening on .*TLS with .*cert\.pem/.test(line)),
    server.logs.join("\n"),
  );
  const conn = await connect({
    host: "127.0.0.1",
    port: server.port,
    caFile: `${dataDir}/cert.pem`,
  });
  using client = RpcConnection.wrap(conn);
  assert.equal((await client.result("hello")).server, "addressbook");
  await client.result("add", { contact: { name: "Grace Hopper" } });
  assert.equal((await client.result("count")).count, 1);
});

Deno.test("TLS: the CA may be given as PEM text (a compiled client reads no files)", async () => {
  await using data = await dataWithCertificate();
  const dataDir = data.path;
  await using server = await TestServer.start({ dataDir });
  const pem = await Deno.readTextFile(`${dataDir}/cert.pem`);
  using client = RpcConnection.wrap(
    await connect({ host: "127.0.0.1", port: server.port, tls: true, caFile: pem }),
  );
  assert.equal((await client.result("count")).count, 0);
});

Deno.test("TLS: a client that does not trust the certificate gets one clear sentence", async () => {
  await using data = await dataWithCertificate();
  const dataDir = data.path;
  await using server = await TestServer.start({ dataDir });
  const error = await connect({ host: "127.0.0.1", port: server.port, tls: true }).then(
    (conn) => {
      conn.close();
      return undefined;
    },
    (error) => error,
  );
  assert.ok(error instanceof TransportError, String(error));
  assert.equal(error.reason, "untrusted");
  assert.equal(
    error.message,
    `Cannot connect to 127.0.0.1:${server.port} over TLS: the server's certificate is not ` +
      "trusted; pass that certificate with --ca (or ADDRESSBOOK_CA)",
  );
  // The server shrugs it off and keeps serving.
  using client = RpcConnection.wrap(
    await connect({ host: "127.0.0.1", port: server.port, caFile: `${dataDir}/cert.pem` }),
  );
  assert.equal((await client.result("count")).count, 0);
});

Deno.test("TLS: the README's certificate, reached by another name, says which names it has", async () => {
  // Made as the README says (books.lan, 192.168.1.10), tried first on this machine.
  await using data = await dataWithCertificate({ names: "DNS:books.lan,IP:192.168.1.10" });
  await using server = await TestServer.start({ dataDir: data.path });
  const error = await connect({
    host: "127.0.0.1",
    port: server.port,
    caFile: `${data.path}/cert.pem`,
  }).then((conn) => conn.close(), (error) => error);
  assert.ok(error instanceof TransportError, String(error));
  assert.equal(error.reason, "untrusted");
  assert.equal(
    error.message,
    `Cannot connect to 127.0.0.1:${server.port} over TLS: the server's certificate does not ` +
      'name "127.0.0.1" (it names "books.lan", "192.168.1.10"); connect with a name or address ' +
      "it lists, or remake it with that subjectAltName (see README)",
  );
});

Deno.test("TLS: a plain openssl req -x509 certificate (CA:TRUE) is refused with the fix", async () => {
  await using data = await dataWithCertificate({ ca: true });
  const dataDir = data.path;
  await using server = await TestServer.start({ dataDir });
  const error = await connect({
    host: "127.0.0.1",
    port: server.port,
    caFile: `${dataDir}/cert.pem`,
  }).then((conn) => conn.close(), (error) => error);
  assert.ok(error instanceof TransportError);
  assert.equal(error.reason, "untrusted");
  assert.match(error.message, /marked as a CA \(CA:TRUE\).*basicConstraints=critical,CA:FALSE/);
});

Deno.test("TLS: a TLS client against a plain server is told to drop --tls", async () => {
  await using server = await TestServer.start();
  const error = await connect({ host: "127.0.0.1", port: server.port, tls: true }).then(
    (conn) => conn.close(),
    (error) => error,
  );
  assert.ok(error instanceof TransportError, String(error));
  assert.equal(error.reason, "tls");
  assert.match(error.message, /does not speak TLS on that port; drop --tls/);
});

Deno.test("TLS: --cert and --key by environment; a half pair and a key outside fail clearly", async () => {
  await using dir = await tempDir();
  const dataDir = dir.path;
  await Deno.mkdir(`${dataDir}/tls`);
  await makeCertificate(`${dataDir}/tls`);
  {
    const server = await TestServer.start({
      dataDir,
      env: {
        ADDRESSBOOK_CERT: `${dataDir}/tls/cert.pem`,
        ADDRESSBOOK_KEY: `${dataDir}/tls/key.pem`,
      },
    });
    try {
      using client = RpcConnection.wrap(
        await connect({ host: "127.0.0.1", port: server.port, caFile: `${dataDir}/tls/cert.pem` }),
      );
      assert.equal((await client.result("count")).count, 0);
    } finally {
      await server.close(); // a data folder given is kept for the runs below
    }
  }
  // Only cert.pem in the data folder.
  await Deno.copyFile(`${dataDir}/tls/cert.pem`, `${dataDir}/cert.pem`);
  let run = await runServerToExit({ dataDir });
  assert.equal(run.code, 1);
  assert.match(
    run.stderr,
    /^addressbook: Found ".*\/cert\.pem" but not ".*\/key\.pem": TLS needs both \(or neither\)$/m,
  );
  // A key the serve task does not let the server read.
  await using outsideDir = await tempDir("addressbook-outside-");
  const outside = outsideDir.path;
  await Deno.remove(`${dataDir}/cert.pem`);
  run = await runServerToExit({
    dataDir,
    args: ["--cert", `${dataDir}/tls/cert.pem`, "--key", `${outside}/key.pem`],
  });
  assert.equal(run.code, 1);
  const errors = run.stderr.split("\n").filter((line) => line.startsWith("addressbook: "));
  assert.equal(errors.length, 1, run.stderr);
  assert.match(errors[0]!, /Not allowed to read ".*key\.pem": add --allow-read=.*key\.pem/);
});
