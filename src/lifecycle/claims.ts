/** Small pure helpers for building and updating claims. */
import type { Codespace } from "../github/schemas.ts";
import type { Claim, ClaimCodespace } from "../leases/claim.ts";

export function bindCodespace(cs: Codespace): ClaimCodespace {
  return {
    id: cs.id,
    name: cs.name,
    environmentId: cs.environment_id,
    ownerLogin: cs.owner.login,
    ownerId: cs.owner.id,
    repositoryId: cs.repository.id,
    repository: cs.repository.full_name,
  };
}

export function seen(claim: Claim, cs: Codespace, now: number): Claim {
  return { ...claim, lastSeen: { state: cs.state, at: new Date(now).toISOString() } };
}

export function isDirty(cs: Codespace): boolean {
  const g = cs.git_status ?? {};
  return Boolean(g.has_uncommitted_changes || g.has_unpushed_changes || (g.ahead ?? 0) > 0);
}

export function dirtyReason(cs: Codespace): string {
  const g = cs.git_status ?? {};
  const parts: string[] = [];
  if (g.has_uncommitted_changes) parts.push("uncommitted changes");
  if (g.has_unpushed_changes || (g.ahead ?? 0) > 0) parts.push(`unpushed commits${g.ahead ? ` (${g.ahead} ahead)` : ""}`);
  return parts.join(" and ");
}

export function leaseRef(claim: Claim): string {
  return claim.slug || claim.leaseId;
}
