/**
 * JavaScriptCore's JIT tier-up policy: the one place that sets it.
 *
 * - The binary starts with tier-up thresholds raised (build.ts --compile-jit-policy), so code run
 *   once at start-up is not compiled in the background; `normalJitSoon` sets the normal policy
 *   back once start-up is over, for commands that then work for a while (a listing, a large sync).
 * - `onceRunPasses`: the sync's passes over every path run once per process; the optimizing tiers
 *   cost more there than they save (~7 MB of compiler memory at 20 000 paths, no measurable
 *   time). From the first such pass on, tier-up waits 1000 times longer for the rest of the
 *   process (what follows waits on I/O), and the start-up timer no longer resets it.
 */
type SetPolicy = (scale: number) => void;

function setter(): SetPolicy | null {
  const unsafe = (globalThis as { Bun?: { unsafe?: { setJITPolicy?: SetPolicy } } }).Bun?.unsafe;
  return typeof unsafe?.setJITPolicy === "function" ? unsafe.setJITPolicy.bind(unsafe) : null;
}

/** How long start-up lasts (ms) before the normal policy is back. */
export const START_UP_MS = 25;

let reluctant = false;

export function normalJitSoon(): void {
  const set = setter();
  if (!set) return;
  setTimeout(() => {
    if (!reluctant) set(1);
  }, START_UP_MS).unref();
}

export function onceRunPasses(): void {
  reluctant = true;
  setter()?.(1000);
}
