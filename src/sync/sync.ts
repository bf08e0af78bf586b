/**
 * Sync the local tree to the codespace with rsync over the lease's ssh config.
 *
 *   rsync -a -z -s --no-owner --no-group --delete-missing-args --from0
 *         --files-from=<list> --stats -e "ssh -F '<cfg>'" <localRoot>/ <alias>:<workRoot>/
 *
 * The list holds the current files plus the files the previous successful sync
 * sent that no longer exist locally: `--delete-missing-args` deletes exactly
 * those remotely, while files created remotely (build output, remote
 * node_modules) are left alone. When the fingerprint equals the lease's last
 * one, rsync is not started at all.
 *
 * `-s` (--protect-args / --secluded-args, rsync >= 3.0) sends the remote path
 * over the protocol instead of through the remote shell, so spaces and shell
 * metacharacters in the work root are never interpreted. rsync >= 3.2.4 also
 * escapes such args by default, but `-s` works with older local rsyncs too.
 * rsync >= 3.1.0 is required locally for --delete-missing-args.
 */
import { existsSync, lstatSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { CrabboxError, Exit } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import { proxyLogPathFor } from "../ssh/config.ts";
import { classifySshFailure, logMark, readLogSince, remoteRsyncMissingError, tail } from "../ssh/diagnose.ts";
import { listFiles } from "./files.ts";
import { computeFingerprint, loadSyncCache, saveSyncCache } from "./fingerprint.ts";
import { writePrivateFileAtomic } from "../fsutil.ts";

export interface SyncInput {
  leaseId: string;
  configPath: string;
  alias: string;
  localRoot: string;
  workRoot: string;
  /** The fingerprint of the last successful sync to this lease (from the claim), if any. */
  lastFingerprint: string | null;
  /** Whether localRoot is a git work tree, when the caller already knows. */
  isGit?: boolean;
  /** Called once rsync is known to be needed, before it starts (e.g. to make sure the connection is up). */
  beforeTransfer?: () => Promise<void>;
}

export interface SyncResult {
  skipped: boolean;
  fingerprint: string;
  /** Files in the local tree. */
  files: number;
  /** Their total size. */
  bytes: number;
  /** Files rsync actually transferred (absent when skipped). */
  transferred?: number;
  /** Files deleted remotely because they were deleted locally. */
  deleted?: number;
  /** Bytes rsync sent over the wire (absent when skipped). */
  sentBytes?: number;
  ms: number;
}

export const MIN_RSYNC = [3, 1, 0] as const;

export function parseRsyncVersion(text: string): [number, number, number] | null {
  const m = /rsync\s+version\s+v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

function versionAtLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) > min[i]!;
  }
  return true;
}

const RSYNC_HINT =
  "Install rsync 3.1 or newer: macOS `brew install rsync` (the system one is too old), Debian/Ubuntu `sudo apt-get install rsync`";

/** Check the local rsync (found on PATH, version >= 3.1.0). */
export async function checkLocalRsync(runtime: Runtime): Promise<string> {
  const r = await runtime.exec(["rsync", "--version"], { timeoutMs: 30_000 });
  if (r.spawnError) {
    throw new CrabboxError({ code: "rsync_not_found", message: "rsync is not installed locally", why: r.spawnError, hint: RSYNC_HINT, exit: Exit.usage });
  }
  const v = parseRsyncVersion(r.stdout);
  if (!v || !versionAtLeast(v, MIN_RSYNC)) {
    throw new CrabboxError({
      code: "rsync_too_old",
      message: `The local rsync is too old or unrecognised (${v ? v.join(".") : r.stdout.split("\n")[0]?.trim() || "no version"})`,
      why: "crabbox-cs needs --delete-missing-args (rsync 3.1.0)",
      hint: RSYNC_HINT,
      exit: Exit.usage,
    });
  }
  return v.join(".");
}

/** Quote one word for rsync's -e parser (single quotes; a doubled quote is a literal quote). */
export function rsyncShellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replaceAll("'", "''")}'`;
}

/** The path after `alias:`; `~`/`~/x` become home-relative (the ssh login starts in $HOME). */
export function rsyncRemotePath(workRoot: string): string {
  let p = workRoot;
  if (p === "~" || p === "~/") p = ".";
  else if (p.startsWith("~/")) p = p.slice(2);
  return p.endsWith("/") ? p : `${p}/`;
}

export interface RsyncStats {
  transferred: number;
  sentBytes: number;
  deleted: number;
}

function statNumber(text: string, label: string): number {
  const m = new RegExp(`${label}:\\s*([\\d,.]+)`).exec(text);
  return m ? Number(m[1]!.replace(/[,.]/g, "")) : 0;
}

export function parseRsyncStats(stdout: string): RsyncStats {
  return {
    transferred: statNumber(stdout, "Number of regular files transferred"),
    sentBytes: statNumber(stdout, "Total bytes sent"),
    deleted: statNumber(stdout, "Number of deleted files"),
  };
}

