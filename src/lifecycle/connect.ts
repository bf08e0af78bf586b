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
import { checkMaster, openMaster, runRemote, type RunRemoteInput } from "../ssh/exec.ts";
import type { ChildExit } from "../runtime.ts";
import { assertReady, probe } from "../ssh/readiness.ts";
import { leaseRef, seen } from "./claims.ts";
import { assertIdentity } from "./identity.ts";
import type { Services } from "./services.ts";
import { waitForCodespace } from "./wait.ts";
import { existsSync } from "node:fs";

export interface BringUpOptions {
  timeoutMs: number;
  /** Fetch the ssh config from gh again even if we have one (after a failed connection). */
  refreshConfig?: boolean;
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
  if (started || opts.refreshConfig || !next.sshConfigPath || !existsSync(next.sshConfigPath)) next = await refreshSshConfig(svc, next);
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
  for (const warning of assertReady(result)) svc.ctx.log.warn(warning);
  svc.ctx.log.debug(`readiness probe ok in ${svc.ctx.runtime.now() - t0}ms (git, rsync, tar, ${claim.workRoot} writable)`);
}

function notUsable(claim: Claim): CrabboxError {
  return new CrabboxError({
    code: "lease_not_usable",
    message: `lease ${leaseRef(claim)} is ${claim.state}${claim.codespace ? "" : " and has no codespace"}`,
    why: claim.failure ?? "it is being released or never got a codespace",
    hint: `release it: crabbox-cs stop ${leaseRef(claim)}   or start a new one: crabbox-cs warmup`,
    exit: Exit.refused,
  });
}

/** Under the lease lock: wait/resume, refresh the ssh config if needed, probe (this opens the master). */
async function bringUpLocked(svc: Services, claim: Claim, opts: BringUpOptions): Promise<Claim> {
  return svc.store.withLease(claim.leaseId, async (current) => (await bringUp(svc, current, opts)).claim);
}

/**
 * Make a lease usable without spending anything when it already is: a
 * "ready" lease with its ssh config is used as it is — no API call, no ssh
 * round trip. Anything else (stopped and kept, interrupted warmup) is brought
 * up: waited for, resumed, probed.
 */
export async function prepareLease(svc: Services, claim: Claim, opts: BringUpOptions): Promise<Claim> {
  if (claim.state === "failed" || claim.state === "releasing" || !claim.codespace) throw notUsable(claim);
  if (claim.state === "ready" && claim.sshConfigPath && claim.sshHost && existsSync(claim.sshConfigPath)) return claim;
  return bringUpLocked(svc, claim, opts);
}

/**
 * Make sure the lease's ControlMaster is up (for rsync and interactive ssh):
 * a live one costs one local check; a dead one is reopened (one tunnel
 * handshake); if that fails, the codespace is checked and brought up.
 */
export async function ensureMaster(svc: Services, claim: Claim, opts: BringUpOptions): Promise<Claim> {
  const { runtime, log } = svc.ctx;
  const cfg = claim.sshConfigPath!;
  const alias = claim.sshHost!;
  if (await checkMaster(runtime, cfg, alias)) return claim;
  if (await openMaster(runtime, cfg, alias)) return claim;
  log.info(`could not connect to ${claim.codespace?.name}: checking the codespace`);
  return bringUpLocked(svc, claim, { ...opts, refreshConfig: true });
}

/**
 * Run the user's command, optimistically: a live master is reused, and
 * otherwise this very ssh opens the connection (no separate probe). When ssh
 * exits 255 and no master exists afterwards, the connection failed before the
 * command could start — so it is safe to bring the lease up (resume a stopped
 * codespace, refresh the config, diagnose a missing sshd) and try once more.
 */
export async function runOnLease(
  svc: Services,
  claim: Claim,
  input: Omit<RunRemoteInput, "configPath" | "alias" | "workRoot">,
  opts: BringUpOptions,
): Promise<{ claim: Claim; exit: ChildExit }> {
  const { runtime, log } = svc.ctx;
  const run = (c: Claim) => runRemote(runtime, { ...input, configPath: c.sshConfigPath!, alias: c.sshHost!, workRoot: c.workRoot });
  const exit = await run(claim);
  if (exit.code !== 255 || (await checkMaster(runtime, claim.sshConfigPath!, claim.sshHost!))) return { claim, exit };
  log.info(`could not connect to ${claim.codespace?.name}: checking the codespace, then retrying (the command did not run)`);
  const next = await bringUpLocked(svc, claim, { ...opts, refreshConfig: true });
  return { claim: next, exit: await run(next) };
}
