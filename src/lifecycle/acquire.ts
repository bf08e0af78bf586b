/**
 * warmup: from nothing to a ready lease.
 *   resolve repo/ref → who am I → preflight (defaults, permissions, machine)
 *   → pending claim with a recovery nonce → create → bind → Available → ssh → ready.
 * Nothing is written before preflight passes; the claim exists before the
 * codespace does, so a crash at any later point leaves something to finish.
 */
import { stepClock } from "../output/steps.ts";
import { CrabboxError, Exit } from "../errors.ts";
import type { Codespace } from "../github/schemas.ts";
import type { Claim, ClaimPool } from "../leases/claim.ts";
import { displayNameFor, newLeaseId, newNonce, newSlug } from "../leases/ids.ts";
import { createLeaseUse, type LeaseUse } from "../leases/usage.ts";
import { bindCodespace, newClaim, seen } from "./claims.ts";
import { bringUp } from "./connect.ts";
import { forgetLease } from "./leftovers.ts";
import { releaseClaim } from "./release.ts";
import { recoverByName } from "./recover.ts";
import { defaultWorkRoot, resolveRepo } from "./repo.ts";
import { assertLocalTools } from "./tools.ts";
import { assertPermissionsAccepted, chooseMachine } from "./preflight.ts";
import type { Services } from "./services.ts";

export interface AcquireOptions {
  keep: boolean;
  ttlMs: number;
  timeoutMs: number;
  pr?: number;
  /** Resume a kept lease of the same repository (and ref/machine when given) instead of creating one. */
  reuse?: boolean;
  /** Called as soon as the lease's claim exists (so that a caller can release it on failure). */
  onClaim?: (claim: Claim) => void;
  /** Slugs other acquisitions running alongside have taken (shard): avoided, and the new one added. */
  reservedSlugs?: Set<string>;
  /**
   * The caller's in-use markers: the lease is marked before its claim is
   * written, and stays marked until the caller's `done()` (after its release,
   * for a one-shot run). Without it, acquire marks the lease itself until it returns.
   */
  use?: LeaseUse;
  /** A pool lease (prewarm): its pool record is in the claim from the start, so nothing ever sees it as an ordinary kept lease. */
  pool?: ClaimPool;
  /** false: no readiness probe; the caller's first session proves the codespace (see BringUpOptions.probe). */
  probe?: boolean;
}

export interface AcquireResult {
  claim: Claim;
  codespace: Codespace;
  elapsedMs: number;
  /** Without a probe: the ControlMaster being opened in the background (true once it is up). */
  master?: Promise<boolean>;
}

export async function acquire(svc: Services, opts: AcquireOptions): Promise<AcquireResult> {
  if (opts.use) return acquireMarked(svc, opts, opts.use);
  const use = createLeaseUse(svc.store);
  try {
    return await acquireMarked(svc, opts, use);
  } finally {
    await use.done();
  }
}