export function rsyncArgs(input: { listPath: string; configPath: string; alias: string; localRoot: string; workRoot: string }): string[] {
  const local = input.localRoot.endsWith("/") ? input.localRoot : `${input.localRoot}/`;
  return [
    "rsync",
    "-a",
    "-z",
    "-s",
    "--no-owner",
    "--no-group",
    "--delete-missing-args",
    // Compare mtimes to the nanosecond: an edit that keeps the size within the same second
    // as the last sync must still be sent (needs rsync >= 3.1.3 remotely).
    "--modify-window=-1",
    "--from0",
    `--files-from=${input.listPath}`,
    "--stats",
    "-e",
    `ssh -F ${rsyncShellQuote(input.configPath)}`,
    local,
    `${input.alias}:${rsyncRemotePath(input.workRoot)}`,
  ];
}

export async function syncTree(runtime: Runtime, input: SyncInput): Promise<SyncResult> {
  const started = runtime.now();
  const { files } = await listFiles(runtime, input.localRoot, input.isGit);
  const cache = loadSyncCache(runtime, input.leaseId, input.localRoot);
  const fp = computeFingerprint(input.localRoot, files, cache, runtime.now(), `${input.alias}\0${input.workRoot}`);
  if (input.lastFingerprint !== null && fp.fingerprint === input.lastFingerprint) {
    if (fp.dirty) await saveSyncCache(runtime, input.leaseId, cache);
    return { skipped: true, fingerprint: fp.fingerprint, files: fp.files.length, bytes: fp.totalBytes, ms: runtime.now() - started };
  }
  await checkLocalRsync(runtime);
  await input.beforeTransfer?.();

  // Only what changed since the last successful sync to this lease goes in the list (rsync's cost
  // grows with the list, not with what changed); the first sync sends everything.
  const sent = cache.lastSync?.sent ?? null;
  const changed = sent ? fp.files.filter((f) => sent[f] !== fp.signatures.get(f)) : fp.files;
  const gone = Object.keys(sent ?? {}).filter((f) => {
    if (fp.signatures.has(f)) return false;
    try {
      lstatSync(join(input.localRoot, f));
      return false; // still on disk (now ignored, say): neither sent nor deleted
    } catch {
      return true;
    }
  });
  const list = [...changed, ...gone];
  const listPath = join(runtime.crabboxHome, "sync", `${input.leaseId}.files-${randomBytes(4).toString("hex")}`);
  await writePrivateFileAtomic(listPath, list.length ? `${list.join("\0")}\0` : "");
  const logPath = proxyLogPathFor(input.configPath);
  const mark = logMark(logPath);
  let r;
  try {
    r = await runtime.exec(rsyncArgs({ listPath, configPath: input.configPath, alias: input.alias, localRoot: input.localRoot, workRoot: input.workRoot }));
  } finally {
    if (existsSync(listPath)) unlinkSync(listPath);
  }
  if (r.spawnError) {
    throw new CrabboxError({ code: "rsync_not_found", message: "rsync is not installed locally", why: r.spawnError, hint: RSYNC_HINT, exit: Exit.usage });
  }
  // 24: some source files vanished while rsync ran; what exists was sent.
  if (r.code !== 0 && r.code !== 24) {
    const proxyOut = readLogSince(logPath, mark);
    if (/rsync: (command )?not found|rsync: No such file or directory/i.test(r.stderr)) {
      throw remoteRsyncMissingError(tail(r.stderr) || "the remote side of rsync could not be started");
    }
    if (r.code === 255 || r.code === 12 || r.code === 10 || r.code === 5 || /connection (closed|refused|timed out)|kex_exchange|Permission denied \(/i.test(r.stderr)) {
      if (r.code === 255 || /ssh|connection|kex_exchange|Permission denied/i.test(r.stderr + proxyOut)) {
        throw classifySshFailure(r.stderr, proxyOut, "rsync could not connect to the codespace over ssh");
      }
    }
    throw new CrabboxError({
      code: "sync_failed",
      message: `rsync failed (exit ${r.code})`,
      why: tail(r.stderr) || undefined,
      hint: "Fix the cause above and rerun; use --verbose for rsync's full output",
      exit: Exit.unexpected,
    });
  }
  const stats = parseRsyncStats(r.stdout);
  // Remember what the remote side now holds: everything sent now, plus what earlier syncs left
  // there that is still on disk locally but no longer listed (ignored files: neither sent nor deleted).
  const remote: Record<string, string> = {};
  const deleted = new Set(gone);
  for (const [f, sig] of Object.entries(sent ?? {})) if (!deleted.has(f) && !fp.signatures.has(f)) remote[f] = sig;
  for (const [f, sig] of fp.signatures) remote[f] = sig;
  cache.lastSync = { fingerprint: fp.fingerprint, sent: remote };
  await saveSyncCache(runtime, input.leaseId, cache);
  return {
    skipped: false,
    fingerprint: fp.fingerprint,
    files: fp.files.length,
    bytes: fp.totalBytes,
    transferred: stats.transferred,
    deleted: gone.length,
    sentBytes: stats.sentBytes,
    ms: runtime.now() - started,
  };
}
