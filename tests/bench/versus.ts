/**
 * Two builds side by side in one run, on the same 20 000-file tree: the
 * binary under test (dist/crabbox-cs, or CRABBOX_BENCH_BIN) against an
 * earlier build named by CRABBOX_BENCH_OTHER (e.g. one built from an older
 * commit). Each build syncs to its own kept lease, so neither reads the
 * other's sync state. Figures: `run --id L --no-sync -- true`, `run --id L -- true` with nothing
 * changed, and with one file changed. Not part of `npm run bench` (it needs a second build):
 *
 *   git worktree add /tmp/old <rev> && (cd /tmp/old && npm ci && bun build.ts)
 *   CRABBOX_BENCH_OTHER=/tmp/old/dist/crabbox-cs bun tests/bench/versus.ts
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { alternate, type BenchContext, type Figure, ratioFigure, runStandalone, timed } from "./lib.ts";
import { getTree, touchOne } from "./tree.ts";

export default async function versus(ctx: BenchContext): Promise<Figure[]> {
  const other = process.env.CRABBOX_BENCH_OTHER;
  if (!other) throw new Error("set CRABBOX_BENCH_OTHER to the other build's binary");
  const tree = await getTree(ctx);
  const h = await ctx.h();
  const w = await h.run(["warmup", "--keep", "--fresh", "--json"], { timeoutMs: 120_000 });
  if (w.code !== 0) throw new Error(`warmup failed: ${w.stderr}`);
  const second = w.json<{ leaseId: string; slug: string }>();
  const theirs = (args: string[]) => timed([other, ...args], { cwd: h.work, env: h.env, timeoutMs: 300_000 });
  const first = await theirs(["run", "--id", second.slug, "--sync-only"]);
  if (first.code !== 0) throw new Error(`the other build's first sync failed: ${first.stderr}`);
  const mine = tree.lease.slug;

  const noSync = await alternate({
    rounds: ctx.rounds(9),
    a: async () => (await ctx.ours(["run", "--id", mine, "--no-sync", "--", "true"])).ms,
    b: async () => (await theirs(["run", "--id", second.slug, "--no-sync", "--", "true"])).ms,
  });
  const noChange = await alternate({
    rounds: ctx.rounds(9),
    a: async () => (await ctx.ours(["run", "--id", mine, "--", "true"])).ms,
    b: async () => (await theirs(["run", "--id", second.slug, "--", "true"])).ms,
  });
  let n = 1;
  const oneChange = await alternate({
    rounds: ctx.rounds(9),
    a: async () => {
      touchOne(tree, n++);
      return (await ctx.ours(["run", "--id", mine, "--", "true"])).ms;
    },
    b: async () => {
      touchOne(tree, n++);
      return (await theirs(["run", "--id", second.slug, "--", "true"])).ms;
    },
  });
  const claim = JSON.parse(readFileSync(join(h.home, "claims", `${second.leaseId}.json`), "utf8")) as { codespace: { name: string } };
  const note = `other build: ${other} (lease ${second.slug}, codespace ${claim.codespace.name})`;
  return [
    ratioFigure({
      id: "versus-no-sync",
      label: "command only (--no-sync): this build vs the other",
      a: "this build: run --id L --no-sync -- true",
      b: "other build: run --id L2 --no-sync -- true",
      aSamples: noSync.a,
      bSamples: noSync.b,
      target: 1.0,
      notes: [note],
    }),
    ratioFigure({
      id: "versus-no-change",
      label: "no change (20k files): this build vs the other",
      a: "this build: run --id L -- true",
      b: "other build: run --id L2 -- true",
      aSamples: noChange.a,
      bSamples: noChange.b,
      target: 1.0,
      notes: [note],
    }),
    ratioFigure({
      id: "versus-one-change",
      label: "1 file of 20k changed: this build vs the other",
      a: "this build: run --id L -- true",
      b: "other build: run --id L2 -- true",
      aSamples: oneChange.a,
      bSamples: oneChange.b,
      target: 1.0,
      notes: [note],
    }),
  ];
}

if (import.meta.main) await runStandalone(versus);
