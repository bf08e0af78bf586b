/**
 * shard (issue 13), three figures:
 *
 * 1. fan-out overhead: `shard --count 4 --no-sync -- sh -c 'sleep 5'` vs
 *    `run --id L --no-sync -- sh -c 'sleep 5'` on a warm kept lease. Target
 *    ≤ 1.3×. Shard's leases are fresh one-shot leases (created, then deleted)
 *    until it borrows from the ready pool, so A pays acquire + release that B
 *    does not; a note gives shard vs a one-shot `run` (both create) too.
 * 2. split: a synthetic 20-test suite (1 s each) split 4 ways with
 *    {{index}}/{{total}} vs the unsplit suite on the warm lease. Reported as
 *    a ratio (≤ 0.5×, i.e. at least a 2× speed-up) and as the speed-up.
 * 3. peak RSS of the crabbox-cs process during `shard --count 8 -- true`.
 *
 * Rounds: 3 for (1), 1 for (2) and (3), so the script stays near 2 minutes.
 */
import { absoluteFigure, type BenchContext, type Figure, OURS, ratioFigure, runStandalone } from "./lib.ts";

export const TARGET_FANOUT = 1.3;
export const TARGET_SPLIT = 0.5;
export const TARGET_RSS_MB = 250;

const SLEEP = ["--", "sh", "-c", "sleep 5"];
/** 20 tests of 1 s; shard i of n runs tests with number % n == i - 1. */
const SUITE = "i=0; while [ $i -lt 20 ]; do if [ $((i % $2)) -eq $(($1 - 1)) ]; then sleep 1; fi; i=$((i+1)); done";

/** Peak RSS (MB) of one crabbox-cs invocation. */
async function peakRss(ctx: BenchContext, args: string[]): Promise<{ mb: number; ms: number }> {
  const h = await ctx.h();
  const t0 = performance.now();
  const p = Bun.spawn([OURS, ...args], { cwd: h.work, env: h.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${args.join(" ")} exited ${code}\n${stderr.slice(-2000)}`);
  return { mb: (p.resourceUsage()?.maxRSS ?? 0) / 1024 / 1024, ms: performance.now() - t0 };
}

export default async function shardBench(ctx: BenchContext): Promise<Figure[]> {
  const l = await ctx.getLease();
  const shard = async (args: string[]) => (await ctx.ours(["shard", "--no-sync", ...args], { timeoutMs: 300_000 })).ms;
  const warm = async (args: string[]) => (await ctx.ours(["run", "--id", l.slug, "--no-sync", ...args], { timeoutMs: 300_000 })).ms;
  const oneShot = async (args: string[]) => (await ctx.ours(["run", "--no-sync", ...args], { timeoutMs: 300_000 })).ms;

  // 1. Fan-out overhead (A, B and the one-shot reference in rotating order).
  const a: number[] = [];
  const b: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < ctx.rounds(2); i++) {
    // The one-shot reference (a note, no target) runs in the first round only: the bench keeps to its 5 minutes.
    const steps: [number[], () => Promise<number>][] = [
      [a, () => shard(["--count", "4", ...SLEEP])],
      [b, () => warm(SLEEP)],
      ...(i === 0 ? ([[c, () => oneShot(SLEEP)]] as [number[], () => Promise<number>][]) : []),
    ];
    for (let k = 0; k < steps.length; k++) {
      const [into, fn] = steps[(i + k) % steps.length]!;
      into.push(await fn());
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const fanout = ratioFigure({
    id: "shard-fanout",
    label: "shard ×4 vs run --id (sleep 5)",
    a: "crabbox-cs shard --count 4 --no-sync -- sh -c 'sleep 5' (4 fresh one-shot leases)",
    b: "crabbox-cs run --id L --no-sync -- sh -c 'sleep 5' (warm kept lease)",
    aSamples: a,
    bSamples: b,
    target: TARGET_FANOUT,
    notes: [
      `shard ×4 vs a one-shot run (both create and delete their codespaces): ${(med(a) / med(c)).toFixed(2)}× (run one-shot median ${(med(c) / 1000).toFixed(2)} s)`,
      "the emulator provisions instantly (provisionMs 0); on GitHub each fresh codespace adds its creation time to both shard and one-shot run",
    ],
  });

  // 2. The 20 s suite, split 4 ways vs unsplit on the warm lease.
  const split: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < ctx.rounds(1); i++) {
    split.push(await shard(["--count", "4", "--", "sh", "-c", SUITE, "sh", "{{index}}", "{{total}}"]));
    whole.push(await warm(["--", "sh", "-c", SUITE, "sh", "1", "1"]));
  }
  const splitFig = ratioFigure({
    id: "shard-split",
    label: "20 s suite: shard ×4 vs unsplit",
    a: "shard --count 4 -- <20 × 1 s suite, {{index}}/{{total}}> (fresh leases)",
    b: "run --id L -- <the whole suite> (warm lease)",
    aSamples: split,
    bSamples: whole,
    target: TARGET_SPLIT,
    notes: [`speed-up ${(med(whole) / med(split)).toFixed(2)}× (ideal 4× minus acquire/release of the fresh leases)`],
  });

  // 3. Peak RSS of shard --count 8.
  const rss = await peakRss(ctx, ["shard", "--count", "8", "--no-sync", "--", "true"]);
  const ref = await peakRss(ctx, ["run", "--id", l.slug, "--no-sync", "--", "true"]);
  const rssFig = absoluteFigure({
    id: "shard-rss",
    label: "peak RSS, shard --count 8",
    a: "maxRSS of the crabbox-cs process (getrusage), shard --count 8 --no-sync -- true",
    unit: "MB",
    samples: [rss.mb],
    target: TARGET_RSS_MB,
    notes: [`run --id L -- true for comparison: ${ref.mb.toFixed(1)} MB; the shard took ${(rss.ms / 1000).toFixed(2)} s`],
  });
  return [fanout, splitFig, rssFig];
}

if (import.meta.main) await runStandalone(shardBench);
