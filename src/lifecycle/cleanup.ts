/**
 * cleanup: release what our claims prove is ours and has expired; report —
 * never touch — codespaces that look like ours but no claim holds.
 */
import type * as v from "valibot";
import type { CleanupResult as CleanupResultSchema } from "../output/schemas.ts";
import { CrabboxError } from "../errors.ts";
import { listMyCodespaces } from "../github/operations.ts";
import type { Claim } from "../leases/claim.ts";
import { parseDisplayName } from "../leases/ids.ts";
import { lockHolder, pidAlive } from "../leases/lock.ts";
import { usersOf } from "../leases/usage.ts";
import { release, type ReleaseOutcome } from "./release.ts";
import type { Services } from "./services.ts";

/** The `cleanup --json` document (shape: src/output/schemas.ts). */
export type CleanupResult = v.InferOutput<typeof CleanupResultSchema>;
export type CleanupDecision = CleanupResult["decisions"][number];

/** Why a claim is due for release now, or null if it is not. `busy`: a live process holds its lock. */
export function dueReason(claim: Claim, now: number, busy = false): string | null {
  if (busy) return null;
  if (claim.state === "failed") return "failed lease: nothing usable was created";
  if (claim.state === "pending") return "interrupted warmup: the process that started it is gone";
  if (claim.state === "releasing") return "interrupted release";
  if (claim.keep) return null;
  if (Date.parse(claim.expiresAt) <= now) return `expired at ${claim.expiresAt}`;
  return null;
}

export async function cleanup(svc: Services, opts: { dryRun: boolean; timeoutMs: number }): Promise<CleanupResult> {
  const { store, ctx } = svc;
  const now = ctx.runtime.now();
  const { claims, corrupt } = await store.list();
  const decisions: CleanupDecision[] = [];

  for (const claim of claims) {
    const base = { leaseId: claim.leaseId, slug: claim.slug, codespace: claim.codespace?.name ?? null };
    const holder = await lockHolder(store.lockPath(claim.leaseId));
    const users = await usersOf(store, claim.leaseId);
    const busyPid = holder && pidAlive(holder.pid) ? holder.pid : users[0];
    const busy = busyPid !== undefined;
    const due = dueReason(claim, now, busy);
    if (!due) {
      decisions.push({
        ...base,
        action: "skip",
        reason: busy ? `in use by process ${busyPid}` : claim.keep ? "kept lease" : `not expired (expires ${claim.expiresAt})`,
      });
      continue;
    }
    try {
      const outcome: ReleaseOutcome = await release(svc, claim.leaseId, { dryRun: opts.dryRun, timeoutMs: opts.timeoutMs });
      decisions.push({ ...base, codespace: outcome.codespace, action: outcome.action, reason: `${due}; ${outcome.reason}` });
    } catch (e) {
      if (!(e instanceof CrabboxError)) throw e;
      decisions.push({
        ...base,
        action: e.code === "codespace_dirty" ? "kept-dirty" : "error",
        reason: `${due}; ${e.message}`,
        error: { code: e.code, message: e.message, exitCode: e.exit },
      });
    }
  }

  // Look-alikes: our display-name format, but no claim holds them. Reported only.
  const client = await svc.github();
  const me = await svc.me();
  const held = new Set(claims.map((c) => c.codespace?.name).filter(Boolean));
  const nonces = new Set(claims.map((c) => c.recovery.displayName));
  for (const cs of await listMyCodespaces(client)) {
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
  return { dryRun: opts.dryRun, decisions, corrupt };
}
