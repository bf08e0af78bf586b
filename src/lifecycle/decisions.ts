/**
 * The lifecycle's decisions as pure functions over (claim, live codespace,
 * who is asking), each returning an action and a reason. The commands'
 * modules (release.ts, recover.ts, reclaim.ts) do the I/O around them; the
 * other two decisions live next to their data: cleanup due-ness is
 * `cleanupVerdict` (cleanup.ts), wait and stop steps are `waitStep` and
 * `stopStep` (src/github/states.ts). Table-tested in tests/unit/decisions.test.ts.
 */
import type { Codespace, GithubUser } from "../github/schemas.ts";
import { stopStep, type StopStep } from "../github/states.ts";
import type { Claim } from "../leases/claim.ts";
import { parseDisplayName } from "../leases/ids.ts";
import { gitVerdict } from "./claims.ts";
import { accountMismatches, identityMismatches, type Mismatch } from "./identity.ts";

export interface ReleaseInput {
  claim: Claim;
  /** The codespace as GitHub reports it now; null when it answers 404. */
  live: Codespace | null;
  me: GithubUser;
  apiUrl: string;
  /** This call's override of the policy: true = delete (if clean), false = stop only. */
  override?: boolean;
}

export type ReleaseDecision =
  /** The codespace is gone: drop the claim and its local files. */
  | { action: "forget"; reason: string }
  /** Touch nothing: another account or API, or not the codespace the claim bound. */
  | { action: "refuse"; code: "identity_mismatch"; reason: string; mismatches: Mismatch[] }
  /** Stop it, keep the lease ("released"). `stop` says what stopping takes from the live state. */
  | { action: "stop"; reason: string; stop: StopStep }
  /** Stop it, then delete it (git_status proves it clean). */
  | { action: "delete"; reason: string; stop: StopStep }
  /** Stop it, but do not delete: unsaved work, or a git_status that cannot prove there is none (exit 5). */
  | { action: "refuse-delete"; code: "codespace_dirty" | "git_status_unknown"; reason: string; stop: StopStep };

/** Whether this release deletes (if clean): the override, else the policy (never for a kept lease). */
export function wantsDelete(claim: Claim, override?: boolean): boolean {
  if (override !== undefined) return override;
  return claim.deleteOnRelease && !claim.keep;
}

/**
 * The release rule. Made on the live codespace before the stop (for
 * --dry-run, and to know what stopping takes) and again on the codespace
 * re-read after the stop (git_status may change while it runs): that second
 * decision is the one acted on.
 */
export function releaseDecision({ claim, live, me, apiUrl, override }: ReleaseInput): ReleaseDecision {
  const account = accountMismatches(claim, me, apiUrl);
  if (account.length > 0) return { action: "refuse", code: "identity_mismatch", reason: `${account[0]!.field} differs`, mismatches: account };
  if (!live) return { action: "forget", reason: "the codespace no longer exists on GitHub" };
  const mismatches = identityMismatches(claim, live, me, apiUrl);
  if (mismatches.length > 0) return { action: "refuse", code: "identity_mismatch", reason: `${mismatches[0]!.field} differs`, mismatches };
  const stop = stopStep(live.state);
  if (!wantsDelete(claim, override)) {
    return { action: "stop", reason: claim.keep ? "kept lease: stopped, not deleted" : "policy: stop on release", stop };
  }
  const git = gitVerdict(live.git_status);
  if (!git.deletable) return { action: "refuse-delete", code: git.unknown ? "git_status_unknown" : "codespace_dirty", reason: git.reason, stop };
  return { action: "delete", reason: "stopped clean, deleted, confirmed gone", stop };
}

/** Who looks for a codespace by its recovery name: a warmup whose create answer was lost, or a release of a claim that never got one bound. */
export type RecoveryAsker = "acquire" | "release";

export type RecoveryDecision =
  | { action: "adopt"; codespace: Codespace; reason: string }
  /** acquire: nothing was created (create_failed). */
  | { action: "fail"; reason: string }
  /** release: nothing to release; drop the claim. */
  | { action: "forget"; reason: string }
  /** Several candidates: refuse to guess (recovery_ambiguous). */
  | { action: "refuse"; reason: string; candidates: string[] };

/**
 * The recovery rule over the repository's codespaces as listed now: ours
 * only when the display name carries this lease's nonce and the owner is the
 * authenticated user. Exactly one → adopt; several → refuse; none → fail
 * (acquire) or forget (release). A failed lease is never searched for.
 */
export function recoveryDecision(claim: Claim, listed: readonly Codespace[], me: GithubUser, asker: RecoveryAsker): RecoveryDecision {
  const none = (why: string): RecoveryDecision => (asker === "acquire" ? { action: "fail", reason: why } : { action: "forget", reason: why });
  if (claim.state === "failed") return none(`no codespace was ever bound to this ${claim.state} lease`);
  const matches = listed.filter((c) => c.display_name === claim.recovery.displayName && c.owner.login === me.login);
  if (matches.length > 1) {
    return { action: "refuse", reason: `${matches.length} codespaces carry the recovery name "${claim.recovery.displayName}"`, candidates: matches.map((m) => m.name) };
  }
  if (matches.length === 1) return { action: "adopt", codespace: matches[0]!, reason: `found by its recovery name "${claim.recovery.displayName}"` };
  return none(
    asker === "acquire"
      ? "create failed and no codespace with this lease's recovery name exists"
      : `no codespace was ever bound to this ${claim.state} lease`,
  );
}

export type ReclaimDecision =
  /** No claim holds it: ask GitHub for it (the live codespace was not passed yet). */
  | { action: "lookup"; reason: string }
  | { action: "adopt"; codespace: Codespace; slug: string; nonce: string; reason: string }
  | { action: "refuse"; code: "already_claimed"; reason: string; holder: Claim }
  | { action: "refuse"; code: "not_ours"; reason: string; why: "display-name" | "owner" }
  | { action: "fail"; code: "codespace_not_found"; reason: string };

/**
 * stop --reclaim NAME (`live` undefined: not looked up yet): adopt a codespace that lost its claim only when no
 * claim holds it, GitHub knows it, its display name is ours ("crabbox <slug>
 * <nonce>") and it belongs to the authenticated user.
 */
export function reclaimDecision(name: string, live: Codespace | null | undefined, me: GithubUser, claims: readonly Claim[]): ReclaimDecision {
  const holder = claims.find((c) => c.codespace?.name === name);
  if (holder) return { action: "refuse", code: "already_claimed", reason: `held by lease ${holder.leaseId}`, holder };
  if (live === undefined) return { action: "lookup", reason: "no claim holds it" };
  if (!live) return { action: "fail", code: "codespace_not_found", reason: `no codespace named ${name} is visible to ${me.login}` };
  const parsed = live.display_name ? parseDisplayName(live.display_name) : null;
  if (!parsed) return { action: "refuse", code: "not_ours", reason: "its display name is not one crabbox-cs gives", why: "display-name" };
  if (live.owner.login !== me.login) return { action: "refuse", code: "not_ours", reason: `it belongs to ${live.owner.login}, not ${me.login}`, why: "owner" };
  return { action: "adopt", codespace: live, slug: parsed.slug, nonce: parsed.nonce, reason: "named by crabbox-cs and yours" };
}
