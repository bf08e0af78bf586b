/**
 * Where each shard's lease comes from, and where it goes afterwards: a ready
 * pool lease of this pool key when one is free (borrowed as `run --pool`
 * borrows, and returned), otherwise a fresh one-shot lease, acquired and
 * released exactly as `run` without --id does.
 */
import type { Claim } from "../leases/claim.ts";
import { acquire, type AcquireOptions } from "./acquire.ts";
import { releaseOneShot } from "./one-shot.ts";
import { borrowFromPool, returnToPool } from "./pool.ts";
import type { RunEnd } from "./pool-decisions.ts";
import type { Services } from "./services.ts";

export interface ShardLease {
  claim: Claim;
  elapsedMs: number;
  /** Borrowed from the ready pool: it goes back with endShardLease, never released as a one-shot lease. */
  pooled: boolean;
}

export async function acquireShardLease(svc: Services, opts: Omit<AcquireOptions, "pool"> & { borrow: boolean }): Promise<ShardLease> {
  const t0 = svc.ctx.runtime.now();
  if (opts.borrow && opts.use) {
    const claim = await borrowFromPool(svc, { use: opts.use, timeoutMs: opts.timeoutMs });
    if (claim) {
      opts.onClaim?.(claim);
      return { claim, elapsedMs: svc.ctx.runtime.now() - t0, pooled: true };
    }
  }
  const { borrow: _, ...fresh } = opts;
  const got = await acquire(svc, fresh);
  return { claim: got.claim, elapsedMs: got.elapsedMs, pooled: false };
}

/** The end of a shard's lease: a pool lease is returned (or drained), a fresh one released unless kept. Returns a non-zero exit code when that failed. */
export async function endShardLease(svc: Services, claim: Claim, pooled: boolean, end: RunEnd, opts: { keep: boolean; timeoutMs: number }): Promise<number> {
  if (!pooled) return releaseOneShot(svc, claim, opts.keep, opts.timeoutMs);
  const outcome = await returnToPool(svc, claim, end, { timeoutMs: opts.timeoutMs });
  return outcome.action === "drained" && outcome.error ? outcome.error.exit : 0;
}
