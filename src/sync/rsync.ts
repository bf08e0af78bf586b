/**
 * rsync as the sync uses it: additions and modifications only, from a list of
 * present paths (no `--delete-missing-args`, whose mode-0 entries hardened
 * receivers refuse):
 *
 *   rsync -a -z -s --no-owner --no-group --force --modify-window=-1 --from0
 *         --files-from=<list> --stats -e "ssh -F '<cfg>'" <localRoot>/ <alias>:<workRoot>/
 *
 * `-s` (--secluded-args, --protect-args before 3.2.6) sends names over the
 * protocol, never through the remote shell. `--force` lets a file or symlink
 * replace a remote directory that is not empty (a local directory became a
 * file). Works with rsync >= 3.1 on either side (3.1.3 remotely for the
 * nanosecond --modify-window=-1).
 */
import { CrabboxError, Exit } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import { sshArgs } from "../ssh/exec.ts";
import { tail } from "../util/text.ts";
import { quoteWorkRoot } from "../ssh/quote.ts";

export const MIN_RSYNC = [3, 1, 0] as const;

export function parseRsyncVersion(text: string): [number, number, number] | null {
  const m = /rsync\s+version\s+v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

export function versionAtLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    if ((v[i] ?? 0) !== min[i]) return (v[i] ?? 0) > min[i]!;
  }
  return true;
}

export const RSYNC_HINT =
  "Install rsync 3.1 or newer: macOS `brew install rsync` (the system one is too old), Debian/Ubuntu `sudo apt-get install rsync`";

export function rsyncNotFound(why: string | undefined): CrabboxError {
  return new CrabboxError({ code: "rsync_not_found", message: "rsync is not installed locally", why, hint: RSYNC_HINT, exit: Exit.usage });
}

/** Check the local rsync (found on PATH, version >= 3.1.0); returns its version and first line. */
export async function checkLocalRsync(runtime: Runtime): Promise<{ version: string; line: string }> {
  const r = await runtime.exec(["rsync", "--version"], { timeoutMs: 30_000 });
  if (r.spawnError) throw rsyncNotFound(r.spawnError);
  const v = parseRsyncVersion(r.stdout);
  const line = r.stdout.split("\n")[0]?.trim() || "no version";
  if (!v || !versionAtLeast(v, MIN_RSYNC)) {
    throw new CrabboxError({
      code: "rsync_too_old",
      message: `the local rsync is too old or unrecognised (${v ? v.join(".") : line})`,
      why: "crabbox-cs needs rsync 3.1.0 or newer",
      hint: RSYNC_HINT,
      exit: Exit.usage,
    });
  }
  return { version: v.join("."), line };
}

/**
 * The rsync version in the codespace, over the lease's ssh config (`ref`
 * names the lease in messages); throws when it cannot be read or is too old.
 */
export async function checkRemoteRsync(runtime: Runtime, lease: { configPath: string; alias: string; ref: string }): Promise<{ version: string; line: string }> {
  const r = await runtime.exec(sshArgs({ configPath: lease.configPath, alias: lease.alias, tty: false, command: "rsync --version" }), { timeoutMs: 60_000, passTokens: true });
  const v = parseRsyncVersion(r.stdout);
  if (r.code !== 0 || !v) {
    throw new CrabboxError({
      code: "remote_rsync_unknown",
      message: `could not read the rsync version in ${lease.ref} (exit ${r.code})`,
      why: tail(r.stderr) || undefined,
      hint: `check the codespace is running (crabbox-cs status ${lease.ref}) and has rsync 3.1 or newer`,
      exit: r.code === 255 ? Exit.sshConnect : Exit.sshUnusable,
    });
  }
  if (!versionAtLeast(v, MIN_RSYNC)) {
    throw new CrabboxError({ code: "remote_rsync_too_old", message: `the codespace's rsync ${v.join(".")} is older than 3.1`, hint: "install a newer rsync in the devcontainer image", exit: Exit.sshUnusable });
  }
  return { version: v.join("."), line: r.stdout.split("\n")[0]!.trim() };
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
}

function statNumber(text: string, label: string): number {
  const m = new RegExp(`${label}:\\s*([\\d,.]+)`).exec(text);
  return m ? Number(m[1]!.replace(/[,.]/g, "")) : 0;
}

export function parseRsyncStats(stdout: string): RsyncStats {
  return {
    transferred: statNumber(stdout, "Number of regular files transferred"),
    sentBytes: statNumber(stdout, "Total bytes sent"),
  };
}

export function rsyncArgs(input: { listPath: string; configPath: string; alias: string; localRoot: string; workRoot: string; makeRoot?: boolean }): string[] {
  const local = input.localRoot.endsWith("/") ? input.localRoot : `${input.localRoot}/`;
  // rsync creates only the last directory of its destination: the remote side makes the whole
  // work root first (a fresh one-shot lease has no probe that made it; the report session beside
  // this rsync makes it too, but not necessarily first).
  const makeRoot = input.makeRoot ? [`--rsync-path=mkdir -p -- ${quoteWorkRoot(input.workRoot.replace(/\/+$/, "") || "/")} && rsync`] : [];
  return [
    "rsync",
    "-a",
    "-z",
    "-s",
    "--no-owner",
    "--no-group",
    "--force",
    // Compare mtimes to the nanosecond: an edit that keeps the size within the same second
    // as the last sync must still be sent (needs rsync >= 3.1.3 remotely).
    "--modify-window=-1",
    "--from0",
    `--files-from=${input.listPath}`,
    "--stats",
    ...makeRoot,
    "-e",
    `ssh -F ${rsyncShellQuote(input.configPath)}`,
    local,
    `${input.alias}:${rsyncRemotePath(input.workRoot)}`,
  ];
}
