/**
 * Shared machinery of the benchmarks (tests/bench/*.ts): the emulator with a
 * realistic tunnel handshake delay, one kept lease, timing of child processes,
 * alternating A/B sampling and the statistics we report.
 *
 * Benchmarks are not tests: nothing here asserts a time. A figure records its
 * samples, its medians and the target it is compared against; run.ts prints
 * the table and writes bench/results.json.
 *
 * Every child is spawned asynchronously: the emulator's HTTP server runs in
 * this process, and a synchronous spawn would starve it.
 */
import { cpus } from "node:os";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, createHarness, type Harness } from "../e2e/harness.ts";

/**
 * The binary measured as "ours": dist/crabbox-cs, or CRABBOX_BENCH_BIN (e.g. a
 * candidate build, to measure a change side by side with the same emulator).
 * The lease itself is always warmed up by dist/crabbox-cs.
 */
export const OURS = process.env.CRABBOX_BENCH_BIN || BIN;
export { BIN };

export interface Stats {
  n: number;
  median: number;
  min: number;
  max: number;
  p25: number;
  p75: number;
  samples: number[];
}

export interface Figure {
  /** Short key, e.g. "cold-run". */
  id: string;
  label: string;
  /** What A and B are. */
  a: string;
  b: string | null;
  unit: "ms" | "requests" | "MB";
  aStats: Stats;
  bStats: Stats | null;
  /**
   * The compared value: median(A) / median(B) for ratios, otherwise median(A)
   * (or the single value) in `unit`.
   */
  value: number;
  kind: "ratio" | "absolute";
  /** Per-round A/B ratios (ratio figures only): their spread. */
  ratioStats: Stats | null;
  /** value must be <= target. */
  target: number;
  met: boolean;
  notes: string[];
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((x, y) => x - y);
  const q = (p: number) => {
    if (s.length === 0) return Number.NaN;
    const i = (s.length - 1) * p;
    const lo = Math.floor(i);
    const hi = Math.ceil(i);
    return s[lo]! + (s[hi]! - s[lo]!) * (i - lo);
  };
  return { n: s.length, median: q(0.5), min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN, p25: q(0.25), p75: q(0.75), samples };
}

export function ratioFigure(input: {
  id: string;
  label: string;
  a: string;
  b: string;
  aSamples: number[];
  bSamples: number[];
  target: number;
  notes?: string[];
}): Figure {
  const aStats = stats(input.aSamples);
  const bStats = stats(input.bSamples);
  const per = input.aSamples.map((x, i) => x / input.bSamples[i]!).filter((r) => Number.isFinite(r));
  const value = aStats.median / bStats.median;
  return {
    id: input.id,
    label: input.label,
    a: input.a,
    b: input.b,
    unit: "ms",
    aStats,
    bStats,
    value,
    kind: "ratio",
    ratioStats: stats(per),
    target: input.target,
    met: value <= input.target,
    notes: input.notes ?? [],
  };
}

export function absoluteFigure(input: {
  id: string;
  label: string;
  a: string;
  unit: Figure["unit"];
  samples: number[];
  target: number;
  notes?: string[];
}): Figure {
  const aStats = stats(input.samples);
  return {
    id: input.id,
    label: input.label,
    a: input.a,
    b: null,
    unit: input.unit,
    aStats,
    bStats: null,
    value: aStats.median,
    kind: "absolute",
    ratioStats: null,
    target: input.target,
    met: aStats.median <= input.target,
    notes: input.notes ?? [],
  };
}

export interface Timed {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

export interface TimeOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Exit statuses accepted (default [0]); anything else throws. */
  ok?: number[];
  timeoutMs?: number;
}

