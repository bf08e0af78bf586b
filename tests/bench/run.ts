/**
 * `npm run bench`: every figure of docs/performance.md against the local
 * Codespaces emulator (tunnel handshake delay 300 ms unless configured),
 * printed as a table and written to bench/results.json.
 *
 *   bun tests/bench/run.ts [--only cold-run,warm-run,…] [--handshake-delay MS]
 *                          [--rounds-factor X] [--session-delay MS] [--out FILE]
 *
 * Env equivalents: CRABBOX_BENCH_HANDSHAKE_MS, CRABBOX_BENCH_ROUNDS_FACTOR,
 * CRABBOX_BENCH_SESSION_MS (the emulator's synthetic per-session delay, default 0).
 * Needs dist/crabbox-cs (`bun build.ts`), ssh, sshd, rsync, git; /usr/bin/gh
 * for the two comparisons with the real GitHub CLI.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT, requireBinary } from "../e2e/harness.ts";
import coldRun from "./cold-run.ts";
import floor from "./floor.ts";
import { BenchContext, type Figure, type FigureScript, fmtMs, machine, renderTable, settingsFromEnv, tableRows } from "./lib.ts";
import listScale from "./list-scale.ts";
import noopSync from "./noop-sync.ts";
import pool from "./pool.ts";
import shardBench from "./shard.ts";
import scale from "./scale.ts";
import smallChange from "./small-change.ts";
import startup from "./startup.ts";
import warmRun from "./warm-run.ts";

/** In run order: the list figure seeds 500 claims, so it goes last. */
export const SCRIPTS: [string, FigureScript][] = [
  ["startup", startup],
  ["cold-run", coldRun],
  ["warm-run", warmRun],
  ["floor", floor],
  ["noop-sync", noopSync],
  ["small-change", smallChange],
  ["shard", shardBench],
  ["scale", scale],
  ["list-scale", listScale],
  ["pool", pool],
];

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    only: { type: "string" },
    "handshake-delay": { type: "string" },
    "rounds-factor": { type: "string" },
    "session-delay": { type: "string" },
    out: { type: "string" },
  },
});

requireBinary();
const settings = settingsFromEnv({
  ...process.env,
  ...(values["handshake-delay"] ? { CRABBOX_BENCH_HANDSHAKE_MS: values["handshake-delay"] } : {}),
  ...(values["rounds-factor"] ? { CRABBOX_BENCH_ROUNDS_FACTOR: values["rounds-factor"] } : {}),
  ...(values["session-delay"] ? { CRABBOX_BENCH_SESSION_MS: values["session-delay"] } : {}),
});
const only = values.only ? new Set(values.only.split(",").map((s) => s.trim())) : null;
const unknown = [...(only ?? [])].filter((n) => !SCRIPTS.some(([s]) => s === n));
if (unknown.length) {
  process.stderr.write(`unknown figure script(s): ${unknown.join(", ")}; known: ${SCRIPTS.map(([s]) => s).join(", ")}\n`);
  process.exit(2);
}

const ctx = new BenchContext(settings);
let stopping = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${sig}: cleaning up (emulator, ssh masters, temp dirs)\n`);
    void ctx.close().finally(() => process.exit(130));
  });
}

const t0 = performance.now();
const figures: Figure[] = [];
const timings: Record<string, number> = {};
let failed = false;
try {
  for (const [name, script] of SCRIPTS) {
    if (only && !only.has(name)) continue;
    const t = performance.now();
    process.stderr.write(`bench: ${name}…\n`);
    try {
      figures.push(...(await script(ctx)));
    } catch (e) {
      failed = true;
      process.stderr.write(`bench: ${name} failed: ${(e as Error).stack ?? e}\n`);
    }
    timings[name] = performance.now() - t;
    process.stderr.write(`bench: ${name} done in ${fmtMs(timings[name]!)}\n`);
  }
} finally {
  await ctx.close();
}
const total = performance.now() - t0;

console.log(`\ncrabbox-cs benchmarks — handshake delay ${settings.handshakeDelayMs} ms, session delay ${settings.sessionMs} ms, ${machine().cpus} CPUs, total ${fmtMs(total)}\n`);
console.log(renderTable(tableRows(figures)));
console.log("");
for (const f of figures) for (const n of f.notes) console.log(`  ${f.id}: ${n}`);

const out = values.out ?? join(ROOT, "bench", "results.json");
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: machine(),
      settings,
      totalMs: Math.round(total),
      scriptMs: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
      figures: figures.map((f) => ({
        ...f,
        value: Number(f.value.toFixed(4)),
      })),
    },
    null,
    2,
  )}\n`,
);
console.log(`\nwrote ${out}`);
process.exit(failed ? 1 : 0);
