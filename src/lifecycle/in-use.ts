/**
 * Using a named lease (run --id, ssh): mark it in use (cleanup leaves it
 * alone), touch it (push its expiry out), prepare it (bring it up unless it
 * is ready), and, for an interactive session, connect (the ControlMaster).
 */
import type { Claim } from "../leases/claim.ts";
import { createLeaseUse, type LeaseUse } from "../leases/usage.ts";
import { ensureMaster, prepareLease } from "./connect.ts";
import type { Services } from "./services.ts";
import { touchLease } from "./touch.ts";

export interface InUseOptions {
  timeoutMs: number;
  /** Open the lease's ControlMaster too (an interactive ssh session). */
  connect?: boolean;
}

/** mark in use → touch → prepare → (connect). The caller's `use` keeps the mark until its `done()`. */
export async function leaseInUse(svc: Services, claim: Claim, use: LeaseUse, opts: InUseOptions): Promise<Claim> {
  await use.mark(claim.leaseId);
  const ready = await prepareLease(svc, await touchLease(svc, claim), { timeoutMs: opts.timeoutMs });
  return opts.connect ? ensureMaster(svc, ready, { timeoutMs: opts.timeoutMs }) : ready;
}

/** The same steps, with the lease marked in use until `fn` ends. */
export async function withLeaseInUse<T>(svc: Services, claim: Claim, opts: InUseOptions, fn: (claim: Claim) => Promise<T>): Promise<T> {
  const use = createLeaseUse(svc.store);
  try {
    return await fn(await leaseInUse(svc, claim, use, opts));
  } finally {
    await use.done();
  }
}
