/**
 * shard borrows from the ready pool (issues 12 and 13): ready pool leases are
 * borrowed and returned, the other shards get fresh one-shot leases that are
 * released; --no-pool gives every shard a fresh lease.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as v from "valibot";
import { ShardSummary } from "../../src/output/schemas.ts";
import { createHarness, type Harness } from "./harness.ts";
import { claims, gate, prewarm, waitFor } from "./pool-lib.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

const alive = () => h.emu.control.codespaces().filter((c: any) => c.state !== "Deleted");

describe("no pool yet", () => {
  test("on a CRABBOX_HOME without claims, run --pool and shard fall back to fresh leases", async () => {
    const run = await h.run(["run", "--pool", "--no-sync", "--json", "--", "true"]);
    expect(run.code).toBe(0);
    expect(run.json().pool).toMatchObject({ borrowed: false });
    const shard = await h.run(["shard", "--count", "2", "--json", "--no-sync", "--", "true"]);
    expect(shard.code).toBe(0);
    expect(shard.json().shards.map((s: any) => s.pooled)).toEqual([false, false]);
    expect(claims(h)).toEqual([]);
    expect(alive()).toEqual([]);
  });
});

describe("shard with a ready pool", () => {
  test("2 ready leases, 3 shards: two borrow and return, one is fresh and released", async () => {
    const warmed = await prewarm(h, ["--count", "2", "--no-sync"]);
    const poolIds = warmed.leases.map((l: any) => l.leaseId).sort();
    expect(poolIds).toHaveLength(2);

    // Every shard's command waits until all three run at once: no shard can reuse a lease another returned.
    const g = gate();
    const p = h.run(["shard", "--count", "3", "--json", "--no-sync", "--", "sh", "-c", `${g.cmd("{{index}}")}; echo ran {{index}} on {{lease}}`]);
    expect(await waitFor(() => g.started() === 3)).toBe(true);
    g.open();
    const r = await p;
    expect(r.code).toBe(0);
    const j = r.json();
    expect(v.safeParse(ShardSummary, j).success).toBe(true);
    const pooled = j.shards.filter((s: any) => s.pooled);
    const fresh = j.shards.filter((s: any) => !s.pooled);
    expect(pooled.map((s: any) => s.leaseId).sort()).toEqual(poolIds);
    expect(fresh).toHaveLength(1);
    expect(poolIds).not.toContain(fresh[0].leaseId);
    for (const s of j.shards) expect(r.stderr).toContain(`ran ${s.index} on ${s.leaseId}`);

    // The pool leases are ready again (uses counted); the fresh lease is gone, claim and codespace.
    const left = claims(h);
    expect(left.map((c) => c.leaseId).sort()).toEqual(poolIds);
    for (const c of left) expect({ state: c.pool.state, uses: c.pool.uses }).toEqual({ state: "ready", uses: 1 });
    expect(alive()).toHaveLength(2);
  });

  test("--no-pool: every shard gets a fresh lease; the pool is untouched", async () => {
    const before = claims(h).map((c) => [c.leaseId, c.pool.uses]);
    const r = await h.run(["shard", "--count", "2", "--json", "--no-sync", "--no-pool", "--", "true"]);
    expect(r.code).toBe(0);
    expect(r.json().shards.map((s: any) => s.pooled)).toEqual([false, false]);
    expect(claims(h).map((c) => [c.leaseId, c.pool.uses])).toEqual(before);
    expect(alive()).toHaveLength(2);
    const drained = await h.run(["pool", "drain", "--all", "--json"]);
    expect(drained.code).toBe(0);
    expect(claims(h)).toEqual([]);
  });
});
