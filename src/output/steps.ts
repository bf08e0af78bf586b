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
