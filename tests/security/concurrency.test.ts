/**
 * Concurrency: many processes on one lease, many one-shot leases at once,
 * racing stops, cleanup racing runs. Nothing lost, nothing deleted twice,
 * nothing wrongly deleted, no orphan.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { figure, secHarness, type SecHarness } from "./lib.ts";

let h: SecHarness;
beforeAll(async () => {
  h = await secHarness({ delays: { provisionMs: 150, stopMs: 50, deleteMs: 50 } });
});
afterAll(async () => {
  await h?.reset();
  await h?.close();
});

const mine = () => h.live().filter((c: any) => c.owner.login === h.login);
let concurrentRuns = 0;
afterAll(() => figure("concurrency.runs", concurrentRuns));

describe("concurrency", () => {
  test("20 `run --id` on one lease at once: all succeed, the claim stays valid and bound", async () => {
    const w = await h.run(["warmup", "--json", "--keep", "--fresh"]);
    expect(w.code).toBe(0);
    const lease = w.json();
    writeFileSync(join(h.work, "concurrent.txt"), `${Date.now()}\n`); // every run has something to sync
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => h.run(["run", "--id", lease.slug, "--", "sh", "-c", `echo run-${i}`], { timeoutMs: 180_000 })),
    );
    concurrentRuns += rs.length;
    const failed = rs.map((r, i) => ({ i, code: r.code, err: r.stderr.slice(-300) })).filter((x) => x.code !== 0);
    expect(failed).toEqual([]);
    rs.forEach((r, i) => expect(r.stdout).toBe(`run-${i}\n`));
    const claim = JSON.parse(readFileSync(join(h.home, "claims", `${lease.leaseId}.json`), "utf8"));
    expect(claim.state).toBe("ready");
    expect(claim.codespace.name).toBe(lease.codespace.name);
    expect(mine().map((c: any) => c.name)).toEqual([lease.codespace.name]);
    const s = await h.run(["stop", lease.slug, "--delete"]);
    expect(s.code).toBe(0);
  }, 240_000);

  test("20 one-shot runs at once: 20 distinct leases, all released, no orphan", async () => {
    h.emu.control.resetCounts();
    const rs = await Promise.all(
      Array.from({ length: 20 }, (_, i) => h.run(["run", "--json", "--no-sync", "--", "sh", "-c", `echo one-shot-${i}`], { timeoutMs: 240_000 })),
    );
    concurrentRuns += rs.length;
    const failed = rs.map((r, i) => ({ i, code: r.code, err: r.stderr.slice(-400) })).filter((x) => x.code !== 0);
    expect(failed).toEqual([]);
    const ids = rs.map((r) => r.json().leaseId);
    expect(new Set(ids).size).toBe(20);
    const counts = h.emu.control.counts();
    expect(counts["POST /repos/:owner/:repo/codespaces"]).toBe(20);
    expect(counts["DELETE /user/codespaces/:name"]).toBe(20);
    expect(h.claimFiles()).toEqual([]);
    expect(mine()).toEqual([]);
  }, 300_000);

  test("two stops racing: exactly one delete, one clear 'not found'", async () => {
    const w = await h.run(["warmup", "--json", "--fresh"]);
    const lease = w.json();
    h.emu.control.resetCounts();
    const [a, b] = await Promise.all([h.run(["stop", lease.slug, "--json"]), h.run(["stop", lease.leaseId, "--json"])]);
    expect([a.code, b.code].sort()).toEqual([0, 4]);
    expect(h.emu.control.counts()["DELETE /user/codespaces/:name"]).toBe(1);
    expect(mine()).toEqual([]);
    expect(h.claimFiles()).toEqual([]);
  }, 60_000);

  test("cleanup racing one-shot runs: cleanup never touches a live lease, the runs all finish and release", async () => {
    const bystander = (h.emu.control.seedCodespace({ repo: "octo-org/hello-world", owner: h.login, displayName: "crabbox ghost-crab abcdefgh" }) as any).name;
    h.emu.control.resetCounts();
    const runs = Promise.all(Array.from({ length: 4 }, (_, i) => h.run(["run", "--no-sync", "--", "sh", "-c", `sleep 0.${i + 3}; echo r${i}`], { timeoutMs: 120_000 })));
    const cleanups: any[] = [];
    for (let i = 0; i < 6; i++) {
      const c = await h.run(["cleanup", "--json"]);
      expect(c.code).toBe(0);
      cleanups.push(c.json());
      await Bun.sleep(150);
    }
    const rs = await runs;
    concurrentRuns += rs.length;
    const bad = rs.map((r, i) => ({ i, code: r.code, out: r.stdout, err: r.stderr.slice(-600) })).filter((x, i) => x.code !== 0 || x.out !== `r${i}\n`);
    expect(bad).toEqual([]);
    const acted = cleanups.flatMap((c) => c.decisions).filter((d: any) => !["skip", "candidate"].includes(d.action));
    expect(acted).toEqual([]);
    // The unclaimed look-alike is reported, never touched.
    expect(cleanups.flatMap((c) => c.decisions).some((d: any) => d.codespace === bystander && d.action === "candidate")).toBe(true);
    expect(mine().map((c: any) => c.name)).toEqual([bystander]);
    expect(h.emu.control.counts()["DELETE /user/codespaces/:name"]).toBe(4);
    h.emu.control.deleteBehindBack(bystander);
  }, 120_000);

  test("cleanup racing a command on an expired lease: the outcome is clear, no claim lost, no orphan", async () => {
    const w = await h.run(["warmup", "--json", "--ttl", "1s", "--fresh"]);
    const lease = w.json();
    await Bun.sleep(1100);
    const run = h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", "sleep 2; echo finished"], { timeoutMs: 60_000 });
    await Bun.sleep(700);
    const c = await h.run(["cleanup", "--json"]);
    const r = await run;
    const decision = c.json().decisions.find((d: any) => d.leaseId === lease.leaseId);
    figure("concurrency.cleanupVsRun", `cleanup=${decision?.action} run=${r.code}`);
    // Either cleanup waited for / skipped the lease in use and the command finished,
    // or it released the expired lease and the command failed with a clear error.
    if (r.code === 0) expect(r.stdout).toBe("finished\n");
    else expect(r.stderr.length).toBeGreaterThan(0);
    await h.reset();
    expect(h.claimFiles()).toEqual([]);
    expect(mine()).toEqual([]);
  }, 60_000);
});
