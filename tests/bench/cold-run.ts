/**
 * Cold run: `crabbox-cs run --id L --no-sync -- true` with no live ControlMaster
 * (closed with `ssh -O exit` before every A sample) vs a plain
 * `ssh -F <lease config> -o ControlMaster=no -o ControlPath=none <alias> true`.
 * Both pay the tunnel handshake. Target: ≤ 1.15×.
 *
 * One-shot: `crabbox-cs run -- true` (create, sync, run, release) vs the same
 * by hand: create through the API, poll until Available, `gh codespace ssh
 * --config`, rsync, ssh, DELETE, poll until 404. Target: ≤ 1.05×. Twice: with
 * gh's config as printed (rsync and ssh each open a connection), and with a
 * ControlPath added by hand (one connection, as ours).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { alternate, type BenchContext, type Figure, ratioFigure, runStandalone, timed } from "./lib.ts";

export const TARGET = 1.15;
export const ONE_SHOT_TARGET = 1.05;
/** The hand-made sequence polls at this interval (the first poll of ours is 250 ms after the first look too). */
const HAND_POLL_MS = 250;

/** The baseline: plain OpenSSH through the same config, connection reuse disabled. */
export async function plainColdSsh(ctx: BenchContext): Promise<number> {
  const l = await ctx.getLease();
  const r = await timed(["ssh", "-F", l.configPath, "-o", "ControlMaster=no", "-o", "ControlPath=none", l.alias, "true"], { env: await ctx.env() });
  return r.ms;
}

/** The hand-made one-shot: what a user would script with curl, gh, rsync and ssh. Returns its wall time in ms. */
export async function handOneShot(ctx: BenchContext, machine: string, round: number, reuse = false): Promise<number> {
  const h = await ctx.h();
  const env = await ctx.env();
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${h.emu.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${h.emu.token}`, accept: "application/vnd.github+json", ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  const t0 = performance.now();
  const created = await api("POST", "/repos/octo-org/hello-world/codespaces", { ref: "main", machine, display_name: `hand ${round}` });
  if (created.status !== 201) throw new Error(`hand create: HTTP ${created.status}`);
  const name = ((await created.json()) as { name: string }).name;
  for (;;) {
    const cs = (await (await api("GET", `/user/codespaces/${name}`)).json()) as { state: string };
    if (cs.state === "Available") break;
    await Bun.sleep(HAND_POLL_MS);
  }
  const config = (await timed([h.emu.ghPath, "codespace", "ssh", "--config", "-c", name], { env })).stdout;
  const cfg = join(h.tmp, `hand-${round}.config`);
  writeFileSync(cfg, config);
  const alias = /^Host\s+(\S+)/m.exec(config)![1]!;
  // With reuse, rsync's connection stays up as a master (gh's config says ControlMaster auto; a
  // ControlPath makes it real) and ssh rides on it: one tunnel handshake instead of two.
  const reuseOpts = reuse ? ["-o", `ControlPath=${h.tmp}/hand-%C`, "-o", "ControlPersist=30"] : [];
  await timed(["rsync", "-a", "--exclude", ".git", "-e", ["ssh", "-F", cfg, ...reuseOpts].join(" "), `${h.work}/`, `${alias}:hand-sync/`], { env });
  await timed(["ssh", "-F", cfg, ...reuseOpts, alias, "true"], { env });
  const del = await api("DELETE", `/user/codespaces/${name}`);
  if (del.status !== 202) throw new Error(`hand delete: HTTP ${del.status}`);
  while ((await api("GET", `/user/codespaces/${name}`)).status !== 404) await Bun.sleep(HAND_POLL_MS);
  return performance.now() - t0;
}

/** One-shot `run -- true` against the hand-made sequence, side by side (with `reuse`: rsync and ssh share one connection). */
export async function oneShot(ctx: BenchContext, reuse = false): Promise<Figure> {
  const h = await ctx.h();
  const machines = (await (await fetch(`${h.emu.url}/repos/octo-org/hello-world/codespaces/machines`, { headers: { authorization: `Bearer ${h.emu.token}` } })).json()) as {
    machines: { name: string; cpus: number }[];
  };
  const machine = [...machines.machines].sort((x, y) => x.cpus - y.cpus)[0]!.name;
  let round = 0;
  // Four rounds: the per-round ratios spread by a few per cent, and the bench stays within its 5 minutes.
  const { a, b } = await alternate({
    rounds: ctx.rounds(4),
    a: async () => (await ctx.ours(["run", "--", "true"])).ms,
    b: () => handOneShot(ctx, machine, round++, reuse),
  });
  return ratioFigure({
    id: reuse ? "one-shot-reuse" : "one-shot",
    label: reuse ? "one-shot run -- true vs the same by hand, one connection" : "one-shot run -- true vs the hand-made sequence",
    a: "crabbox-cs run -- true (create, sync, run, stop, delete, confirmed gone)",
    b: `POST create, poll, gh codespace ssh --config, rsync -e 'ssh -F cfg', ssh -F cfg alias true, DELETE, poll until 404${reuse ? "; rsync and ssh share one connection (ControlPath, ControlPersist)" : ""}`,
    aSamples: a,
    bSamples: b,
    target: ONE_SHOT_TARGET,
    notes: [
      `handshake delay ${ctx.settings.handshakeDelayMs} ms; emulator provisioning instant, stop and delete 100 ms; the hand sequence polls every ${HAND_POLL_MS} ms`,
      reuse
        ? "the hand sequence adds a ControlPath to gh's config: one tunnel handshake, as ours; it deletes without stopping first"
        : "the hand sequence uses gh's config as printed (no ControlPath: rsync and ssh each pay the tunnel handshake) and deletes without stopping first",
    ],
  });
}

export default async function coldRun(ctx: BenchContext): Promise<Figure[]> {
  const l = await ctx.getLease();
  const { a, b } = await alternate({
    rounds: ctx.rounds(7),
    a: async () => {
      await ctx.closeMaster();
      return (await ctx.ours(["run", "--id", l.slug, "--no-sync", "--", "true"])).ms;
    },
    b: () => plainColdSsh(ctx),
  });
  return [
    ratioFigure({
      id: "cold-run",
      label: "cold run (no master)",
      a: "crabbox-cs run --id L --no-sync -- true, master closed first",
      b: "ssh -F cfg -o ControlMaster=no -o ControlPath=none alias true",
      aSamples: a,
      bSamples: b,
      target: TARGET,
      notes: [`handshake delay ${ctx.settings.handshakeDelayMs} ms`],
    }),
    await oneShot(ctx),
    await oneShot(ctx, true),
  ];
}

if (import.meta.main) await runStandalone(coldRun);
