/**
 * Cold run: `crabbox-cs run --id L --no-sync -- true` with no live ControlMaster
 * (closed with `ssh -O exit` before every A sample) vs a plain
 * `ssh -F <lease config> -o ControlMaster=no -o ControlPath=none <alias> true`.
 * Both pay the tunnel handshake. Target: ≤ 1.15×.
 */
import { alternate, type BenchContext, type Figure, ratioFigure, runStandalone, timed } from "./lib.ts";

export const TARGET = 1.15;

/** The baseline: plain OpenSSH through the same config, connection reuse disabled. */
export async function plainColdSsh(ctx: BenchContext): Promise<number> {
  const l = await ctx.getLease();
  const r = await timed(["ssh", "-F", l.configPath, "-o", "ControlMaster=no", "-o", "ControlPath=none", l.alias, "true"], { env: await ctx.env() });
  return r.ms;
}

export default async function coldRun(ctx: BenchContext): Promise<Figure[]> {
  const l = await ctx.getLease();
  const { a, b } = await alternate({
    rounds: ctx.rounds(7),
    a: async () => {
      await ctx.closeMaster();
      return (await ctx.ours(["run", "--id", l.slug, "--no-sync", "--", "true"])).ms;
    },
    b: () => plainColdSsh(ctx),
  });
  return [
    ratioFigure({
      id: "cold-run",
      label: "cold run (no master)",
      a: "crabbox-cs run --id L --no-sync -- true, master closed first",
      b: "ssh -F cfg -o ControlMaster=no -o ControlPath=none alias true",
      aSamples: a,
      bSamples: b,
      target: TARGET,
      notes: [`handshake delay ${ctx.settings.handshakeDelayMs} ms`],
    }),
  ];
}

if (import.meta.main) await runStandalone(coldRun);
