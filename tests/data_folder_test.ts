/**
 * The data folder: one server owns it (a second one, or `serve --check`, refuses while it
 * runs; a lock left by a killed server does not block the next start), a folder other users
 * may open is warned about, an empty KV file is warned about, and a read-only folder or a
 * full disk at start is named as such. Every server is a real process with the serve task's
 * flags; the read-only and full folders are small tmpfs mounts (root only, else skipped).
 */
import assert from "node:assert/strict";
import { runServerToExit, tempDir, TestServer } from "./helpers.ts";

/** The one `addressbook: ...` line a server that refused to start printed. */
function refusal(stderr: string): string {
  const lines = stderr.split("\n").filter((line) => line.startsWith("addressbook: "));
  assert.equal(lines.length, 1, stderr);
  assert.ok(!/^\s+at /m.test(stderr), `a stack trace:\n${stderr}`);
  return lines[0]!;
}

Deno.test("a second server on a data folder in use refuses in one sentence naming the folder and the owner's pid", async () => {
  await using dir = await tempDir();
  await using first = await TestServer.start({ dataDir: dir.path });
  using client = await first.connect();
  await client.result("add", { contact: { name: "Ann" } });

  const second = await runServerToExit({ dataDir: dir.path });
  assert.equal(second.code, 1, second.stderr);
  assert.equal(
    refusal(second.stderr),
    `addressbook: The data folder ${JSON.stringify(dir.path)} is in use by another server ` +
      `(pid ${first.process.pid}): stop that one first, or give this one its own data folder ` +
      "(ADDRESSBOOK_DATA or --data)",
  );
  // serve --check would rebuild indexes under a running server: refused the same way.
  const check = await runServerToExit({ dataDir: dir.path, args: ["--check"] });
  assert.equal(check.code, 1, check.stderr);
  assert.match(refusal(check.stderr), /is in use by another server \(pid \d+\)/);
  assert.ok(!check.stderr.includes("Check passed"), check.stderr);

  // The first is untouched and still the only one serving the folder.
  assert.equal((await client.result("count")).count, 1);
});

Deno.test("a lock left by a server killed with SIGKILL does not block the next start", async () => {
  await using dir = await tempDir();
  const first = await TestServer.start({ dataDir: dir.path });
  try {
    using client = await first.connect();
    await client.result("add", { contact: { name: "Ann" } });
  } finally {
    await first.stop("SIGKILL");
  }
  // The lock file is still there, with the dead server's pid in it.
  const stale = (await Deno.readTextFile(`${dir.path}/server.lock`)).trim();
  assert.equal(stale, String(first.process.pid));
  await using again = await TestServer.start({ dataDir: dir.path });
  using client = await again.connect();
  assert.equal((await client.result("count")).count, 1);
  assert.equal(
    (await Deno.readTextFile(`${dir.path}/server.lock`)).trim(),
    String(again.process.pid),
  );
  // A clean stop releases it too: the next server starts at once.
  await again.stop();
  await using third = await TestServer.start({ dataDir: dir.path });
  assert.ok(third.port > 0);
});

Deno.test("a memory store takes no lock: it may share a data folder with a running server", async () => {
  await using dir = await tempDir();
  await using first = await TestServer.start({ dataDir: dir.path });
  await using memory = await TestServer.start({ dataDir: dir.path, args: ["--db", ":memory:"] });
  using client = await memory.connect();
  assert.equal((await client.result("count")).count, 0);
  assert.ok(first.port !== memory.port);
});

/** The lines of a server's log that match `pattern`. */
function logLines(server: TestServer, pattern: RegExp): string[] {
  return server.logs.filter((line) => pattern.test(line));
}

Deno.test("a data folder other users may open is warned about in one line with the chmod that fixes it", async () => {
  await using dir = await tempDir();
  await Deno.chmod(dir.path, 0o755);
  {
    await using server = await TestServer.start({ dataDir: dir.path });
    const warned = logLines(server, /open to other users/);
    assert.equal(warned.length, 1, server.logs.join("\n"));
    assert.match(
      warned[0]!,
      new RegExp(
        ` warn The data folder "${dir.path}" is open to other users \\(mode 0755\\), so they ` +
          `can read the store and every contact in it: chmod 700 "${dir.path}"$`,
      ),
    );
    // What the warning is about: the KV file itself is not private.
    const kv = await Deno.stat(`${dir.path}/addressbook.kv`);
    assert.notEqual(kv.mode! & 0o077, 0, "the KV file is private after all");
  }
  // The folder is the admin's: left as it is. Fixed as the warning says, nothing is said.
  assert.equal((await Deno.stat(dir.path)).mode! & 0o777, 0o755);
  await Deno.chmod(dir.path, 0o700);
  await using again = await TestServer.start({ dataDir: dir.path });
  assert.deepEqual(logLines(again, /open to other users/), []);
});

