/**
 * The identity check that guards every mutation (stop, delete, cleanup): the
 * live codespace must be the one the claim bound, owned by the claim's user,
 * seen through the same API, by the same authenticated user.
 */
import { CrabboxError, Exit } from "../errors.ts";
import type { Codespace } from "../github/schemas.ts";
import type { Claim } from "../leases/claim.ts";
import type { GithubUser } from "../github/schemas.ts";

export interface Mismatch {
  field: string;
  claim: unknown;
  live: unknown;
}

export function identityMismatches(claim: Claim, live: Codespace, me: GithubUser, apiUrl: string): Mismatch[] {
  const out: Mismatch[] = [];
  const bound = claim.codespace;
  const check = (field: string, a: unknown, b: unknown) => {
    if (a !== b) out.push({ field, claim: a, live: b });
  };
  check("apiUrl", claim.apiUrl, apiUrl);
  check("github.login (authenticated user)", claim.github.login, me.login);
  check("github.id (authenticated user)", claim.github.id, me.id);
  if (!bound) {
    out.push({ field: "codespace", claim: null, live: live.name });
    return out;
  }
  check("codespace.name", bound.name, live.name);
  check("codespace.id", bound.id, live.id);
  check("codespace.environmentId", bound.environmentId, live.environment_id);
  check("codespace.repository", bound.repository, live.repository.full_name);
  check("codespace.repositoryId", bound.repositoryId, live.repository.id);
  check("codespace.owner.login", bound.ownerLogin, live.owner.login);
  check("codespace.owner.id", bound.ownerId, live.owner.id);
  return out;
}

/**
 * Before looking anything up: are we the same account on the same API? A
 * different user would see the codespace as 404 and we would wrongly forget it.
 */
export function accountMismatches(claim: Claim, me: GithubUser, apiUrl: string): Mismatch[] {
  const fields: Mismatch[] = [];
  if (claim.apiUrl !== apiUrl) fields.push({ field: "apiUrl", claim: claim.apiUrl, live: apiUrl });
  if (claim.github.login !== me.login) fields.push({ field: "github.login (authenticated user)", claim: claim.github.login, live: me.login });
  else if (claim.github.id !== me.id) fields.push({ field: "github.id (authenticated user)", claim: claim.github.id, live: me.id });
  return fields;
}

export function assertSameAccount(claim: Claim, me: GithubUser, apiUrl: string): void {
  const fields = accountMismatches(claim, me, apiUrl);
  if (fields.length === 0) return;
  const f = fields[0]!;
  throw new CrabboxError({
    code: "identity_mismatch",
    message: `refusing to act on lease ${claim.leaseId}: ${f.field} differs`,
    why: `the lease was made with ${JSON.stringify(f.claim)}, you are now ${JSON.stringify(f.live)}; nothing was changed`,
    hint: f.field === "apiUrl" ? `use --github-codespaces-api-url ${claim.apiUrl}` : `authenticate as ${claim.github.login} (gh auth switch, or GH_TOKEN) and retry`,
    exit: Exit.refused,
    details: { mismatches: fields },
  });
}

export function assertIdentity(claim: Claim, live: Codespace, me: GithubUser, apiUrl: string): void {
  const mismatches = identityMismatches(claim, live, me, apiUrl);
  if (mismatches.length > 0) throw identityError(claim, live, mismatches);
}

/** Refusing to touch a codespace that is not the one the claim bound (exit 5). */
export function identityError(claim: Claim, live: Codespace, mismatches: Mismatch[]): CrabboxError {
  const first = mismatches[0]!;
  return new CrabboxError({
    code: "identity_mismatch",
    message: `refusing to touch codespace ${live.name}: ${first.field} differs from lease ${claim.leaseId}`,
    why: `claim has ${JSON.stringify(first.claim)}, GitHub reports ${JSON.stringify(first.live)}${
      mismatches.length > 1 ? ` (and ${mismatches.length - 1} more field(s): ${mismatches.slice(1).map((m) => m.field).join(", ")})` : ""
    }; nothing was changed`,
    hint: `if this codespace really is yours, manage it with gh: gh codespace stop -c ${live.name}; to forget the lease: remove ${claim.leaseId}.json from the claims directory`,
    exit: Exit.refused,
    details: { mismatches },
  });
}
