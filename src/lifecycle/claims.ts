/** Small pure helpers for building and updating claims. */
import type { Codespace, GitStatus } from "../github/schemas.ts";
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

/** What the live git_status allows: delete only when it proves there is no unsaved work. */
export interface GitVerdict {
  deletable: boolean;
  /** "clean", what unsaved work there is, or "git status unknown". */
  reason: string;
  /** True when the answer lacks a field needed to prove the codespace clean (and shows no work). */
  unknown: boolean;
}

export const GIT_STATUS_UNKNOWN = "git status unknown";

/**
 * The delete rule, claim-free. Deletable only when both booleans are present
 * and false and `ahead` is 0 or absent. Known unsaved work wins over a missing
 * field (the reason names the work); otherwise any missing boolean, or a
 * missing git_status, is "git status unknown": stop, never delete.
 */
export function gitVerdict(g: GitStatus | null | undefined): GitVerdict {
  const work: string[] = [];
  if (g?.has_uncommitted_changes === true) work.push("uncommitted changes");
  const ahead = g?.ahead;
  if (g?.has_unpushed_changes === true || (typeof ahead === "number" && ahead > 0)) {
    work.push(`unpushed commits${typeof ahead === "number" && ahead > 0 ? ` (${ahead} ahead)` : ""}`);
  }
  if (work.length > 0) return { deletable: false, reason: work.join(" and "), unknown: false };
  const proven =
    g?.has_uncommitted_changes === false &&
    g?.has_unpushed_changes === false &&
    (ahead === undefined || ahead === 0);
  if (!proven) return { deletable: false, reason: GIT_STATUS_UNKNOWN, unknown: true };
  return { deletable: true, reason: "clean", unknown: false };
}

export function leaseRef(claim: Claim): string {
  return claim.slug || claim.leaseId;
}