Deno.test("a zero-length KV file starts with one warning that it was empty; a new or used one starts quietly", async () => {
  await using dir = await tempDir();
  const file = `${dir.path}/addressbook.kv`;
  {
    await using fresh = await TestServer.start({ dataDir: dir.path });
    assert.deepEqual(logLines(fresh, /was empty/), [], "a new store is no surprise");
    using client = await fresh.connect();
    await client.result("add", { contact: { name: "Ann" } });
  }
  {
    await using used = await TestServer.start({ dataDir: dir.path });
    assert.deepEqual(logLines(used, /was empty/), []);
  }
  // The file is lost: an empty one is left where it was (a failed copy, a truncation).
  for (const suffix of ["", "-wal", "-shm"]) await Deno.remove(file + suffix).catch(() => {});
  await Deno.writeFile(file, new Uint8Array());
  await using truncated = await TestServer.start({ dataDir: dir.path });
  const warned = logLines(truncated, /was empty/);
  assert.equal(warned.length, 1, truncated.logs.join("\n"));
  assert.match(
    warned[0]!,
    new RegExp(
      ` warn The store file "${file}" was empty \\(0 bytes\\), so the address book starts ` +
        "empty: that usually means the file was lost or cut short; if contacts are missing, " +
        "stop the server and put back the file from a backup$",
    ),
  );
  using client = await truncated.connect();
  assert.equal((await client.result("count")).count, 0);
});

/** Whether this process can mount a small tmpfs (Linux, as root). */
function canMount(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    const id = new Deno.Command("id", { args: ["-u"], stdout: "piped" }).outputSync();
    return new TextDecoder().decode(id.stdout).trim() === "0";
  } catch {
    return false;
  }
}

/** Runs `mount` (or `umount`) with `args`; throws with its error output if it fails. */
function mount(command: "mount" | "umount", args: string[]): void {
  const output = new Deno.Command(command, { args, stderr: "piped" }).outputSync();
  if (!output.success) {
    throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/** A 2 MiB tmpfs on a new temp folder, unmounted and removed when disposed. */
function smallDisk(): { path: string } & AsyncDisposable {
  const path = Deno.makeTempDirSync({ prefix: "addressbook-disk-" });
  try {
    mount("mount", ["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", path]);
  } catch (error) {
    Deno.removeSync(path);
    throw error;
  }
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      mount("umount", [path]);
      await Deno.remove(path, { recursive: true });
    },
  };
}

Deno.test("a read-only data folder at start is named as such, new or holding a store", {
  ignore: !canMount(),
}, async () => {
  await using disk = smallDisk();
  const sentence = `addressbook: Cannot use the data folder ${JSON.stringify(disk.path)}: it is ` +
    "on a read-only file system (the server writes its store there): remount it read-write or " +
    "choose another data folder";
  mount("mount", ["-o", "remount,ro", disk.path]);
  const fresh = await runServerToExit({ dataDir: disk.path });
  assert.equal(fresh.code, 1, fresh.stderr);
  assert.equal(refusal(fresh.stderr), sentence);

  // A folder that holds a store (and its lock file), mounted read-only later.
  mount("mount", ["-o", "remount,rw", disk.path]);
  {
    await using server = await TestServer.start({ dataDir: disk.path });
    using client = await server.connect();
    await client.result("add", { contact: { name: "Ann" } });
  }
  mount("mount", ["-o", "remount,ro", disk.path]);
  const used = await runServerToExit({ dataDir: disk.path });
  assert.equal(used.code, 1, used.stderr);
  assert.equal(refusal(used.stderr), sentence);
  mount("mount", ["-o", "remount,rw", disk.path]);
});

Deno.test("a full disk at start is named as such, and leaves no empty store behind", {
  ignore: !canMount(),
}, async () => {
  await using disk = smallDisk();
  // Fill it: the last write fails when nothing is left.
  const filler = await Deno.open(`${disk.path}/filler`, { write: true, createNew: true });
  try {
    for (let i = 0; i < 64; i++) await filler.write(new Uint8Array(64 * 1024));
  } catch (error) {
    assert.match(String(error), /No space left on device/);
  } finally {
    filler.close();
  }
  const full = await runServerToExit({ dataDir: disk.path });
  assert.equal(full.code, 1, full.stderr);
  assert.equal(
    refusal(full.stderr),
    `addressbook: Cannot open the store ${JSON.stringify(`${disk.path}/addressbook.kv`)}: the ` +
      "disk that holds it is full: free some space and start again",
  );
  // Space freed: the next start is a new store, with no warning that the file was empty.
  await Deno.remove(`${disk.path}/filler`);
  await using server = await TestServer.start({ dataDir: disk.path });
  assert.deepEqual(logLines(server, /was empty/), [], server.logs.join("\n"));
});
