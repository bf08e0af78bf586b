/**
 * The ready pool: borrowing a hydrated lease, returning it, draining it.
 *
 *   borrow  — under the pool lock (<claims>/pool.lock), pick a `ready` lease
 *             with this run's pool key (borrowCandidates), and under its lease
 *             lock mark it in use (an in-use marker: host, pid, start time;
 *             usage.ts) and `busy`; then bring it up (a stopped one is started).
 *   return  — under the lease lock: back to `ready` (stopped first with
 *             pool.stopIdle) or drained (returnDecision).
 *   drain   — release with delete-if-clean (release.ts's rules). A lease whose
 *             identity no longer matches is stopped, never deleted, when the
 *             codespace is still yours; its claim stays either way.
 *
 * A lease is `busy` exactly while its borrower's in-use marker lives: a busy
 * lease without a live marker was abandoned (its borrower died) and is drained.
 * The decisions are pure (pool-decisions.ts); this module does the I/O.
 * Callers: `run --pool` (commands/run.ts), and anything else that needs a
 * lease for a while (borrowOrAcquire / returnToPool).
 */
import { join } from "node:path";
import { CrabboxError, Exit } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { lockHolder, withLock } from "../leases/lock.ts";
import { localProbe } from "../leases/proc.ts";
import { usersOf, type LeaseUse } from "../leases/usage.ts";
import { closeMaster } from "../ssh/exec.ts";
import { acquire } from "./acquire.ts";
import { leaseRef, seen } from "./claims.ts";
import { prepareLease } from "./connect.ts";
import { identityError, identityMismatches } from "./identity.ts";
import { borrowCandidates, identityDrainAction, poolCleanupReason, poolKey, returnDecision, type RunEnd } from "./pool-decisions.ts";
import { releaseClaim, type ReleaseOutcome } from "./release.ts";
import { resolveRepo } from "./repo.ts";
import type { Services } from "./services.ts";
import { waitForCodespace } from "./wait.ts";

const poolKeys = new WeakMap<Services, Promise<string>>();

/**
 * The pool key of this invocation: the configured repository (or the checkout's), ref, machine and
 * devcontainer path. Worked out once per invocation (the checkout's repository costs a `git remote`).
 */
export function currentPoolKey(svc: Services): Promise<string> {
  let key = poolKeys.get(svc);
  if (!key) {
    const cfg = svc.ctx.config.githubCodespaces;
    key = resolveRepo(svc.ctx.runtime, cfg.repo).then((repo) => poolKey({ repo, ref: cfg.ref, machine: cfg.machine, devcontainerPath: cfg.devcontainerPath }));
    poolKeys.set(svc, key);
  }
  return key;
}

/** The lock that serialises choosing a lease to borrow. */
export function poolLockPath(svc: Services): string {
  return join(svc.store.claimsDir, "pool.lock");
}

export interface BorrowOptions {
  /** The caller's in-use markers: the borrowed lease stays marked (busy) until the caller's `done()`, after returnToPool. */
  use: LeaseUse;
  timeoutMs: number;
}

/**
 * Borrow a ready pool lease for this invocation's pool key and make it
 * usable; null when there is none (the caller falls back). A lease that
 * cannot be brought up is drained and the next one tried. Leases of this key
 * found abandoned (busy, borrower gone) are marked draining (settlePool
 * releases them).
 */
