/**
 * Scale: the same checks at 1 000 and 100 000 files (the 20 000-file figures
 * come from the tree of noop-sync/small-change). Each size is its own git
 * repository (origin: the emulated repo, small files: 100 per directory,
 * 200–800 bytes) synced to its own kept lease. Per size:
 *
 *  - local check: `crabbox-cs run --id L --sync-only`, nothing changed, vs
 *    `git status --porcelain`: target ≤ 1.3×;
 *  - `crabbox-cs run --id L -- true`, nothing changed, vs one ssh session over
 *    the same master: target ≤ 1.5×;
 *  - peak RSS of `run --id L -- true` with 1 file changed (≤ 90 MB at 100k).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git } from "../e2e/harness.ts";
import { absoluteFigure, alternate, OURS, type BenchContext, type Figure, fmtMs, ratioFigure, runStandalone, timed } from "./lib.ts";
import { peakRssMb } from "./startup.ts";
import { gitStatusMs } from "./tree.ts";

export const TARGET_CHECK = 1.3;
export const TARGET_NOOP_SESSION = 1.5;
export const TARGET_RSS_100K = 90;

function sizeOf(i: number): number {
  return 200 + ((i * 7919) % 600);
}

async function scaleRepo(ctx: BenchContext, files: number): Promise<{ dir: string; slug: string; leaseId: string; configPath: string; alias: string; paths: string[]; setupMs: number }> {
  const h = await ctx.h();
  const dir = join(h.tmp, `scale-${files}`);
  const t0 = performance.now();
  const paths: string[] = [];
  for (let i = 0; i < files; i++) {
    const rel = `d${String(Math.floor(i / 100)).padStart(4, "0")}/f${String(i % 100).padStart(2, "0")}.txt`;
    if (i % 100 === 0) mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), randomBytes(sizeOf(i) / 2).toString("hex"));
    paths.push(rel);
  }
  git(dir, "init", "-q", "-b", "main");
  git(dir, "remote", "add", "origin", git(h.work, "remote", "get-url", "origin").trim());
  git(dir, "-c", "core.bigFileThreshold=1", "-c", "core.compression=1", "-c", "gc.auto=0", "add", "-A");
  git(dir, "-c", "gc.auto=0", "commit", "-q", "-m", `scale ${files}`);
  const w = await ctx.ours(["warmup", "--keep", "--fresh", "--json"], { cwd: dir, timeoutMs: 120_000 });
  const lease = JSON.parse(w.stdout) as { leaseId: string; slug: string };
  ctx.onClose(async () => {
    await ctx.ours(["stop", lease.leaseId, "--delete"], { cwd: dir, ok: [0, 1, 4, 5] });
    rmSync(dir, { recursive: true, force: true });
  });
  await ctx.ours(["run", "--id", lease.slug, "--sync-only"], { cwd: dir, timeoutMs: 600_000 });
  const claim = (await Bun.file(join(h.home, "claims", `${lease.leaseId}.json`)).json()) as { sshConfigPath: string; sshHost: string };
  return { dir, slug: lease.slug, leaseId: lease.leaseId, configPath: claim.sshConfigPath, alias: claim.sshHost, paths, setupMs: performance.now() - t0 };
}

async function figuresAt(ctx: BenchContext, files: number, label: string): Promise<Figure[]> {
  const r = await scaleRepo(ctx, files);
  await Bun.sleep(2100); // past git's and our racy window
  const run = (args: string[]) => ctx.ours(args, { cwd: r.dir, timeoutMs: 300_000 });
  await run(["run", "--id", r.slug, "--", "true"]);
  const env = await ctx.env();
  const check = await alternate({
    rounds: ctx.rounds(5),
    a: async () => (await run(["run", "--id", r.slug, "--sync-only"])).ms,
    b: () => gitStatusMs(ctx, r.dir),
  });
  const noop = await alternate({
    rounds: ctx.rounds(5),
    a: async () => (await run(["run", "--id", r.slug, "--", "true"])).ms,
    b: async () => (await timed(["ssh", "-F", r.configPath, r.alias, "true"], { env })).ms,
  });
  const rss: number[] = [];
  const changeMs: number[] = [];
  for (let i = 0; i < ctx.rounds(3); i++) {
    const p = r.paths[(i * 7919 + 13) % r.paths.length]!;
    writeFileSync(join(r.dir, p), randomBytes(sizeOf(i) / 2).toString("hex"));
    const t = performance.now();
    rss.push((await peakRssMb([OURS, "run", "--id", r.slug, "--", "true"], env, r.dir)).mb);
    changeMs.push(performance.now() - t);
  }
  const notes = [`${files} files; setup (generate, commit, warmup, first sync) ${fmtMs(r.setupMs)}`];
  return [
    ratioFigure({ id: `local-check-${label}`, label: `local check (${label} files) vs git status`, a: "crabbox-cs run --id L --sync-only, nothing changed", b: "git status --porcelain", aSamples: check.a, bSamples: check.b, target: TARGET_CHECK, notes }),
    ratioFigure({ id: `noop-session-${label}`, label: `no change (${label} files) vs one ssh session`, a: "crabbox-cs run --id L -- true, nothing changed", b: "ssh -F cfg alias true over the same master", aSamples: noop.a, bSamples: noop.b, target: TARGET_NOOP_SESSION }),
    absoluteFigure({ id: `change-time-${label}`, label: `1 file changed (${label} files), wall time`, a: "crabbox-cs run --id L -- true, 1 file changed (under /usr/bin/time)", unit: "ms", samples: changeMs, target: Number.POSITIVE_INFINITY }),
    absoluteFigure({ id: `rss-change-${label}`, label: `peak RSS, 1 file changed (${label} files)`, a: "crabbox-cs run --id L -- true, 1 file changed", unit: "MB", samples: rss, target: files >= 100_000 ? TARGET_RSS_100K : 60 }),
  ];
}

export default async function scale(ctx: BenchContext): Promise<Figure[]> {
  return [...(await figuresAt(ctx, 1_000, "1k")), ...(await figuresAt(ctx, 100_000, "100k"))];
}

if (import.meta.main) await runStandalone(scale);
