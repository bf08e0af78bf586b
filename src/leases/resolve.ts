/**
 * `--id <ref>`: find the one claim a user means. A ref is a lease id, a slug,
 * or the name of a codespace that a local claim holds, or a unique start of
 * one (8 characters or more; a trailing "…" as `list` prints it is ignored).
 * We never look a codespace up on GitHub here: only claimed codespaces can be
 * addressed.
 */
import { CrabboxError, Exit } from "../errors.ts";
import type { Claim } from "./claim.ts";
import { isLeaseId } from "./ids.ts";
import type { ClaimStore } from "./store.ts";

/** The shortest start of a codespace name accepted as a reference (when it is unique). */
const MIN_PREFIX = 8;

/** States in which a claim no longer holds a usable lease: the losers of a tie. */
const INACTIVE = new Set<Claim["state"]>(["released", "failed"]);

function badRef(ref: string, why: string): CrabboxError {
  return new CrabboxError({
    code: "invalid_lease_ref",
    message: `invalid lease reference ${JSON.stringify(ref).slice(0, 80)}`,
    why,
    hint: "pass a lease id (cbx_...), a slug (amber-crab) or a claimed codespace name; see crabbox-cs list",
    exit: Exit.usage,
  });
}

export function assertLeaseRef(ref: string): void {
  if (typeof ref !== "string" || ref.trim() === "") throw badRef(String(ref), "it is empty");
  if (/[\u0000-\u001f\u007f]/.test(ref)) throw badRef(ref, "it contains control characters");
  if (ref.includes("/") || ref.includes("\\")) throw badRef(ref, "it contains a path separator");
  if (ref.includes("..")) throw badRef(ref, 'it contains ".."');
  if (ref.length > 200) throw badRef(ref, "it is too long");
}

function describe(c: Claim): string {
  return `${c.leaseId} (slug ${c.slug}, ${c.state}${c.codespace ? `, codespace ${c.codespace.name}` : ""})`;
}

function notFound(ref: string, corrupt: number): CrabboxError {
  return new CrabboxError({
    code: "lease_not_found",
    message: `no lease matches "${ref}"`,
    why:
      corrupt > 0
        ? `no local claim has that lease id, slug or codespace name (${corrupt} unreadable claim file(s) were skipped)`
        : "no local claim has that lease id, slug or codespace name",
    hint: "crabbox-cs list",
    exit: Exit.notFound,
    details: { ref },
  });
}

export async function resolveLease(store: ClaimStore, ref: string): Promise<Claim> {
  assertLeaseRef(ref);
  if (isLeaseId(ref)) {
    const claim = await store.read(ref); // a corrupt claim surfaces as claim_corrupt
    if (!claim) throw notFound(ref, 0);
    return claim;
  }
  // The names index says which claims can match; only those are read (and checked).
  const { entries, corrupt } = await store.names();
  const found: Claim[] = [];
  for (const e of entries.filter((n) => n.slug === ref || n.codespace === ref)) {
    const claim = e.claim ?? (await store.read(e.leaseId).catch(() => null));
    if (claim && (claim.slug === ref || claim.codespace?.name === ref)) found.push(claim);
  }
  let matches = found.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.leaseId.localeCompare(b.leaseId));
  // A unique prefix of a claimed codespace name, as `list` may show it shortened ("monalisa-hello-w…"): every claim is read.
  const prefix = ref.replace(/…$/, "");
  if (matches.length === 0 && prefix.length >= MIN_PREFIX) matches = (await store.list()).claims.filter((c) => c.codespace?.name.startsWith(prefix));
  if (matches.length === 0) throw notFound(ref, corrupt);
  if (matches.length > 1) {
    const active = matches.filter((c) => !INACTIVE.has(c.state));
    if (active.length > 0) matches = active;
  }
  if (matches.length > 1) {
    throw new CrabboxError({
      code: "lease_ambiguous",
      message: `"${ref}" matches ${matches.length} leases: ${matches.map(describe).join("; ")}`,
      why: "the slug or codespace name (or the start of one) is held by more than one active claim",
      hint: `pass the lease id instead, e.g. --id ${matches[0]!.leaseId}`,
      exit: Exit.usage,
      details: { ref, candidates: matches.map((c) => c.leaseId) },
    });
  }
  return matches[0]!;
}
