/**
 * Bringing a bound lease to "ready": wait until the codespace is Available
 * (starting it when it is stopped), fetch the OpenSSH config from gh, write
 * it per lease, and prove the box usable with one readiness round trip.
 * This is where the control plane (GitHub API) meets the data plane (ssh).
 */
import { CrabboxError, Exit } from "../errors.ts";
import { ghSshConfig } from "../gh/gh.ts";
import { startCodespace } from "../github/operations.ts";
import type { Codespace } from "../github/schemas.ts";
import type { Claim } from "../leases/claim.ts";
import { writeLeaseConfig } from "../ssh/config.ts";
import { checkMaster } from "../ssh/exec.ts";
import { assertReady, probe } from "../ssh/readiness.ts";
import { leaseRef, seen } from "./claims.ts";
import { assertIdentity } from "./identity.ts";
import type { Services } from "./services.ts";
import { waitForCodespace } from "./wait.ts";
import { existsSync } from "node:fs";

export interface BringUpOptions {
  timeoutMs: number;
}

/** Wait for Available (starting a stopped codespace), refresh the ssh config, probe, mark ready. Caller holds the lease lock. */
export async function bringUp(svc: Services, claim: Claim, opts: BringUpOptions): Promise<{ claim: Claim; codespace: Codespace }> {
  const { runtime, log } = svc.ctx;
  if (!claim.codespace) throw new Error(`lease ${claim.leaseId} has no codespace bound`);
  const client = await svc.github();
  const me = await svc.me();
  let started = false;
  const cs = await waitForCodespace(svc, client, {
    name: claim.codespace.name,
    label: "Available",
    timeoutMs: opts.timeoutMs,
    leaseRef: leaseRef(claim),
    until: (c) => c.state === "Available",
    onState: async (c) => {
      if (!started && c.state === "Shutdown") {
        assertIdentity(claim, c, me, svc.ctx.config.githubCodespaces.apiUrl);
        log.info(`starting stopped codespace ${c.name}`);
        await startCodespace(client, c.name);
        started = true;
        return true;
      }
      return false;
    },
  });
  assertIdentity(claim, cs, me, svc.ctx.config.githubCodespaces.apiUrl);
  let next = seen(claim, cs, runtime.now());
  // The config names the codespace, not an address: it stays valid while the codespace lives.
  // Fetch it when we have none, and again after a resume (as gh may rotate the tunnel setup).
  if (started || !next.sshConfigPath || !existsSync(next.sshConfigPath)) next = await refreshSshConfig(svc, next);
  await probeLease(svc, next);
  next = { ...next, state: "ready", failure: null };
  await svc.store.write(next);
  return { claim: next, codespace: cs };
}

/** Ask gh for the codespace's OpenSSH config and store it for this lease (0600). */
export async function refreshSshConfig(svc: Services, claim: Claim): Promise<Claim> {
  const { runtime, config, log } = svc.ctx;
  const name = claim.codespace!.name;
  log.debug(`fetching ssh config: ${config.githubCodespaces.ghPath} codespace ssh --config -c ${name}`);
  const text = await ghSshConfig(runtime, config.githubCodespaces.ghPath, name);
  const { path, alias } = await writeLeaseConfig(runtime, claim.leaseId, text, name);
  const next = { ...claim, sshConfigPath: path, sshHost: alias };
  await svc.store.write(next);
  return next;
}

export async function probeLease(svc: Services, claim: Claim): Promise<void> {
  const t0 = svc.ctx.runtime.now();
  const result = await probe(svc.ctx.runtime, { configPath: claim.sshConfigPath!, alias: claim.sshHost!, workRoot: claim.workRoot });
  assertReady(result);
  svc.ctx.log.debug(`readiness probe ok in ${svc.ctx.runtime.now() - t0}ms (git, rsync, tar, ${claim.workRoot} writable)`);
}

/**
 * Make a lease usable for a command with as little work as possible:
 * a live ssh master → nothing to do (no API call); otherwise check the
 * codespace, resume it if stopped, refresh the ssh config and probe.
 */
export async function ensureConnected(svc: Services, claim: Claim, opts: BringUpOptions): Promise<Claim> {
  const { runtime } = svc.ctx;
  if (claim.state === "failed" || claim.state === "releasing" || !claim.codespace) {
    throw new CrabboxError({
      code: "lease_not_usable",
      message: `lease ${leaseRef(claim)} is ${claim.state}${claim.codespace ? "" : " and has no codespace"}`,
      why: claim.failure ?? "it is being released or never got a codespace",
      hint: `release it: crabbox-cs stop ${leaseRef(claim)}   or start a new one: crabbox-cs warmup`,
      exit: Exit.refused,
    });
  }
  if (claim.state === "ready" && claim.sshConfigPath && claim.sshHost && existsSync(claim.sshConfigPath)) {
    if (await checkMaster(runtime, claim.sshConfigPath, claim.sshHost)) return claim;
  }
  return svc.store.withLease(claim.leaseId, async (current) => {
    if (!current) throw new CrabboxError({ code: "lease_gone", message: `lease ${leaseRef(claim)} was released meanwhile`, exit: Exit.notFound });
    const { claim: next } = await bringUp(svc, current, opts);
    return next;
  });
}
