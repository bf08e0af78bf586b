/**
 * One ssh round trip that says whether a codespace can be used: which of
 * git / rsync / tar are on PATH, who we are, and whether the work root exists
 * (created if needed) and is writable. This first connection also starts the
 * lease's ControlMaster, so the tunnel handshake is paid here once.
 */
import { CrabboxError, Exit } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import { proxyLogPathFor } from "./config.ts";
import { classifySshFailure, logMark, readLogSince, remoteRsyncMissingError } from "./diagnose.ts";
import { tail } from "../util/text.ts";
import { sshArgs } from "./exec.ts";
import { quoteWorkRoot, RUNS_DIR } from "./quote.ts";

export interface ProbeInput {
  configPath: string;
  alias: string;
  workRoot: string;
  timeoutMs?: number;
}

export interface ProbeResult {
  git: string | null;
  rsync: string | null;
  tar: string | null;
  workRootWritable: boolean;
  /** The work root as the remote shell resolved it (`~` expanded). */
  workRoot: string;
  user: string;
  home: string;
}

const BEGIN = "__crabbox_probe_begin__";
const END = "__crabbox_probe_end__";

/** The POSIX sh script sent on stdin to `sh -s` (no quoting of it through the login shell). */
export function probeScript(workRoot: string): string {
  return [
    `wr=${quoteWorkRoot(workRoot)}`,
    `printf '%s\\n' '${BEGIN}'`,
    `for t in git rsync tar; do p=$(command -v "$t" 2>/dev/null) || p=; printf '%s=%s\\n' "$t" "$p"; done`,
    `mkdir -p -- "$wr" 2>/dev/null`,
    `if [ -d "$wr" ] && [ -w "$wr" ] && [ -x "$wr" ]; then echo writable=1; else echo writable=0; fi`,
    `printf 'workroot=%s\\n' "$wr"`,
    `printf 'user=%s\\n' "$(id -un 2>/dev/null || echo "\${USER:-}")"`,
    `printf 'home=%s\\n' "$HOME"`,
    // Forget run nonces (see exactlyOnce) older than a week.
    `find "$HOME/${RUNS_DIR}" -mindepth 1 -maxdepth 1 -mmin +10080 -exec rm -rf {} + 2>/dev/null`,
    `printf '%s\\n' '${END}'`,
    "",
  ].join("\n");
}

export function parseProbeOutput(stdout: string): ProbeResult | null {
  const start = stdout.lastIndexOf(`${BEGIN}\n`);
  const end = stdout.lastIndexOf(`${END}`);
  if (start < 0 || end < start) return null;
  const kv = new Map<string, string>();
  for (const line of stdout.slice(start + BEGIN.length + 1, end).split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
  }
  const orNull = (s: string | undefined) => (s ? s : null);
  return {
    git: orNull(kv.get("git")),
    rsync: orNull(kv.get("rsync")),
    tar: orNull(kv.get("tar")),
    workRootWritable: kv.get("writable") === "1",
    workRoot: kv.get("workroot") ?? "",
    user: kv.get("user") ?? "",
    home: kv.get("home") ?? "",
  };
}

/** Probe the codespace in one ssh round trip. Throws ssh_server_missing (7) / ssh_connect (255). */
export async function probe(runtime: Runtime, input: ProbeInput): Promise<ProbeResult> {
  const logPath = proxyLogPathFor(input.configPath);
  const mark = logMark(logPath);
  const argv = sshArgs({ configPath: input.configPath, alias: input.alias, tty: false, command: "sh -s" });
  // This round trip may open the tunnel: its ProxyCommand runs gh, which may need the token.
  // Its own session (detached): this ssh may open the master, whose tunnel must not get a terminal's Ctrl-C.
  const r = await runtime.exec(argv, { input: probeScript(input.workRoot), passTokens: true, timeoutMs: input.timeoutMs ?? 180_000, detached: true });
  if (r.spawnError) {
    throw new CrabboxError({
      code: "ssh_not_found",
      message: "OpenSSH (ssh) could not be run",
      why: r.spawnError,
      hint: "Install the OpenSSH client (macOS ships it; Debian/Ubuntu: sudo apt-get install openssh-client)",
      exit: Exit.usage,
    });
  }
  if (r.timedOut) {
    throw new CrabboxError({
      code: "ssh_timeout",
      message: "the codespace did not answer over SSH in time",
      why: tail(r.stderr) || undefined,
      hint: "The codespace may still be starting; retry, or check `gh codespace ssh -c <name>`.",
      exit: Exit.timeout,
    });
  }
  if (r.code === 255) {
    throw classifySshFailure(r.stderr, readLogSince(logPath, mark), "ssh could not connect to the codespace");
  }
  const parsed = r.code === 0 ? parseProbeOutput(r.stdout) : null;
  if (!parsed) {
    throw new CrabboxError({
      code: "probe_failed",
      message: `the readiness check in the codespace failed (exit ${r.code})`,
      why: tail(r.stderr) || tail(r.stdout) || undefined,
      hint: "The remote account needs a POSIX sh; run `crabbox-cs ssh` to look around.",
      exit: Exit.sshUnusable,
    });
  }
  return parsed;
}

/**
 * Fail (exit 7) when the codespace cannot take a sync: rsync missing or the
 * work root not writable. Returns warnings for what is merely missing (git, tar).
 */
export function assertReady(result: ProbeResult, workRoot?: string): string[] {
  const root = workRoot ?? result.workRoot;
  if (!result.rsync) {
    throw remoteRsyncMissingError("crabbox-cs syncs the working tree with rsync over SSH", { user: result.user });
  }
  if (!result.workRootWritable) {
    throw new CrabboxError({
      code: "work_root_unwritable",
      message: `the work root ${root} cannot be created or written by ${result.user || "the remote user"} in the codespace`,
      hint: "Choose a writable directory with --github-codespaces-work-root (e.g. ~/crabbox or /workspaces/<repo>)",
      exit: Exit.sshUnusable,
      details: { workRoot: result.workRoot, user: result.user },
    });
  }
  const warnings: string[] = [];
  if (!result.git) warnings.push("git is not installed in the codespace");
  if (!result.tar) warnings.push("tar is not installed in the codespace");
  return warnings;
}