/** Run argv to completion and measure its wall time (spawn to exit), in ms. */
export async function timed(argv: string[], opts: TimeOptions = {}): Promise<Timed> {
  const t0 = performance.now();
  const proc = Bun.spawn(argv, { cwd: opts.cwd, env: opts.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  const ms = performance.now() - t0;
  clearTimeout(timer);
  if (!(opts.ok ?? [0]).includes(code)) {
    throw new Error(`${argv.join(" ")} exited ${code}\n--- stderr:\n${stderr.slice(-2000)}\n--- stdout:\n${stdout.slice(-1000)}`);
  }
  return { ms, code, stdout, stderr };
}

/** The machine's busy and total CPU time so far (all cores, /proc/stat's jiffies); null where there is none. */
function cpuTimes(): { busy: number; total: number } | null {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((x, y) => x + y, 0);
    return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
  } catch {
    return null;
  }
}

/**
 * The CPU time the whole machine spent while `fn` ran (ms, all cores: here both ends of a run,
 * since the emulated codespace runs on this machine too), pushed onto `into`. Not a timing: a
 * sample is as coarse as the kernel's tick (10 ms); its median over rounds says where time goes.
 */
export async function withMachineCpu(into: number[], fn: () => Promise<number>): Promise<number> {
  const before = cpuTimes();
  const t0 = performance.now();
  const ms = await fn();
  const after = cpuTimes();
  if (before && after && after.total > before.total) into.push(((after.busy - before.busy) / (after.total - before.total)) * cpus().length * (performance.now() - t0));
  return ms;
}

/** "median X ms" of CPU samples, or "n/a". */
export function cpuNote(samples: number[]): string {
  return samples.length === 0 ? "n/a" : `median ${stats(samples).median.toFixed(0)} ms`;
}

/**
 * Alternate A and B for `rounds` rounds (AB, BA, AB, … so a drift of the
 * machine's load hits both sides alike). `round`, when given, runs untimed
 * before each round's pair (the warm-up's too): a change both sides then meet.
 */
export async function alternate(opts: {
  rounds: number;
  a: () => Promise<number>;
  b: () => Promise<number>;
  warmup?: number;
  round?: () => void;
}): Promise<{ a: number[]; b: number[] }> {
  for (let i = 0; i < (opts.warmup ?? 1); i++) {
    opts.round?.();
    await opts.a();
    await opts.b();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < opts.rounds; i++) {
    opts.round?.();
    if (i % 2 === 0) {
      a.push(await opts.a());
      b.push(await opts.b());
    } else {
      b.push(await opts.b());
      a.push(await opts.a());
    }
  }
  return { a, b };
}

export interface Lease {
  leaseId: string;
  slug: string;
  codespace: string;
  /** The lease's ssh config (written by crabbox-cs) and its Host alias. */
  configPath: string;
  alias: string;
  workRoot: string;
}

export interface BenchSettings {
  handshakeDelayMs: number;
  /** Multiplies every figure's default number of rounds (min 1 round). */
  roundsFactor: number;
  /** The emulator's synthetic session delay (delays.sessionMs): 0, sessions cost what sshd + sh cost. */
  sessionMs: number;
}

export function settingsFromEnv(env: Record<string, string | undefined> = process.env): BenchSettings {
  const hs = Number(env.CRABBOX_BENCH_HANDSHAKE_MS ?? 300);
  const rf = Number(env.CRABBOX_BENCH_ROUNDS_FACTOR ?? 1);
  const sm = Number(env.CRABBOX_BENCH_SESSION_MS ?? 0);
  return {
    sessionMs: Number.isFinite(sm) && sm >= 0 ? sm : 0,
    handshakeDelayMs: Number.isFinite(hs) && hs >= 0 ? hs : 300,
    roundsFactor: Number.isFinite(rf) && rf > 0 ? rf : 1,
  };
}

/**
 * What the figure scripts share: one emulator (handshake delay as configured),
 * one harness (CRABBOX_HOME, HOME, git work tree) and one kept lease, created
 * on first use. close() stops everything it started.
 */
export class BenchContext {
  readonly settings: BenchSettings;
  private harness: Promise<Harness> | undefined;
  private lease: Promise<Lease> | undefined;
  /** Extra cleanup steps (run before the harness closes). */
  private cleanups: (() => Promise<void> | void)[] = [];
  /** Shared state of figure scripts (e.g. the generated tree), keyed by name. */
  readonly shared = new Map<string, Promise<unknown>>();

  constructor(settings: BenchSettings = settingsFromEnv()) {
    this.settings = settings;
  }

  rounds(n: number): number {
    return Math.max(1, Math.round(n * this.settings.roundsFactor));
  }

  h(): Promise<Harness> {
    this.harness ??= createHarness({ handshakeDelayMs: this.settings.handshakeDelayMs, delays: { provisionMs: 0, sessionMs: this.settings.sessionMs } });
    return this.harness;
  }

  /** A kept lease, warmed up once. */
  getLease(): Promise<Lease> {
    this.lease ??= (async () => {
      const h = await this.h();
      const r = await h.run(["warmup", "--keep", "--json"], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`warmup failed (exit ${r.code}):\n${r.stderr}`);
      const out = r.json<{ leaseId: string; slug: string }>();
      const claim = JSON.parse(readFileSync(join(h.home, "claims", `${out.leaseId}.json`), "utf8"));
      return {
        leaseId: out.leaseId,
        slug: out.slug,
        codespace: claim.codespace.name,
        configPath: claim.sshConfigPath,
        alias: claim.sshHost,
        workRoot: claim.workRoot,
      };
    })();
    return this.lease;
  }

  /** Memoise a shared resource (e.g. the 20 000-file tree) across figure scripts. */
  once<T>(key: string, make: () => Promise<T>): Promise<T> {
    if (!this.shared.has(key)) this.shared.set(key, make());
    return this.shared.get(key) as Promise<T>;
  }

  onClose(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  /** Env of the harness plus overrides. */
  async env(extra: Record<string, string> = {}): Promise<Record<string, string>> {
    return { ...(await this.h()).env, ...extra };
  }

  /** `crabbox-cs <args>`, timed, in the harness's work tree. */
  async ours(args: string[], opts: TimeOptions = {}): Promise<Timed> {
    const h = await this.h();
    return timed([OURS, ...args], { cwd: h.work, ...opts, env: { ...h.env, ...(opts.env ?? {}) } });
  }

  /** Close the lease's ControlMaster (no live master afterwards). */
  async closeMaster(): Promise<void> {
    const l = await this.getLease();
    await timed(["ssh", "-F", l.configPath, "-O", "exit", l.alias], { env: await this.env(), ok: [0, 255] });
  }

  async close(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        process.stderr.write(`bench cleanup: ${(e as Error).message}\n`);
      }
    }
    this.cleanups = [];
    if (this.harness) {
      const h = await this.harness.catch(() => undefined);
      this.harness = undefined;
      await h?.close();
    }
  }
}

