/**
 * stop --reclaim NAME: adopt a codespace that lost its claim (e.g. the claims
 * directory was wiped) so that it can be released safely. Only a codespace of
 * the authenticated user whose display name carries our recovery format
 * qualifies, and the user must name it in full: that is the confirmation.
 */
import { CrabboxError, Exit } from "../errors.ts";
import { newLeaseId } from "../leases/ids.ts";
import { reclaimDecision } from "./decisions.ts";
import { createLeaseUse } from "../leases/usage.ts";
import { bindCodespace, newClaim, seen } from "./claims.ts";
import { releaseClaim, type ReleaseOptions, type ReleaseOutcome } from "./release.ts";
import { defaultWorkRoot } from "./repo.ts";
import type { Services } from "./services.ts";

export async function reclaim(svc: Services, name: string, opts: ReleaseOptions): Promise<ReleaseOutcome> {
  const { ctx, store } = svc;
  const cfg = ctx.config.githubCodespaces;
  const api = await svc.api();
  const me = await svc.me();
  const { claims } = await store.list();
  // No API call for a codespace a claim already holds.
  const first = reclaimDecision(name, undefined, me, claims);
  const found = first.action === "lookup" ? await api.getCodespaceOrNull(name) : null;
  const d = first.action === "lookup" ? reclaimDecision(name, found, me, claims) : first;
  if (d.action === "refuse" && d.code === "already_claimed") {
    throw new CrabboxError({
      code: "already_claimed",
      message: `codespace ${name} is already held by lease ${d.holder.leaseId} (${d.holder.slug})`,
      hint: `release it through the lease: crabbox-cs stop ${d.holder.slug}`,
      exit: Exit.usage,
    });
  }
  if (d.action === "fail") {
    throw new CrabboxError({ code: "codespace_not_found", message: d.reason, hint: "list yours: gh codespace list", exit: Exit.notFound });
  }
  if (d.action !== "adopt") {
    throw new CrabboxError({
      code: "reclaim_refused",
      message: `refusing to reclaim ${name}: ${d.action === "refuse" && d.code === "not_ours" && d.why === "display-name" ? `its display name ${JSON.stringify(found!.display_name)} is not one crabbox-cs gives ("crabbox <slug> <nonce>")` : `it belongs to ${found!.owner.login}, not ${me.login}`}`,
      why: "only codespaces crabbox-cs created can be adopted; anything else may be someone's workspace",
      hint: `manage it with gh instead: gh codespace stop -c ${name}`,
      exit: Exit.refused,
    });
  }
  const cs = d.codespace;
  const now = ctx.runtime.now();
  const claim = seen(
    newClaim({
      leaseId: newLeaseId(),
      slug: d.slug,
      state: "ready",
      now,
      expiresAt: new Date(now).toISOString(),
      keep: false,
      apiUrl: cfg.apiUrl,
      me,
      repo: cs.repository.full_name,
      ref: cs.git_status?.ref ?? "",
      pr: null,
      machine: cs.machine?.name ?? "",
      devcontainerPath: cs.devcontainer_path ?? "",
      workingDirectory: "",
      workRoot: cfg.workRoot || defaultWorkRoot(cs.repository.full_name),
      deleteOnRelease: cfg.deleteOnRelease,
      recovery: { nonce: d.nonce, displayName: cs.display_name! },
      codespace: bindCodespace(cs),
    }),
    cs,
    now,
  );
  // In use from the claim's creation until the release ends (cleanup leaves it alone).
  const use = createLeaseUse(store);
  try {
    await use.mark(claim.leaseId);
    await store.create(claim);
    ctx.log.info(`reclaimed ${name} as lease ${claim.leaseId} (${claim.slug})`);
    return await store.withLease(claim.leaseId, (c) => releaseClaim(svc, c, opts));
  } finally {
    await use.done();
  }
}
