/**
 * "In use" markers: every process that works on a lease (warmup and one-shot
 * `run` from the moment the claim exists until its release ends; `run --id`
 * and `ssh` while they work) leaves `<claimsDir>/<leaseId>.inuse.<random>`,
 * so that `cleanup` never releases a lease under a running command.
 *
 * A marker is a small JSON file (0600, written atomically):
 *   {version: 1, leaseId, host, pid, startTime, createdAt, expiresAt}
 * `startTime` is the process's start time as the OS reports it (see proc.ts).
 * judgeMarker decides whether it still counts:
 *   - this host: live while the pid is alive and, when both are known, its start
 *     time is the recorded one (a pid reused by another process is stale);
 *   - another host sharing the home: live until expiresAt (createdAt + 12 h).
 * Stale markers are swept when seen.
 */
import { constants, unlinkSync } from "node:fs";
import { fsp } from "../util/fsp.ts";
import { join } from "node:path";
import { ensurePrivateDir, writeFileAtomicQuick } from "../fsutil.ts";
import { randomBase32 } from "../util/random.ts";
import { localProbe, type ProcessProbe } from "./proc.ts";
import { assertLeaseId, type ClaimStore } from "./store.ts";

/** How long a marker written on another host is respected (we cannot see its process). */
export const MARKER_TTL_MS = 12 * 60 * 60 * 1000;

export interface UseMarker {
  version: 1;
  leaseId: string;
  host: string;
  pid: number;
  /** The process's start time (proc.ts); null when it could not be told. */
  startTime: string | null;
  createdAt: string;
  expiresAt: string;
}

export type MarkerVerdict = { live: true; who: string } | { live: false; why: string };

export function describeUser(m: Pick<UseMarker, "pid" | "host">): string {
  return `process ${m.pid} on host ${m.host}`;
}

/** Does this marker still protect its lease? Pure, given the probe and the clock. */
export function judgeMarker(m: UseMarker | null, probe: ProcessProbe, now: number): MarkerVerdict {
  if (!m) return { live: false, why: "unreadable marker" };
  const who = describeUser(m);
  if (m.host === probe.host) {
    if (!probe.alive(m.pid)) return { live: false, why: `process ${m.pid} is gone` };
    const current = m.startTime === null ? null : probe.startTime(m.pid);
    if (current !== null && current !== m.startTime) return { live: false, why: `pid ${m.pid} now belongs to another process (started ${current}, not ${m.startTime})` };
    return { live: true, who };
  }
  const until = Date.parse(m.expiresAt);
  if (Number.isNaN(until) || until <= now) return { live: false, why: `marker of ${who} expired at ${m.expiresAt}` };
  return { live: true, who };
}

/** Parse a marker file; legacy empty markers `<leaseId>.inuse.<pid>` are this host's, start time unknown. */
export function parseMarker(text: string, name: string, host: string): UseMarker | null {
  const m = /^(cbx_[a-z2-7]{12})\.inuse\.([a-z2-7]{10}|\d+)$/.exec(name);
  if (!m) return null;
  const leaseId = m[1]!;
  if (/^\d+$/.test(m[2]!) && text.trim() === "") {
    return { version: 1, leaseId, host, pid: Number(m[2]), startTime: null, createdAt: "", expiresAt: "" };
  }
  try {
    const o = JSON.parse(text) as Partial<UseMarker>;
    if (
      o.version === 1 && o.leaseId === leaseId && typeof o.host === "string" &&
      typeof o.pid === "number" && Number.isInteger(o.pid) && o.pid > 0 &&
      (o.startTime === null || typeof o.startTime === "string") &&
      typeof o.createdAt === "string" && typeof o.expiresAt === "string"
    ) {
      return { version: 1, leaseId, host: o.host, pid: o.pid, startTime: o.startTime, createdAt: o.createdAt, expiresAt: o.expiresAt };
    }
  } catch {
    // unreadable
  }
  return null;
}

const MARKER_NAME_RE = /^(cbx_[a-z2-7]{12})\.inuse\./;

/** The lease id a file in the claims directory is a marker of, or null. */
export function markerLeaseId(name: string): string | null {
  return MARKER_NAME_RE.exec(name)?.[1] ?? null;
}

/** A marker's text, never following a link or blocking on a FIFO; null when it is not a small regular file, undefined when gone. */
async function readSmallFile(path: string): Promise<string | null | undefined> {
  let fh;
  try {
    fh = await fsp().open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? undefined : null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > 4096) return null;
    return await fh.readFile("utf8");
  } catch {
    return null;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

export interface MarkerFile {
  path: string;
  leaseId: string;
  marker: UseMarker | null;
  verdict: MarkerVerdict;
}

/** Every marker in the claims directory (of one lease, or all), judged. Nothing is removed. */
export async function readMarkers(store: ClaimStore, leaseId?: string, probe: ProcessProbe = localProbe, now = Date.now()): Promise<MarkerFile[]> {
  if (leaseId !== undefined) assertLeaseId(leaseId);
  const names = await fsp().readdir(store.claimsDir).catch(() => [] as string[]);
  const out: MarkerFile[] = [];
  for (const name of names) {
    const id = markerLeaseId(name);
    if (!id || (leaseId !== undefined && id !== leaseId)) continue;
    const path = join(store.claimsDir, name);
    const text = await readSmallFile(path);
    if (text === undefined) continue; // removed meanwhile
    const marker = text === null ? null : parseMarker(text, name, probe.host);
    out.push({ path, leaseId: id, marker, verdict: judgeMarker(marker, probe, now) });
  }
  return out;
}

/** The live users of a lease (first = oldest file name order is not meaningful); stale markers are swept. */
export async function usersOf(store: ClaimStore, leaseId: string, probe: ProcessProbe = localProbe, now = Date.now()): Promise<UseMarker[]> {
  const users: UseMarker[] = [];
  for (const f of await readMarkers(store, leaseId, probe, now)) {
    if (f.verdict.live) users.push(f.marker!);
    else await fsp().rm(f.path, { force: true });
  }
  return users;
}

/** This process's markers: `mark` one lease (or several), `done` removes them all. */
export interface LeaseUse {
  mark(leaseId: string): Promise<void>;
  done(): Promise<void>;
}

export function createLeaseUse(store: ClaimStore, probe: ProcessProbe = localProbe, now: () => number = Date.now): LeaseUse {
  const paths: string[] = [];
  return {
    async mark(leaseId) {
      assertLeaseId(leaseId);
      const at = now();
      const marker: UseMarker = {
        version: 1,
        leaseId,
        host: probe.host,
        pid: process.pid,
        startTime: probe.startTime(process.pid),
        createdAt: new Date(at).toISOString(),
        expiresAt: new Date(at + MARKER_TTL_MS).toISOString(),
      };
      await ensurePrivateDir(store.root);
      await ensurePrivateDir(store.claimsDir);
      const path = join(store.claimsDir, `${leaseId}.inuse.${randomBase32(10)}`);
      // Atomic (a reader never sees half a marker, which it would judge stale and sweep), but not
      // fsynced: a marker means nothing once its process is gone, and a crash of this machine ends both.
      writeFileAtomicQuick(path, `${JSON.stringify(marker)}\n`, 0o600);
      paths.push(path);
    },
    async done() {
      for (const p of paths.splice(0)) {
        try {
          unlinkSync(p);
        } catch {
          // gone already, or best effort: a marker left behind is judged stale once this process is gone
        }
      }
    },
  };
}
