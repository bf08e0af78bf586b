/**
 * stop / release: under the lease lock, prove the live codespace is the one
 * the claim bound, stop it, re-read it, and delete it only when the policy
 * says so and git_status proves there is no uncommitted or unpushed work
 * (gitVerdict: a missing field is "git status unknown", never "clean").
 * Delete is done when GET answers 404; until then the claim stays
 * ("releasing"). A forgotten or deleted lease takes its local files with it.
 */
import type * as v from "valibot";
import type { ReleaseOutcome as ReleaseOutcomeSchema } from "../output/schemas.ts";
import { CrabboxError, Exit } from "../errors.ts";
import type { Codespace } from "../github/schemas.ts";
import type { Claim } from "../leases/claim.ts";
import { closeMaster } from "../ssh/exec.ts";
import { forgetLease } from "./leftovers.ts";
import { recoverByName } from "./recover.ts";
import { releaseDecision, type ReleaseDecision } from "./decisions.ts";
import type { StopStep } from "../github/states.ts";
import { bindCodespace, gitVerdict, leaseRef, seen } from "./claims.ts";
import { assertSameAccount, identityError } from "./identity.ts";
import type { Services } from "./services.ts";
import { liveView } from "../output/views.ts";
import { STARTED_POLL_CAP_MS, waitForCodespace } from "./wait.ts";

export interface ReleaseOptions {
  /** Override the policy for this call: true = delete (if clean), false = stop only. */
  delete?: boolean;
  timeoutMs: number;
  /** Report what would happen; change nothing. */
  dryRun?: boolean;
}

/** The `stop --json` document (shape: src/output/schemas.ts). */
export type ReleaseOutcome = v.InferOutput<typeof ReleaseOutcomeSchema>;
export type ReleaseAction = ReleaseOutcome["action"];

export async function release(svc: Services, leaseId: string, opts: ReleaseOptions): Promise<ReleaseOutcome> {
  // withLease re-reads the claim under the lock (lease_not_found, exit 4, if another process released it).
  return svc.store.withLease(leaseId, (claim) => releaseClaim(svc, claim, opts));
}

/** Release a claim whose lease lock the caller already holds. The rule is releaseDecision (decisions.ts). */
export async function releaseClaim(svc: Services, claim: Claim, opts: ReleaseOptions): Promise<ReleaseOutcome> {
  const { store, ctx } = svc;
  const { log, runtime } = ctx;
  const api = await svc.api();
  const me = await svc.me();
  const apiUrl = ctx.config.githubCodespaces.apiUrl;
  const base = { leaseId: claim.leaseId, slug: claim.slug };
  // Another account would see the codespace as 404 and wrongly forget it: refuse before any lookup.
  assertSameAccount(claim, me, apiUrl);

  // A claim that never got its codespace bound: a crash between create and bind, or a failed create.
  if (!claim.codespace) {
    const found = await recoverByName(svc, claim, "release");
    if (found.action !== "adopt") {
      if (!opts.dryRun) await forgetLease(svc, claim.leaseId);
      return { ...base, codespace: null, action: "forgotten", reason: found.reason };
    }
    log.info(`lease ${claim.leaseId} had lost track of ${found.codespace.name}; adopting it by its recovery name`);
    claim = seen({ ...claim, codespace: bindCodespace(found.codespace) }, found.codespace, runtime.now());
    if (!opts.dryRun) await store.write(claim);
  }

  const name = claim.codespace!.name;
  const live = await api.getCodespaceOrNull(name);
  const decideOn = (cs: Codespace | null) => releaseDecision({ claim, live: cs, me, apiUrl, override: opts.delete });
  const plan = decideOn(live);
  if (plan.action === "forget") {
    if (!opts.dryRun) await forgetLease(svc, claim.leaseId);
    return { ...base, codespace: name, action: "forgotten", reason: plan.reason };
  }
  if (plan.action === "refuse") throw identityError(claim, live!, plan.mismatches);

  if (opts.dryRun) {
    // Before the stop, git_status may still change: the real decision is made after it.
    return {
      ...base,
      codespace: name,
      action: plan.action === "delete" ? "would-delete" : "would-stop",
      reason:
        plan.action === "delete" ? "policy: delete on release"
        : plan.action === "refuse-delete" ? (plan.code === "git_status_unknown" ? `${plan.reason}: would stop, not delete` : `has ${plan.reason}: would stop, not delete`)
        : claim.keep ? "kept lease: stop only" : "policy: stop on release",
    };
  }

  if (claim.sshConfigPath && claim.sshHost) await closeMaster(runtime, claim.sshConfigPath, claim.sshHost);

  try {
    return await stopThenDelete(svc, claim, { name, live: live!, stop: plan.stop }, opts, decideOn);
  } catch (e) {
    // Gone while we released it (a delete an interrupted release had requested completed, say): that is
    // the end a release works towards, and it is confirmed by a GET answering 404, as any delete is.
    if (!(e instanceof CrabboxError) || !GONE_CODES.has(e.code) || (await api.getCodespaceOrNull(name))) throw e;
    log.info(`codespace ${name} is gone; forgetting lease ${claim.leaseId}`);
    await forgetLease(svc, claim.leaseId);
    return { ...base, codespace: name, action: "forgotten", reason: "the codespace disappeared during the release" };
  }
}

