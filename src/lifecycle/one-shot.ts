/**
 * The end of a one-shot lease (run without --id, and each shard): released
 * whatever happened, unless kept; a failed release is said, with the command
 * that finishes it, and turned into an exit code.
 */
import { CrabboxError, Exit } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { elapsed } from "../output/format.ts";
import { leaseRef } from "./claims.ts";
import { release } from "./release.ts";
import type { Services } from "./services.ts";

/** Release a one-shot lease; returns a non-zero exit code if that failed. */
export async function releaseOneShot(svc: Services, claim: Claim, keep: boolean, timeoutMs: number): Promise<number> {
  const { log } = svc.ctx;
  // The lease may already be gone (e.g. released because it was unusable).
  const stillClaimed = await svc.store.read(claim.leaseId).catch(() => claim);
  if (!stillClaimed) return 0;
  if (keep) {
    log.info(`lease kept: crabbox-cs run --id ${claim.slug} -- ...   ·   crabbox-cs stop ${claim.slug}`);
    return 0;
  }
  try {
    const t0 = svc.ctx.runtime.now();
    const outcome = await release(svc, claim.leaseId, { timeoutMs: Math.max(timeoutMs, 60_000) });
    log.info(`released lease ${claim.leaseId}: ${outcome.codespace ?? "no codespace"} ${outcome.action} in ${elapsed(svc.ctx.runtime.now() - t0)}`);
    return 0;
  } catch (e) {
    log.error(`releasing lease ${claim.leaseId} failed: ${(e as Error).message}`);
    log.info(`finish it with: crabbox-cs stop ${leaseRef(claim)}`);
    return e instanceof CrabboxError ? e.exit : Exit.unexpected;
  }
}
