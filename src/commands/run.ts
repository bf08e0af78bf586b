import { defineCommand } from "./argv.ts";
import { createContext, type Context } from "../context.ts";
import { CrabboxError, Exit, usageError } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { resolveLease } from "../leases/resolve.ts";
import { createLeaseUse } from "../leases/usage.ts";
import { acquire } from "../lifecycle/acquire.ts";
import { leaseRef } from "../lifecycle/claims.ts";
import { ensureMaster, runOnLease } from "../lifecycle/connect.ts";
import { leaseInUse } from "../lifecycle/in-use.ts";
import { release } from "../lifecycle/release.ts";
import { createServices, type Services } from "../lifecycle/services.ts";
import { syncLease, syncSource, type SyncSummary } from "../lifecycle/sync.ts";
import { elapsed } from "../output/format.ts";
import { useColor } from "../output/log.ts";
import { formatError } from "../output/report.ts";
import type { RunSummary } from "../output/schemas.ts";
import type * as v from "valibot";
import { signalNumber } from "../runtime.ts";
import { ENV_NAME_RE } from "../ssh/quote.ts";
import { trapInterrupts } from "./interrupts.ts";
import { commonArgs, durationArg, idArg, leaseArgs, prArg } from "./shared.ts";

export default defineCommand({
  meta: { name: "run", description: "Sync the working tree and run a command (one-shot lease, or --id)" },
  usage: ["run [--id LEASE] [flags] -- <command> [args...]"],
  notes: [
      "The words after -- are the command's exact argv: each word reaches the remote program as one argument, quoted for you (no remote shell expansion). For a shell line: crabbox-cs run -- sh -c 'make && make test'.",
    ],
  examples: [
      "crabbox-cs run -- npm test       # one-shot: create, sync, run, delete",
      "crabbox-cs run --id amber-crab -- go test ./...   # on a warm lease",
      "crabbox-cs run --id amber-crab --env CI -- npm test",
      "crabbox-cs run --id amber-crab --sync-only",
    ],
  passthrough: "command...",
  args: {
    ...commonArgs,
    ...idArg,
    ...leaseArgs,
    sync: { type: "boolean", default: true, description: "Sync the working tree first", negativeDescription: "Do not sync; run on what is there" },
    "sync-only": { type: "boolean", description: "Sync, do not run anything" },
    "sync-all": { type: "boolean", description: "Outside a git work tree, send the whole directory anyway (secrets never; see docs/sync.md)" },
    env: { type: "string", description: "Forward this local environment variable (repeatable, or comma-separated); none by default", valueHint: "NAME", multiple: true },
  },
  async run({ args, passthrough: argv }) {
    // 1. What to run, and how.
    const syncOnly = Boolean(args["sync-only"]);
    if (argv.length === 0 && !syncOnly) throw usageError("nothing to run", "crabbox-cs run [--id LEASE] -- <command> [args...]");
    if (syncOnly && args.sync === false) throw usageError("--sync-only and --no-sync contradict each other", "drop --no-sync to sync without running, or drop --sync-only to run without syncing");
    const ctx = await createContext(args);
    const env = forwardedEnv(ctx, args.env);
    const svc = createServices(ctx);
    const { runtime, log } = ctx;
    const timeoutMs = durationArg("timeout", args.timeout);
    // The tree to send is checked before any lease exists: a refused sync creates no codespace.
    const source = args.sync !== false ? await syncSource(runtime, Boolean(args["sync-all"])) : null;
    const oneShot = !args.id;
    const durations = { acquire: 0, sync: 0, command: 0, release: 0 };
    const timed = async <T>(step: keyof typeof durations, fn: () => Promise<T>): Promise<T> => {
      const t = runtime.now();
      try {
        return await fn();
      } finally {
        durations[step] = runtime.now() - t;
        log.debug(`step: ${step} in ${elapsed(durations[step])}`);
      }
    };
    let claim: Claim | undefined;
    let exitCode = 0;
    let sync: SyncSummary | null = null;
    // In-use markers (cleanup leaves the lease alone): from the claim's creation, or from --id, until after the release.
    const use = createLeaseUse(svc.store);
    const interrupts = trapInterrupts(log, {
      releasing: oneShot && !args.keep,
      leftover: () => (claim ? `lease ${claim.leaseId} claimed; release it with: crabbox-cs stop ${leaseRef(claim)}` : null),
    });

    try {
      // 2. A lease: the one named, or a fresh one.
      claim = await timed("acquire", async () => {
        if (args.id) return leaseInUse(svc, await resolveLease(svc.store, args.id), use, { timeoutMs });
        const fresh = await acquire(svc, {
          keep: Boolean(args.keep),
          ttlMs: durationArg("ttl", args.ttl),
          timeoutMs,
          pr: prArg(args.pr),
          use,
          onClaim: (c) => {
            claim = c;
          },
        });
        log.info(`lease ${fresh.claim.leaseId} (${fresh.claim.slug}) ready in ${elapsed(fresh.elapsedMs)}`);
        return fresh.claim;
      });

      // 3. The working tree (skipped when nothing changed; the connection is made only if rsync must run).
      if (source && interrupts.count === 0) {
        const r = await timed("sync", () => syncLease(svc, claim!, { source, connect: (c) => ensureMaster(svc, c, { timeoutMs }) }));
        claim = r.claim;
        sync = r.summary;
      }

      // 4. The command.
      if (!syncOnly && interrupts.count === 0) {
        log.debug(`running in ${claim.workRoot}: ${argv.join(" ")}`);
        const r = await timed("command", () =>
          runOnLease(
            svc,
            claim!,
            {
              argv,
              env,
              onSpawn: (c) => interrupts.setChild(c),
              // The first Ctrl-C/SIGTERM stops the remote command; an interrupted run is never retried.
              signal: interrupts.signal,
              // With --json, stdout carries our summary: the command's output goes to stderr.
              stdoutToStderr: ctx.json,
            },
            { timeoutMs, oneShot: oneShot && !args.keep },
          ),
        );
        interrupts.setChild(undefined);
        claim = r.claim;
        exitCode = interrupts.status || (r.exit.code ?? 128 + (signalNumber(r.exit.signal) ?? 0));
        if (exitCode === 255) log.warn("the command exited 255 (ssh's own failure status too): see docs/exit-codes.md");
      } else if (interrupts.count > 0) {
        exitCode = interrupts.status;
      }
    } catch (e) {
      // An interrupted run exits 128+n whatever failed on the way (e.g. rsync killed by the same Ctrl-C).
      if (!(e instanceof CrabboxError) || !claim || (!oneShot && interrupts.count === 0)) throw e;
      process.stderr.write(`${formatError(e, useColor(runtime.env, runtime.tty.stderr))}\n`);
      exitCode = interrupts.status || e.exit;
    } finally {
      // 5. A one-shot lease is released, whatever happened (unless --keep).
      if (oneShot && claim) {
        const code = await timed("release", () => releaseOneShot(svc, claim!, Boolean(args.keep), timeoutMs));
        if (exitCode === 0) exitCode = code;
      }
      interrupts.dispose();
      await use.done();
    }

    const summary: v.InferOutput<typeof RunSummary> = { leaseId: claim?.leaseId ?? null, slug: claim?.slug ?? null, exitCode, sync, durations };
    if (ctx.json) ctx.printJson(summary);
    else log.debug(`timings: acquire ${elapsed(durations.acquire)}, sync ${elapsed(durations.sync)}, command ${elapsed(durations.command)}, release ${elapsed(durations.release)}`);
    return exitCode;
  },
});

