/**
 * Copying paths between here and a lease with rsync over the lease's own ssh
 * config (`rsync -e "ssh -F <cfg>"`), for results, downloads and `cp`.
 *
 * Names are never interpreted by a shell on either side:
 * - `-s` (--secluded-args) sends names over rsync's protocol, not the remote
 *   shell's command line;
 * - remote *sources* are always given as `--from0 --files-from=<list>` entries
 *   under a fixed base (the work root or `/`): list entries are taken
 *   literally, where a remote source argument would still be wildcard-expanded
 *   by the remote rsync even with `-s`;
 * - local paths are made absolute, so none can start with `-` and be taken
 *   for an option.
 */
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Runtime } from "../runtime.ts";
import { rsyncRemotePath, rsyncShellQuote } from "../sync/rsync.ts";

/** What rsync needs of a lease. */
export interface LeaseEnds {
  configPath: string;
  alias: string;
  workRoot: string;
}

export interface RsyncResult {
  code: number;
  stderr: string;
}

/** rsync's "some files were not transferred" (e.g. a source that does not exist). */
export const RSYNC_PARTIAL = 23;

/** A remote path as rsync's base + entry: absolute paths under `/`, others under the work root. */
export function remoteParts(workRoot: string, path: string): { base: string; entry: string } {
  if (path.startsWith("/")) return { base: "/", entry: path.replace(/^\/+/, "") || "." };
  return { base: rsyncRemotePath(workRoot), entry: path };
}

/** A remote destination directory or file, as the path after `alias:` (never starting with `-`). */
export function remoteTarget(workRoot: string, path: string): string {
  if (path.startsWith("/")) return path;
  const base = rsyncRemotePath(workRoot);
  return base === "./" ? `./${path}` : `${base}${path}`;
}

function baseArgs(lease: LeaseEnds): string[] {
  return ["rsync", "-a", "-s", "--no-owner", "--no-group", "-e", `ssh -F ${rsyncShellQuote(lease.configPath)}`];
}

async function withList<T>(entries: string[], fn: (listPath: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "crabbox-list-"));
  try {
    const listPath = join(dir, "list");
    writeFileSync(listPath, entries.map((e) => `${e}\0`).join(""), { mode: 0o600 });
    return await fn(listPath);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function rsync(runtime: Runtime, argv: string[], timeoutMs: number): Promise<RsyncResult> {
  // ssh may open the tunnel (its ProxyCommand runs gh, which may need the token).
  const r = await runtime.exec(argv, { passTokens: true, timeoutMs, detached: true });
  if (r.spawnError) return { code: 127, stderr: r.spawnError };
  return { code: r.code, stderr: r.stderr };
}

export interface PullOptions {
  /** The remote base: entries are relative to it (`remoteParts`). */
  base: string;
  entries: string[];
  /** Local directory to copy into (absolute). */
  dest: string;
  /** Keep each entry's relative path under dest (true), or put its last component there (false). */
  keepPath: boolean;
  /** Skip files larger than this many bytes. */
  maxBytes?: number;
  /** Copy what symlinks point to (-L). */
  follow?: boolean;
  timeoutMs?: number;
}

/** Copy remote entries (files or directories, recursively) into a local directory. */
export async function pullEntries(runtime: Runtime, lease: LeaseEnds, opts: PullOptions): Promise<RsyncResult> {
  return withList(opts.entries, (listPath) =>
    rsync(
      runtime,
      [
        ...baseArgs(lease),
        "-r",
        opts.keepPath ? "-R" : "--no-R",
        ...(opts.follow ? ["-L"] : []),
        ...(opts.maxBytes ? [`--max-size=${opts.maxBytes}`] : []),
        "--from0",
        `--files-from=${listPath}`,
        `${lease.alias}:${opts.base.endsWith("/") ? opts.base : `${opts.base}/`}`,
        opts.dest.endsWith("/") ? opts.dest : `${opts.dest}/`,
      ],
      opts.timeoutMs ?? 600_000,
    ),
  );
}

/**
 * Copy what matches rsync include rules under the work root (directories to
 * descend into must be included too), pruning empty directories.
 */
export async function pullMatching(runtime: Runtime, lease: LeaseEnds, opts: { rules: string[]; dest: string; maxBytes?: number; timeoutMs?: number }): Promise<RsyncResult> {
  return rsync(
    runtime,
    [
      ...baseArgs(lease),
      "-m",
      ...(opts.maxBytes ? [`--max-size=${opts.maxBytes}`] : []),
      ...opts.rules.map((r) => `--include=${r}`),
      "--exclude=*",
      `${lease.alias}:${rsyncRemotePath(lease.workRoot)}`,
      opts.dest.endsWith("/") ? opts.dest : `${opts.dest}/`,
    ],
    opts.timeoutMs ?? 600_000,
  );
}

export interface PushOptions {
  /** Local directory the entries are relative to (absolute). */
  localBase: string;
  entries: string[];
  /** The remote directory they go into (`remoteTarget`). */
  remoteDir: string;
  /** Copy what local symlinks point to (-L), not the links. */
  follow: boolean;
  timeoutMs?: number;
}

/** Copy local entries (as listed: no recursion) into a remote directory, keeping their relative paths. */
export async function pushEntries(runtime: Runtime, lease: LeaseEnds, opts: PushOptions): Promise<RsyncResult> {
  return withList(opts.entries, (listPath) =>
    rsync(
      runtime,
      [
        ...baseArgs(lease),
        ...(opts.follow ? ["-L"] : []),
        // Missing remote parents are created (rsync >= 3.2.3 in the codespace).
        "--mkpath",
        "--from0",
        `--files-from=${listPath}`,
        opts.localBase.endsWith("/") ? opts.localBase : `${opts.localBase}/`,
        `${lease.alias}:${opts.remoteDir.endsWith("/") ? opts.remoteDir : `${opts.remoteDir}/`}`,
      ],
      opts.timeoutMs ?? 600_000,
    ),
  );
}

/** Copy one local file to a remote path (the new file's full name). */
export async function pushFile(runtime: Runtime, lease: LeaseEnds, opts: { localPath: string; remotePath: string; follow: boolean; timeoutMs?: number }): Promise<RsyncResult> {
  return rsync(runtime, [...baseArgs(lease), ...(opts.follow ? ["-L"] : []), "--mkpath", opts.localPath, `${lease.alias}:${opts.remotePath}`], opts.timeoutMs ?? 600_000);
}

/** True when a local path exists (a dangling symlink counts). */
export function lexists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}
