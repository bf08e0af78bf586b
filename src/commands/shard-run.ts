/**
 * One shard, start to end, through run's own per-lease steps: a lease
 * (acquireShardLease) → sync (syncLease) → the command (runOnLease, exactly
 * once) → results and artifacts (collectAfter) → release (releaseOneShot,
 * whatever happened). Its progress lines and its command's output carry the
 * `[i/N] ` prefix; a failure is this shard's outcome, never its siblings'.
 */
import { join } from "node:path";
import type * as v from "valibot";
import type { Context } from "../context.ts";
import { CrabboxError, Exit } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { createLeaseUse } from "../leases/usage.ts";
import { ensureMaster, runOnLease } from "../lifecycle/connect.ts";
import type { Services } from "../lifecycle/services.ts";
import { acquireShardLease, endShardLease } from "../lifecycle/shard-lease.ts";
import { syncLease, type SyncSource } from "../lifecycle/sync.ts";
import { elapsed } from "../output/format.ts";
import { runTimer } from "../output/steps.ts";
import { createLogger } from "../output/log.ts";
import type { ShardOutcome } from "../output/schemas.ts";
import { signalNumber, type Child } from "../runtime.ts";
import { LinePrefixer } from "../shard/lines.ts";
import { expandTemplate } from "../shard/plan.ts";
import { writeAllSync } from "../ssh/markers.ts";
import { applyTestVerdict, collectAfter, type CollectPlan } from "./collect.ts";

export type Outcome = v.InferOutput<typeof ShardOutcome>;

export interface ShardJob {
  index: number;
  total: number;
  template: string[];
  env: Record<string, string>;
  source: SyncSource | null;
  plan: CollectPlan;
  /** Per-index download directories go under it (null: no --download). */
  downloadBase: string | null;
  keep: boolean;
  /** Borrow a ready pool lease when one is free (not with --keep, --pr or --no-pool). */
  pool: boolean;
  ttlMs: number;
  timeoutMs: number;
  pr?: number;
  /** Aborted on Ctrl-C, or by --fail-fast: the command is stopped, nothing more starts. */
  signal: AbortSignal;
  /** The command's ssh, while it runs (to end on a second Ctrl-C). */
  onChild(child: Child | undefined): void;
  /** Slugs the sibling shards picked (so that no two shards share one). */
  reservedSlugs: Set<string>;
  /** Called as soon as the lease's claim exists, and with null once it is released. */
  onClaim(claim: Claim | null): void;
}

/** A Context and Services whose log lines carry this shard's prefix (the API client, its backoff gate and the store stay shared). */
function forShard(ctx: Context, svc: Services, prefix: string): { ctx: Context; svc: Services } {
  const log = createLogger({
    env: ctx.runtime.env,
    isTTY: ctx.runtime.tty.stderr,
    verbose: ctx.verbose,
    quiet: ctx.quiet,
    write: (text) => writeAllSync(2, Buffer.from(text.replace(/^(?=.)/gm, prefix))),
  });
  const shardCtx: Context = { ...ctx, log };
  return { ctx: shardCtx, svc: { ...svc, ctx: shardCtx } };
}

export async function runShard(parent: Context, parentSvc: Services, job: ShardJob): Promise<Outcome> {
  const prefix = `[${job.index}/${job.total}] `;
  const { ctx, svc } = forShard(parent, parentSvc, prefix);
  const { runtime, log } = ctx;
  const { durations, timed } = runTimer(log, () => runtime.now());
  const out: Outcome = { index: job.index, leaseId: null, slug: null, pooled: false, exitCode: 0, cancelled: false, error: null, durations, sync: null, results: null, downloads: [] };
  const use = createLeaseUse(svc.store);
  let claim: Claim | undefined;
  let pooled = false;
  try {
    // 1. A lease.
    const got = await timed("acquire", () =>
      acquireShardLease(svc, {
        keep: job.keep,
        borrow: job.pool,
        ttlMs: job.ttlMs,
        timeoutMs: job.timeoutMs,
        pr: job.pr,
        reservedSlugs: job.reservedSlugs,
        use,
        onClaim: (c) => {
          claim = c;
          job.onClaim(c);
        },
      }),
    );
    claim = got.claim;
    pooled = out.pooled = got.pooled;
    out.leaseId = claim.leaseId;
    out.slug = claim.slug;
    log.info(`lease ${claim.leaseId} (${claim.slug}) ${pooled ? "borrowed from the pool" : "ready"} in ${elapsed(got.elapsedMs)}`);

    // 2. The working tree.
    if (job.source && !job.signal.aborted) {
      const r = await timed("sync", () => syncLease(svc, claim!, { source: job.source!, connect: (c) => ensureMaster(svc, c, { timeoutMs: job.timeoutMs }) }));
      claim = r.claim;
      out.sync = r.summary;
    }

    // 3. The command, exactly once, its lines prefixed.
    if (!job.signal.aborted) {
      const argv = expandTemplate(job.template, { index: job.index, total: job.total, lease: claim.leaseId, slug: claim.slug });
      const quiet = ctx.quiet;
      const stdout = new LinePrefixer(prefix, (b) => writeAllSync(ctx.json ? 2 : 1, b));
      const stderr = new LinePrefixer(prefix, (b) => writeAllSync(2, b));
      const r = await timed("command", () =>
        runOnLease(
          svc,
          claim!,
          {
            argv,
            env: job.env,
            exports: { CRABBOX_SHARD_INDEX: String(job.index), CRABBOX_SHARD_TOTAL: String(job.total) },
            sink: { stdout: (b) => !quiet && stdout.push(b), stderr: (b) => !quiet && stderr.push(b) },
            signal: job.signal,
            onSpawn: (c) => job.onChild(c),
          },
          { timeoutMs: job.timeoutMs, oneShot: !job.keep && !pooled },
        ),
      ).finally(() => {
        job.onChild(undefined);
        stdout.end();
        stderr.end();
      });
      claim = r.claim;
      out.cancelled = r.exit.cancelled;
      out.exitCode = r.exit.code ?? 128 + (signalNumber(r.exit.signal) ?? 0);
      // 4. Results and artifacts, even when the command failed (not when stopped).
      if (!job.signal.aborted) {
        const got = await collectAfter(ctx, claim, job.plan, job.downloadBase ? join(job.downloadBase, String(job.index)) : null);
        out.results = got.results;
        out.downloads = got.downloads;
        out.exitCode = applyTestVerdict(out.exitCode, got.results, job.plan);
      }
    } else out.cancelled = true;
  } catch (e) {
    const err = e instanceof CrabboxError ? e : new CrabboxError({ code: "unexpected", message: (e as Error)?.message ?? String(e), exit: Exit.unexpected });
    out.error = { code: err.code, message: err.message, exitCode: err.exit };
    out.exitCode = err.exit;
    log.error(`${claim ? "" : "could not get a lease: "}${err.message}${err.hint ? ` (${err.hint})` : ""}`);
  } finally {
    // 5. Released (a pool lease: returned) when the shard ends, whatever happened (unless --keep).
    if (claim) {
      const end = { interrupted: job.signal.aborted, connectionLost: out.error?.code === "ssh_connection_lost", failed: out.error?.code ?? null };
      const code = await timed("release", () => endShardLease(svc, claim!, pooled, end, { keep: job.keep, timeoutMs: job.timeoutMs }));
      if (out.exitCode === 0) out.exitCode = code;
      job.onClaim(null);
    }
    await use.done();
  }
  return out;
}