export async function borrowFromPool(svc: Services, opts: BorrowOptions): Promise<Claim | null> {
  const { store, ctx } = svc;
  const { runtime, log, config } = ctx;
  const [key, { claims: all }] = await Promise.all([currentPoolKey(svc), store.list()]);
  // No pool lease of this key at all (a fresh CRABBOX_HOME has no claims directory yet): nothing to borrow, no lock to take.
  if (!all.some((c) => c.pool?.key === key)) return null;
  const tried = new Set<string>();
  for (;;) {
    const picked = await withLock(
      poolLockPath(svc),
      async () => {
        const { claims } = await store.list();
        // Never wait on a lease lock while holding the pool lock: a lease someone is working on is passed over.
        for (const c of claims) {
          if (c.pool?.key === key && c.pool.state === "busy" && !(await lockedByLiveProcess(svc, c.leaseId))) await markIfAbandoned(svc, c.leaseId);
        }
        for (const candidate of borrowCandidates(claims, key, config.githubCodespaces.apiUrl, runtime.now(), config.pool)) {
          if (tried.has(candidate.leaseId) || (await lockedByLiveProcess(svc, candidate.leaseId, 250))) continue;
          const got = await tryBorrow(svc, candidate.leaseId, key, opts.use);
          if (got) return got;
        }
        return null;
      },
      { label: "the pool", timeoutMs: 60_000 },
    );
    if (!picked) return null;
    tried.add(picked.leaseId);
    log.info(`borrowed pool lease ${picked.leaseId} (${picked.slug}), use ${picked.pool!.uses}${picked.state === "released" ? ": starting its codespace" : ""}`);
    try {
      return await prepareLease(svc, picked, { timeoutMs: opts.timeoutMs });
    } catch (e) {
      if (!(e instanceof CrabboxError)) throw e;
      log.warn(`pool lease ${leaseRef(picked)} is not usable (${e.message}): draining it`);
      await store
        .withLease(picked.leaseId, (cur) => drainLocked(svc, cur, `not usable: ${e.message}`, opts.timeoutMs))
        .catch((de: Error) => log.warn(`draining ${leaseRef(picked)}: ${de.message}`));
    }
  }
}

/** Under the lease lock: still borrowable and unused? Then mark it in use and busy. */
async function tryBorrow(svc: Services, leaseId: string, key: string, use: LeaseUse): Promise<Claim | null> {
  const { store, ctx } = svc;
  const { runtime, config } = ctx;
  try {
    return await store.withLease(leaseId, async (cur) => {
      if (borrowCandidates([cur], key, config.githubCodespaces.apiUrl, runtime.now(), config.pool).length === 0) return null;
      if ((await usersOf(store, leaseId)).length > 0) return null;
      // The marker first: a busy lease always has a live marker while its borrower lives.
      await use.mark(leaseId);
      const at = new Date(runtime.now()).toISOString();
      return store.write({ ...cur, pool: { ...cur.pool!, state: "busy", uses: cur.pool!.uses + 1, borrowedAt: at, drainReason: null } });
    });
  } catch (e) {
    if (e instanceof CrabboxError && e.code === "lease_not_found") return null;
    throw e;
  }
}

/**
 * Is the lease's lock held by a live process (or one on another host), and still after `graceMs`
 * (a claim write takes milliseconds; a stop or delete takes seconds)? Then someone is working on it.
 */
async function lockedByLiveProcess(svc: Services, leaseId: string, graceMs = 0): Promise<boolean> {
  const { runtime } = svc.ctx;
  const until = runtime.now() + graceMs;
  for (;;) {
    const holder = await lockHolder(svc.store.lockPath(leaseId));
    if (holder === null || (holder.host === localProbe.host && !localProbe.alive(holder.pid))) return false;
    if (runtime.now() >= until) return true;
    await runtime.sleep(10);
  }
}

/** A busy lease whose borrower is provably gone (no live in-use marker): mark it draining. */
async function markIfAbandoned(svc: Services, leaseId: string): Promise<void> {
  const { store, ctx } = svc;
  // A live marker (its borrower, still returning it) settles it without the lock.
  if ((await usersOf(store, leaseId)).length > 0) return;
  await store
    .withLease(leaseId, async (cur) => {
      const reason = poolCleanupReason(cur, ctx.runtime.now(), await usersOf(store, leaseId), ctx.config.pool);
      if (cur.pool?.state !== "busy" || !reason) return;
      ctx.log.warn(`pool lease ${leaseRef(cur)} was ${reason}: draining it`);
      await store.write({ ...cur, pool: { ...cur.pool, state: "draining", drainReason: reason } });
    })
    .catch((e) => {
      if (!(e instanceof CrabboxError) || e.code !== "lease_not_found") throw e;
    });
}

