/**
 * cleanup: release what our claims prove is ours and has expired; report —
 * never touch — codespaces that look like ours but no claim holds.
 */
import type * as v from "valibot";
import type { CleanupResult as CleanupResultSchema } from "../output/schemas.ts";
import { CrabboxError } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { parseDisplayName } from "../leases/ids.ts";
import { lockHolder } from "../leases/lock.ts";
import { localProbe } from "../leases/proc.ts";
import { describeUser, usersOf } from "../leases/usage.ts";
import { sweepLeftovers } from "./leftovers.ts";
import { drainLocked } from "./pool.ts";
import { poolCleanupReason } from "./pool-decisions.ts";
import { releaseClaim, type ReleaseOutcome } from "./release.ts";
import type { Services } from "./services.ts";

/** The `cleanup --json` document (shape: src/output/schemas.ts). */
export type CleanupResult = v.InferOutput<typeof CleanupResultSchema>;
export type CleanupDecision = CleanupResult["decisions"][number];

/** Why a claim is due for release now, or null if it is not (whether it is in use is asked separately). */
export function dueReason(claim: Claim, now: number): string | null {
  if (claim.state === "failed") return "failed lease: nothing usable was created";
  if (claim.state === "pending") return "interrupted warmup: the process that started it is gone";
  if (claim.state === "releasing") return "interrupted release";
  if (claim.keep) return null;
  if (Date.parse(claim.expiresAt) <= now) return `expired at ${claim.expiresAt}`;
  return null;
}

/** Someone working on the lease: a live in-use marker, or a live holder of its lock. */
export interface LeaseUser {
  pid: number;
  host: string;
}

export type CleanupVerdict = { release: true; reason: string } | { release: false; reason: string };

/**
 * The cleanup rule, pure: a lease in use is never released (whatever its
 * state or expiry); otherwise it is released when due. Made once before the
 * lock (to skip without waiting) and again on the re-read claim under the
 * lease lock, immediately before any stop or delete.
 */
export function cleanupVerdict(claim: Claim, now: number, users: readonly LeaseUser[], poolDue: string | null = null): CleanupVerdict {
  if (users.length > 0) return { release: false, reason: `in use by ${users.map(describeUser).join(", ")}` };
  // A pool lease (pool-decisions.ts: abandoned, idle past pool.idleTtl, spent, draining) is drained.
  const due = poolDue ?? dueReason(claim, now);
  if (due) return { release: true, reason: due };
  return { release: false, reason: claim.keep ? "kept lease" : `not expired (expires ${claim.expiresAt})` };
}

/**
 * One claim: a first look without the lock (a live lock holder or marker: skip
 * at once, never wait), then, if it looks due, the decision again under the
 * lease lock on the re-read claim, immediately before any stop or delete.
 */
export async function cleanupLease(svc: Services, claim: Claim, opts: { dryRun: boolean; timeoutMs: number }): Promise<CleanupDecision> {
  const { store, ctx } = svc;
  const base = { leaseId: claim.leaseId, slug: claim.slug, codespace: claim.codespace?.name ?? null };
  const holder = await lockHolder(store.lockPath(claim.leaseId));
  const holderLive = holder && (holder.host !== localProbe.host || localProbe.alive(holder.pid));
  const users = [...(await usersOf(store, claim.leaseId)), ...(holderLive ? [{ pid: holder.pid, host: holder.host }] : [])];
  const first = cleanupVerdict(claim, ctx.runtime.now(), users, claim.pool ? poolCleanupReason(claim, ctx.runtime.now(), users, ctx.config.pool) : null);
  if (!first.release) return { ...base, action: "skip", reason: first.reason };
  try {
    const r = await store.withLease(claim.leaseId, async (current): Promise<{ skip: string } | { due: string; outcome: ReleaseOutcome }> => {
      const now = ctx.runtime.now();
      const users = await usersOf(store, current.leaseId);
      const poolDue = current.pool ? poolCleanupReason(current, now, users, ctx.config.pool) : null;
      const again = cleanupVerdict(current, now, users, poolDue);
      if (!again.release) return { skip: again.reason.startsWith("in use") ? `now ${again.reason}` : `no longer due: ${again.reason}` };
      if (poolDue) return { due: again.reason, outcome: await drainLocked(svc, current, poolDue, opts.timeoutMs, opts.dryRun) };
      return { due: again.reason, outcome: await releaseClaim(svc, current, { dryRun: opts.dryRun, timeoutMs: opts.timeoutMs }) };
    });
    if ("skip" in r) return { ...base, action: "skip", reason: r.skip };
    return { ...base, codespace: r.outcome.codespace, action: r.outcome.action, reason: `${r.due}; ${r.outcome.reason}` };
  } catch (e) {
    if (!(e instanceof CrabboxError)) throw e;
    if (e.code === "lease_not_found") return { ...base, action: "skip", reason: "released meanwhile by another process" };
    return {
      ...base,
      action: e.code === "codespace_dirty" || e.code === "git_status_unknown" ? "kept-dirty" : "error",
      reason: `${first.reason}; ${e.message}`,
      error: { code: e.code, message: e.message, exitCode: e.exit },
    };
  }
}

export async function cleanup(svc: Services, opts: { dryRun: boolean; timeoutMs: number }): Promise<CleanupResult> {
  const { store } = svc;
  const { claims, corrupt } = await store.list();
  const decisions: CleanupDecision[] = [];

  for (const claim of claims) decisions.push(await cleanupLease(svc, claim, opts));

  // Local files of leases that no claim holds any more (ssh config, proxy log, control socket, sync cache, markers).
  const leftovers = await sweepLeftovers(svc, { dryRun: opts.dryRun });

  // Look-alikes: our display-name format, but no claim holds them. Reported only.
  const api = await svc.api();
  const me = await svc.me();
  const held = new Set(claims.map((c) => c.codespace?.name).filter(Boolean));
  const nonces = new Set(claims.map((c) => c.recovery.displayName));
  for (const cs of await api.listMyCodespaces()) {
    if (held.has(cs.name) || cs.owner.login !== me.login) continue;
    if (!cs.display_name || !parseDisplayName(cs.display_name)) continue;
    if (nonces.has(cs.display_name)) continue; // a pending claim will adopt it
    decisions.push({
      leaseId: null,
      slug: parseDisplayName(cs.display_name)!.slug,
      codespace: cs.name,
      action: "candidate",
      reason: `named like a crabbox lease ("${cs.display_name}") but no local claim holds it: not touched`,
    });
  }
  return { dryRun: opts.dryRun, decisions, corrupt, leftovers };
}
