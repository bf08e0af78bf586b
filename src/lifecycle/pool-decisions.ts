/**
 * The ready pool's decisions as pure functions over claims, the pool config,
 * the clock and who is using a lease: which lease a run borrows, whether a
 * returned lease goes back to `ready` or is drained, and which leases cleanup
 * and `pool drain` may drain. pool.ts does the I/O around them.
 * Table-tested in tests/unit/pool-decisions.test.ts.
 */
import type { Claim, ClaimPool } from "../leases/claim.ts";
import type { PoolConfig } from "../config/keys.ts";
import type { Codespace, GithubUser } from "../github/schemas.ts";

/** What a pool lease is for: the repository, ref, machine and devcontainer path as configured (empty = the default). */
export interface PoolKeyInput {
  repo: string;
  ref: string;
  machine: string;
  devcontainerPath: string;
}

/** The pool key: readable ("octo/app", "octo/app@dev machine=premiumLinux"), and equal exactly when the four settings are. */
export function poolKey(k: PoolKeyInput): string {
  return `${k.repo}${k.ref ? `@${k.ref}` : ""}${k.machine ? ` machine=${k.machine}` : ""}${k.devcontainerPath ? ` devcontainer=${k.devcontainerPath}` : ""}`;
}

export type PoolLimits = Pick<PoolConfig, "maxUses" | "maxAgeMs" | "idleTtlMs">;

/** Why this pool lease must not be used again (maxUses, maxAge), or null. */
export function spentReason(claim: Claim, pool: ClaimPool, now: number, limits: PoolLimits): string | null {
  if (limits.maxUses > 0 && pool.uses >= limits.maxUses) return `used ${pool.uses} times (pool.maxUses ${limits.maxUses})`;
  const age = now - Date.parse(claim.createdAt);
  if (limits.maxAgeMs > 0 && age >= limits.maxAgeMs) return `older than pool.maxAge (${Math.round(age / 60_000)} min)`;
  return null;
}

export type BorrowCandidate = { claim: Claim; why: string };

/**
 * The leases a run may borrow, best first: same pool key and API, `ready`
 * in the pool, a codespace bound, the claim usable (ready, or stopped and
 * kept), not spent. A running codespace comes before a stopped one; then
 * the least recently returned.
 */
export function borrowCandidates(claims: readonly Claim[], key: string, apiUrl: string, now: number, limits: PoolLimits): Claim[] {
  const ok = claims.filter(
    (c) =>
      c.pool?.key === key &&
      c.pool.state === "ready" &&
      c.apiUrl === apiUrl &&
      c.codespace !== null &&
      (c.state === "ready" || (c.state === "released" && c.keep)) &&
      spentReason(c, c.pool, now, limits) === null,
  );
  const rank = (c: Claim) => (c.state === "ready" ? 0 : 1);
  return ok.sort((a, b) => rank(a) - rank(b) || (a.pool!.returnedAt ?? a.createdAt).localeCompare(b.pool!.returnedAt ?? b.createdAt));
}

/** How the borrowed run ended, as far as the pool cares. */
export interface RunEnd {
  interrupted: boolean;
  connectionLost: boolean;
  /** The code of a crabbox-cs error on the way (sync failed, codespace gone, ...); null when none (the command's own status does not count). */
  failed?: string | null;
}

export type ReturnDecision =
  | { action: "return"; stop: boolean; reason: string }
  | { action: "drain"; reason: string };

/** After a run: back to `ready` (stopped first with pool.stopIdle), or drained. `pool.uses` already counts this run. */
export function returnDecision(claim: Claim, pool: ClaimPool, end: RunEnd, now: number, cfg: PoolLimits & Pick<PoolConfig, "stopIdle">): ReturnDecision {
  if (end.interrupted) return { action: "drain", reason: "the run was interrupted" };
  if (end.connectionLost) return { action: "drain", reason: "the connection was lost while the command ran" };
  if (end.failed) return { action: "drain", reason: `the run failed (${end.failed}): the lease's state is not known to be good` };
  if (claim.state !== "ready") return { action: "drain", reason: `the lease is ${claim.state}, not ready` };
  const spent = spentReason(claim, pool, now, cfg);
  if (spent) return { action: "drain", reason: spent };
  return cfg.stopIdle ? { action: "return", stop: true, reason: "pool.stopIdle: stopped, ready" } : { action: "return", stop: false, reason: "ready" };
}

/** Someone working on the lease now: a live in-use marker (or a live lock holder). */
export interface PoolUser {
  pid: number;
  host: string;
}

/**
 * Whether cleanup drains a pool lease (null: not a pool matter, cleanup's own
 * rule applies). Never while anyone uses it. A `busy` lease nobody uses any
 * more was abandoned (its borrower died: its in-use marker is provably
 * stale); a `ready` one unused past pool.idleTtl, a spent one, and one
 * already `draining` are drained too.
 */
export function poolCleanupReason(claim: Claim, now: number, users: readonly PoolUser[], cfg: PoolLimits): string | null {
  const pool = claim.pool;
  if (!pool || users.length > 0) return null;
  if (pool.state === "busy") return "abandoned: busy, but its borrower is gone";
  if (pool.state === "draining") return `draining${pool.drainReason ? `: ${pool.drainReason}` : ""}`;
  const spent = spentReason(claim, pool, now, cfg);
  if (spent) return spent;
  const idleSince = Date.parse(pool.returnedAt ?? claim.createdAt);
  if (cfg.idleTtlMs > 0 && now - idleSince >= cfg.idleTtlMs) return `idle since ${pool.returnedAt ?? claim.createdAt} (pool.idleTtl)`;
  return null;
}

export type DrainVerdict = { drain: true; reason: string } | { drain: false; reason: string };

/** `pool drain`: any pool lease nobody uses; a busy lease with a live borrower never. */
export function drainVerdict(claim: Claim, users: readonly PoolUser[]): DrainVerdict {
  if (!claim.pool) return { drain: false, reason: "not a pool lease" };
  if (users.length > 0) return { drain: false, reason: `in use by ${users.map((u) => `process ${u.pid} on host ${u.host}`).join(", ")}` };
  return { drain: true, reason: claim.pool.state === "busy" ? "abandoned: busy, but its borrower is gone" : `pool drain (was ${claim.pool.state})` };
}

/** A pool record for a fresh lease (prewarm): busy until hydrated. */
export function newPoolRecord(key: string): ClaimPool {
  return { key, state: "busy", uses: 0, borrowedAt: null, returnedAt: null, drainReason: null };
}

/**
 * A pool lease whose codespace no longer matches its claim (repository,
 * environment id, ...) is never deleted. It is stopped when the codespace is
 * still the authenticated user's (stopping loses nothing and ends the bill
 * for compute); otherwise it is not touched at all.
 */
export function identityDrainAction(live: Pick<Codespace, "owner">, me: Pick<GithubUser, "login" | "id">): "stop" | "refuse" {
  return live.owner.login === me.login && live.owner.id === me.id ? "stop" : "refuse";
}
