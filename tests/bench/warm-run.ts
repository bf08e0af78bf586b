/**
 * Warm run: `crabbox-cs run --id L --no-sync -- true` with the lease's
 * ControlMaster up vs a cold plain ssh (reuse disabled). Target: ≤ 0.25×.
 */
import { plainColdSsh } from "./cold-run.ts";
import { alternate, type BenchContext, type Figure, ratioFigure, runStandalone } from "./lib.ts";

export const TARGET = 0.25;

export default async function warmRun(ctx: BenchContext): Promise<Figure[]> {
  const l = await ctx.getLease();
  const run = () => ctx.ours(["run", "--id", l.slug, "--no-sync", "--", "true"]);
  await run(); // make sure the master is up
  const { a, b } = await alternate({
    rounds: ctx.rounds(11),
    a: async () => (await run()).ms,
    b: () => plainColdSsh(ctx),
  });
  return [
    ratioFigure({
      id: "warm-run",
      label: "warm run (master up)",
      a: "crabbox-cs run --id L --no-sync -- true, master up",
      b: "ssh -F cfg -o ControlMaster=no -o ControlPath=none alias true",
      aSamples: a,
      bSamples: b,
      target: TARGET,
    }),
  ];
}

if (import.meta.main) await runStandalone(warmRun);
