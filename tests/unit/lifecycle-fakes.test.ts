/**
 * Lifecycle functions driven end to end through the ports with in-memory
 * fakes (tests/unit/helpers/fakes.ts): a real claim store in a temporary
 * home, a fake Codespaces API, no HTTP, no ssh, no gh.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import { cleanup } from "../../src/lifecycle/cleanup.ts";
import { release } from "../../src/lifecycle/release.ts";
import { claimFor, codespace, fakeApi, fakeServices } from "./helpers/fakes.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});
function home(): string {
  const h = mkdtempSync(join(tmpdir(), "crabbox-fakes-"));
  homes.push(h);
  return h;
}

describe("release through the fakes", () => {
  test("a one-shot lease on a clean, running codespace: stopped, deleted, confirmed gone, claim forgotten", async () => {
    const cs = codespace({ state: "Available" });
    const api = fakeApi([cs]);
    const svc = fakeServices(home(), api);
    const claim = await svc.store.create(claimFor(cs));
    const out = await release(svc, claim.leaseId, { timeoutMs: 60_000 });
    expect(out).toEqual({ leaseId: claim.leaseId, slug: claim.slug, codespace: cs.name, action: "deleted", reason: "stopped clean, deleted, confirmed gone" });
    expect(api.calls).toEqual([`stop ${cs.name}`, `delete ${cs.name}`]);
    expect(api.codespaces.has(cs.name)).toBe(false);
    expect(await svc.store.read(claim.leaseId)).toBeNull();
  });

  test("a kept lease: stopped only, the claim stays as released", async () => {
    const cs = codespace({ state: "Available" });
    const api = fakeApi([cs]);
    const svc = fakeServices(home(), api);
    const claim = await svc.store.create(claimFor(cs, { keep: true }));
    const out = await release(svc, claim.leaseId, { timeoutMs: 60_000 });
    expect(out.action).toBe("stopped");
    expect(api.calls).toEqual([`stop ${cs.name}`]);
    expect(api.codespaces.get(cs.name)?.state).toBe("Shutdown");
    expect((await svc.store.read(claim.leaseId))?.state).toBe("released");
  });

  test("uncommitted work: stopped, never deleted, exit 5, the lease kept with the reason", async () => {
    const cs = codespace({ state: "Shutdown", git_status: { has_uncommitted_changes: true, has_unpushed_changes: false, ahead: 0 } });
    const api = fakeApi([cs]);
    const svc = fakeServices(home(), api);
    const claim = await svc.store.create(claimFor(cs));
    const err = await release(svc, claim.leaseId, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CrabboxError);
    expect((err as CrabboxError).code).toBe("codespace_dirty");
    expect((err as CrabboxError).exit).toBe(5);
    expect(api.calls).toEqual([]); // already Shutdown: no stop call, and no delete
    expect(await svc.store.read(claim.leaseId)).toMatchObject({ state: "released", failure: "not deleted: uncommitted changes" });
  });

  test("not the codespace the claim bound: nothing is touched (identity_mismatch, exit 5)", async () => {
    const cs = codespace({ state: "Available" });
    const api = fakeApi([{ ...cs, id: 4242 }]);
    const svc = fakeServices(home(), api);
    const claim = await svc.store.create(claimFor(cs));
    const err = (await release(svc, claim.leaseId, { timeoutMs: 60_000 }).catch((e: unknown) => e)) as CrabboxError;
    expect([err.code, err.exit]).toEqual(["identity_mismatch", 5]);
    expect(api.calls).toEqual([]);
    expect((await svc.store.read(claim.leaseId))?.state).toBe("ready");
  });
});

describe("release: the codespace disappears while it is being released", () => {
  /** What the GitHub client throws for a 404 on /user/codespaces/{name}. */
  const notFound = (name: string) => new CrabboxError({ code: "codespace_not_found", message: `Codespace ${name} was not found on GitHub (it may have been deleted)`, exit: 4 });

  test("a delete an interrupted release requested completes just before ours (DELETE answers 404): forgotten, exit 0, no claim left", async () => {
    const cs = codespace({ state: "Shutdown" });
    const api = fakeApi([cs]);
    api.deleteCodespace = async (name) => {
      api.calls.push(`delete ${name}`);
      api.codespaces.delete(name); // the earlier delete lands first
      throw notFound(name);
    };
    const svc = fakeServices(home(), api);
    const claim = await svc.store.create(claimFor(cs, { state: "releasing" }));
    const out = await release(svc, claim.leaseId, { timeoutMs: 60_000 });
    expect(out).toEqual({ leaseId: claim.leaseId, slug: claim.slug, codespace: cs.name, action: "forgotten", reason: "the codespace disappeared during the release" });
    expect(api.calls).toEqual([`delete ${cs.name}`]);
    expect(await svc.store.read(claim.leaseId)).toBeNull();
  });

  test("deleted while we wait for it to stop (the wait sees 404): forgotten, no claim left", async () => {
    const cs = codespace({ state: "Available" });
    const api = fakeApi([cs]);
    const stop = api.stopCodespace;
    api.stopCodespace = async (name) => {
      const r = await stop(name);
      api.codespaces.delete(name); // gone before the wait's first look
      return r;
    };
    const svc = fakeServices(home(), api);
    const claim = await svc.store.create(claimFor(cs, { keep: true }));
    const out = await release(svc, claim.leaseId, { timeoutMs: 60_000 });
    expect(out.action).toBe("forgotten");
    expect(api.calls).toEqual([`stop ${cs.name}`]);
    expect(await svc.store.read(claim.leaseId)).toBeNull();
  });

  test("a 404 from the API while the codespace still exists is not taken for gone: the error stands, the claim stays", async () => {
    const cs = codespace({ state: "Shutdown" });
    const api = fakeApi([cs]);
    api.deleteCodespace = async (name) => {
      api.calls.push(`delete ${name}`);
      throw notFound(name);
    };
    const svc = fakeServices(home(), api);
    const claim = await svc.store.create(claimFor(cs));
    const err = (await release(svc, claim.leaseId, { timeoutMs: 60_000 }).catch((e: unknown) => e)) as CrabboxError;
    expect([err.code, err.exit]).toEqual(["codespace_not_found", 4]);
    expect((await svc.store.read(claim.leaseId))?.state).toBe("releasing");
  });
});

