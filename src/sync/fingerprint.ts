/**
 * A fingerprint of what a sync would send, cheap enough to compute before
 * every `run`: one lstat per file, and a content hash only for files whose
 * stat (size, mtime, ctime, mode, inode) changed since the cached entry.
 * mtimes are not part of the fingerprint itself, so touching a file without
 * changing it does not force a sync.
 *
 * Cache: `<crabboxHome>/sync/<leaseId>.json` (0600). It also keeps the file
 * list of the last successful sync (so that files deleted locally can be
 * removed remotely), the remote stamp of that sync, and whether a sync is
 * under way (see sync.ts).
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Runtime } from "../runtime.ts";
import { writePrivateFileAtomic } from "../fsutil.ts";
import { listFiles } from "./files.ts";
import { RACY_WINDOW_MS, hashTrusted } from "./racy.ts";

/** [size, mtimeMs, ctimeMs, mode, ino, sha256 | null] — null: hash again next time. */
type Entry = [number, number, number, number, number, string | null];

export interface SyncCache {
  version: 2;
  localRoot: string;
  entries: Record<string, Entry>;
  /**
   * The last successful sync: its fingerprint and, per file it left on the
   * remote side, the signature (mode, size, content hash) it had then.
   */
  lastSync: {
    fingerprint: string;
    sent: Record<string, string>;
    /** The remote stamp this sync touched before it looked (remote.ts); absent: look at everything next time. */
    stamp?: string;
    /** The paths its rsync sent (latin1 byte strings): the next report recognises those writes. */
    written?: string[];
    /** Its rsync sent every path of the view (a full sync): `written` is then left out. */
    wroteAll?: boolean;
  } | null;
  /** A sync started and has not finished: the next one mirrors everything (full listing, every file checked). */
  pending?: boolean;
}

export interface FingerprintResult {
  fingerprint: string;
  files: string[];
  totalBytes: number;
  /** Per file: "mode:size:hash", to compare with what the last sync sent. */
  signatures: Map<string, string>;
}

export interface FingerprintInput {
  leaseId: string;
  localRoot: string;
  /** Precomputed file list (relative paths); default: listFiles(localRoot). */
  files?: string[];
  /** Mixed into the fingerprint (e.g. the remote work root). */
  salt?: string;
}

export function syncCachePath(runtime: Runtime, leaseId: string): string {
  return join(runtime.crabboxHome, "sync", `${leaseId}.json`);
}

export function loadSyncCache(runtime: Runtime, leaseId: string, localRoot: string): SyncCache {
  const empty: SyncCache = { version: 2, localRoot, entries: {}, lastSync: null };
  try {
    const data = JSON.parse(readFileSync(syncCachePath(runtime, leaseId), "utf8")) as Partial<SyncCache>;
    if (data.version !== 2 || typeof data.entries !== "object" || data.entries === null) return empty;
    // Stat entries belong to one local root; the last-sync record belongs to the lease.
    const entries = data.localRoot === localRoot ? (data.entries as Record<string, Entry>) : {};
    const lastSync =
      data.lastSync && typeof data.lastSync.fingerprint === "string" && typeof data.lastSync.sent === "object" && data.lastSync.sent
        ? data.lastSync
        : null;
    return { version: 2, localRoot, entries, lastSync, pending: data.pending === true || existsSync(pendingPath(runtime, leaseId)) };
  } catch {
    return empty;
  }
}

export async function saveSyncCache(runtime: Runtime, leaseId: string, cache: SyncCache): Promise<void> {
  await writePrivateFileAtomic(syncCachePath(runtime, leaseId), JSON.stringify({ ...cache, pending: false }));
  if (!cache.pending) rmSync(pendingPath(runtime, leaseId), { force: true });
}

/** A small marker file says "a sync is under way" (cheaper than rewriting the cache). */
export function pendingPath(runtime: Runtime, leaseId: string): string {
  return join(runtime.crabboxHome, "sync", `${leaseId}.pending`);
}

export async function markSyncPending(runtime: Runtime, leaseId: string): Promise<void> {
  await writePrivateFileAtomic(pendingPath(runtime, leaseId), "");
}

function hashFile(abs: string, isLink: boolean): string {
  const h = new Bun.CryptoHasher("sha256");
  h.update(isLink ? readlinkSync(abs) : readFileSync(abs));
  return h.digest("hex");
}

/**
 * Compute the fingerprint, updating `cache.entries` in place. Returns whether
 * the cache changed (so the caller can decide to save it).
 */
export function computeFingerprint(localRoot: string, files: string[], cache: SyncCache, nowMs: number, salt = ""): FingerprintResult & { dirty: boolean } {
  const run = new FingerprintRun(localRoot, cache, nowMs, salt);
  run.add(files, 0, files.length);
  return run.finish(cache);
}

