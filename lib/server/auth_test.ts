import assert from "node:assert/strict";
import {
  Authenticator,
  checkToken,
  generateToken,
  isLoopback,
  loadOrCreateToken,
  tokensMatch,
} from "./auth.ts";

Deno.test("isLoopback() accepts 127.0.0.0/8, ::1 and localhost only", () => {
  for (const host of ["127.0.0.1", "127.0.0.2", "127.255.1.9", "::1", "[::1]", "localhost"]) {
    assert.equal(isLoopback(host), true, host);
  }
  assert.equal(isLoopback("0:0:0:0:0:0:0:1"), true);
  assert.equal(isLoopback("::ffff:127.0.0.1"), true);
  for (
    const host of [
      "0.0.0.0",
      "::",
      "[::]",
      "192.168.1.5",
      "10.0.0.1",
      "128.0.0.1",
      "127.0.0.300",
      "fe80::1",
      "1::1",
      "myhost.lan",
      "localhost.evil.example",
    ]
  ) {
    assert.equal(isLoopback(host), false, host);
  }
});

Deno.test("generateToken() makes distinct 43-character base64url tokens", () => {
  const tokens = new Set(Array.from({ length: 50 }, generateToken));
  assert.equal(tokens.size, 50);
  for (const token of tokens) assert.match(token, /^[A-Za-z0-9_-]{43}$/);
});

Deno.test("checkToken() refuses short, spaced and control-character tokens", () => {
  assert.equal(checkToken("  0123456789abcdef  ", "--token"), "0123456789abcdef");
  assert.throws(() => checkToken("short", "--token"), /--token is shorter than 16 characters/);
  assert.throws(() => checkToken("0123456789 abcdef", "--token"), /printable ASCII/);
  assert.throws(() => checkToken("0123456789abcdef\u0007", "X"), /printable ASCII/);
  assert.throws(() => checkToken("x".repeat(513), "X"), /at most 512/);
});

Deno.test("tokensMatch() compares whole tokens, whatever their lengths", async () => {
  assert.equal(await tokensMatch("same-token-123456", "same-token-123456"), true);
  assert.equal(await tokensMatch("same-token-123456", "same-token-12345"), false);
  assert.equal(await tokensMatch("same-token-123456", "same-token-1234567"), false);
  assert.equal(await tokensMatch("", "same-token-123456"), false);
  assert.equal(await tokensMatch("Same-token-123456", "same-token-123456"), false);
});

Deno.test("Authenticator.check() tells read-write from read-only from neither", async () => {
  const auth = new Authenticator("write-token-0123456", "read-token-01234567");
  assert.equal(auth.hasReadToken, true);
  assert.equal(await auth.check("write-token-0123456"), "write");
  assert.equal(await auth.check("read-token-01234567"), "read");
  assert.equal(await auth.check("read-token-0123456"), "none");
  const writeOnly = new Authenticator("write-token-0123456");
  assert.equal(writeOnly.hasReadToken, false);
  assert.equal(await writeOnly.check("write-token-0123456"), "write");
  assert.equal(await writeOnly.check(""), "none");
  assert.throws(() => new Authenticator("same-token-0123456", "same-token-0123456"), /differ/);
});

Deno.test("loadOrCreateToken() creates mode 0600, then reads, then narrows a wide mode", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/token`;
    const first = await loadOrCreateToken(path);
    assert.equal(first.created, true);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.readTextFile(path)).trim(), first.token);
    const again = await loadOrCreateToken(path);
    assert.deepEqual(again, { token: first.token, created: false, narrowed: false });
    await Deno.chmod(path, 0o644);
    const narrowed = await loadOrCreateToken(path);
    assert.equal(narrowed.narrowed, true);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    await Deno.writeTextFile(path, "\n");
    await assert.rejects(loadOrCreateToken(path), /is empty; delete it/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