/** What the API (404) and the wait say when the codespace no longer exists. */
const GONE_CODES = new Set(["codespace_not_found", "codespace_gone"]);

/** The stop, the decision made again on what it left, then the delete when that decision says so. */
async function stopThenDelete(
  svc: Services,
  claim: Claim,
  first: { name: string; live: Codespace; stop: StopStep },
  opts: ReleaseOptions,
  decideOn: (live: Codespace | null) => ReleaseDecision,
): Promise<ReleaseOutcome> {
  const { store, ctx } = svc;
  const { log, runtime } = ctx;
  const api = await svc.api();
  const base = { leaseId: claim.leaseId, slug: claim.slug };
  const { name, stop } = first;
  let live = first.live;
  // Stop first (a running codespace's git_status can still change).
  if (stop !== "none") {
    if (stop === "stop") {
      log.info(`stopping codespace ${name}`);
      live = await api.stopCodespace(name);
    }
    live = await waitForCodespace(svc, { name, target: "Shutdown", timeoutMs: opts.timeoutMs, leaseRef: leaseRef(claim), requested: stop === "stop" });
  }
  const final = decideOn(live);
  if (final.action === "refuse") throw identityError(claim, live!, final.mismatches);
  claim = seen(claim, live!, runtime.now());

  if (final.action === "stop" || final.action === "forget") {
    await store.write({ ...claim, state: "released" });
    return { ...base, codespace: name, action: "stopped", reason: final.reason };
  }
  if (final.action === "refuse-delete") {
    await store.write({ ...claim, state: "released", failure: `not deleted: ${final.reason}` });
    throw dirtyError(claim, live!);
  }

  await store.write({ ...claim, state: "releasing" });
  log.info(`deleting codespace ${name}`);
  await api.deleteCodespace(name);
  const gone = await waitUntilGone(svc, name, opts.timeoutMs);
  if (!gone) {
    throw new CrabboxError({
      code: "delete_unconfirmed",
      message: `GitHub accepted the delete of ${name}, but it still exists`,
      why: "deletion is asynchronous and has not completed yet; the lease is kept until it has",
      hint: `check again later: crabbox-cs stop ${leaseRef(claim)}`,
      exit: Exit.timeout,
    });
  }
  await forgetLease(svc, claim.leaseId);
  return { ...base, codespace: name, action: "deleted", reason: final.reason };
}

async function waitUntilGone(svc: Services, name: string, timeoutMs: number): Promise<boolean> {
  const { runtime } = svc.ctx;
  const api = await svc.api();
  const deadline = runtime.now() + Math.min(timeoutMs, 120_000);
  for (let i = 0; ; i++) {
    if (!(await api.getCodespaceOrNull(name))) return true;
    if (runtime.now() >= deadline) return false;
    // A delete we asked for: polled closely (GitHub takes seconds; a wide gap would be waited for in full).
    await runtime.sleep(Math.min(250 * 2 ** i, STARTED_POLL_CAP_MS));
  }
}

/** Why a stopped codespace was not deleted: unsaved work (codespace_dirty) or a git_status that cannot prove it clean (git_status_unknown). Both exit 5. */
export function dirtyError(claim: Claim, live: Codespace): CrabboxError {
  const git = gitVerdict(live.git_status);
  if (git.unknown) {
    return new CrabboxError({
      code: "git_status_unknown",
      message: `not deleting codespace ${live.name}: ${git.reason}`,
      why: "GitHub's git_status lacks has_uncommitted_changes, has_unpushed_changes or a usable ahead count, so it cannot prove there is no unsaved work; the codespace is stopped and the lease kept",
      hint: `inspect it: gh codespace ssh -c ${live.name} -- git -C /workspaces/${claim.repo.split("/").pop()} status  (or ${live.web_url}); if nothing needs saving, delete it: gh codespace delete -c ${live.name}, then: crabbox-cs stop ${leaseRef(claim)}`,
      exit: Exit.refused,
      // As GitHub sent it: the missing keys stay missing.
      details: { codespace: live.name, gitStatus: live.git_status ?? null },
    });
  }
  return new CrabboxError({
    code: "codespace_dirty",
    message: `not deleting codespace ${live.name}: it has ${git.reason}`,
    why: "deleting would lose that work; the codespace is stopped and the lease kept",
    hint: `inspect it: gh codespace ssh -c ${live.name}  (or ${live.web_url}); push or discard the work, then: crabbox-cs stop ${leaseRef(claim)}`,
    exit: Exit.refused,
    details: { codespace: live.name, gitStatus: liveView(live).gitStatus },
  });
}
