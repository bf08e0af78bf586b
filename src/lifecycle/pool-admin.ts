/**
 * Filling and looking after the ready pool: `prewarm` (lease, sync, hydrate,
 * mark ready), `pool list` and `pool drain`. Borrowing and returning are
 * pool.ts.
 */
import type * as v from "valibot";
import { CrabboxError, Exit } from "../errors.ts";
import type { Codespace } from "../github/schemas.ts";
import type { Claim } from "../leases/claim.ts";
import { createLeaseUse, usersOf } from "../leases/usage.ts";
import type { PoolDrainResult, PoolLeaseView, PrewarmResult } from "../output/schemas.ts";
import { signalNumber } from "../runtime.ts";
import { acquire } from "./acquire.ts";
import { leaseRef } from "./claims.ts";
import { ensureMaster, runOnLease } from "./connect.ts";
import { currentPoolKey, drainLocked } from "./pool.ts";
import { drainVerdict, newPoolRecord } from "./pool-decisions.ts";
import { release, releaseClaim } from "./release.ts";
import type { Services } from "./services.ts";
import { syncLease, type SyncSource } from "./sync.ts";

export type PrewarmLease = v.InferOutput<typeof PrewarmResult>["leases"][number];

export interface PrewarmOptions {
  count: number;
  /** The hydrate command (run with sh -c in the work root), or "" for none. */
  hydrate: string;
  /** Leave the codespaces stopped. */
  stop: boolean;
  timeoutMs: number;
  /** The tree to sync first (null: --no-sync). */
  source: SyncSource | null;
}

/** Lease `count` pool leases at once; each is synced, hydrated and marked ready, or released and reported. */
export async function prewarm(svc: Services, opts: PrewarmOptions): Promise<PrewarmLease[]> {
  const key = await currentPoolKey(svc);
  return Promise.all(Array.from({ length: opts.count }, () => prewarmOne(svc, key, opts)));
}

async function prewarmOne(svc: Services, key: string, opts: PrewarmOptions): Promise<PrewarmLease> {
  const { store, ctx } = svc;
  const { log, runtime, config } = ctx;
  // Marked in use from its claim's creation until it is ready: cleanup and borrowers leave it alone.
  const use = createLeaseUse(store);
  let claim: Claim | undefined;
  const failed = (e: CrabboxError, hydrateExitCode: number | null = null): PrewarmLease => ({
    leaseId: claim?.leaseId ?? null,
    slug: claim?.slug ?? null,
    codespace: claim?.codespace?.name ?? null,
    state: "failed",
    stopped: false,
    hydrateExitCode,
    error: { code: e.code, message: e.message, exitCode: e.exit },
  });
  try {
    // Busy (and marked in use) from its claim's creation until it is hydrated: nobody borrows or drains it meanwhile.
    const r = await acquire(svc, { keep: true, ttlMs: config.pool.maxAgeMs || 12 * 3_600_000, timeoutMs: opts.timeoutMs, reuse: false, use, pool: newPoolRecord(key), onClaim: (c) => (claim = c) });
    claim = r.claim;
    if (opts.source) claim = (await syncLease(svc, claim, { source: opts.source, connect: (c) => ensureMaster(svc, c, { timeoutMs: opts.timeoutMs }) })).claim;
    let hydrateExitCode: number | null = null;
    if (opts.hydrate) {
      log.info(`lease ${claim.slug}: hydrating: ${opts.hydrate}`);
      const run = await runOnLease(svc, claim, { argv: ["sh", "-c", opts.hydrate], env: {}, stdoutToStderr: true }, { timeoutMs: opts.timeoutMs });
      claim = run.claim;
      hydrateExitCode = run.exit.code ?? 128 + (signalNumber(run.exit.signal) ?? 0);
      if (hydrateExitCode !== 0) {
        const e = new CrabboxError({
          code: "hydrate_failed",
          message: `the hydrate command exited ${hydrateExitCode} on lease ${claim.slug}`,
          hint: "fix the command (--probe-command or pool.hydrate), then: crabbox-cs prewarm",
          exit: Exit.unexpected,
        });
        log.error(`${e.message}: releasing the lease`);
        await releaseFailed(svc, claim);
        return failed(e, hydrateExitCode);
      }
    }
    const final = await store.withLease(claim.leaseId, async (cur) => {
      if (opts.stop) await releaseClaim(svc, cur, { delete: false, timeoutMs: opts.timeoutMs });
      const after = (await store.read(cur.leaseId)) ?? cur;
      return store.write({ ...after, pool: { ...newPoolRecord(key), state: "ready", returnedAt: new Date(runtime.now()).toISOString() } });
    });
    log.success(`pool lease ${final.leaseId} (${final.slug}) ready${opts.stop ? ", stopped" : ""}`);
    return { leaseId: final.leaseId, slug: final.slug, codespace: final.codespace?.name ?? null, state: "ready", stopped: opts.stop, hydrateExitCode };
  } catch (e) {
    if (!(e instanceof CrabboxError)) throw e;
    log.error(`prewarm${claim ? ` of lease ${claim.slug}` : ""} failed: ${e.message}`);
    if (claim) await releaseFailed(svc, claim);
    return failed(e);
  } finally {
    await use.done();
  }
}

