/**
 * An exclusive lock that works across processes, built on lock files.
 *
 * Acquire: write {pid, host, createdAt, token} to a private temp file, then
 * link(2) it to the lock path. link fails with EEXIST when the lock exists, so
 * exactly one process wins, and the lock file is never seen half-written
 * (open(path, "wx") would leave an empty file visible until the write lands).
 *
 * Stale locks: a lock whose holder is on this host and whose pid is dead
 * (kill(pid, 0) → ESRCH) is broken. With `staleMs`, a lock older than that is
 * also broken (use it for locks from other hosts sharing the home directory).
 * Breakers serialise on "<lock>.break" and break by rename-then-check: rename
 * the lock aside, verify it is the very file judged stale (inode + content),
 * then delete it; a mismatch is linked back. So two breakers cannot both win,
 * and a fresh lock taken after the stale one is never removed.
 *
 * Not re-entrant: taking the same lock again inside `fn` (same async context)
 * throws at once instead of deadlocking. Concurrent, non-nested callers in one
 * process simply wait like other processes do.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { constants as fsConstants } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { fsp } from "../util/fsp.ts";
import { hostname } from "node:os";
import { basename, resolve } from "node:path";
import { CrabboxError, Exit } from "../errors.ts";
import { symlinkRefused } from "../fsutil.ts";
import { randomBase32 } from "../util/random.ts";

export interface LockHolder {
  pid: number;
  host: string;
  createdAt: string;
  token: string;
}

export interface LockOptions {
  /** Give up after this long (default 30 s): CrabboxError exit 6. */
  timeoutMs?: number;
  /** Also treat locks older than this as stale, whatever their pid. Default: only dead pids. */
  staleMs?: number;
  /** What the lock protects, for messages (e.g. the lease id). Default: the lock file name. */
  label?: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Unparseable lock files (hand-edited, disk damage) are stale after this long. */
const UNPARSEABLE_STALE_MS = 10_000;
/** A break lock is held for a few milliseconds; one this old belongs to a crashed breaker. */
const BREAK_LOCK_STALE_MS = 30_000;

const heldHere = new AsyncLocalStorage<ReadonlySet<string>>();
/** Tokens of the locks this process holds or is acquiring: a lock with our pid but
 * another token was left by an earlier process that had the same pid (containers). */
const ourTokens = new Set<string>();
const HOST = hostname();

interface Seen {
  holder: LockHolder | null;
  raw: string;
  ino: number;
  mtimeMs: number;
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** Is `pid` a live process? EPERM means it exists but belongs to someone else. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errno(e) !== "ESRCH";
  }
}

function parseHolder(raw: string): LockHolder | null {
  try {
    const o = JSON.parse(raw) as Partial<LockHolder>;
    if (
      typeof o.pid === "number" && Number.isInteger(o.pid) && o.pid > 0 &&
      typeof o.host === "string" && typeof o.createdAt === "string" && typeof o.token === "string"
    ) {
      return { pid: o.pid, host: o.host, createdAt: o.createdAt, token: o.token };
    }
  } catch {
    // fall through
  }
  return null;
}

/** Read the lock file, or null when there is none. A symbolic link is refused (exit 5), never followed. */
async function readLock(path: string): Promise<Seen | null> {
  let fh: FileHandle;
  try {
    fh = await fsp().open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (e) {
    if (errno(e) === "ENOENT") return null;
    if (errno(e) === "ELOOP") throw symlinkRefused(path, "file");
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw new CrabboxError({
        code: "lock_unusable",
        message: `lock path ${path} is not a regular file`,
        hint: `move it aside (mv '${path}' '${path}.bad') and retry`,
        exit: Exit.refused,
        details: { lockPath: path },
      });
    }
    const raw = await fh.readFile("utf8");
    return { holder: parseHolder(raw), raw, ino: st.ino, mtimeMs: st.mtimeMs };
  } finally {
    await fh.close();
  }
}

function lockError(path: string, e: unknown): CrabboxError {
  return new CrabboxError({
    code: "lock_failed",
    message: `cannot create lock file ${path}`,
    why: `${errno(e) ?? "error"}: ${(e as Error)?.message ?? e}`,
    hint: `check that ${resolve(path, "..")} exists and is writable by you`,
    exit: Exit.unexpected,
    details: { lockPath: path },
    cause: e,
  });
}

/** Try once to create `path` holding `holder`. True when we now own it. */
async function tryCreate(path: string, holder: LockHolder): Promise<boolean> {
  const tmp = `${path}.${randomBase32(10)}.tmp`;
  try {
    await fsp().writeFile(tmp, JSON.stringify(holder), { mode: 0o600, flag: "wx" });
  } catch (e) {
    // A full disk can fail the write after the file was created: never leave it behind.
    await fsp().rm(tmp, { force: true }).catch(() => {});
    throw lockError(path, e);
  }
  try {
    await fsp().link(tmp, path);
    return true;
  } catch (e) {
    if (errno(e) === "EEXIST") return false;
    throw lockError(path, e);
  } finally {
    await fsp().rm(tmp, { force: true }).catch(() => {});
  }
}

/** Remove `path` only if it still is our lock. */
async function releaseIfOurs(path: string, token: string): Promise<void> {
  const seen = await readLock(path).catch(() => null);
  if (seen?.holder?.token === token) await fsp().rm(path, { force: true }).catch(() => {});
}

function same(a: Seen | null, b: Seen): boolean {
  return a !== null && a.ino === b.ino && a.raw === b.raw;
}

