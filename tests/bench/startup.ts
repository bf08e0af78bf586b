/**
 * Start-up and memory:
 *  - `crabbox-cs --version` vs the real `gh --version` (/usr/bin/gh): target ≤ 1.5×,
 *  - peak RSS of a warm `crabbox-cs run --id L --no-sync -- true`: target ≤ 80 MB.
 *    Measured with GNU time (`/usr/bin/time -f %M`, Debian package `time`) when
 *    present, else by polling /proc/<pid>/status VmHWM.
 */
import { existsSync, readFileSync } from "node:fs";
import { absoluteFigure, alternate, OURS, type BenchContext, type Figure, ratioFigure, runStandalone, timed } from "./lib.ts";

export const TARGET_VERSION = 1.5;
export const TARGET_RSS_MB = 80;
export const REAL_GH = "/usr/bin/gh";
const GNU_TIME = "/usr/bin/time";

/** Peak RSS in MB of argv (ours: OURS + args) run to completion. */
export async function peakRssMb(argv: string[], env: Record<string, string>, cwd: string): Promise<{ mb: number; via: string }> {
  if (existsSync(GNU_TIME)) {
    const r = await timed([GNU_TIME, "-f", "__maxrss_kb=%M", ...argv], { env, cwd });
    const m = /__maxrss_kb=(\d+)/.exec(r.stderr);
    if (m) return { mb: Number(m[1]) / 1024, via: "/usr/bin/time -f %M" };
  }
  // Fallback: poll VmHWM (peak RSS) while it runs.
  const proc = Bun.spawn(argv, { env, cwd, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  let kb = 0;
  const poll = () => {
    try {
      const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
      if (m) kb = Math.max(kb, Number(m[1]));
    } catch {}
  };
  const timer = setInterval(poll, 2);
  await proc.exited;
  clearInterval(timer);
  return { mb: kb / 1024, via: "polling /proc/<pid>/status VmHWM (a lower bound)" };
}

export async function versionFigure(ctx: BenchContext): Promise<Figure[]> {
  if (!existsSync(REAL_GH)) {
    process.stderr.write(`startup: ${REAL_GH} is missing: skipping --version\n`);
    return [];
  }
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", GH_NO_UPDATE_NOTIFIER: "1", NO_COLOR: "1" };
  const { a, b } = await alternate({
    rounds: ctx.rounds(21),
    warmup: 2,
    a: async () => (await timed([OURS, "--version"], { env })).ms,
    b: async () => (await timed([REAL_GH, "--version"], { env })).ms,
  });
  return [
    ratioFigure({ id: "startup", label: "start-up (--version)", a: "crabbox-cs --version", b: `${REAL_GH} --version`, aSamples: a, bSamples: b, target: TARGET_VERSION }),
  ];
}

export async function rssFigure(ctx: BenchContext): Promise<Figure[]> {
  const h = await ctx.h();
  const l = await ctx.getLease();
  const argv = [OURS, "run", "--id", l.slug, "--no-sync", "--", "true"];
  await ctx.ours(argv.slice(1)); // master up
  const samples: number[] = [];
  let via = "";
  for (let i = 0; i < ctx.rounds(5); i++) {
    const r = await peakRssMb(argv, h.env, h.work);
    samples.push(r.mb);
    via = r.via;
  }
  return [
    absoluteFigure({
      id: "rss-warm-run",
      label: "peak RSS, warm run",
      a: "crabbox-cs run --id L --no-sync -- true, master up",
      unit: "MB",
      samples,
      target: TARGET_RSS_MB,
      notes: [`measured with ${via}`],
    }),
  ];
}

export default async function startup(ctx: BenchContext): Promise<Figure[]> {
  return [...(await versionFigure(ctx)), ...(await rssFigure(ctx))];
}

if (import.meta.main) await runStandalone(startup);