export type ReturnOutcome =
  | { action: "returned"; stopped: boolean; reason: string }
  | { action: "drained"; reason: string; release: ReleaseOutcome | null; error?: CrabboxError }
  | { action: "gone"; reason: string };

/**
 * Give a borrowed lease back: `ready` again (stopped first with
 * pool.stopIdle), or drained (maxUses, maxAge, interrupted, connection lost).
 * Call it before the caller's `use.done()`.
 */
export async function returnToPool(svc: Services, claim: Claim, end: RunEnd, opts: { timeoutMs: number }): Promise<ReturnOutcome> {
  const { store, ctx } = svc;
  const { runtime, log, config } = ctx;
  const timeoutMs = Math.max(opts.timeoutMs, 60_000);
  try {
    return await store.withLease(claim.leaseId, async (cur): Promise<ReturnOutcome> => {
      if (!cur.pool) return { action: "gone", reason: "no longer a pool lease" };
      const d = returnDecision(cur, cur.pool, end, runtime.now(), config.pool);
      if (d.action === "drain") {
        log.info(`draining pool lease ${leaseRef(cur)}: ${d.reason}`);
        try {
          return { action: "drained", reason: d.reason, release: await drainLocked(svc, cur, d.reason, timeoutMs) };
        } catch (e) {
          if (!(e instanceof CrabboxError)) throw e;
          log.warn(`pool lease ${leaseRef(cur)} kept, not deleted: ${e.message}`);
          return { action: "drained", reason: d.reason, release: null, error: e };
        }
      }
      let next = cur;
      if (d.stop) {
        try {
          await releaseClaim(svc, cur, { delete: false, timeoutMs });
        } catch (e) {
          if (!(e instanceof CrabboxError)) throw e;
          log.warn(`stopping pool lease ${leaseRef(cur)} failed (${e.message}): draining it`);
          await store.write({ ...((await store.read(cur.leaseId)) ?? cur), pool: { ...cur.pool, state: "draining", drainReason: `stop failed: ${e.message}` } });
          return { action: "drained", reason: `stop failed: ${e.message}`, release: null, error: e };
        }
        next = (await store.read(cur.leaseId)) ?? cur;
      }
      const at = new Date(runtime.now()).toISOString();
      await store.write({ ...next, pool: { ...cur.pool, state: "ready", returnedAt: at, drainReason: null } });
      log.info(`returned pool lease ${cur.leaseId} (${cur.slug}) to the pool${d.stop ? ", stopped" : ""}`);
      return { action: "returned", stopped: d.stop, reason: d.reason };
    });
  } catch (e) {
    if (e instanceof CrabboxError && e.code === "lease_not_found") return { action: "gone", reason: "released meanwhile" };
    throw e;
  }
}

/**
 * Release every pool lease of this key that is draining and unused (marked
 * by a borrower that found it abandoned, or left draining by a failed
 * release). Failures are warnings: cleanup and `pool drain` try again.
 */
export async function settlePool(svc: Services, opts: { timeoutMs: number }): Promise<void> {
  const { store, ctx } = svc;
  const key = await currentPoolKey(svc);
  const { claims } = await store.list();
  for (const c of claims) {
    // A draining lease that was stopped and kept for a reason (unsaved work, identity) waits for cleanup or pool drain.
    if (c.pool?.key !== key || c.pool.state !== "draining" || (c.state === "released" && c.failure)) continue;
    await store
      .withLease(c.leaseId, async (cur) => {
        if (cur.pool?.state !== "draining" || (await usersOf(store, cur.leaseId)).length > 0) return;
        await drainLocked(svc, cur, cur.pool.drainReason ?? "draining", Math.max(opts.timeoutMs, 60_000));
      })
      .catch((e: Error) => ctx.log.warn(`draining pool lease ${leaseRef(c)}: ${e.message}`));
  }
}

