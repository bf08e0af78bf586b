/**
 * Changed files in the 20 000-file tree, changed again before every round:
 * `crabbox-cs run --id L -- true` vs the hand pair
 * `rsync -a --delete … && ssh … true` (full-tree rsync, same master).
 * Targets: 1 file ≤ 0.6×, 100 files ≤ 0.7×. Also the peak RSS of a 1-file run (≤ 60 MB).
 *
 * Each side writes to its own copy there (ours the lease's work root, the pair a sibling of it), so
 * a round changes the files once and both sides then send exactly that change: what each has to
 * send since it last ran is the round's change, no more.
 */
import { cpus } from "node:os";
import { helloWorld } from "./floor.ts";
import { absoluteFigure, alternate, cpuNote, OURS, type BenchContext, type Figure, ratioFigure, runStandalone, timed, withMachineCpu } from "./lib.ts";
import { peakRssMb } from "./startup.ts";
import { getTree, handPair, touchMany, touchOne } from "./tree.ts";

export const TARGET = 0.6;
export const TARGET_100 = 0.7;
export const TARGET_RSS_MB = 60;

export default async function smallChange(ctx: BenchContext): Promise<Figure[]> {
  const tree = await getTree(ctx);
  const l = tree.lease;
  let n = 1;
  const ours = async () => (await ctx.ours(["run", "--id", l.slug, "--", "true"])).ms;
  const one = await alternate({
    rounds: ctx.rounds(7),
    round: () => touchOne(tree, n++),
    a: ours,
    b: () => handPair(ctx, tree),
  });
  // The machine's CPU time per sample too: on this VM both ends share its cores.
  const cpu100 = { ours: [] as number[], hand: [] as number[], floor: [] as number[], oursVsFloor: [] as number[] };
  const hundred = await alternate({
    rounds: ctx.rounds(7),
    round: () => touchMany(tree, n++, 100),
    a: () => withMachineCpu(cpu100.ours, ours),
    b: () => withMachineCpu(cpu100.hand, () => handPair(ctx, tree)),
  });
  cpu100.ours.shift(); // the warm-up's
  cpu100.hand.shift();
  // No target: how each side's time grows with the change.
  const three = await alternate({
    rounds: ctx.rounds(3),
    round: () => touchMany(tree, n++, 300),
    a: ours,
    b: () => handPair(ctx, tree),
  });
  // The floor of any tool that checks both sides for a 1-file change: a Bun binary's start-up, then
  // git's own check here beside one session that walks the work root there (find -cnewer, as ours).
  const hello = await helloWorld(ctx);
  const env = await ctx.env();
  const walk = `cd ${JSON.stringify(l.workRoot)} && find . -name .git -prune -o -cnewer . -print >/dev/null; true`;
  const floorB = async () => {
    const t0 = performance.now();
    await timed([hello], { env });
    await Promise.all([
      timed(["git", "status", "--porcelain=v2", "-z", "--untracked-files=all"], { cwd: tree.work, env }),
      timed(["ssh", "-F", l.configPath, l.alias, walk], { env }),
    ]);
    return performance.now() - t0;
  };
  const vsFloor = await alternate({
    rounds: ctx.rounds(5),
    round: () => touchOne(tree, n++),
    a: ours,
    b: floorB,
  });
  // The same floor for 100 changed files, plus what any tool then does: the round's files go in one
  // tar over one more session and are written there. No compression, no command.
  let changed: string[] = [];
  const floor100B = async () => {
    const paths = [...changed].sort();
    const t0 = performance.now();
    await floorB();
    const tar = Bun.spawn(["tar", "-c", "-f", "-", "-C", tree.dir, "--null", "-T", "-"], { stdin: "pipe", stdout: "pipe", env });
    tar.stdin.write(paths.map((p) => `${p}\0`).join(""));
    tar.stdin.end();
    const ssh = Bun.spawn(["ssh", "-F", l.configPath, l.alias, `tar -x -p -f - -C ${JSON.stringify(tree.remoteDir)}`], { stdin: tar.stdout, env });
    if ((await tar.exited) !== 0 || (await ssh.exited) !== 0) throw new Error("floor: tar over ssh failed");
    return performance.now() - t0;
  };
  const vsFloor100 = await alternate({
    rounds: ctx.rounds(4),
    round: () => {
      changed = touchMany(tree, n++, 100);
    },
    a: () => withMachineCpu(cpu100.oursVsFloor, ours),
    b: () => withMachineCpu(cpu100.floor, floor100B),
  });
  cpu100.oursVsFloor.shift(); // the warm-up's
  cpu100.floor.shift();
  // Untimed check that ours sent exactly the change.
  touchOne(tree, n++);
  const check = await ctx.ours(["run", "--id", l.slug, "--json", "--", "true"]);
  const sync = (JSON.parse(check.stdout) as { sync: { skipped: boolean; sentBytes: number | null } | null }).sync;
  const rss: number[] = [];
  for (let i = 0; i < ctx.rounds(3); i++) {
    touchOne(tree, n++);
    rss.push((await peakRssMb([OURS, "run", "--id", l.slug, "--", "true"], await ctx.env(), tree.work)).mb);
  }
  return [
    ratioFigure({
      id: "small-change",
      label: "1 of 20k files changed vs rsync && ssh",
      a: "crabbox-cs run --id L -- true, 1 file changed",
      b: 'rsync -a --delete -e "ssh -F cfg" tree/ alias:dir/ && ssh -F cfg alias true, 1 file changed',
      aSamples: one.a,
      bSamples: one.b,
      target: TARGET,
      notes: [`ours: skipped=${sync?.skipped}, ${sync?.sentBytes ?? -1} bytes sent (by rsync with its file list, or as the tar in the command's session)`],
    }),
    ratioFigure({
      id: "small-change-floor",
      label: "1 of 20k files changed vs its floor",
      a: "crabbox-cs run --id L -- true, 1 file changed",
      b: "hello world, then git status here beside ssh -F cfg alias 'find . -cnewer …' there",
      aSamples: vsFloor.a,
      bSamples: vsFloor.b,
      target: Number.POSITIVE_INFINITY,
      notes: ["the floor: start-up of a Bun binary, then both sides' stat walks at once (git's here, find's in one session there); nothing applied, no command"],
    }),
    ratioFigure({
      id: "change-100",
      label: "100 of 20k files changed vs rsync && ssh",
      a: "crabbox-cs run --id L -- true, 100 files changed",
      b: "the same hand pair, 100 files changed",
      aSamples: hundred.a,
      bSamples: hundred.b,
      target: TARGET_100,
      notes: [`machine CPU per sample (both ends, this VM's ${cpus().length} cores): ours ${cpuNote(cpu100.ours)}, the hand pair ${cpuNote(cpu100.hand)}`],
    }),
    ratioFigure({
      id: "change-300",
      label: "300 of 20k files changed vs rsync && ssh",
      a: "crabbox-cs run --id L -- true, 300 files changed",
      b: "the same hand pair, 300 files changed",
      aSamples: three.a,
      bSamples: three.b,
      target: Number.POSITIVE_INFINITY,
      notes: ["no target: how both sides grow with the change (ours sends up to 1 024 files and 4 MiB in the command's session, more by rsync)"],
    }),
    ratioFigure({
      id: "change-100-floor",
      label: "100 of 20k files changed vs its floor",
      a: "crabbox-cs run --id L -- true, 100 files changed",
      b: "the 1-file floor, then tar -c of the changed files | ssh -F cfg alias 'tar -x'",
      aSamples: vsFloor100.a,
      bSamples: vsFloor100.b,
      target: Number.POSITIVE_INFINITY,
      notes: [
        "the floor: start-up of a Bun binary, both sides' stat walks at once, then the changed files in one uncompressed tar over one more session, written there; no command",
        `machine CPU per sample (both ends): ours ${cpuNote(cpu100.oursVsFloor)}, the floor ${cpuNote(cpu100.floor)}`,
      ],
    }),
    absoluteFigure({
      id: "rss-change-20k",
      label: "peak RSS, 1 of 20k files changed",
      a: "crabbox-cs run --id L -- true, 1 file changed",
      unit: "MB",
      samples: rss,
      target: TARGET_RSS_MB,
    }),
  ];
}

if (import.meta.main) await runStandalone(smallChange);