describe("cleanup through the fakes", () => {
  test("releases the expired lease, leaves the live one, reports an unclaimed look-alike untouched", async () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    const expired = codespace({ name: "cs-expired", id: 11, state: "Available" });
    const live = codespace({ name: "cs-live", id: 12, state: "Available" });
    const stray = codespace({ name: "cs-stray", id: 13, state: "Shutdown", display_name: "crabbox lone-wolf zzzzzzzz" });
    const api = fakeApi([expired, live, stray]);
    const svc = fakeServices(home(), api, { now });
    const a = await svc.store.create(claimFor(expired, { leaseId: "cbx_aaaaaaaaaaaa", slug: "old-crab", expiresAt: new Date(now - 1).toISOString() }));
    const b = await svc.store.create(
      claimFor(live, { leaseId: "cbx_bbbbbbbbbbbb", slug: "new-crab", expiresAt: new Date(now + 60_000).toISOString(), recovery: { nonce: "bbbbbbbb", displayName: "crabbox new-crab bbbbbbbb" } }),
    );
    const r = await cleanup(svc, { dryRun: false, timeoutMs: 60_000 });
    expect(r.decisions.map((d) => [d.slug, d.action])).toEqual([
      ["old-crab", "deleted"],
      ["new-crab", "skip"],
      ["lone-wolf", "candidate"],
    ]);
    expect(api.calls).toEqual(["stop cs-expired", "delete cs-expired"]);
    expect(await svc.store.read(a.leaseId)).toBeNull();
    expect(await svc.store.read(b.leaseId)).not.toBeNull();
    expect(api.codespaces.get("cs-stray")?.state).toBe("Shutdown");
  });
});
