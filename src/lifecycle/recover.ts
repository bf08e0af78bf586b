/** Finding the codespace of a lease whose create answer was lost, by its recovery display name. */
import { CrabboxError, Exit } from "../errors.ts";
import type { Codespace } from "../github/schemas.ts";
import type { Claim } from "../leases/claim.ts";
import type { Services } from "./services.ts";

/**
 * Look for the codespace a lost create may have made: same repo, same
 * authenticated owner, display name carrying this lease's nonce. Exactly one
 * → it; none → null; several → refuse.
 */
export async function findByRecoveryName(svc: Services, claim: Claim): Promise<Codespace | null> {
  const api = await svc.api();
  const me = await svc.me();
  const { runtime } = svc.ctx;
  // GitHub may take a moment to list a codespace whose create answer was lost.
  for (let attempt = 0; attempt < 3; attempt++) {
    const list = await api.listRepoCodespaces(claim.repo);
    const matches = list.filter((c) => c.display_name === claim.recovery.displayName && c.owner.login === me.login);
    if (matches.length > 1) {
      throw new CrabboxError({
        code: "recovery_ambiguous",
        message: `${matches.length} codespaces carry lease ${claim.leaseId}'s recovery name "${claim.recovery.displayName}"`,
        why: `refusing to guess which one is ours: ${matches.map((m) => m.name).join(", ")}`,
        hint: `inspect them with: gh codespace list -R ${claim.repo}; delete the extra ones yourself`,
        exit: Exit.refused,
        details: { candidates: matches.map((m) => m.name) },
      });
    }
    if (matches.length === 1) return matches[0]!;
    if (attempt < 2) await runtime.sleep(1000 * (attempt + 1));
  }
  return null;
}
