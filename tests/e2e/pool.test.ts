/** The ready pool end to end: prewarm, run --pool borrows and returns, pool list, maxUses, stopIdle, a failing hydrate. */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHarness, type Harness } from "./harness.ts";
import { claims, gate, liveState, prewarm, waitFor } from "./pool-lib.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});
afterEach(async () => {
  for (const c of claims(h)) await h.run(["stop", c.leaseId, "--delete"]);
});

describe("prewarm and run --pool", () => {
  test("a hydrated lease is borrowed, its ignored cache survives return and borrow, pool list shows it", async () => {
    const pw = await prewarm(h, ["--probe-command", "mkdir -p node_modules && echo installed > node_modules/dep"]);
    expect(pw.leases).toHaveLength(1);
    const lease = pw.leases[0];
    expect(lease.state).toBe("ready");
    expect(lease.hydrateExitCode).toBe(0);
    expect(liveState(h, lease.codespace)).toBe("Available");

    const list = await h.run(["pool", "list", "--json"]);
    expect(list.code).toBe(0);
    expect(list.json()).toMatchObject([{ leaseId: lease.leaseId, state: "ready", uses: 0, codespaceState: "Available", users: [] }]);
    const table = await h.run(["pool", "list"]);
    for (const line of table.stdout.trimEnd().split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    expect(table.stdout).toContain(lease.slug);

    for (const use of [1, 2]) {
      const r = await h.run(["run", "--pool", "--json", "--", "cat", "node_modules/dep"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain("installed"); // the command's output goes to stderr with --json
      expect(r.json()).toMatchObject({ leaseId: lease.leaseId, exitCode: 0, pool: { borrowed: true, outcome: "returned" } });
      expect(claims(h)[0].pool).toMatchObject({ state: "ready", uses: use });
    }
    expect(liveState(h, lease.codespace)).toBe("Available");
    expect(claims(h)).toHaveLength(1);
  });

  test("no ready lease: a fresh one-shot lease, said on stderr; --pool-only fails with exit 4", async () => {
    const r = await h.run(["run", "--pool", "--json", "--", "true"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("no ready pool lease");
    expect(r.json().pool).toEqual({ borrowed: false, outcome: null, reason: null });
    expect(claims(h)).toHaveLength(0);
    expect(h.emu.control.codespaces()).toHaveLength(0);

    const only = await h.run(["run", "--pool-only", "--json", "--", "true"]);
    expect(only.code).toBe(4);
    expect(only.json().error.code).toBe("pool_empty");
    expect(h.emu.control.codespaces()).toHaveLength(0);
  });

  test("pool.maxUses: the run that reaches it drains the lease (deleted when clean)", async () => {
    const [lease] = (await prewarm(h)).leases;
    const first = await h.run(["run", "--pool", "--pool-max-uses", "2", "--json", "--", "true"]);
    expect(first.json().pool.outcome).toBe("returned");
    const second = await h.run(["run", "--pool", "--json", "--", "true"], { env: { CRABBOX_POOL_MAX_USES: "2" } });
    expect(second.json()).toMatchObject({ leaseId: lease.leaseId, pool: { borrowed: true, outcome: "drained" } });
    expect(second.json().pool.reason).toContain("maxUses");
    expect(claims(h)).toHaveLength(0);
    expect(liveState(h, lease.codespace)).toBeNull();
  });

  test("prewarm --stop leaves it stopped; run --pool starts it; pool.stopIdle stops it again on return", async () => {
    const [lease] = (await prewarm(h, ["--stop"])).leases;
    expect(lease).toMatchObject({ state: "ready", stopped: true });
    expect(liveState(h, lease.codespace)).toBe("Shutdown");
    expect(claims(h)[0]).toMatchObject({ state: "released", pool: { state: "ready" } });

    const r = await h.run(["run", "--pool", "--pool-stop-idle", "--json", "--", "true"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("starting stopped codespace");
    expect(r.json()).toMatchObject({ leaseId: lease.leaseId, pool: { borrowed: true, outcome: "returned" } });
    expect(liveState(h, lease.codespace)).toBe("Shutdown");
    expect(claims(h)[0]).toMatchObject({ state: "released", pool: { state: "ready", uses: 1 } });

    // Without stopIdle, a returned lease stays up.
    const again = await h.run(["run", "--pool", "--json", "--", "true"]);
    expect(again.json().pool.outcome).toBe("returned");
    expect(liveState(h, lease.codespace)).toBe("Available");
  });

  test("a failing hydrate command: that lease is released and reported; the others are ready", async () => {
    // The first of the two to get here fails (mkdir is atomic), the other succeeds.
    const once = join(mkdtempSync(join(tmpdir(), "crabbox-pool-")), "failed-once");
    const pw = await prewarm(h, ["--count", "2", "--probe-command", `if mkdir ${once} 2>/dev/null; then exit 3; fi`], 3);
    const states = pw.leases.map((l: any) => l.state).sort();
    expect(states).toEqual(["failed", "ready"]);
    const bad = pw.leases.find((l: any) => l.state === "failed");
    expect(bad.hydrateExitCode).toBe(3);
    expect(bad.error.code).toBe("hydrate_failed");
    expect(liveState(h, bad.codespace)).toBeNull();
    expect(claims(h).map((c) => c.leaseId)).toEqual([pw.leases.find((l: any) => l.state === "ready").leaseId]);
  });

  test("an interrupted run drains its borrowed lease instead of returning it", async () => {
    const [lease] = (await prewarm(h)).leases;
    const g = gate();
    const p = h.spawn(["run", "--pool", "--json", "--", "sh", "-c", g.cmd("i")]);
    expect(await waitFor(() => g.started() === 1)).toBe(true);
    p.kill("SIGINT");
    expect(await p.exited).toBe(130);
    const out = JSON.parse(await new Response(p.stdout).text());
    expect(out.pool).toMatchObject({ borrowed: true, outcome: "drained", reason: "the run was interrupted" });
    expect(claims(h)).toHaveLength(0);
    expect(liveState(h, lease.codespace)).toBeNull();
  });

  test("a connection lost mid-command drains the borrowed lease", async () => {
    const [lease] = (await prewarm(h)).leases;
    const g = gate();
    const p = h.spawn(["run", "--pool", "--json", "--", "sh", "-c", g.cmd("c")]);
    expect(await waitFor(() => g.started() === 1)).toBe(true);
    expect(h.emu.control.cutConnections(lease.codespace)).toBeGreaterThan(0);
    expect(await p.exited).toBe(255);
    g.open();
    const out = JSON.parse(await new Response(p.stdout).text());
    expect(out.pool).toMatchObject({ borrowed: true, outcome: "drained", reason: "the connection was lost while the command ran" });
    expect(claims(h)).toHaveLength(0);
    expect(liveState(h, lease.codespace)).toBeNull();
  });

  test("a pool lease whose codespace vanished is not returned to the pool: the failed run drains (forgets) it", async () => {
    const [lease] = (await prewarm(h)).leases;
    h.emu.control.deleteBehindBack(lease.codespace);
    const r = await h.run(["run", "--pool", "--json", "--", "true"]);
    expect(r.code).toBe(4);
    expect(r.json().pool).toMatchObject({ borrowed: true, outcome: "drained" });
    expect(r.json().pool.reason).toContain("codespace_gone");
    expect(claims(h)).toHaveLength(0);
    const next = await h.run(["run", "--pool", "--json", "--", "true"]);
    expect(next.code).toBe(0);
    expect(next.json().pool.borrowed).toBe(false);
  });

  test("cleanup drains (deletes, when clean) a ready pool lease idle past pool.idleTtl, and one past pool.maxAge; leaves a fresh one", async () => {
    const pw = await prewarm(h, ["--count", "2"]);
    const keep = await h.run(["cleanup", "--json"]);
    expect(keep.json().decisions.filter((d: any) => d.leaseId).map((d: any) => d.action)).toEqual(["skip", "skip"]);
    const idle = await h.run(["cleanup", "--json"], { env: { CRABBOX_POOL_IDLE_TTL: "1ms" } });
    expect(idle.json().decisions.map((d: any) => d.action)).toEqual(["deleted", "deleted"]);
    expect(idle.json().decisions[0].reason).toContain("pool.idleTtl");
    for (const l of pw.leases) expect(liveState(h, l.codespace)).toBeNull();

    const [old] = (await prewarm(h)).leases;
    const aged = await h.run(["cleanup", "--json"], { env: { CRABBOX_POOL_MAX_AGE: "1ms" } });
    expect(aged.json().decisions).toMatchObject([{ leaseId: old.leaseId, action: "deleted" }]);
    expect(aged.json().decisions[0].reason).toContain("pool.maxAge");
    expect(claims(h)).toHaveLength(0);
  });
});

describe("run --pool refuses what it cannot honour (exit 2, nothing created)", () => {
  for (const extra of [["--id", "amber-crab"], ["--keep"], ["--pr", "1"], ["--no-pool", "--pool-only"]]) {
    test(`${extra.join(" ")}`, async () => {
      const r = await h.run(["run", extra[0] === "--no-pool" ? "--pool-only" : "--pool", ...extra.filter((x) => x !== "--pool-only"), "--json", "--", "true"]);
      expect(r.code).toBe(2);
      expect(r.json().error.code).toBe("usage");
      expect(h.emu.control.codespaces()).toHaveLength(0);
    });
  }
});
