/**
 * Ctrl-C / SIGTERM / SIGHUP during `run`: the first one stops the remote
 * command (signalling ssh) and lets the run finish its clean-up (release);
 * a second one leaves at once, saying how to release what is left.
 */
import type { Logger } from "../output/log.ts";
import { signalNumber, type Child } from "../runtime.ts";

export interface Interrupts {
  /** How many signals arrived. */
  readonly count: number;
  /** The child to signal on the first interrupt (the ssh running the command). */
  setChild(child: Child | undefined): void;
  dispose(): void;
}

export function trapInterrupts(log: Logger, opts: { releasing: boolean; leftover: () => string | null }): Interrupts {
  let count = 0;
  let child: Child | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      log.warn(`${sig}: stopping${opts.releasing ? " and releasing the lease (press Ctrl-C again to leave it claimed)" : ""}`);
      try {
        child?.kill(sig);
      } catch {}
      return;
    }
    const left = opts.leftover();
    log.warn(left ? `leaving ${left}` : "interrupted");
    process.exit(128 + (signalNumber(sig) ?? 2));
  };
  const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => {
    const h = () => onSignal(s);
    process.on(s, h);
    return [s, h] as const;
  });
  return {
    get count() {
      return count;
    },
    setChild(c) {
      child = c;
    },
    dispose() {
      for (const [s, h] of handlers) process.off(s, h);
    },
  };
}
