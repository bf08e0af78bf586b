/**
 * Waiting for a codespace to reach a state: adaptive polling (fast at first,
 * backing off), a total deadline, progress on stderr when the state changes.
 * Rate-limit waits (Retry-After) are the HTTP client's job.
 */
import { CrabboxError, Exit } from "../errors.ts";
import type { Codespace } from "../github/schemas.ts";
import { waitStep, type WaitTarget } from "../github/states.ts";
import type { Services } from "./services.ts";
import { createProgress } from "../output/progress.ts";
import { oneLine } from "../output/sanitize.ts";

/** Poll intervals in ms; the last one repeats. */
export const POLL_SCHEDULE = [250, 250, 500, 500, 1000, 1000, 2000, 2000, 3000, 5000];
/** After a transition we asked for (a start, a stop, a delete), polls are at most this far apart. */
export const STARTED_POLL_CAP_MS = 500;

export interface WaitOptions {
  name: string;
  /** The state waited for (see waitStep in src/github/states.ts for what every other state means). */
  target: WaitTarget;
  /** Waiting for Available: how to start a stopped codespace (called at most once). Without it, a stopped one is polled. */
  start?: (cs: Codespace) => Promise<void>;
  timeoutMs: number;
  leaseRef?: string;
  /** We asked for this transition (a stop): poll it closely (at most STARTED_POLL_CAP_MS apart), as a start we asked for. */
  requested?: boolean;
}

export async function waitForCodespace(svc: Services, opts: WaitOptions): Promise<Codespace> {
  const { runtime, log } = svc.ctx;
  const api = await svc.api();
  const deadline = runtime.now() + opts.timeoutMs;
  let lastState = "";
  let warnedUnknown = false;
  let started = false;
  const progress = createProgress({ env: runtime.env, isTTY: runtime.tty.stderr, quiet: svc.ctx.quiet, now: runtime.now });
  try {
    return await poll();
  } finally {
    progress.stop();
  }

  async function poll(): Promise<Codespace> {
  for (let i = 0; ; i++) {
    const cs = await api.getCodespaceOrNull(opts.name);
    if (!cs) {
      throw new CrabboxError({
        code: "codespace_gone",
        message: `codespace ${opts.name} disappeared while waiting for it to be ${opts.target}`,
        why: "GitHub no longer knows it (deleted in the web UI, by retention, or by another tool)",
        hint: opts.leaseRef ? `crabbox-cs stop ${opts.leaseRef}  (forgets the lease)` : undefined,
        exit: Exit.notFound,
      });
    }
    if (cs.state !== lastState) {
      progress.clear();
      log.info(`codespace ${cs.name}: ${lastState ? `${oneLine(lastState)} → ` : ""}${oneLine(cs.state)}`);
      lastState = cs.state;
    }
    progress.set(`waiting for ${cs.name} to be ${opts.target}: ${oneLine(cs.state)}`, { shorten: cs.name });
    const step = waitStep(cs.state, opts.target, started || !opts.start);
    if (step.action === "done") return cs;
    if (step.action === "poll" && step.unfamiliar && !warnedUnknown) {
      warnedUnknown = true;
      progress.clear();
      log.warn(`GitHub reports an unfamiliar state "${oneLine(cs.state)}": treating it as not ready yet`);
    }
    if (step.action === "fail") {
      throw new CrabboxError({
        code: "codespace_failed",
        message: `codespace ${cs.name} is ${oneLine(cs.state)}, not ${opts.target}`,
        why: "GitHub put the codespace in a state it does not recover from by waiting",
        hint: `inspect it at ${cs.web_url}; then release the lease: crabbox-cs stop ${opts.leaseRef ?? cs.name}`,
        exit: Exit.api,
      });
    }
    if (step.action === "start") {
      started = true;
      await opts.start!(cs);
      continue;
    }
    const now = runtime.now();
    if (now >= deadline) {
      throw new CrabboxError({
        code: "wait_timeout",
        message: `timed out waiting for codespace ${cs.name} to be ${opts.target} (still ${oneLine(cs.state)})`,
        why: `it did not get there within ${Math.round(opts.timeoutMs / 1000)}s`,
        hint: opts.leaseRef
          ? `wait longer: crabbox-cs status --id ${opts.leaseRef} --wait   or release it: crabbox-cs stop ${opts.leaseRef}`
          : undefined,
        exit: Exit.timeout,
        details: { codespace: cs.name, state: cs.state },
      });
    }
    // A start we asked for takes seconds (about 8 on GitHub): poll it closely, so a borrowed stopped pool lease is not kept waiting.
    const pause = Math.min(POLL_SCHEDULE[Math.min(i, POLL_SCHEDULE.length - 1)]!, started || opts.requested ? STARTED_POLL_CAP_MS : Infinity);
    await runtime.sleep(Math.min(pause, Math.max(0, deadline - now)));
  }
  }
}
