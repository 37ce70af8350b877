/**
 * Reads a process's CPU time and memory from Linux's `/proc`, for the bench's figures.
 * Deno asks for `--allow-all` to read `/proc/<pid>` files, so they are read by `cat` (the
 * bench runs with `--allow-run`); a process that is gone reads as NaN.
 *
 * @module
 */

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) and memory (KiB) of one process at one moment. */
export interface ProcSample {
  cpuSeconds: number;
  /** Resident memory now. */
  rssKiB: number;
  /** Peak resident memory since the process started. */
  hwmKiB: number;
}

/**
 * Samples a process's CPU time and memory.
 *
 * @example This process has used some CPU and memory
 * ```ts
 * import { sample } from "./proc.ts";
 * const s = await sample(Deno.pid);
 * if (!(s.cpuSeconds >= 0) || !(s.hwmKiB >= s.rssKiB)) throw new Error(JSON.stringify(s));
 * ```
 */
export async function sample(pid: number): Promise<ProcSample> {
  const none = { cpuSeconds: NaN, rssKiB: NaN, hwmKiB: NaN };
  let text: string;
  try {
    const output = await new Deno.Command("cat", {
      args: [`/proc/${pid}/stat`, `/proc/${pid}/status`],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return none;
    text = new TextDecoder().decode(output.stdout);
  } catch {
    return none;
  }
  const [stat = "", ...status] = text.split("\n");
  // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const kib = (field: string) => {
    const line = status.find((l) => l.startsWith(`${field}:`));
    return line ? Number(/(\d+) kB/.exec(line)?.[1] ?? NaN) : NaN;
  };
  return {
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
    rssKiB: kib("VmRSS"),
    hwmKiB: kib("VmHWM"),
  };
}
