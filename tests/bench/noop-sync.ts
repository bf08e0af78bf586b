/**
 * No-op sync: after one full sync of the 20 000-file tree, re-sync with
 * nothing changed: `crabbox-cs run --id L -- true` vs
 * `rsync -a --delete -e "ssh -F cfg" tree/ alias:<work root>/tree/`.
 * Target: ≤ 0.2×.
 */
import { absoluteFigure, alternate, OURS, type BenchContext, type Figure, fmtMs, ratioFigure, runStandalone } from "./lib.ts";
import { peakRssMb, TARGET_RSS_MB } from "./startup.ts";
import { getTree, plainRsync } from "./tree.ts";

export const TARGET = 0.2;

export default async function noopSync(ctx: BenchContext): Promise<Figure[]> {
  const tree = await getTree(ctx);
  const l = tree.lease;
  // Let the racy-mtime window (2 s) pass so the stat cache can keep hashes, then
  // check once that ours really skips (untimed).
  await Bun.sleep(2100);
  await ctx.ours(["run", "--id", l.slug, "--", "true"]);
  const check = await ctx.ours(["run", "--id", l.slug, "--json", "--", "true"]);
  const summary = JSON.parse(check.stdout) as { sync: { skipped: boolean; files: number } | null };
  const { a, b } = await alternate({
    rounds: ctx.rounds(7),
    a: async () => (await ctx.ours(["run", "--id", l.slug, "--", "true"])).ms,
    b: () => plainRsync(ctx, tree),
  });
  const rss: number[] = [];
  for (let i = 0; i < ctx.rounds(3); i++) rss.push((await peakRssMb([OURS, "run", "--id", l.slug, "--", "true"], await ctx.env(), tree.work)).mb);
  return [
    ratioFigure({
      id: "noop-sync",
      label: "no-op sync (20k files)",
      a: "crabbox-cs run --id L -- true, nothing changed",
      b: 'rsync -a --delete -e "ssh -F cfg" tree/ alias:workroot/tree/',
      aSamples: a,
      bSamples: b,
      target: TARGET,
      notes: [
        `tree: ${tree.files.length} files, ${(tree.bytes / 1e6).toFixed(0)} MB; setup: generate ${fmtMs(tree.setup.generateMs)}, git commit ${fmtMs(tree.setup.commitMs)}, first sync ${fmtMs(tree.setup.firstSyncMs)}`,
        `ours skipped rsync: ${summary.sync?.skipped === true} (${summary.sync?.files ?? "?"} files fingerprinted)`,
      ],
    }),
    absoluteFigure({
      id: "rss-noop-sync",
      label: "peak RSS, warm run + no-op sync (20k)",
      a: "crabbox-cs run --id L -- true, nothing changed",
      unit: "MB",
      samples: rss,
      target: TARGET_RSS_MB,
    }),
  ];
}

if (import.meta.main) await runStandalone(noopSync);
