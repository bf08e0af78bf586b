/**
 * What a codespace state means to us: the one classification of GitHub's
 * documented `codespace.state` values (CODESPACE_STATES, after api.md), and
 * of any other string.
 *
 * | class    | states                                                    | wait for Available     | wait for Shutdown | stop (release)       |
 * |----------|-----------------------------------------------------------|------------------------|-------------------|----------------------|
 * | ready    | Available                                                 | done                   | keep polling      | stop, then wait      |
 * | stopped  | Shutdown                                                  | start it (once), poll  | done              | nothing to stop      |
 * | stopping | ShuttingDown                                              | keep polling           | keep polling      | wait, no stop call   |
 * | pending  | Created Queued Provisioning Awaiting Starting Exporting Updating Rebuilding | keep polling | keep polling | stop, then wait |
 * | failed   | Failed Unavailable Archived Moved                         | fail (codespace_failed)| fail              | stop, then wait: fails |
 * | gone     | Deleted                                                   | fail (codespace_failed)| fail              | stop, then wait: fails |
 * | unknown  | Unknown, and any string GitHub does not document          | keep polling ("not ready, not gone"; an undocumented one is warned about once) | keep polling | stop, then wait |
 *
 * `Archived` and `Moved` are "failed": waiting does not bring them back (the
 * product has always failed the wait on them, and docs/troubleshooting.md
 * says so); an older, test-only copy of this table called them stopped and
 * pending. `status` shows the state as GitHub sent it and waits (--wait) like
 * a warmup; `cleanup` decides on the claim alone and releases like `stop`.
 */
/** The 17 states GitHub documents for `codespace.state`, in its order. */
export const CODESPACE_STATES = [
  "Unknown",
  "Created",
  "Queued",
  "Provisioning",
  "Available",
  "Awaiting",
  "Unavailable",
  "Deleted",
  "Moved",
  "Shutdown",
  "Archived",
  "Starting",
  "ShuttingDown",
  "Failed",
  "Exporting",
  "Updating",
  "Rebuilding",
] as const;
export type CodespaceState = (typeof CODESPACE_STATES)[number];

const KNOWN_STATES: ReadonlySet<string> = new Set(CODESPACE_STATES);

export function isKnownState(state: string): state is CodespaceState {
  return KNOWN_STATES.has(state);
}

export type StateClass = "ready" | "stopped" | "stopping" | "pending" | "failed" | "gone" | "unknown";

const CLASS: Readonly<Record<string, StateClass>> = {
  Available: "ready",
  Shutdown: "stopped",
  ShuttingDown: "stopping",
  Created: "pending",
  Queued: "pending",
  Provisioning: "pending",
  Awaiting: "pending",
  Starting: "pending",
  Exporting: "pending",
  Updating: "pending",
  Rebuilding: "pending",
  Failed: "failed",
  Unavailable: "failed",
  Archived: "failed",
  Moved: "failed",
  Deleted: "gone",
  Unknown: "unknown",
};

export function stateClass(state: string): StateClass {
  return (Object.hasOwn(CLASS, state) ? CLASS[state] : undefined) ?? "unknown";
}

/** A state waiting does not get out of (the wait fails with codespace_failed). */
export function isTerminal(state: string): boolean {
  const c = stateClass(state);
  return c === "failed" || c === "gone";
}

/** What a wait does on seeing `state`. */
export type WaitTarget = "Available" | "Shutdown";
export type WaitStep =
  | { action: "done"; reason: string }
  | { action: "start"; reason: string }
  | { action: "fail"; reason: string }
  | { action: "poll"; reason: string; unfamiliar: boolean };

/**
 * The wait decision, pure: the target reached → done; a stopped codespace
 * waited for to be Available → start it (once: `startedAlready`); a terminal
 * state → fail; anything else → poll, flagging a state GitHub does not document.
 */
export function waitStep(state: string, target: WaitTarget, startedAlready: boolean): WaitStep {
  if (state === target) return { action: "done", reason: `reached ${target}` };
  const c = stateClass(state);
  if (target === "Available" && c === "stopped" && !startedAlready) return { action: "start", reason: "stopped: start it" };
  if (c === "failed" || c === "gone") return { action: "fail", reason: `${state} does not recover by waiting` };
  const unfamiliar = !isKnownState(state);
  return { action: "poll", reason: unfamiliar ? "unfamiliar state: not ready, not gone" : `${c}: not ${target} yet`, unfamiliar };
}

/** What `stop` does before waiting for Shutdown: nothing (already stopped), wait only (stopping), or ask GitHub to stop it. */
export type StopStep = "none" | "wait" | "stop";

export function stopStep(state: string): StopStep {
  const c = stateClass(state);
  return c === "stopped" ? "none" : c === "stopping" ? "wait" : "stop";
}
