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
 * - Not taken when the command ends (a usage error, a config error): the entry
 *   point ends it (`abandonHeadStart`: SIGTERM; git drops its index lock), so an
 *   error never waits for git in a large tree.
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

let started: { root: string; env: Runtime["env"]; status: StartedStatus; stop: AbortController } | null = null;

/** Flags that rule a head start out: no sync, help, or a traced run. */
function syncsWithoutTrace(flags: readonly string[]): boolean {
  return !flags.some((f) => f === "--no-sync" || f.startsWith("--sync=") || f === "--help" || f === "-h" || f === "--help-all" || f === "--verbose" || f.startsWith("--verbose="));
}

/** The tree syncSource would check, when a status may start for it now; else null. */
export function headStartRoot(runtime: Runtime): string | null {
  const root = gitTopLevel(runtime.cwd, runtime.env);
  if (!root || neverSynced(root, runtime.homeDir)) return null;
  return existsSync(join(root, ".gitmodules")) ? null : root;
}

/** `run`'s flags (before `--`): start its `git status` now when it will sync. */
export function headStart(flags: readonly string[], runtime: Runtime = createRuntime()): void {
  if (started || !syncsWithoutTrace(flags)) return;
  const root = headStartRoot(runtime);
  if (!root) return;
  const stop = new AbortController();
  const result = runStatus(runtime, root, stop.signal);
  result.catch(() => {});
  started = { root, env: runtime.env, status: { at: runtime.now(), result }, stop };
}

/** The command has ended: a status nobody took is ended too. */
export function abandonHeadStart(): void {
  started?.stop.abort();
  started = null;
}

/** The status started for `root` under the same environment, once; null when there is none. */
export function takeHeadStart(root: string, runtime: Runtime): StartedStatus | null {
  const s = started;
  if (!s || s.root !== root || s.env !== runtime.env) return null;
  started = null;
  return s.status;
}
