/**
 * cleanup decides twice: a first look without the lock, then again under the
 * lease lock on the re-read claim, immediately before any stop or delete. A
 * marker that appears in between (here: written at the moment cleanup takes
 * the lock) turns the release into a "now in use" skip; nothing is released.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Claim } from "../../src/leases/claim.ts";
import { localProbe } from "../../src/leases/proc.ts";
import { createClaimStore } from "../../src/leases/store.ts";
import { createLeaseUse } from "../../src/leases/usage.ts";
import { cleanupLease } from "../../src/lifecycle/cleanup.ts";
import type { Services } from "../../src/lifecycle/services.ts";
import { createRuntime } from "../../src/runtime.ts";

const home = mkdtempSync(join(tmpdir(), "crabbox-recheck-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function claim(leaseId: string): Claim {
  const t = new Date(Date.now() - 60_000).toISOString();
  return {
    version: 1, provider: "github-codespaces", leaseId, slug: "brave-crab", state: "ready",
    createdAt: t, updatedAt: t, expiresAt: new Date(Date.now() - 1000).toISOString(), ttlMs: 1000, keep: false,
    apiUrl: "https://api.github.com", github: { login: "octocat", id: 1 }, repo: "octo-org/hello-world", ref: "main",
    pr: null, machine: "basicLinux32gb", devcontainerPath: "", workingDirectory: "", workRoot: "/workspaces/hello-world",
    deleteOnRelease: true, recovery: { nonce: "abcdefgh", displayName: "crabbox brave-crab abcdefgh" },
    codespace: { id: 1, name: "octocat-hello-world-x1", environmentId: null, ownerLogin: "octocat", ownerId: 1, repositoryId: 2, repository: "octo-org/hello-world" },
    lastSeen: null, sshConfigPath: null, sshHost: null, lastSync: null, failure: null,
  };
}

test("a marker written between the first look and the lock: 'now in use', no release", async () => {
  const runtime = createRuntime({ crabboxHome: home });
  const store = createClaimStore(runtime);
  const c = await store.create(claim("cbx_aaaaaaaaaaaa"));
  const use = createLeaseUse(store);
  let released = false;
  const svc = {
    ctx: { runtime },
    // The first look has been made when cleanup asks for the lock: a run marks the lease right then.
    store: { ...store, withLease: async (id: string, fn: (c: Claim) => unknown) => (await use.mark(id), store.withLease(id, fn as never)) },
    api: async () => {
      released = true;
      throw new Error("cleanup went on to release a lease in use");
    },
    me: async () => ({ login: "octocat", id: 1 }),
    token: async () => ({ token: "x", source: "env" }),
  } as unknown as Services;
  const d = await cleanupLease(svc, c, { dryRun: false, timeoutMs: 1000 });
  expect(released).toBe(false);
  expect(d).toEqual({ leaseId: c.leaseId, slug: c.slug, codespace: c.codespace!.name, action: "skip", reason: `now in use by process ${process.pid} on host ${localProbe.host}` });
  expect(await store.read(c.leaseId)).not.toBeNull();
  await use.done();
  expect(readdirSync(store.claimsDir).filter((n) => n.includes(".inuse."))).toEqual([]);
});
