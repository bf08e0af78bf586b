/** Using a lease keeps it alive, so that cleanup only releases leases nobody uses. */
import type { Claim } from "../leases/claim.ts";
import type { Services } from "./services.ts";

/**
 * When less than half of the lease's TTL is left, push `expiresAt` out to a
 * full TTL from now. Most uses write nothing (one claim write per half TTL).
 */
export async function touchLease(svc: Services, claim: Claim): Promise<Claim> {
  const ttl = claim.ttlMs;
  if (!ttl || claim.keep) return claim;
  const now = svc.ctx.runtime.now();
  if (Date.parse(claim.expiresAt) - now > ttl / 2) return claim;
  return svc.store
    .withLease(claim.leaseId, async (current) => {
      const next = { ...current, expiresAt: new Date(now + ttl).toISOString() };
      await svc.store.write(next);
      return next;
    })
    .catch(() => claim); // best effort: never fail a run over it
}
