/**
 * One server per data folder: a lock file in the folder, locked (`flock`, exclusive) for the
 * server's life, with the owner's pid written in it for the message a second server prints.
 * The kernel releases the lock when the process ends, however it ends (SIGKILL included), so
 * a lock file left behind never blocks the next start: only a live owner does.
 *
 * @module
 */

/** The lock file's name in the data folder. */
export const LOCK_FILE = "server.lock";

/** Another process holds the data folder's lock. */
export class FolderInUseError extends Error {
  /** The data folder. */
  readonly folder: string;
  /** The owner's pid as it wrote it in the lock file, when it could be read. */
  readonly pid: number | undefined;

  constructor(folder: string, pid: number | undefined) {
    super(
      `The data folder ${JSON.stringify(folder)} is in use by another server` +
        (pid === undefined ? "" : ` (pid ${pid})`) +
        ": stop that one first, or give this one its own data folder (ADDRESSBOOK_DATA or --data)",
    );
    this.name = "FolderInUseError";
    this.folder = folder;
    this.pid = pid;
  }
}

/** A held data-folder lock; disposing of it (or the process ending) releases it. */
export interface FolderLock extends Disposable {
  /** The lock file. */
  readonly path: string;
  /** Releases the lock (closing again does nothing). */
  close(): void;
}

const decoder = new TextDecoder();

/** The pid written at the start of the lock file, if there is a plausible one. */
async function readPid(file: Deno.FsFile): Promise<number | undefined> {
  const buffer = new Uint8Array(32);
  await file.seek(0, Deno.SeekMode.Start);
  const read = await file.read(buffer);
  const text = decoder.decode(buffer.subarray(0, read ?? 0)).trim();
  return /^\d{1,10}$/.test(text) && Number(text) > 0 ? Number(text) : undefined;
}

/**
 * Locks `folder` for this process: creates `folder/server.lock` (mode 0600) if needed, takes
 * an exclusive lock on it without waiting, and writes this process's pid in it. Throws
 * {@link FolderInUseError} when another process holds it; other errors (the folder is
 * read-only, the file system cannot lock) are thrown as they come. Needs read and write
 * access to the folder, nothing else.
 *
 * @example A second lock on a folder is refused until the first is released
 * ```ts
 * import { FolderInUseError, lockDataFolder } from "./data_lock.ts";
 * const dir = await Deno.makeTempDir();
 * const first = await lockDataFolder(dir);
 * const second = await lockDataFolder(dir).catch((error) => error);
 * if (!(second instanceof FolderInUseError) || second.pid !== Deno.pid) throw new Error();
 * first.close();
 * (await lockDataFolder(dir)).close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function lockDataFolder(folder: string): Promise<FolderLock> {
  const path = `${folder}/${LOCK_FILE}`;
  // Not truncated on open: the owner's pid must survive a second server's look.
  const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 });
  try {
    if (!await file.tryLock(true)) throw new FolderInUseError(folder, await readPid(file));
  } catch (error) {
    file.close();
    throw error;
  }
  try {
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch {
    // The pid only improves another server's message (a full disk must not stop us here).
  }
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  return { path, close, [Symbol.dispose]: close };
}
