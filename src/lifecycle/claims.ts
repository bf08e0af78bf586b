/** Small pure helpers for building and updating claims. */
import type { Codespace, GithubUser, GitStatus } from "../github/schemas.ts";
import { PROVIDER, type Claim, type ClaimCodespace } from "../leases/claim.ts";

/** What a new claim is made of; everything else starts empty (null). */
export interface NewClaim {
  leaseId: string;
  slug: string;
  state: "pending" | "ready";
  /** Creation time (epoch ms): createdAt and updatedAt. */
  now: number;
  expiresAt: string;
  ttlMs?: number;
  keep: boolean;
  apiUrl: string;
  me: GithubUser;
  repo: string;
  ref: string;
  pr: number | null;
  machine: string;
  devcontainerPath: string;
  workingDirectory: string;
  workRoot: string;
  deleteOnRelease: boolean;
  recovery: Claim["recovery"];
  codespace?: ClaimCodespace | null;
}

/** The one way a claim (version 1) is built: by warmup before its create, and by stop --reclaim. */
export function newClaim(f: NewClaim): Claim {
  const at = new Date(f.now).toISOString();
  return {
    version: 1,
    provider: PROVIDER,
    leaseId: f.leaseId,
    slug: f.slug,
    state: f.state,
    createdAt: at,
    updatedAt: at,
    expiresAt: f.expiresAt,
    ...(f.ttlMs !== undefined ? { ttlMs: f.ttlMs } : {}),
    keep: f.keep,
    apiUrl: f.apiUrl,
    github: { login: f.me.login, id: f.me.id },
    repo: f.repo,
    ref: f.ref,
    pr: f.pr,
    machine: f.machine,
    devcontainerPath: f.devcontainerPath,
    workingDirectory: f.workingDirectory,
    workRoot: f.workRoot,
    deleteOnRelease: f.deleteOnRelease,
    recovery: f.recovery,
    codespace: f.codespace ?? null,
    lastSeen: null,
    sshConfigPath: null,
    sshHost: null,
    lastSync: null,
    failure: null,
  };
}

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
