import assert from "node:assert/strict";
import {
  clientTransportConfig,
  connect,
  describeConnectError,
  loadCa,
  TransportError,
} from "./transport.ts";

async function failure(promise: Promise<Deno.Conn>): Promise<TransportError> {
  const outcome = await promise.then((conn) => conn, (error) => error);
  if (!(outcome instanceof TransportError)) {
    if (outcome && "close" in outcome) outcome.close();
    assert.fail(`expected a TransportError, got ${outcome}`);
  }
  return outcome;
}

Deno.test("connect() to a closed port says refused, in one sentence", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const error = await failure(connect({ host: "127.0.0.1", port }));
  assert.equal(error.reason, "refused");
  assert.equal(
    error.message,
    `Cannot connect to 127.0.0.1:${port}: connection refused; is the server running on that ` +
      "port, and is the port open in its firewall?",
  );
});

Deno.test("connect() gives up a TLS handshake nobody answers, with a timeout sentence", async () => {
  // A listener that accepts and never says a word: the handshake waits for ever.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  try {
    const error = await failure(
      connect({ host: "127.0.0.1", port: listener.addr.port, tls: true, timeoutMs: 300 }),
    );
    assert.equal(error.reason, "timeout");
    assert.equal(
      error.message,
      `Cannot connect to 127.0.0.1:${listener.addr.port} over TLS: no answer within 0.3 s; ` +
        `check the address, and that the firewall lets port ${listener.addr.port} through`,
    );
  } finally {
    listener.close();
    await accepting;
    for (const conn of accepted) conn.close();
  }
});

Deno.test("connect() over plain TCP returns a working connection", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    await conn.write(new TextEncoder().encode("hi"));
    conn.close();
  })();
  const conn = await connect({ host: "127.0.0.1", port: listener.addr.port });
  const buffer = new Uint8Array(2);
  assert.equal(await conn.read(buffer), 2);
  conn.close();
  await served;
  listener.close();
});

Deno.test("loadCa() explains a missing file, a file without a certificate, and no permission", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      loadCa(`${dir}/nope.pem`),
      (error: TransportError) =>
        error.reason === "ca-file" &&
        error.message === `Cannot read the CA file "${dir}/nope.pem": the file does not exist`,
    );
    await Deno.writeTextFile(`${dir}/junk.pem`, "not a certificate");
    await assert.rejects(loadCa(`${dir}/junk.pem`), /holds no PEM certificate/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "loadCa() without read permission names the flag and the PEM-text way",
  permissions: { read: false },
  async fn() {
    await assert.rejects(
      loadCa("/etc/addressbook/ca.pem"),
      (error: TransportError) =>
        error.reason === "not-allowed" &&
        error.message.startsWith(
          'Not allowed to read "/etc/addressbook/ca.pem": add --allow-read=/etc/addressbook/ca.pem; ',
        ) && error.message.includes('ADDRESSBOOK_CA="$(cat file)"'),
    );
  },
});

Deno.test("describeConnectError() maps unknown hosts and wrong names", () => {
  const options = { host: "books.lan", port: 2007, tls: true };
  assert.equal(
    describeConnectError(
      new Error("failed to lookup address information: Name or service not known"),
      options,
    ).reason,
    "unknown-host",
  );
  const wrongName = describeConnectError(
    new Deno.errors.InvalidData("invalid peer certificate: NotValidForName"),
    options,
  );
  assert.equal(wrongName.reason, "untrusted");
  assert.match(wrongName.message, /does not name "books\.lan"/);
});

Deno.test("describeConnectError() reads Deno 2.9's wording of a wrong name and an expired certificate", () => {
  const options = { host: "127.0.0.1", port: 2007, tls: true };
  // The messages as Deno 2.9.6 throws them (seen against a real server).
  const wrongName = describeConnectError(
    new Deno.errors.InvalidData(
      'invalid peer certificate: certificate not valid for name "127.0.0.1"; certificate is ' +
        'only valid for DnsName("books.lan") or IpAddress(192.168.1.10)',
    ),
    options,
  );
  assert.equal(wrongName.reason, "untrusted");
  assert.equal(
    wrongName.message,
    'Cannot connect to 127.0.0.1:2007 over TLS: the server\'s certificate does not name "127.0.0.1" ' +
      '(it names "books.lan", "192.168.1.10"); connect with a name or address it lists, or remake ' +
      "it with that subjectAltName (see README)",
  );
  const expired = describeConnectError(
    new Deno.errors.InvalidData(
      "invalid peer certificate: certificate expired: verification time 1795639317 (UNIX), but " +
        "certificate is not valid after 1578009600 (217629717 seconds ago)",
    ),
    options,
  );
  assert.equal(expired.reason, "untrusted");
  assert.match(expired.message, /certificate has expired; make a new one/);
});

Deno.test("clientTransportConfig() merges flags and environment", () => {
  const none = () => undefined;
  assert.deepEqual(clientTransportConfig({}, none), { tls: false });
  assert.deepEqual(clientTransportConfig({ tls: true, token: " t0k3n-from-flag " }, none), {
    tls: true,
    token: "t0k3n-from-flag",
  });
  const env = (name: string) =>
    ({ ADDRESSBOOK_TLS: "yes", ADDRESSBOOK_CA: "ca.pem", ADDRESSBOOK_TOKEN: "env-token" })[
      name
    ];
  assert.deepEqual(clientTransportConfig({ token: "flag-token" }, env), {
    tls: true,
    caFile: "ca.pem",
    token: "flag-token",
  });
  assert.throws(
    () => clientTransportConfig({}, (name) => name === "ADDRESSBOOK_TLS" ? "maybe" : undefined),
    /ADDRESSBOOK_TLS "maybe"/,
  );
});
