/**
 * The ready pool (figures a–d of issue #12), on its own emulator whose
 * create/start/stop delays are set per figure (realistic ones where the
 * figure is about them), with its own CRABBOX_HOME:
 *   (a) run --pool -- true on a ready running lease vs warm run --id L -- true. Target ≤ 1.5×.
 *   (b) run --pool -- true on a ready *stopped* lease (start delay 8 s). Target ≤ start delay + 1.5 s.
 *   (c) run --pool -- true vs a fresh one-shot run -- true at the realistic create delay (45 s): one round.
 *   (d) a hydrated run --pool of an "npm test"-like command whose first run installs (3 s)
 *       vs the same command on a fresh lease (fast create): the cache survives return and borrow.
 */
import { createHarness, type Harness } from "../e2e/harness.ts";
import { DEFAULT_DELAYS, REALISTIC_DELAYS } from "../emulator/index.ts";
import { absoluteFigure, alternate, type BenchContext, type Figure, OURS, ratioFigure, runStandalone, timed } from "./lib.ts";

export const TARGET_A = 1.5;
const INSTALL_S = 3;
/** An npm-test-like command: installs into node_modules (ignored, so it survives the sync) unless it is there. */
const NPM_TEST = `if [ -d node_modules/dep ]; then echo cached; else echo installing; sleep ${INSTALL_S}; mkdir -p node_modules/dep; fi; test -d node_modules/dep`;

export default async function poolBench(ctx: BenchContext): Promise<Figure[]> {
  const h: Harness = await createHarness({ handshakeDelayMs: ctx.settings.handshakeDelayMs, delays: { ...DEFAULT_DELAYS, provisionMs: 0 } });
  ctx.onClose(async () => {
    const dir = `${h.home}/claims`;
    for (const f of (await Array.fromAsync(new Bun.Glob("cbx_*.json").scan(dir))) as string[]) await ours(["stop", f.slice(0, -5), "--delete"], [0, 1, 4, 5]);
    await h.close();
  });
  const ours = (args: string[], ok = [0], env: Record<string, string> = {}) => timed([OURS, ...args], { cwd: h.work, env: { ...h.env, ...env }, ok, timeoutMs: 300_000 });
  const prewarm = async (args: string[] = []) => JSON.parse((await ours(["prewarm", "--json", ...args])).stdout).leases[0];
  const figures: Figure[] = [];

  // (a) ready, running: borrow + run + return vs run --id on a kept lease.
  const pooled = await prewarm();
  const kept = JSON.parse((await ours(["warmup", "--keep", "--json"])).stdout);
  const a = await alternate({
    rounds: ctx.rounds(7),
    a: async () => (await ours(["run", "--pool-only", "--", "true"])).ms,
    b: async () => (await ours(["run", "--id", kept.slug, "--", "true"])).ms,
  });
  figures.push(
    ratioFigure({
      id: "pool-ready",
      label: "(a) run --pool, ready lease",
      a: "crabbox-cs run --pool -- true (ready, Available pool lease)",
      b: "crabbox-cs run --id L -- true (warm kept lease)",
      aSamples: a.a,
      bSamples: a.b,
      target: TARGET_A,
    }),
  );
  await ours(["stop", kept.slug, "--delete"]);

  // (b) ready, stopped: the run starts it (realistic start delay); stopped again untimed between samples.
  h.emu.control.setDelays({ startMs: REALISTIC_DELAYS.startMs, stopMs: 0 });
  const bSamples: number[] = [];
  for (let i = 0; i < ctx.rounds(1); i++) {
    await ours(["stop", pooled.slug, "--keep"]);
    bSamples.push((await ours(["run", "--pool-only", "--", "true"])).ms);
  }
  figures.push(
    absoluteFigure({
      id: "pool-stopped",
      label: "(b) run --pool, stopped lease",
      a: `crabbox-cs run --pool -- true (ready pool lease, stopped; emulator start delay ${REALISTIC_DELAYS.startMs / 1000} s)`,
      unit: "ms",
      samples: bSamples,
      target: REALISTIC_DELAYS.startMs + 1500,
      notes: [`target: start delay ${REALISTIC_DELAYS.startMs} ms + 1.5 s; over the start delay: ${Math.round(Math.min(...bSamples) - REALISTIC_DELAYS.startMs)} ms (best)`],
    }),
  );
  h.emu.control.setDelays({ startMs: DEFAULT_DELAYS.startMs, stopMs: DEFAULT_DELAYS.stopMs });

  // (c) at the realistic create delay (45 s): one round of each (a fresh lease also pays its stop + delete).
  h.emu.control.setDelays({ provisionMs: REALISTIC_DELAYS.provisionMs });
  const cPool = (await ours(["run", "--pool-only", "--", "true"])).ms;
  const cFresh = (await ours(["run", "--no-pool", "--", "true"])).ms;
  figures.push(
    ratioFigure({
      id: "pool-vs-create",
      label: "(c) run --pool vs fresh lease",
      a: "crabbox-cs run --pool -- true (ready pool lease)",
      b: `crabbox-cs run -- true (fresh one-shot lease, create delay ${REALISTIC_DELAYS.provisionMs / 1000} s)`,
      aSamples: [cPool],
      bSamples: [cFresh],
      target: 1,
      notes: [
        `one round: ratio ${(cPool / cFresh).toPrecision(2)} (${Math.round(cFresh / cPool)}× faster); the fresh lease takes ${(cFresh / 1000).toFixed(1)} s (create ${REALISTIC_DELAYS.provisionMs / 1000} s, then stop and delete); no target in the issue`,
      ],
    }),
  );
  h.emu.control.setDelays({ provisionMs: 0 });
  await ours(["pool", "drain", "--all"]);

  // (d) hydrated: prewarm installs; every borrow finds the cache. vs the same command on a fresh lease.
  await prewarm(["--probe-command", NPM_TEST]);
  let cached = true;
  const d = await alternate({
    rounds: ctx.rounds(2),
    warmup: 0,
    a: async () => {
      const r = await ours(["run", "--pool-only", "--", "sh", "-c", NPM_TEST]);
      if (!r.stdout.includes("cached")) cached = false;
      return r.ms;
    },
    b: async () => (await ours(["run", "--no-pool", "--", "sh", "-c", NPM_TEST])).ms,
  });
  figures.push(
    ratioFigure({
      id: "pool-hydrated",
      label: "(d) hydrated run --pool",
      a: `crabbox-cs run --pool -- <npm-test-like> (hydrated pool lease)`,
      b: `crabbox-cs run -- <npm-test-like> (fresh lease: installs, ${INSTALL_S} s)`,
      aSamples: d.a,
      bSamples: d.b,
      target: 1,
      notes: [`the install cache ${cached ? "survived" : "did NOT survive"} every return and borrow; create delay 0 here, so B's extra is the install alone`],
    }),
  );
  await ours(["pool", "drain", "--all"]);
  return figures;
}

if (import.meta.main) await runStandalone(poolBench);
