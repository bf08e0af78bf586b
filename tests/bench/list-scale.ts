/**
 * List at scale: 500 leases (claims) bound to 500 emulated codespaces.
 *  - API requests made by one `crabbox-cs list --json` (target ≤ 6),
 *  - wall time of `crabbox-cs list --json` vs the real GitHub CLI
 *    `/usr/bin/gh codespace list --json name --limit 1000` against the same
 *    emulator (GITHUB_API_URL + GH_ENTERPRISE_TOKEN) (target ≤ 1.0×).
 * gh's default --limit is 30 (one request); --limit 1000 makes it fetch all
 * 500 like we do, so both sides do the same work.
 */
import { existsSync } from "node:fs";
import { seedLeases } from "../e2e/harness.ts";
import { absoluteFigure, alternate, type BenchContext, type Figure, ratioFigure, runStandalone, timed } from "./lib.ts";

export const LEASES = 500;
export const TARGET_REQUESTS = 6;
export const TARGET_RATIO = 1.0;
export const REAL_GH = "/usr/bin/gh";

/** Seed LEASES-1 more codespaces and write a valid claim binding each (the warmed lease is the first). */
export async function seed(ctx: BenchContext): Promise<void> {
  const h = await ctx.h();
  const lease = await ctx.getLease();
  seedLeases(h, lease.leaseId, LEASES - 1, (i) => ({ state: i % 3 === 0 ? "Shutdown" : "Available" }));
}

export default async function listScale(ctx: BenchContext): Promise<Figure[]> {
  const h = await ctx.h();
  await ctx.once("list-seed", () => seed(ctx));
  const list = () => ctx.ours(["list", "--json"]);

  // Requests of one list (untimed), and a sanity check of what it saw.
  h.emu.control.resetCounts();
  const once = await list();
  const counts = h.emu.control.counts();
  const requests = Object.values(counts).reduce((a, b) => a + b, 0);
  const views = JSON.parse(once.stdout) as { live?: unknown }[];
  const withLive = views.filter((x) => x.live).length;
  const figures: Figure[] = [
    absoluteFigure({
      id: "list-requests",
      label: `list: API requests (${LEASES} leases)`,
      a: "crabbox-cs list --json",
      unit: "requests",
      samples: [requests],
      target: TARGET_REQUESTS,
      notes: [`requests: ${JSON.stringify(counts)}; ${views.length} leases listed, ${withLive} with a live codespace`],
    }),
  ];

  if (!existsSync(REAL_GH)) {
    process.stderr.write(`list-scale: ${REAL_GH} is missing: skipping the wall-time comparison\n`);
    return figures;
  }
  const ghEnv = await ctx.env({ GH_NO_UPDATE_NOTIFIER: "1", GH_PROMPT_DISABLED: "1", NO_COLOR: "1" });
  const gh = async () => {
    const r = await timed([REAL_GH, "codespace", "list", "--json", "name", "--limit", "1000"], { env: ghEnv, cwd: h.work });
    return r;
  };
  h.emu.control.resetCounts();
  const ghOnce = await gh();
  const ghCounts = h.emu.control.counts();
  const ghListed = (JSON.parse(ghOnce.stdout) as unknown[]).length;
  const { a, b } = await alternate({
    rounds: ctx.rounds(7),
    a: async () => (await list()).ms,
    b: async () => (await gh()).ms,
  });
  figures.push(
    ratioFigure({
      id: "list-time",
      label: `list: wall time (${LEASES} leases)`,
      a: "crabbox-cs list --json",
      b: `${REAL_GH} codespace list --json name --limit 1000`,
      aSamples: a,
      bSamples: b,
      target: TARGET_RATIO,
      notes: [`gh listed ${ghListed} codespaces with ${Object.values(ghCounts).reduce((x, y) => x + y, 0)} requests: ${JSON.stringify(ghCounts)}`],
    }),
  );
  return figures;
}

if (import.meta.main) await runStandalone(listScale);
