/**
 * Where each shard's lease comes from. ONE function, so that borrowing from
 * the ready pool (run --pool) is a one-line swap here: today every shard gets
 * a fresh one-shot lease exactly as `run` without --id does.
 */
import { acquire, type AcquireOptions, type AcquireResult } from "./acquire.ts";
import type { Services } from "./services.ts";

export async function acquireShardLease(svc: Services, opts: AcquireOptions): Promise<AcquireResult> {
  return acquire(svc, opts);
}
