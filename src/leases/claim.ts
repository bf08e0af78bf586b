/**
 * The claim: the local proof that a lease (and the codespace bound to it) is
 * ours. Stored as ~/.crabbox/claims/<leaseId>.json, version 1. No secrets.
 */
import { existsSync } from "node:fs";
import * as v from "valibot";
import { PROVIDER } from "../provider.ts";

export { PROVIDER };

export const LEASE_ID_RE = /^cbx_[a-z2-7]{12}$/;

export const ClaimState = v.picklist([
  "pending", // claim written, codespace not yet created/bound
  "ready", // codespace bound and usable
  "releasing", // stop/delete in progress (delete requested, not yet confirmed)
  "released", // stopped and kept, or otherwise released but still holding the codespace
  "failed", // nothing usable was created (see failure)
]);
export type ClaimState = v.InferOutput<typeof ClaimState>;

export const ClaimCodespace = v.object({
  id: v.number(),
  name: v.string(),
  environmentId: v.nullable(v.string()),
  ownerLogin: v.string(),
  ownerId: v.number(),
  repositoryId: v.number(),
  repository: v.string(), // owner/name
});
export type ClaimCodespace = v.InferOutput<typeof ClaimCodespace>;

/** A pool lease's place in the ready pool (docs/lifecycle.md#the-ready-pool). Who borrowed it is its in-use marker (usage.ts). */
export const PoolState = v.picklist([
  "ready", // idle in the pool: may be borrowed
  "busy", // borrowed by a run (or being hydrated by prewarm): never drained while its borrower lives
  "draining", // to be released (maxUses, maxAge, interrupted, lost connection, unsafe to delete)
]);
export type PoolState = v.InferOutput<typeof PoolState>;

export const ClaimPool = v.object({
  /** Which runs may borrow it: repo, ref, machine and devcontainer path as configured (poolKey, pool-decisions.ts). */
  key: v.string(),
  state: PoolState,
  /** Runs that borrowed it so far. */
  uses: v.number(),
  borrowedAt: v.nullable(v.string()),
  returnedAt: v.nullable(v.string()),
  /** Why it is draining, when it is. */
  drainReason: v.nullable(v.string()),
});
export type ClaimPool = v.InferOutput<typeof ClaimPool>;

export const ClaimSchema = v.object({
  version: v.literal(1),
  provider: v.literal(PROVIDER),
  leaseId: v.pipe(v.string(), v.regex(LEASE_ID_RE)),
  slug: v.string(),
  state: ClaimState,
  createdAt: v.string(), // ISO 8601
  updatedAt: v.string(),
  expiresAt: v.string(),
  /** The lease's time to live: using it (run --id, ssh) pushes expiresAt out again. */
  ttlMs: v.optional(v.number()),
  keep: v.boolean(),
  apiUrl: v.string(),
  github: v.object({ login: v.string(), id: v.number() }),
  repo: v.string(), // owner/name
  ref: v.string(),
  pr: v.nullable(v.number()),
  machine: v.string(),
  devcontainerPath: v.string(),
  workingDirectory: v.string(),
  workRoot: v.string(),
  deleteOnRelease: v.boolean(),
  recovery: v.object({ nonce: v.string(), displayName: v.string() }),
  codespace: v.nullable(ClaimCodespace),
  /** Last state seen on GitHub, and when. */
  lastSeen: v.nullable(v.object({ state: v.string(), at: v.string() })),
  sshConfigPath: v.nullable(v.string()),
  sshHost: v.nullable(v.string()),
  lastSync: v.nullable(v.object({ fingerprint: v.string(), at: v.string() })),
  /** Why the lease failed, when state is "failed". */
  failure: v.nullable(v.string()),
  /** Present only on pool leases (prewarm); older claims have none. */
  pool: v.optional(ClaimPool),
});
export type Claim = v.InferOutput<typeof ClaimSchema>;

/**
 * A lease usable as it is: ready, with its ssh config on disk (run --id uses it without an API call
 * or a bring-up: lifecycle/connect.ts prepareLease, and the session opened ahead of a run).
 */
export function usableAsIs(claim: Claim): claim is Claim & { sshConfigPath: string; sshHost: string } {
  return claim.state === "ready" && Boolean(claim.sshConfigPath) && Boolean(claim.sshHost) && existsSync(claim.sshConfigPath!);
}