export type FigureScript = (ctx: BenchContext) => Promise<Figure[]>;

export function machine(): { cpus: number; cpuModel: string; platform: string; bun: string } {
  const c = cpus();
  return { cpus: c.length, cpuModel: c[0]?.model ?? "unknown", platform: `${process.platform}-${process.arch}`, bun: Bun.version };
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

function fmtValue(v: number, unit: Figure["unit"]): string {
  if (unit === "ms") return fmtMs(v);
  if (unit === "MB") return `${v.toFixed(1)} MB`;
  return `${Math.round(v)}`;
}

function spread(s: Stats, unit: Figure["unit"]): string {
  return `${fmtValue(s.min, unit)}–${fmtValue(s.max, unit)}`;
}

/** One line per figure for the console and docs/performance.md. */
export function tableRows(figures: Figure[]): string[][] {
  return figures.map((f) => {
    const value = f.kind === "ratio" ? `${f.value.toFixed(2)}×` : fmtValue(f.value, f.unit);
    const target = !Number.isFinite(f.target) ? "—" : f.kind === "ratio" ? `≤ ${f.target}×` : `≤ ${fmtValue(f.target, f.unit)}`;
    const aCol = `${fmtValue(f.aStats.median, f.unit)} (${spread(f.aStats, f.unit)}, n=${f.aStats.n})`;
    const bCol = f.bStats ? `${fmtValue(f.bStats.median, f.unit)} (${spread(f.bStats, f.unit)}, n=${f.bStats.n})` : "—";
    const rs = f.ratioStats ? `${f.ratioStats.min.toFixed(2)}–${f.ratioStats.max.toFixed(2)}` : "—";
    return [f.label, value, target, !Number.isFinite(f.target) ? "" : f.met ? "met" : "NOT met", aCol, bCol, rs];
  });
}

export const TABLE_HEADER = ["figure", "value", "target", "", "A: ours median (min–max)", "B: baseline median (min–max)", "per-round ratio"];

export function renderTable(rows: string[][], header = TABLE_HEADER): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** Standalone run of one figure script: `bun tests/bench/<figure>.ts`. */
export async function runStandalone(script: FigureScript): Promise<void> {
  const ctx = new BenchContext();
  const stop = async (sig: string) => {
    process.stderr.write(`\n${sig}: cleaning up\n`);
    await ctx.close();
    process.exit(130);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  try {
    const figures = await script(ctx);
    console.log(renderTable(tableRows(figures)));
    for (const f of figures) for (const n of f.notes) console.log(`  ${f.id}: ${n}`);
  } finally {
    await ctx.close();
  }
}