/**
 * Drain a pool lease whose lock the caller holds: mark it draining, then
 * release it deleting when clean (release.ts: identity checked, stopped
 * first, deleted only when git_status proves it clean, else stopped and
 * kept: codespace_dirty / git_status_unknown are thrown, the claim stays).
 * A codespace whose identity no longer matches the claim is never deleted:
 * stopped when it is still yours, not touched otherwise (identity_mismatch
 * is thrown); the claim stays, draining.
 */
export async function drainLocked(svc: Services, claim: Claim, reason: string, timeoutMs: number, dryRun = false): Promise<ReleaseOutcome> {
  const { store, ctx } = svc;
  const { runtime, log } = ctx;
  const marked = claim.pool && !dryRun ? await store.write({ ...claim, pool: { ...claim.pool, state: "draining", drainReason: reason } }) : claim;
  if (marked.codespace) {
    const api = await svc.api();
    const me = await svc.me();
    const live = await api.getCodespaceOrNull(marked.codespace.name);
    const mismatches = live ? identityMismatches(marked, live, me, ctx.config.githubCodespaces.apiUrl) : [];
    if (live && mismatches.length > 0) {
      const base = { leaseId: marked.leaseId, slug: marked.slug, codespace: live.name };
      const why = `${mismatches[0]!.field} differs from the claim`;
      if (identityDrainAction(live, me) === "refuse") throw identityError(marked, live, mismatches);
      if (dryRun) return { ...base, action: "would-stop", reason: `${why}: would stop, never delete` };
      if (marked.sshConfigPath && marked.sshHost) await closeMaster(runtime, marked.sshConfigPath, marked.sshHost);
      let now = live;
      if (live.state !== "Shutdown") {
        log.info(`stopping codespace ${live.name} (${why}; it is not deleted)`);
        if (live.state !== "ShuttingDown") await api.stopCodespace(live.name);
        now = await waitForCodespace(svc, { name: live.name, target: "Shutdown", timeoutMs, leaseRef: leaseRef(marked) });
      }
      await store.write({ ...seen(marked, now, runtime.now()), state: "released", failure: `not deleted: ${why}` });
      return { ...base, action: "stopped", reason: `${why}: stopped, not deleted; the claim is kept` };
    }
  }
  return releaseClaim(svc, marked, { delete: true, timeoutMs, dryRun });
}

export interface BorrowOrAcquireOptions extends BorrowOptions {
  /** Fail (exit 4) instead of leasing a fresh codespace when no pool lease is ready. */
  poolOnly?: boolean;
  /** For the fresh lease: its time to live, and the caller's onClaim (so it can release it on failure). */
  ttlMs: number;
  onClaim?: (claim: Claim) => void;
}

/** A pool lease when one is ready, else a fresh one-shot lease (said on stderr). `pooled` says which: return a pooled one with returnToPool, release the other. */
export async function borrowOrAcquire(svc: Services, opts: BorrowOrAcquireOptions): Promise<{ claim: Claim; pooled: boolean }> {
  const borrowed = await borrowFromPool(svc, opts);
  if (borrowed) return { claim: borrowed, pooled: true };
  if (opts.poolOnly) throw noPoolLease(await currentPoolKey(svc));
  svc.ctx.log.info("no ready pool lease for this repository, ref and machine: using a fresh one-shot lease (prewarm some with: crabbox-cs prewarm)");
  const fresh = await acquire(svc, { keep: false, ttlMs: opts.ttlMs, timeoutMs: opts.timeoutMs, use: opts.use, onClaim: opts.onClaim });
  return { claim: fresh.claim, pooled: false };
}

export function noPoolLease(key: string): CrabboxError {
  return new CrabboxError({
    code: "pool_empty",
    message: "no ready pool lease",
    why: `--pool-only: no lease for ${key} is ready in the pool (all busy, draining, or none prewarmed)`,
    hint: "prewarm one: crabbox-cs prewarm   (or drop --pool-only to fall back to a fresh lease)",
    exit: Exit.notFound,
  });
}
