/**
 * --verbose timings of lifecycle steps: `step: <name> in 1.2s` on stderr,
 * each measured from the previous mark (or the start). Only a debug line:
 * nothing at the normal level.
 */
import { elapsed } from "./format.ts";
import type { Logger } from "./log.ts";

export interface StepClock {
  /** Log that `name` finished, with the time since the previous mark. */
  mark(name: string): void;
}

export function stepClock(log: Pick<Logger, "debug">, now: () => number): StepClock {
  let last = now();
  return {
    mark(name) {
      const t = now();
      log.debug(`step: ${name} in ${elapsed(t - last)}`);
      last = t;
    },
  };
}

/** The four steps of a run (and of each shard) whose times `--json` reports, in ms. */
export interface RunDurations {
  acquire: number;
  sync: number;
  command: number;
  release: number;
}

/** `timed(step, fn)` runs fn and records its time in `durations` (and as a --verbose step line). */
export function runTimer(log: Pick<Logger, "debug">, now: () => number): {
  durations: RunDurations;
  timed<T>(step: keyof RunDurations, fn: () => Promise<T>): Promise<T>;
} {
  const durations: RunDurations = { acquire: 0, sync: 0, command: 0, release: 0 };
  return {
    durations,
    async timed(step, fn) {
      const t = now();
      try {
        return await fn();
      } finally {
        durations[step] = now() - t;
        log.debug(`step: ${step} in ${elapsed(durations[step])}`);
      }
    },
  };
}
