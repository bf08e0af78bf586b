/**
 * Who a process is, across pid reuse: this host's name, and a process's start
 * time as the OS reports it (Linux: field 22 of /proc/<pid>/stat, in clock
 * ticks since boot; elsewhere: `ps -o lstart= -p <pid>`). A pid whose start
 * time differs from the one recorded belongs to another process.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { pidAlive } from "./lock.ts";

/** What the in-use rules need to know about processes; tests pass a fake. */
export interface ProcessProbe {
  host: string;
  alive(pid: number): boolean;
  /** The process's start time, or null when it cannot be told (gone, or no way to ask). */
  startTime(pid: number): string | null;
}

/** Field 22 (starttime) of a /proc/<pid>/stat line; the command name (field 2) may hold spaces and parentheses. */
export function statStartTime(stat: string): string | null {
  const close = stat.lastIndexOf(")");
  if (close < 0) return null;
  const fields = stat.slice(close + 1).trim().split(/\s+/); // fields[0] is field 3
  const v = fields[22 - 3];
  return v && /^\d+$/.test(v) ? v : null;
}

export function processStartTime(pid: number): string | null {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (process.platform === "linux") {
    try {
      return statStartTime(readFileSync(`/proc/${pid}/stat`, "utf8"));
    } catch {
      return null;
    }
  }
  try {
    const r = Bun.spawnSync(["ps", "-o", "lstart=", "-p", String(pid)], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
    const out = r.stdout.toString().trim();
    return r.exitCode === 0 && out ? out : null;
  } catch {
    return null;
  }
}

export const localProbe: ProcessProbe = { host: hostname(), alive: pidAlive, startTime: processStartTime };
