/**
 * No-op sync: after one full sync of the 20 000-file tree, nothing changed:
 *
 *  - `crabbox-cs run --id L -- true` vs the hand pair
 *    `rsync -a --delete -e "ssh -F cfg" tree/ alias:… && ssh -F cfg alias true`:
 *    target ≤ 0.45×;
 *  - the local check alone, `crabbox-cs run --id L --sync-only`, vs
 *    `git status --porcelain`: target ≤ 1.3×; and vs its floor, a Bun-compiled
 *    program that runs our `git status` and reads it (floor.ts gitStatusFloor);
 *  - peak RSS of the no-op run.
 */
import { gitStatusFloor } from "./floor.ts";
import { absoluteFigure, alternate, OURS, type BenchContext, type Figure, fmtMs, ratioFigure, runStandalone, timed } from "./lib.ts";
import { peakRssMb, TARGET_RSS_MB } from "./startup.ts";
import { getTree, gitStatusMs, handPair } from "./tree.ts";

export const TARGET = 0.45;
export const TARGET_CHECK = 1.3;

export default async function noopSync(ctx: BenchContext): Promise<Figure[]> {
  const tree = await getTree(ctx);
  const l = tree.lease;
  // Let the racy-mtime window (2 s) pass, then check once that ours really skips (untimed).
  await Bun.sleep(2100);
  await ctx.ours(["run", "--id", l.slug, "--", "true"]);
  const check = await ctx.ours(["run", "--id", l.slug, "--json", "--", "true"]);
  const summary = JSON.parse(check.stdout) as { sync: { skipped: boolean; files: number } | null };
  const { a, b } = await alternate({
    rounds: ctx.rounds(7),
    a: async () => (await ctx.ours(["run", "--id", l.slug, "--", "true"])).ms,
    b: () => handPair(ctx, tree),
  });
  const local = await alternate({
    rounds: ctx.rounds(9),
    a: async () => (await ctx.ours(["run", "--id", l.slug, "--sync-only"])).ms,
    b: () => gitStatusMs(ctx, tree.work),
  });
  const floorBin = await gitStatusFloor(ctx);
  const env = await ctx.env();
  const localFloor = await alternate({
    rounds: ctx.rounds(9),
    a: async () => (await ctx.ours(["run", "--id", l.slug, "--sync-only"])).ms,
    b: async () => (await timed([floorBin], { cwd: tree.work, env })).ms,
  });
  const rss: number[] = [];
  for (let i = 0; i < ctx.rounds(3); i++) rss.push((await peakRssMb([OURS, "run", "--id", l.slug, "--", "true"], await ctx.env(), tree.work)).mb);
  return [
    ratioFigure({
      id: "noop-sync",
      label: "no change (20k files) vs rsync && ssh",
      a: "crabbox-cs run --id L -- true, nothing changed",
      b: 'rsync -a --delete -e "ssh -F cfg" tree/ alias:dir/ && ssh -F cfg alias true',
      aSamples: a,
      bSamples: b,
      target: TARGET,
      notes: [
        `tree: ${tree.files.length} files, ${(tree.bytes / 1e6).toFixed(0)} MB; setup: generate ${fmtMs(tree.setup.generateMs)}, git commit ${fmtMs(tree.setup.commitMs)}, first sync ${fmtMs(tree.setup.firstSyncMs)}`,
        `ours skipped rsync: ${summary.sync?.skipped === true} (${summary.sync?.files ?? "?"} files in the view)`,
      ],
    }),
    ratioFigure({
      id: "local-check-20k",
      label: "local check (20k files) vs git status",
      a: "crabbox-cs run --id L --sync-only, nothing changed",
      b: "git status --porcelain",
      aSamples: local.a,
      bSamples: local.b,
      target: TARGET_CHECK,
    }),
    ratioFigure({
      id: "local-check-20k-floor",
      label: "local check (20k files) vs its floor",
      a: "crabbox-cs run --id L --sync-only, nothing changed",
      b: "a Bun-compiled program that runs the same git status and reads it",
      aSamples: localFloor.a,
      bSamples: localFloor.b,
      target: Number.POSITIVE_INFINITY,
      notes: ["the floor: start-up of a Bun binary, then our git status (porcelain v2, -uall, --branch) read whole"],
    }),
    absoluteFigure({
      id: "rss-noop-sync",
      label: "peak RSS, no-op run (20k)",
      a: "crabbox-cs run --id L -- true, nothing changed",
      unit: "MB",
      samples: rss,
      target: TARGET_RSS_MB,
    }),
  ];
}

if (import.meta.main) await runStandalone(noopSync);