/** Rename the lock aside, check it is `seen`, delete it; put back anything else. */
async function renameThenCheck(path: string, seen: Seen): Promise<void> {
  const aside = `${path}.stale.${randomBase32(10)}`;
  try {
    await fsp().rename(path, aside);
  } catch (e) {
    if (errno(e) === "ENOENT") return; // already gone
    throw e;
  }
  const moved = await readLock(aside);
  if (moved && !same(moved, seen)) {
    // We grabbed a fresh lock: give it back (fails only if yet another lock appeared meanwhile).
    await fsp().link(aside, path).catch(() => {});
  }
  await fsp().rm(aside, { force: true });
}

function isStale(seen: Seen, nowMs: number, staleMs: number | undefined): boolean {
  const h = seen.holder;
  if (!h) return nowMs - seen.mtimeMs > (staleMs ?? UNPARSEABLE_STALE_MS);
  if (h.host === HOST) {
    if (h.pid === process.pid ? !ourTokens.has(h.token) : !pidAlive(h.pid)) return true;
  }
  if (staleMs !== undefined) {
    const created = Date.parse(h.createdAt);
    const age = nowMs - (Number.isNaN(created) ? seen.mtimeMs : created);
    if (age > staleMs) return true;
  }
  return false;
}

/** Break the stale lock `seen` at `path`, serialised with other breakers. False when another breaker is busy. */
async function breakStale(path: string, seen: Seen, nowMs: number): Promise<boolean> {
  const breakPath = `${path}.break`;
  const me: LockHolder = { pid: process.pid, host: HOST, createdAt: new Date(nowMs).toISOString(), token: randomBase32(16) };
  ourTokens.add(me.token);
  if (!(await tryCreate(breakPath, me))) {
    ourTokens.delete(me.token);
    // Another breaker is at work; clear its break lock only if that breaker died.
    const other = await readLock(breakPath);
    if (other && isStale(other, nowMs, BREAK_LOCK_STALE_MS)) await renameThenCheck(breakPath, other);
    return false;
  }
  try {
    const again = await readLock(path);
    if (again && same(again, seen)) await renameThenCheck(path, seen);
    return true;
  } finally {
    await releaseIfOurs(breakPath, me.token);
    ourTokens.delete(me.token);
  }
}

/** Who holds the lock at `lockPath` right now (null when free or unreadable). */
export async function lockHolder(lockPath: string): Promise<LockHolder | null> {
  return (await readLock(lockPath).catch(() => null))?.holder ?? null;
}

/**
 * Run `fn` while holding the exclusive lock `lockPath`. The lock's directory
 * must exist. The lock is released when `fn` settles (also on throw).
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T> | T, opts: LockOptions = {}): Promise<T> {
  const path = resolve(lockPath);
  const label = opts.label ?? basename(path);
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const timeoutMs = opts.timeoutMs ?? 30_000;

  const held = heldHere.getStore();
  if (held?.has(path)) {
    throw new CrabboxError({
      code: "lock_reentrant",
      message: `the lock for ${label} is already held by this operation`,
      why: "crabbox-cs locks are not re-entrant",
      exit: Exit.unexpected,
      details: { lockPath: path },
    });
  }

  const started = now();
  const me: LockHolder = { pid: process.pid, host: HOST, createdAt: "", token: randomBase32(16) };
  let last: Seen | null = null;
  ourTokens.add(me.token);
  try {
    for (let attempt = 0; ; attempt++) {
      me.createdAt = new Date(now()).toISOString();
      if (await tryCreate(path, me)) break;
      const seen = await readLock(path);
      if (!seen) continue; // released between our attempt and the read: try again now
      last = seen;
      if (isStale(seen, now(), opts.staleMs)) {
        if (!(await breakStale(path, seen, now()))) await sleep(1 + Math.random() * 4);
        continue;
      }
      const waited = now() - started;
      if (waited >= timeoutMs) throw timeoutError(path, label, waited, last.holder);
      // Jittered backoff: 2.5-7.5 ms at first, growing to 50-150 ms.
      const base = Math.min(5 * 2 ** Math.min(attempt, 5), 100);
      await sleep(Math.min(base / 2 + Math.random() * base, Math.max(1, timeoutMs - waited)));
    }
  } catch (e) {
    ourTokens.delete(me.token);
    throw e;
  }

  try {
    return await heldHere.run(new Set([...(held ?? []), path]), fn);
  } finally {
    await releaseIfOurs(path, me.token);
    ourTokens.delete(me.token);
  }
}

function timeoutError(path: string, label: string, waitedMs: number, h: LockHolder | null): CrabboxError {
  const secs = Math.round(waitedMs / 100) / 10;
  const who = h ? `pid ${h.pid} on ${h.host} (since ${h.createdAt})` : "an unknown process (unreadable lock file)";
  return new CrabboxError({
    code: "lock_timeout",
    message: `timed out after ${secs}s waiting for the lock on ${label}`,
    why: `the lock is held by ${who}`,
    hint: h
      ? `if pid ${h.pid} is not a running crabbox-cs (check: ps -p ${h.pid}), remove the stale lock: rm '${path}'`
      : `if no crabbox-cs is running, remove the stale lock: rm '${path}'`,
    exit: Exit.timeout,
    details: { lockPath: path, ...(h ? { holderPid: h.pid, holderHost: h.host, holderSince: h.createdAt } : {}) },
  });
}