/**
 * The same, yielding to the event loop every few thousand files once a file
 * was met whose signature differs from `sent` (what the last sync sent; a new
 * file too): `onFirstChange` is called then, so that work the caller starts at
 * that moment (a remote session) proceeds while the check goes on.
 */
export async function computeFingerprintAsync(
  localRoot: string,
  files: string[],
  cache: SyncCache,
  nowMs: number,
  salt: string,
  sent: Record<string, string>,
  onFirstChange: () => void,
): Promise<FingerprintResult & { dirty: boolean }> {
  const run = new FingerprintRun(localRoot, cache, nowMs, salt, { sent, onFirstChange });
  for (let i = 0; i < files.length; i += CHUNK) {
    run.add(files, i, Math.min(i + CHUNK, files.length));
    if (run.changedSeen) await new Promise((r) => setImmediate(r));
  }
  return run.finish(cache);
}

const CHUNK = 2_000;

class FingerprintRun {
  changedSeen = false;
  private readonly parts: string[];
  private readonly next: Record<string, Entry> = {};
  private readonly present: string[] = [];
  private readonly signatures = new Map<string, string>();
  private dirty = false;
  private totalBytes = 0;
  private readonly racyAfter: number;
  private readonly base: string;

  constructor(
    localRoot: string,
    private readonly cache: SyncCache,
    nowMs: number,
    salt: string,
    private readonly watch?: { sent: Record<string, string>; onFirstChange: () => void },
  ) {
    this.parts = [`crabbox-sync-v2\0${localRoot}\0${salt}\0`];
    this.racyAfter = nowMs - RACY_WINDOW_MS;
    this.base = localRoot.endsWith("/") ? localRoot : `${localRoot}/`;
  }

  add(files: string[], from: number, to: number): void {
    const { cache, next, present, signatures, parts, racyAfter, base, watch } = this;
    for (let i = from; i < to; i++) {
      const rel = files[i]!;
      const abs = base + rel; // (path.join per file costs more than the lstat)
      let st;
      try {
        st = lstatSync(abs);
      } catch {
        continue; // vanished since listing (or tracked but deleted)
      }
      const isLink = st.isSymbolicLink();
      if (!isLink && !st.isFile()) continue;
      const { size, mtimeMs: mtime, ctimeMs: ctime, mode, ino } = st;
      const old = cache.entries[rel];
      let hash: string | null =
        old && old[0] === size && old[1] === mtime && old[2] === ctime && old[3] === mode && old[4] === ino ? old[5] : null;
      const recomputed = hash === null;
      if (recomputed) {
        try {
          hash = hashFile(abs, isLink);
        } catch {
          continue;
        }
        this.dirty = true;
      }
      // Files are read as they are looked at here: only our clock can vouch (racy.ts).
      next[rel] = [size, mtime, ctime, mode, ino, hashTrusted(ctime, Number.NEGATIVE_INFINITY, racyAfter) ? hash : null];
      present.push(rel);
      this.totalBytes += size;
      const sig = `${mode.toString(8)}:${size}:${hash}`;
      signatures.set(rel, sig);
      // A file whose stat matches its cache entry has the signature the last save recorded (a sync
      // or a skip, both equal to what was sent): only a re-hashed file can be a change.
      if (recomputed && watch && !this.changedSeen && watch.sent[rel] !== sig) {
        this.changedSeen = true;
        watch.onFirstChange();
      }
      parts.push(`${rel}\0${sig}\0`);
    }
  }

  finish(cache: SyncCache): FingerprintResult & { dirty: boolean } {
    const dirty = this.dirty || Object.keys(cache.entries).length !== this.present.length;
    cache.entries = this.next;
    const digest = new Bun.CryptoHasher("sha256");
    digest.update(this.parts.join(""));
    return { fingerprint: `sha256:${digest.digest("hex")}`, files: this.present, totalBytes: this.totalBytes, dirty, signatures: this.signatures };
  }
}

/** List (unless given) and fingerprint the local tree, saving the stat cache when it changed. */
export async function fingerprintTree(runtime: Runtime, input: FingerprintInput): Promise<FingerprintResult> {
  const files = input.files ?? (await listFiles(runtime, input.localRoot)).files;
  const cache = loadSyncCache(runtime, input.leaseId, input.localRoot);
  const r = computeFingerprint(input.localRoot, files, cache, runtime.now(), input.salt);
  if (r.dirty) await saveSyncCache(runtime, input.leaseId, cache);
  return { fingerprint: r.fingerprint, files: r.files, totalBytes: r.totalBytes, signatures: r.signatures };
}