/** The values of the variables named with --env (never any other). */
function forwardedEnv(ctx: Context, names: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    if (!ENV_NAME_RE.test(name)) throw usageError(`--env ${name}: not a valid variable name`);
    const value = ctx.runtime.env[name];
    if (value === undefined) ctx.log.warn(`--env ${name}: not set locally; not forwarded`);
    else env[name] = value;
  }
  return env;
}

/** Release a one-shot lease; returns a non-zero exit code if that failed. */
async function releaseOneShot(svc: Services, claim: Claim, keep: boolean, timeoutMs: number): Promise<number> {
  const { log } = svc.ctx;
  // The lease may already be gone (e.g. released because it was unusable).
  const stillClaimed = await svc.store.read(claim.leaseId).catch(() => claim);
  if (!stillClaimed) return 0;
  if (keep) {
    log.info(`lease kept: crabbox-cs run --id ${claim.slug} -- ...   ·   crabbox-cs stop ${claim.slug}`);
    return 0;
  }
  try {
    const t0 = svc.ctx.runtime.now();
    const outcome = await release(svc, claim.leaseId, { timeoutMs: Math.max(timeoutMs, 60_000) });
    log.info(`released lease ${claim.leaseId}: ${outcome.codespace ?? "no codespace"} ${outcome.action} in ${elapsed(svc.ctx.runtime.now() - t0)}`);
    return 0;
  } catch (e) {
    log.error(`releasing lease ${claim.leaseId} failed: ${(e as Error).message}`);
    log.info(`finish it with: crabbox-cs stop ${leaseRef(claim)}`);
    return e instanceof CrabboxError ? e.exit : Exit.unexpected;
  }
}
