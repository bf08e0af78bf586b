/**
 * A head start for `run`'s `git status`: the entry point starts it before the
 * command's module loads, so that the local check (mostly that one git) does
 * not wait for our own start-up. syncSource (lifecycle/sync.ts) takes it when
 * it is for the same tree; it is then used like the status syncSource would
 * start itself. Nothing else is different:
 *
 * - It starts only where syncSource would start one: a git work tree found
 *   without a spawn, no submodules, not $HOME or `/`.
 * - Under --verbose it does not start (the runtime that traces children is not
 *   built yet); syncSource starts it, traced.
 * - Still running when the run ends (a usage error, a lease that does not
 *   resolve): the entry point ends it (`endRunStatuses`), and syncSource's own
 *   status with it, so an error never waits for git in a large tree.
 *
 * A warm `run --id L --no-sync -- <command>` without a terminal on stdin gets
 * a second head start: its command's session. The lease is resolved from the
 * claims as `--id` would resolve it, and ssh is spawned behind a gate (the
 * session waits for one line on its stdin before it claims the run's nonce:
 * ssh/exec.ts openSession), so that ssh's own start (~10 ms, a login on a
 * real codespace) runs beside ours. The flags are only looked at here, not
 * parsed: the run passes the session on to runRemote, which takes it only if
 * it is exactly the session it would open itself (the same ssh argv,
 * nonce, command, lease and stdio), and ends it unused otherwise. A session
 * no run took is ended with the run (`endRunStatuses`); one whose process
 * ends first reads end of file at its gate. Either way its command never starts.
 *
 * This module stays small: it is loaded before the command is.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createRuntime, type ExecResult, type Runtime } from "../runtime.ts";
import type { OpenedSession } from "../ssh/exec.ts";
import { gitTopLevel, neverSynced } from "../sync/files.ts";
import { runStatus } from "../sync/gitstate.ts";

export interface StartedStatus {
  at: number;
  result: Promise<ExecResult>;
}

let started: { root: string; env: Runtime["env"]; status: StartedStatus } | null = null;

/** The run's statuses still running (a head start, or syncSource's own): `endRunStatuses` ends them. */
const live = new Set<AbortController>();

/** Start the run's `git status` of `root`: used by the sync if it asks soon enough, ended with the run otherwise. */
export function startRunStatus(runtime: Runtime, root: string): StartedStatus {
  const stop = new AbortController();
  live.add(stop);
  const result = runStatus(runtime, root, stop.signal);
  const done = () => void live.delete(stop);
  result.then(done, done);
  return { at: runtime.now(), result };
}

/** Flags that rule a head start out: no sync, help, or a traced run. */
function syncsWithoutTrace(flags: readonly string[]): boolean {
  return !flags.some((f) => f === "--no-sync" || f.startsWith("--sync=") || f === "--help" || f === "-h" || f === "--help-all" || f === "--verbose" || f.startsWith("--verbose="));
}

/** The tree syncSource would check, when a status may start for it now; else null. */
function headStartRoot(runtime: Runtime): string | null {
  const root = gitTopLevel(runtime.cwd, runtime.env); // (resolved: it starts from the real cwd)
  if (!root || neverSynced(root, runtime.homeDir)) return null;
  return existsSync(join(root, ".gitmodules")) ? null : root;
}

/** `run`'s flags (before `--`) and command (after it): start its `git status` now when it will sync, or its session when it will not. */
export async function headStart(flags: readonly string[], command: readonly string[] = [], runtime: Runtime = createRuntime()): Promise<void> {
  const lease = sessionLease(flags, command);
  if (lease && !runtime.tty.stdin) {
    // Awaited: ssh starts before the command's modules load (they would hold the thread first).
    opening = openRunSession(runtime, lease, command, flags.includes("--json")).catch(() => null);
    await opening;
    return;
  }
  if (started || !syncsWithoutTrace(flags)) return;
  const root = headStartRoot(runtime);
  if (!root) return;
  started = { root, env: runtime.env, status: startRunStatus(runtime, root) };
}

/** The session opened ahead of the run, until the run takes it (null: none, or the lease did not resolve). */
let opening: Promise<OpenedSession | null> | null = null;

/**
 * The lease a `--no-sync` run of a command names with --id: a guess from the words (what could change
 * the session rules it out: --env, a pool, --verbose, help); runRemote checks it against the parse.
 */
function sessionLease(flags: readonly string[], command: readonly string[]): string | null {
  if (command.length === 0 || !flags.includes("--no-sync")) return null;
  let lease: string | null = null;
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i]!;
    if (f === "--id") lease = flags[++i] ?? null;
    else if (f.startsWith("--id=")) lease = f.slice(5);
    else if (/^--(env|pool|pool-only|verbose|help|help-all|sync-only)(=|$)/.test(f) || f === "-h") return null;
  }
  return lease;
}

async function openRunSession(runtime: Runtime, ref: string, command: readonly string[], json: boolean): Promise<OpenedSession | null> {
  const [{ createClaimStore }, { resolveLease }, { openSession }, { runNonce }, { usableAsIs }] = await Promise.all([
    import("../leases/store.ts"),
    import("../leases/resolve.ts"),
    import("../ssh/exec.ts"),
    import("../ssh/quote.ts"),
    import("../leases/claim.ts"),
  ]);
  // A claim readable by others is left to the run's own reading, which tightens it and says so.
  const claim = await resolveLease(createClaimStore(runtime, { tighten: false }), ref);
  // A lease that is not ready as it is (to be started, or its ssh config fetched) is brought up by the run first.
  if (!usableAsIs(claim)) return null;
  const input = { configPath: claim.sshConfigPath, alias: claim.sshHost, workRoot: claim.workRoot, argv: [...command], nonce: runNonce(), stdoutToStderr: json };
  return openSession(runtime, input);
}

/** The session opened ahead of this run, for its first command (runRemote takes it or ends it); once. */
export function takeOpenedSession(): Promise<OpenedSession | null> {
  const o = opening ?? Promise.resolve(null);
  opening = null;
  return o;
}

/** The status started for `root` under the same environment, once; null when there is none. */
export function takeHeadStart(root: string, runtime: Runtime): StartedStatus | null {
  const s = started;
  if (!s || s.root !== root || s.env !== runtime.env) return null;
  started = null;
  return s.status;
}

/**
 * The run has ended: a status of it still running is of no use to anyone (never taken, or taken by
 * a sync that never came to it: a lease that did not resolve); it is ended (SIGTERM: git removes
 * its index lock), so that the run's exit does not wait for git. A session opened ahead of the run
 * that the run did not take is ended too (its command never starts).
 */
export function endRunStatuses(): void {
  for (const stop of live) stop.abort();
  live.clear();
  started = null;
  void takeOpenedSession().then(async (s) => s && (await import("../ssh/exec.ts")).declineSession(s));
}
