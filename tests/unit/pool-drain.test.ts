/**
 * Draining and returning pool leases through the ports (in-memory fakes:
 * a real claim store, a fake Codespaces API, no HTTP, no ssh): what is
 * stopped, what is deleted, which claims stay.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import type { Claim } from "../../src/leases/claim.ts";
import { borrowFromPool, currentPoolKey, drainLocked, returnToPool, settlePool } from "../../src/lifecycle/pool.ts";
import { createLeaseUse } from "../../src/leases/usage.ts";
import { claimFor, codespace, fakeApi, fakeServices } from "./helpers/fakes.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});
function home(): string {
  const h = mkdtempSync(join(tmpdir(), "crabbox-pool-"));
  homes.push(h);
  return h;
}
const POOL = { key: "octocat/Hello-World", state: "busy" as const, uses: 1, borrowedAt: "2026-12-01T11:59:00Z", returnedAt: null, drainReason: null };

async function setup(live: Partial<ReturnType<typeof codespace>> = {}, poolCfg = {}) {
  const cs = codespace({ state: "Available" });
  const api = fakeApi([{ ...cs, ...live }]);
  const svc = fakeServices(home(), api, { pool: poolCfg });
  const claim = await svc.store.create(claimFor(cs, { keep: true, pool: POOL }));
  const drain = () => svc.store.withLease(claim.leaseId, (c: Claim) => drainLocked(svc, c, "test", 60_000));
  return { cs, api, svc, claim, drain };
}

describe("drainLocked", () => {
  test("clean: stopped, deleted, the claim forgotten (a kept pool lease is deleted when drained)", async () => {
    const { cs, api, svc, claim, drain } = await setup();
    expect((await drain()).action).toBe("deleted");
    expect(api.calls).toEqual([`stop ${cs.name}`, `delete ${cs.name}`]);
    expect(await svc.store.read(claim.leaseId)).toBeNull();
  });

  test("git status unknown: stopped, not deleted, claim kept draining (git_status_unknown)", async () => {
    const { cs, api, svc, claim, drain } = await setup({ git_status: { ahead: 0, behind: 0, has_unpushed_changes: false, ref: "main" } as never });
    const e = await drain().then(() => null, (x) => x as CrabboxError);
    expect(e?.code).toBe("git_status_unknown");
    expect(api.calls).toEqual([`stop ${cs.name}`]);
    expect(await svc.store.read(claim.leaseId)).toMatchObject({ state: "released", pool: { state: "draining", drainReason: "test" } });
  });

  test("identity mismatch, still yours: stopped, never deleted, claim kept", async () => {
    const { cs, api, svc, claim, drain } = await setup({ environment_id: "another-environment" });
    const out = await drain();
    expect(out.action).toBe("stopped");
    expect(out.reason).toContain("codespace.environmentId differs");
    expect(api.calls).toEqual([`stop ${cs.name}`]);
    expect(await svc.store.read(claim.leaseId)).toMatchObject({ state: "released", pool: { state: "draining" } });
  });

  test("identity mismatch, another owner: not touched at all (identity_mismatch), claim kept", async () => {
    const { api, svc, claim, drain } = await setup({ owner: { ...codespace().owner, login: "mallory", id: 666 } });
    const e = await drain().then(() => null, (x) => x as CrabboxError);
    expect(e?.code).toBe("identity_mismatch");
    expect(api.calls).toEqual([]);
    expect(await svc.store.read(claim.leaseId)).toMatchObject({ pool: { state: "draining" } });
  });
});

describe("returnToPool", () => {
  const ok = { interrupted: false, connectionLost: false };
  test("back to ready, nothing called", async () => {
    const { api, svc, claim } = await setup();
    expect(await returnToPool(svc, claim, ok, { timeoutMs: 60_000 })).toMatchObject({ action: "returned", stopped: false });
    expect(api.calls).toEqual([]);
    expect(await svc.store.read(claim.leaseId)).toMatchObject({ state: "ready", pool: { state: "ready", uses: 1, returnedAt: "2026-12-01T12:00:00.000Z" } });
  });

  test("pool.stopIdle: stopped first, then ready (state released)", async () => {
    const { cs, api, svc, claim } = await setup({}, { stopIdle: true });
    expect(await returnToPool(svc, claim, ok, { timeoutMs: 60_000 })).toMatchObject({ action: "returned", stopped: true });
    expect(api.calls).toEqual([`stop ${cs.name}`]);
    expect(await svc.store.read(claim.leaseId)).toMatchObject({ state: "released", pool: { state: "ready" } });
  });

  test("maxUses reached: drained (deleted when clean)", async () => {
    const { cs, api, svc, claim } = await setup({}, { maxUses: 1 });
    expect(await returnToPool(svc, claim, ok, { timeoutMs: 60_000 })).toMatchObject({ action: "drained", release: { action: "deleted" } });
    expect(api.calls).toEqual([`stop ${cs.name}`, `delete ${cs.name}`]);
    expect(await svc.store.read(claim.leaseId)).toBeNull();
  });

  test("a drain that cannot delete keeps the claim and says why", async () => {
    const { svc, claim } = await setup({ git_status: { ahead: 0, behind: 0, has_unpushed_changes: false, has_uncommitted_changes: true, ref: "main" } });
    const out = await returnToPool(svc, claim, { interrupted: true, connectionLost: false }, { timeoutMs: 60_000 });
    expect(out).toMatchObject({ action: "drained", reason: "the run was interrupted", release: null });
    expect(out.action === "drained" && out.error?.code).toBe("codespace_dirty");
    expect(await svc.store.read(claim.leaseId)).toMatchObject({ state: "released", pool: { state: "draining" } });
  });
});

describe("the pool key", () => {
  test("is worked out once per invocation: a borrow, then settling the pool, ask git for the remote once", async () => {
    const cs = codespace({ state: "Available" });
    const svc = fakeServices(home(), fakeApi([cs]));
    const asked: string[][] = [];
    svc.ctx.runtime.exec = async (argv) => {
      asked.push(argv);
      return { code: 0, signal: null, stdout: "origin\thttps://github.com/octocat/Hello-World.git (fetch)\norigin\thttps://github.com/octocat/Hello-World.git (push)\n", stderr: "" };
    };
    const key = await currentPoolKey(svc);
    const config = join(home(), "lease.config"); // a ready lease with its ssh config is used as it is
    writeFileSync(config, "Host cs.test\n");
    const claim = await svc.store.create(claimFor(cs, { keep: true, pool: { ...POOL, key, state: "ready" }, sshConfigPath: config, sshHost: "cs.test" }));
    const use = createLeaseUse(svc.store);
    expect((await borrowFromPool(svc, { use, timeoutMs: 60_000 }))?.leaseId).toBe(claim.leaseId);
    await settlePool(svc, { timeoutMs: 60_000 });
    await use.done();
    expect(asked).toEqual([["git", "remote", "-v"]]);
  });
});
