/** Finding the codespace of a lease whose create answer was lost, by its recovery display name. */
import { CrabboxError, Exit } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { recoveryDecision, type RecoveryAsker, type RecoveryDecision } from "./decisions.ts";
import type { Services } from "./services.ts";

/**
 * Look for the codespace a lost create may have made (see recoveryDecision):
 * same repo, same authenticated owner, display name carrying this lease's
 * nonce. GitHub may take a moment to list it: "none" is asked three times.
 * Several candidates → recovery_ambiguous (exit 5).
 */
export async function recoverByName(svc: Services, claim: Claim, asker: RecoveryAsker): Promise<Exclude<RecoveryDecision, { action: "refuse" }>> {
  if (claim.state === "failed") return recoveryDecision(claim, [], await svc.me(), asker) as Exclude<RecoveryDecision, { action: "refuse" }>;
  const api = await svc.api();
  const me = await svc.me();
  const { runtime } = svc.ctx;
  for (let attempt = 0; ; attempt++) {
    const d = recoveryDecision(claim, await api.listRepoCodespaces(claim.repo), me, asker);
    if (d.action === "refuse") {
      throw new CrabboxError({
        code: "recovery_ambiguous",
        message: `${d.candidates.length} codespaces carry lease ${claim.leaseId}'s recovery name "${claim.recovery.displayName}"`,
        why: `refusing to guess which one is ours: ${d.candidates.join(", ")}`,
        hint: `inspect them with: gh codespace list -R ${claim.repo}; delete the extra ones yourself`,
        exit: Exit.refused,
        details: { candidates: d.candidates },
      });
    }
    if (d.action === "adopt" || attempt >= 2) return d;
    await runtime.sleep(1000 * (attempt + 1));
  }
}
