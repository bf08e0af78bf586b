/**
 * SIGKILL at random points of warmup and stop (no handler runs, no finally
 * block, locks left behind). Invariant right after each kill: every codespace
 * of ours is held by a claim or carries a pending claim's recovery name (so
 * `stop` can adopt it). Afterwards `stop`/`cleanup` converge: no claim, no
 * codespace, nothing orphaned, nothing wrongly deleted (a bystander codespace
 * survives every round).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { figure, secHarness, waitFor, type SecHarness } from "./lib.ts";

let h: SecHarness;
beforeAll(async () => {
  h = await secHarness({ delays: { provisionMs: 400, createResponseMs: 150, stopMs: 150, deleteMs: 100 } });
});
afterAll(async () => {
  await h?.reset();
  await h?.close();
});

const ROUNDS = 12; // per phase: 12 warmup kills + 12 stop kills = 24
const mine = () => h.live().filter((c: any) => c.owner.login === h.login);

/** Codespaces of ours that neither a bound claim nor a pending claim's recovery name accounts for. */
function unrecoverable(): string[] {
  const cl = h.claims();
  const held = new Set(cl.map((c) => c.codespace?.name).filter(Boolean));
  const names = new Set(cl.map((c) => c.recovery?.displayName));
  return mine()
    .filter((c: any) => !held.has(c.name) && !names.has(c.display_name))
    .map((c: any) => c.name);
}

/** `stop --delete` every claim left; each must exit with one of `ok`, else its stderr is the failure. */
async function converge(ok: number[] = [0, 4]): Promise<void> {
  for (const c of h.claims()) {
    const r = await h.run(["stop", c.leaseId, "--delete", "--timeout", "30s"]);
    if (!ok.includes(r.code)) throw new Error(`stop ${c.leaseId} (${c.state}) exited ${r.code}:\n${r.stderr}`);
  }
}

/** Time a full uninterrupted run of `args`, to draw kill times from. */
async function timed(args: string[]): Promise<number> {
  const t0 = Date.now();
  const r = await h.run(args);
  if (r.code !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr}`);
  return Date.now() - t0;
}

describe("SIGKILL at random points", () => {
  let kills = 0;
  let bystander = "";
  const outcomes: string[] = [];

  beforeAll(() => {
    // Someone else's look-alike and one of our own unclaimed codespaces: must survive everything.
    bystander = (h.emu.control.seedCodespace({ repo: "octo-org/hello-world", owner: h.login, displayName: "my own work" }) as any).name;
  });
  afterAll(() => {
    figure("kill.killsSurvived", kills);
    figure("kill.outcomes", outcomes.join(","));
    try {
      h.emu.control.deleteBehindBack(bystander);
    } catch {}
  });

  test("warmup killed at a random moment, then stop converges", async () => {
    const full = await timed(["warmup", "--json"]);
    await converge();
    for (let i = 0; i < ROUNDS; i++) {
      const at = Math.floor(Math.random() * full * 1.1);
      const proc = h.spawn(["warmup"]);
      await Bun.sleep(at);
      proc.kill("SIGKILL");
      const code = await proc.exited;
      kills++;
      outcomes.push(code === 0 ? "finished" : "killed");
      // A create the killed process had sent still lands: wait until the emulator has answered every
      // request (checked twice, a timer apart, so that bytes already received have been read).
      for (let quiet = 0; quiet < 2; ) {
        await Bun.sleep(10);
        quiet = h.emu.control.pendingRequests() === 0 ? quiet + 1 : 0;
      }
      expect(unrecoverable().filter((n) => n !== bystander)).toEqual([]);
      await converge([0]);
      expect(h.claimFiles()).toEqual([]);
      expect(mine().map((c: any) => c.name)).toEqual([bystander]);
    }
  }, 240_000);

  test("stop killed at a random moment, then stop (or cleanup) converges", async () => {
    const w0 = await h.run(["warmup", "--json"]);
    expect(w0.code).toBe(0);
    const full = await timed(["stop", w0.json().leaseId, "--delete"]);
    for (let i = 0; i < ROUNDS; i++) {
      const w = await h.run(["warmup", "--json", i % 2 ? "--keep" : "--fresh", "--ttl", "1s"]);
      expect(w.code).toBe(0);
      const lease = w.json();
      const proc = h.spawn(["stop", lease.leaseId, "--delete"]);
      await Bun.sleep(Math.floor(Math.random() * full * 1.1));
      proc.kill("SIGKILL");
      await proc.exited;
      kills++;
      expect(unrecoverable().filter((n) => n !== bystander)).toEqual([]);
      // Alternate the converging command: stop, or cleanup (the lease has expired).
      if (i % 2 === 0) {
        await converge();
      } else {
        await Bun.sleep(1000);
        const c = await h.run(["cleanup", "--json"]);
        if (c.code !== 0) throw new Error(`cleanup exited ${c.code}:\n${c.stderr}`);
        // A kept lease is never released by cleanup: stop it explicitly.
        await converge();
      }
      await waitFor(() => mine().length === 1, 5000);
      expect(h.claimFiles()).toEqual([]);
      expect(mine().map((c: any) => c.name)).toEqual([bystander]);
    }
  }, 300_000);
});
