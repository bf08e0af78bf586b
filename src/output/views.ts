/**
 * The JSON shapes of our output (documented in docs/json.md): camelCase,
 * no secrets, never the SSH config contents (its path only).
 */
import type { Codespace } from "../github/schemas.ts";
import type { Claim } from "../leases/claim.ts";
import type * as v from "valibot";
import type { LeaseView as LeaseViewSchema, LiveView as LiveViewSchema } from "./schemas.ts";

export type LiveView = v.InferOutput<typeof LiveViewSchema>;
export type LeaseView = v.InferOutput<typeof LeaseViewSchema>;

export function liveView(cs: Codespace): LiveView {
  const g = cs.git_status ?? {};
  return {
    state: cs.state,
    lastUsedAt: cs.last_used_at ?? null,
    machine: cs.machine?.name ?? null,
    webUrl: cs.web_url ?? null,
    gitStatus: {
      ahead: g.ahead ?? 0,
      behind: g.behind ?? 0,
      hasUncommittedChanges: Boolean(g.has_uncommitted_changes),
      hasUnpushedChanges: Boolean(g.has_unpushed_changes),
      ref: g.ref ?? null,
    },
  };
}

export function leaseView(claim: Claim, live: Codespace | null | undefined): LeaseView {
  return {
    leaseId: claim.leaseId,
    slug: claim.slug,
    provider: claim.provider,
    state: claim.state,
    repo: claim.repo,
    ref: claim.ref,
    machine: claim.machine,
    keep: claim.keep,
    deleteOnRelease: claim.deleteOnRelease,
    createdAt: claim.createdAt,
    expiresAt: claim.expiresAt,
    workRoot: claim.workRoot,
    codespace: claim.codespace
      ? { name: claim.codespace.name, id: claim.codespace.id, environmentId: claim.codespace.environmentId, owner: claim.codespace.ownerLogin }
      : null,
    live: live ? liveView(live) : null,
    ssh: claim.sshConfigPath && claim.sshHost ? { configPath: claim.sshConfigPath, host: claim.sshHost } : null,
    lastSync: claim.lastSync,
    failure: claim.failure,
  };
}
