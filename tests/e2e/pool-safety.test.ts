/** The ready pool's safety rules end to end: never drained under a live command, abandoned leases drained, unsafe leases stopped and kept. */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
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
  h.emu.control.omitGitStatus(true, []);
  for (const c of claims(h)) await h.run(["stop", c.leaseId, "--delete"]);
});

describe("a borrowed lease is never drained while its command runs", () => {
  test("cleanup, pool drain and another run leave it alone; it is returned afterwards", async () => {
    const [lease] = (await prewarm(h)).leases;
    const g = gate();
    const borrower = h.spawn(["run", "--pool", "--json", "--", "sh", "-c", g.cmd("a")]);
    expect(await waitFor(() => g.started() === 1)).toBe(true);
    expect(claims(h)[0].pool.state).toBe("busy");

    // Everything that could drain it, with every limit it could pass: an idle TTL of 0s+, maxUses 1, maxAge 1ms.
    const limits = { CRABBOX_POOL_IDLE_TTL: "1ms", CRABBOX_POOL_MAX_USES: "1", CRABBOX_POOL_MAX_AGE: "1ms" };
    const cleanup = await h.run(["cleanup", "--json"], { env: limits });
    expect(cleanup.code).toBe(0);
    expect(cleanup.json().decisions).toMatchObject([{ leaseId: lease.leaseId, action: "skip" }]);
    const one = await h.run(["pool", "drain", lease.slug, "--json"], { env: limits });
    expect(one.code).toBe(5);
    expect(one.json().error.code).toBe("lease_in_use");
    const all = await h.run(["pool", "drain", "--all", "--json"], { env: limits });
    expect(all.code).toBe(0);
    expect(all.json().decisions).toMatchObject([{ leaseId: lease.leaseId, action: "skip" }]);
    const other = await h.run(["run", "--pool-only", "--json", "--", "true"], { env: limits });
    expect(other.code).toBe(4);
    expect(liveState(h, lease.codespace)).toBe("Available");
    expect(claims(h)[0].pool.state).toBe("busy");

    g.open();
    expect(await borrower.exited).toBe(0);
    const out = JSON.parse(await new Response(borrower.stdout).text());
    expect(out.pool).toMatchObject({ borrowed: true, outcome: "returned" });
    expect(claims(h)[0].pool).toMatchObject({ state: "ready", uses: 1 });
    expect(liveState(h, lease.codespace)).toBe("Available");
  });
});

describe("a borrower killed with SIGKILL", () => {
  for (const next of ["cleanup", "run --pool"] as const) {
    test(`leaves a busy lease that the next ${next} recognises as abandoned and drains`, async () => {
      const [lease] = (await prewarm(h)).leases;
      const g = gate();
      const borrower = h.spawn(["run", "--pool", "--", "sh", "-c", g.cmd("k")]);
      expect(await waitFor(() => g.started() === 1)).toBe(true);
      borrower.kill("SIGKILL");
      await borrower.exited;
      g.open(); // let the orphaned remote command end
      expect(claims(h)[0].pool.state).toBe("busy");

      if (next === "cleanup") {
        const r = await h.run(["cleanup", "--json"]);
        expect(r.code).toBe(0);
        const d = r.json().decisions.find((x: any) => x.leaseId === lease.leaseId);
        expect(d.action).toBe("deleted");
        expect(d.reason).toContain("abandoned");
      } else {
        const r = await h.run(["run", "--pool", "--json", "--", "true"]);
        expect(r.code).toBe(0);
        expect(r.stderr).toContain("abandoned");
        expect(r.json().pool.borrowed).toBe(false); // the only pool lease was abandoned: not borrowable
      }
      expect(claims(h).find((c) => c.leaseId === lease.leaseId)).toBeUndefined();
      expect(liveState(h, lease.codespace)).toBeNull();
    });
  }
});

describe("an interrupted prewarm", () => {
  test("leaves its lease busy; the next cleanup drains it as abandoned", async () => {
    const g = gate();
    const p = h.spawn(["prewarm", "--probe-command", g.cmd("p")]);
    expect(await waitFor(() => g.started() === 1)).toBe(true);
    const [c] = claims(h);
    expect(c.pool.state).toBe("busy");
    p.kill("SIGINT");
    await p.exited;
    g.open();
    const r = await h.run(["cleanup", "--json"]);
    const d = r.json().decisions.find((x: any) => x.leaseId === c.leaseId);
    expect(d).toMatchObject({ action: "deleted" });
    expect(d.reason).toContain("abandoned");
    expect(claims(h)).toHaveLength(0);
    expect(liveState(h, c.codespace.name)).toBeNull();
  });
});

describe("a pool lease that cannot be proven safe to delete is stopped and keeps its claim", () => {
  test("identity mismatch (environment id changed): stopped, not deleted, claim kept (draining)", async () => {
    const [lease] = (await prewarm(h)).leases;
    h.emu.control.mutateCodespace(lease.codespace, { environment_id: "a-different-environment" });
    const r = await h.run(["pool", "drain", lease.slug, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json().decisions).toMatchObject([{ leaseId: lease.leaseId, action: "stopped" }]);
    expect(r.json().decisions[0].reason).toContain("environmentId");
    expect(liveState(h, lease.codespace)).toBe("Shutdown");
    expect(claims(h)).toMatchObject([{ leaseId: lease.leaseId, state: "released", pool: { state: "draining" } }]);
    // Never borrowed again.
    expect((await h.run(["run", "--pool-only", "--", "true"])).code).toBe(4);
    // The test's own clean-up: make it match again so it can be deleted.
    h.emu.control.mutateCodespace(lease.codespace, { environment_id: claims(h)[0].codespace.environmentId });
  });

  test("git status unknown: an idle pool lease drained by cleanup is stopped, not deleted, claim kept", async () => {
    const [lease] = (await prewarm(h)).leases;
    h.emu.control.omitGitStatus(lease.codespace, ["has_uncommitted_changes"]);
    const r = await h.run(["cleanup", "--json"], { env: { CRABBOX_POOL_IDLE_TTL: "1ms" } });
    const d = r.json().decisions.find((x: any) => x.leaseId === lease.leaseId);
    expect(d.action).toBe("kept-dirty");
    expect(d.error.code).toBe("git_status_unknown");
    expect(liveState(h, lease.codespace)).toBe("Shutdown");
    expect(claims(h)).toMatchObject([{ leaseId: lease.leaseId, state: "released", pool: { state: "draining" } }]);
    h.emu.control.omitGitStatus(lease.codespace, []);
  });
});
