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
 * This module stays small: it is loaded before the command is.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createRuntime, type ExecResult, type Runtime } from "../runtime.ts";
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

/** `run`'s flags (before `--`): start its `git status` now when it will sync. */
export function headStart(flags: readonly string[], runtime: Runtime = createRuntime()): void {
  if (started || !syncsWithoutTrace(flags)) return;
  const root = headStartRoot(runtime);
  if (!root) return;
  started = { root, env: runtime.env, status: startRunStatus(runtime, root) };
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
 * its index lock), so that the run's exit does not wait for git.
 */
export function endRunStatuses(): void {
  for (const stop of live) stop.abort();
  live.clear();
  started = null;
}
