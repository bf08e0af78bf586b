/**
 * Ctrl-C / SIGTERM / SIGHUP during `run`: the first one stops the remote
 * command (through `signal`: the remote process group is signalled over a new
 * session) and lets the run finish its clean-up (release); a second one ends
 * our ssh and leaves at once, saying how to release what is left.
 *
 * ssh runs in its own session, so a terminal's Ctrl-C reaches only us: the
 * connection (and the tunnel under it) stays up long enough to stop the
 * remote command and release the lease.
 */
import type { Logger } from "../output/log.ts";
import { signalNumber, type Child } from "../runtime.ts";

export interface Interrupts {
  /** How many signals arrived. */
  readonly count: number;
  /** The first signal received, if any. */
  readonly first: NodeJS.Signals | undefined;
  /** 128 + the first signal's number (130 for SIGINT, 143 for SIGTERM); 0 when none arrived. */
  readonly status: number;
  /** Aborted on the first signal; the reason is the signal's name. */
  readonly signal: AbortSignal;
  /** The child to end on the second interrupt, before we leave (the ssh running the command). */
  setChild(child: Child | undefined): void;
  dispose(): void;
}

export function trapInterrupts(log: Logger, opts: { releasing: boolean; leftover: () => string | null }): Interrupts {
  let count = 0;
  let first: NodeJS.Signals | undefined;
  let child: Child | undefined;
  const abort = new AbortController();
  const statusOf = (sig: NodeJS.Signals) => 128 + (signalNumber(sig) ?? 2);
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      first = sig;
      log.warn(`${sig}: stopping the command${opts.releasing ? " and releasing the lease (press Ctrl-C again to leave it claimed)" : ""}`);
      abort.abort(sig);
      return;
    }
    // Our ssh runs in its own session: it does not die with us unless we end it.
    try {
      child?.kill("SIGTERM");
    } catch {}
    const left = opts.leftover();
    log.warn(left ? `leaving ${left}` : "interrupted");
    process.exit(statusOf(first ?? sig));
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
    get first() {
      return first;
    },
    get status() {
      return first ? statusOf(first) : 0;
    },
    signal: abort.signal,
    setChild(c) {
      child = c;
    },
    dispose() {
      for (const [s, h] of handlers) process.off(s, h);
    },
  };
}
