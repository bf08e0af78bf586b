/**
 * Small change: one file of the 20 000-file tree changed before every sample:
 * `crabbox-cs run --id L -- true` vs the same plain rsync as the no-op figure.
 * Target: ≤ 1.2×.
 */
import { alternate, type BenchContext, type Figure, ratioFigure, runStandalone } from "./lib.ts";
import { getTree, plainRsync, touchOne } from "./tree.ts";

export const TARGET = 1.2;

export default async function smallChange(ctx: BenchContext): Promise<Figure[]> {
  const tree = await getTree(ctx);
  const l = tree.lease;
  let n = 1;
  let transferred = -1;
  const { a, b } = await alternate({
    rounds: ctx.rounds(7),
    a: async () => {
      touchOne(tree, n++);
      const r = await ctx.ours(["run", "--id", l.slug, "--", "true"]);
      return r.ms;
    },
    b: async () => {
      touchOne(tree, n++);
      return plainRsync(ctx, tree);
    },
  });
  // Untimed check that ours sent exactly the change.
  touchOne(tree, n++);
  const check = await ctx.ours(["run", "--id", l.slug, "--json", "--", "true"]);
  const sync = (JSON.parse(check.stdout) as { sync: { skipped: boolean; sentBytes: number | null } | null }).sync;
  transferred = sync?.sentBytes ?? -1;
  return [
    ratioFigure({
      id: "small-change",
      label: "small change (1 of 20k files)",
      a: "crabbox-cs run --id L -- true, 1 file changed",
      b: 'rsync -a --delete -e "ssh -F cfg" tree/ alias:workroot/tree/, 1 file changed',
      aSamples: a,
      bSamples: b,
      target: TARGET,
      notes: [`ours: skipped=${sync?.skipped}, ${transferred} bytes sent by rsync (file list included)`],
    }),
  ];
}

if (import.meta.main) await runStandalone(smallChange);