async function acquireMarked(svc: Services, opts: AcquireOptions, use: LeaseUse): Promise<AcquireResult> {
  const { ctx, store } = svc;
  const { runtime, log } = ctx;
  const cfg = ctx.config.githubCodespaces;
  const t0 = runtime.now();
  const step = stepClock(log, runtime.now);

  // 1. What and where.
  const repo = await resolveRepo(runtime, cfg.repo, cfg.apiUrl);
  assertLocalTools(runtime, cfg.ghPath);
  const { claims } = await store.list();
  if (opts.reuse && !opts.pr) {
    const kept = findReusable(svc, claims, repo);
    if (kept) {
      await use.mark(kept.leaseId);
      return resume(svc, kept, opts, t0);
    }
  }
  // 2. Preflight: fail before any claim or codespace exists. The GETs go out together as soon as
  // what each needs is known (the ref, then the devcontainer path); failures are reported in the
  // order of the steps (account, repository, defaults, permissions, machines), as one after another would.
  const api = await svc.api();
  const meP = svc.me();
  const repositoryP = api.getRepository(repo);
  const refP = opts.pr ? Promise.resolve("") : cfg.ref ? Promise.resolve(cfg.ref) : repositoryP.then((r) => r.default_branch);
  const defaultsP = refP.then((ref) => api.getRepoDefaults(repo, ref ? { ref } : {}));
  const offeredP = refP.then((ref) => api.listRepoMachines(repo, ref ? { ref } : {}));
  const permittedP = Promise.all([repositoryP, refP, defaultsP]).then(([repository, ref, defaults]) => {
    const path = cfg.devcontainerPath || defaults.defaults.devcontainer_path || "";
    return path && ref ? assertPermissionsAccepted(api, repository, ref, path) : undefined;
  });
  for (const p of [meP, repositoryP, defaultsP, offeredP, permittedP]) p.catch(() => {});
  const me = await meP;
  const repository = await repositoryP;
  const ref = await refP;
  step.mark(`repository ${repo} and account ${me.login}`);
  const defaults = await defaultsP;
  const devcontainerPath = cfg.devcontainerPath || defaults.defaults.devcontainer_path || "";
  await permittedP;
  const offered = (await offeredP).machines;
  const chosen = chooseMachine(repo, ref, offered, cfg.machine);
  const machine = chosen.machine.name;
  if (chosen.picked) log.info(`no machine type given: using the smallest offered, ${machine} (${chosen.machine.cpus} cores)`);
  step.mark("preflight (defaults, permissions, machines)");

  // 3. The claim, before the codespace.
  const taken = new Set(claims.filter((c) => c.state !== "failed").map((c) => c.slug));
  const leaseId = newLeaseId();
  for (const s of opts.reservedSlugs ?? []) taken.add(s);
  const slug = newSlug(taken);
  opts.reservedSlugs?.add(slug);
  const nonce = newNonce();
  const now = runtime.now();
  const claim = newClaim({
    leaseId,
    slug,
    state: "pending",
    now,
    expiresAt: new Date(now + opts.ttlMs).toISOString(),
    ttlMs: opts.ttlMs,
    keep: opts.keep,
    apiUrl: cfg.apiUrl,
    me,
    repo,
    ref: opts.pr ? `pull/${opts.pr}` : ref,
    pr: opts.pr ?? null,
    machine,
    devcontainerPath,
    workingDirectory: cfg.workingDirectory,
    workRoot: cfg.workRoot || defaultWorkRoot(repo),
    deleteOnRelease: cfg.deleteOnRelease,
    recovery: { nonce, displayName: displayNameFor(slug, nonce) },
  });
  if (opts.pool) claim.pool = opts.pool;
  // In use from the moment the claim exists: the marker comes first, so cleanup never sees the claim unmarked.
  await use.mark(leaseId);
  await store.create(claim);
  opts.onClaim?.(claim);
  log.info(`lease ${leaseId} (${slug}): creating a codespace for ${repo}${ref ? `@${ref}` : ` PR #${opts.pr}`} on ${machine}`);

  return store.withLease(leaseId, async (locked) => {
    let current = locked ?? claim;
    // 4. Create (never retried blindly: a lost answer goes through recovery).
    const body = {
      ...(ref ? { ref } : {}),
      machine,
      ...(devcontainerPath ? { devcontainer_path: devcontainerPath } : {}),
      ...(cfg.workingDirectory ? { working_directory: cfg.workingDirectory } : {}),
      ...(cfg.geo ? { geo: cfg.geo } : {}),
      idle_timeout_minutes: cfg.idleTimeoutMinutes,
      retention_period_minutes: cfg.retentionPeriodMinutes,
      display_name: current.recovery.displayName,
    };
    let cs: Codespace;
    try {
      cs = opts.pr
        ? await api.createPullRequestCodespace(repo, opts.pr, body)
        : await api.createCodespace(repo, body);
    } catch (e) {
      if (e instanceof CrabboxError && e.code === "create_outcome_unknown") {
        log.warn(`the create request's outcome is unknown (${e.message}); looking for the codespace by its recovery name`);
        const found = await recoverByName(svc, current, "acquire");
        if (found.action !== "adopt") {
          await store.write({ ...current, state: "failed", failure: found.reason });
          throw new CrabboxError({
            code: "create_failed",
            message: "creating the codespace failed, and GitHub holds no codespace for this lease",
            why: e.why ?? e.message,
            hint: "nothing was created; retry: crabbox-cs warmup",
            exit: Exit.api,
          });
        }
        log.info(`found it: ${found.codespace.name} — adopting it into lease ${leaseId}`);
        cs = found.codespace;
      } else {
        // A definite refusal: nothing exists, so nothing to remember.
        await forgetLease(svc, leaseId);
        throw e;
      }
    }

    // 5. Bind the identity, then bring it up.
    step.mark(`claim and create of ${cs.name}`);
    current = seen({ ...current, codespace: bindCodespace(cs) }, cs, runtime.now());
    await store.write(current);
    try {
      const up = await bringUp(svc, current, { timeoutMs: Math.max(1000, opts.timeoutMs - (runtime.now() - t0)), probe: opts.probe, created: cs });
      step.mark(`bring-up (Available, ssh config${opts.probe === false ? "" : ", probe"})`);
      return { claim: up.claim, codespace: up.codespace, elapsedMs: runtime.now() - t0, master: up.master };
    } catch (e) {
      // A codespace that cannot be used over SSH never will be: do not leave it running up a bill.
      if (e instanceof CrabboxError && e.exit === Exit.sshUnusable) {
        log.warn(`codespace ${cs.name} is not usable over SSH: releasing lease ${leaseId}`);
        const latest = (await store.read(leaseId)) ?? current;
        await releaseClaim(svc, latest, { timeoutMs: 120_000 }).catch((re: Error) =>
          log.error(`could not release it (${re.message}); finish with: crabbox-cs stop ${slug}`),
        );
      }
      throw e;
    }
  });
}

/** A kept lease for this repository (and the configured ref/machine) that can be resumed. */
function findReusable(svc: Services, claims: Claim[], repo: string): Claim | undefined {
  const cfg = svc.ctx.config.githubCodespaces;
  return claims.find(
    (c) =>
      c.keep &&
      !c.pool && // pool leases are borrowed through the pool (pool.ts), never resumed here
      c.codespace &&
      (c.state === "released" || c.state === "ready") &&
      c.repo === repo &&
      c.apiUrl === cfg.apiUrl &&
      (!cfg.ref || c.ref === cfg.ref) &&
      (!cfg.machine || c.machine === cfg.machine),
  );
}

async function resume(svc: Services, claim: Claim, opts: AcquireOptions, t0: number): Promise<AcquireResult> {
  const { runtime, log } = svc.ctx;
  log.info(`resuming kept lease ${claim.leaseId} (${claim.slug}), codespace ${claim.codespace!.name} (use --fresh for a new one)`);
  return svc.store.withLease(claim.leaseId, async (current) => {
    const expiresAt = new Date(runtime.now() + opts.ttlMs).toISOString();
    const up = await bringUp(svc, { ...current, expiresAt, ttlMs: opts.ttlMs }, { timeoutMs: opts.timeoutMs });
    return { claim: up.claim, codespace: up.codespace, elapsedMs: runtime.now() - t0 };
  });
}
