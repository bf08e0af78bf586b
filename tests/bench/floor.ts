/**
 * The floors every figure stands on, and how close we get to them:
 *
 *  - session cost: `ssh -F cfg alias true` over the lease's live master (one
 *    ssh session, what any command costs; reported beside the other figures);
 *  - `crabbox-cs --version` vs a Bun-compiled hello world (the start-up of any
 *    Bun-built tool): target ≤ 1.4×;
 *  - warm `crabbox-cs run --id L --no-sync -- true` vs that hello world plus
 *    `ssh -F cfg alias true` over the same master: target ≤ 1.15×;
 *  - the same warm run vs its safe floor (no target): a program built as we are
 *    that does only what must come before and around the command's session:
 *    resolve the lease through the claim store (its checks), open the gated
 *    session with the exactly-once wrapper, mark the lease in use, take the
 *    session (docs/performance.md, the eleventh #15 pass); and that floor vs
 *    hello world + same-master ssh.
 *
 * Each program is compiled once per bench run: the hello world and the git
 * status floor as any Bun-built tool would be (`bun build --compile
 * --bytecode`), the warm run's safe floor as crabbox-cs is (build.ts
 * COMPILE_FLAGS).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../e2e/harness.ts";
import { STATUS_ARGV } from "../../src/sync/gitstate.ts";
import { COMPILE_FLAGS } from "../../build.ts";
import { absoluteFigure, alternate, OURS, type BenchContext, type Figure, ratioFigure, runStandalone, timed } from "./lib.ts";

export const TARGET_VERSION = 1.4;
export const TARGET_WARM = 1.15;

/** A program compiled once per bench run (memoised under `name`) from `source`, with `flags`; its path. */
function compiled(ctx: BenchContext, name: string, source: string, flags: readonly string[]): Promise<string> {
  return ctx.once(`compiled-${name}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), `crabbox-bench-${name}-`));
    ctx.onClose(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, `${name}.ts`), source);
    const bin = join(dir, name);
    await timed([join(ROOT, "node_modules", ".bin", "bun"), "build", ...flags, join(dir, `${name}.ts`), "--outfile", bin], { cwd: dir, timeoutMs: 120_000 });
    return bin;
  });
}

/** A Bun-compiled hello world (memoised per bench run). */
export function helloWorld(ctx: BenchContext): Promise<string> {
  return compiled(ctx, "hello", 'console.log("hello");\n', ["--compile", "--bytecode"]);
}

/**
 * The floor of a local check by any Bun-built tool (memoised per bench run): a Bun-compiled program
 * that starts the same `git status` as ours (src/sync/gitstate.ts STATUS_ARGV) in its working
 * directory, reads all of its output, and exits.
 */
export function gitStatusFloor(ctx: BenchContext): Promise<string> {
  const program = [
    `const p = Bun.spawn(${JSON.stringify(STATUS_ARGV)}, { stdout: "pipe", stderr: "ignore" });`,
    "const out = await new Response(p.stdout).arrayBuffer();",
    "process.exitCode = (await p.exited) === 0 && out.byteLength >= 0 ? 0 : 1;",
    "",
  ].join("\n");
  return compiled(ctx, "status", program, ["--compile", "--bytecode", "--format=esm"]);
}

/**
 * The safe floor of a warm run (memoised per bench run): a program compiled as crabbox-cs is
 * (build.ts COMPILE_FLAGS) that resolves the lease named in argv[2] through our claim store, opens
 * the command's session behind its gate (src/ssh/exec.ts openSession), marks the lease in use, and
 * takes the session: no flags, no config, no sync. Any safe warm run does at least this.
 */
export function warmRunFloor(ctx: BenchContext): Promise<string> {
  const src = (m: string) => JSON.stringify(join(ROOT, "src", m));
  const program = [
    `import { createRuntime } from ${src("runtime.ts")};`,
    `import { createClaimStore } from ${src("leases/store.ts")};`,
    `import { resolveLease } from ${src("leases/resolve.ts")};`,
    `import { createLeaseUse } from ${src("leases/usage.ts")};`,
    `import { openSession, runRemote } from ${src("ssh/exec.ts")};`,
    `import { runNonce } from ${src("ssh/quote.ts")};`,
    "const runtime = createRuntime();",
    "const store = createClaimStore(runtime, { tighten: false });",
    "const claim = await resolveLease(store, process.argv[2]);",
    "const input = { configPath: claim.sshConfigPath, alias: claim.sshHost, workRoot: claim.workRoot, argv: process.argv.slice(3), nonce: runNonce() };",
    "const opened = openSession(runtime, input);",
    "const use = createLeaseUse(createClaimStore(runtime));",
    "await use.mark(claim.leaseId);",
    "const exit = await runRemote(runtime, { ...input, opened });",
    "await use.done();",
    "process.exitCode = exit.code ?? 1;",
    "",
  ].join("\n");
  return compiled(ctx, "warm", program, COMPILE_FLAGS);
}

/** One ssh session over the lease's live master. */
export async function sameMasterSsh(ctx: BenchContext): Promise<number> {
  const l = await ctx.getLease();
  return (await timed(["ssh", "-F", l.configPath, l.alias, "true"], { env: await ctx.env() })).ms;
}

/** Median session cost (memoised): what one `ssh … true` over the live master takes. */
export function sessionCost(ctx: BenchContext): Promise<number[]> {
  return ctx.once("session-cost", async () => {
    const l = await ctx.getLease();
    await ctx.ours(["run", "--id", l.slug, "--no-sync", "--", "true"]); // master up
    await sameMasterSsh(ctx);
    const s: number[] = [];
    for (let i = 0; i < ctx.rounds(9); i++) s.push(await sameMasterSsh(ctx));
    return s;
  });
}

export default async function floor(ctx: BenchContext): Promise<Figure[]> {
  const hello = await helloWorld(ctx);
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root" };
  const version = await alternate({
    rounds: ctx.rounds(21),
    warmup: 2,
    a: async () => (await timed([OURS, "--version"], { env })).ms,
    b: async () => (await timed([hello], { env })).ms,
  });
  const session = await sessionCost(ctx);
  const l = await ctx.getLease();
  const warm = await alternate({
    rounds: ctx.rounds(11),
    a: async () => (await ctx.ours(["run", "--id", l.slug, "--no-sync", "--", "true"])).ms,
    b: async () => (await timed([hello], { env })).ms + (await sameMasterSsh(ctx)),
  });
  const floorBin = await warmRunFloor(ctx);
  const h = await ctx.h();
  const safe = () => timed([floorBin, l.slug, "true"], { cwd: h.work, env: h.env });
  const vsSafe = await alternate({
    rounds: ctx.rounds(9),
    a: async () => (await ctx.ours(["run", "--id", l.slug, "--no-sync", "--", "true"])).ms,
    b: async () => (await safe()).ms,
  });
  const safeVsHello = await alternate({
    rounds: ctx.rounds(9),
    a: async () => (await safe()).ms,
    b: async () => (await timed([hello], { env })).ms + (await sameMasterSsh(ctx)),
  });
  return [
    absoluteFigure({
      id: "session-cost",
      label: "session cost (ssh over the live master)",
      a: "ssh -F cfg alias true, master up",
      unit: "ms",
      samples: session,
      target: Number.POSITIVE_INFINITY,
      notes: [`emulated sessions: their own HOME with a small fixed rc; synthetic delay ${ctx.settings.sessionMs} ms`],
    }),
    ratioFigure({
      id: "startup-hello",
      label: "start-up (--version) vs Bun hello world",
      a: "crabbox-cs --version",
      b: "a Bun-compiled hello world (--bytecode)",
      aSamples: version.a,
      bSamples: version.b,
      target: TARGET_VERSION,
    }),
    ratioFigure({
      id: "warm-floor",
      label: "warm run vs hello world + same-master ssh",
      a: "crabbox-cs run --id L --no-sync -- true, master up",
      b: "hello world, then ssh -F cfg alias true over the same master",
      aSamples: warm.a,
      bSamples: warm.b,
      target: TARGET_WARM,
    }),
    ratioFigure({
      id: "warm-safe-floor",
      label: "warm run vs its safe floor",
      a: "crabbox-cs run --id L --no-sync -- true, master up",
      b: "a program built as ours: resolve the lease (claim store), gated session, in-use mark, take it",
      aSamples: vsSafe.a,
      bSamples: vsSafe.b,
      target: Number.POSITIVE_INFINITY,
      notes: ["the safe floor: what any safe warm run does before and around its session (tests/bench/floor.ts warmRunFloor)"],
    }),
    ratioFigure({
      id: "safe-floor-hello",
      label: "that safe floor vs hello world + ssh",
      a: "the safe floor program",
      b: "hello world, then ssh -F cfg alias true over the same master",
      aSamples: safeVsHello.a,
      bSamples: safeVsHello.b,
      target: Number.POSITIVE_INFINITY,
    }),
  ];
}

if (import.meta.main) await runStandalone(floor);