/** A lease that did not make it into the pool is released as a fresh run's would be (deleted when clean). */
async function releaseFailed(svc: Services, claim: Claim): Promise<void> {
  await release(svc, claim.leaseId, { delete: true, timeoutMs: 120_000 }).catch((re: Error) => {
    if (re instanceof CrabboxError && re.code === "lease_not_found") return;
    svc.ctx.log.error(`could not release lease ${claim.leaseId} (${re.message}); finish with: crabbox-cs stop ${leaseRef(claim)}`);
  });
}

export type PoolView = v.InferOutput<typeof PoolLeaseView>;

/** Every pool lease, with its users and live codespace state (one list call). */
export async function listPool(svc: Services): Promise<PoolView[]> {
  const { store, ctx } = svc;
  const { claims } = await store.list();
  const pool = claims.filter((c) => c.pool);
  const live = new Map<string, Codespace>();
  if (pool.some((c) => c.codespace)) for (const cs of await (await svc.api()).listMyCodespaces()) live.set(cs.name, cs);
  const now = ctx.runtime.now();
  const out: PoolView[] = [];
  for (const c of pool) {
    const p = c.pool!;
    out.push({
      leaseId: c.leaseId,
      slug: c.slug,
      key: p.key,
      state: p.state,
      uses: p.uses,
      ageMs: Math.max(0, now - Date.parse(c.createdAt)),
      createdAt: c.createdAt,
      borrowedAt: p.borrowedAt,
      returnedAt: p.returnedAt,
      drainReason: p.drainReason,
      users: (await usersOf(store, c.leaseId)).map((u) => ({ pid: u.pid, host: u.host })),
      codespace: c.codespace?.name ?? null,
      codespaceState: c.codespace ? (live.get(c.codespace.name)?.state ?? null) : null,
    });
  }
  return out;
}

export type PoolDrainDecision = v.InferOutput<typeof PoolDrainResult>["decisions"][number];

/** `pool drain`: one lease, or every pool lease; a lease in use is skipped (one named is refused by the caller). */
export async function drainPool(svc: Services, leaseIds: string[], opts: { dryRun: boolean; timeoutMs: number }): Promise<PoolDrainDecision[]> {
  const { store } = svc;
  const out: PoolDrainDecision[] = [];
  for (const leaseId of leaseIds) {
    const claim = await store.read(leaseId);
    if (!claim) continue;
    const base = { leaseId, slug: claim.slug, codespace: claim.codespace?.name ?? null };
    try {
      const r = await store.withLease(leaseId, async (cur) => {
        const verdict = drainVerdict(cur, await usersOf(store, leaseId));
        if (!verdict.drain) return { skip: verdict.reason };
        return { outcome: await drainLocked(svc, cur, verdict.reason, opts.timeoutMs, opts.dryRun), reason: verdict.reason };
      });
      if ("skip" in r) out.push({ ...base, action: "skip", reason: r.skip! });
      else out.push({ ...base, codespace: r.outcome.codespace, action: r.outcome.action, reason: `${r.reason}; ${r.outcome.reason}` });
    } catch (e) {
      if (!(e instanceof CrabboxError)) throw e;
      if (e.code === "lease_not_found") continue;
      out.push({
        ...base,
        action: e.code === "codespace_dirty" || e.code === "git_status_unknown" ? "kept-dirty" : "error",
        reason: e.message,
        error: { code: e.code, message: e.message, exitCode: e.exit },
      });
    }
  }
  return out;
}
