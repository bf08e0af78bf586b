import { defineCommand } from "./argv.ts";
import { createContext, type Context } from "../context.ts";
import { CrabboxError, Exit, usageError } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { resolveLease } from "../leases/resolve.ts";
import { createLeaseUse } from "../leases/usage.ts";
import { acquire } from "../lifecycle/acquire.ts";
import { leaseRef } from "../lifecycle/claims.ts";
import { ensureMaster, runOnLease } from "../lifecycle/connect.ts";
import { takeOpenedSession } from "../lifecycle/head-start.ts";
import { leaseInUse } from "../lifecycle/in-use.ts";
import { releaseOneShot } from "../lifecycle/one-shot.ts";
import { borrowOrAcquire, returnToPool, settlePool, type ReturnOutcome } from "../lifecycle/pool.ts";
import { createServices } from "../lifecycle/services.ts";
import { openCommandSession, recordSync, rememberSync, syncLease, syncSource, type SyncSummary } from "../lifecycle/sync.ts";
import type { EarlySession, SessionSync } from "../sync/sync.ts";
import { elapsed } from "../output/format.ts";
import { runTimer } from "../output/steps.ts";
import { useColor } from "../output/log.ts";
import { formatError } from "../output/report.ts";
import type { RunSummary } from "../output/schemas.ts";
import type * as v from "valibot";
import { signalNumber } from "../runtime.ts";
import { ENV_NAME_RE } from "../ssh/quote.ts";
import { applyTestVerdict, collectAfter, collectArgs, collectPlan, printResults, type Collected } from "./collect.ts";
import { trapInterrupts } from "./interrupts.ts";
import { commonArgs, durationArg, idArg, leaseArgs, prArg } from "./shared.ts";
import { writeStderr } from "../output/write.ts";

export default defineCommand({
  meta: { name: "run", description: "Sync the working tree and run a command (one-shot lease, or --id)" },
  usage: ["run [--id LEASE] [flags] -- <command> [args...]"],
  notes: [
    "The words after -- are the command's exact argv: each word reaches the remote program as one argument, quoted for you (no remote shell expansion). For a shell line: crabbox-cs run -- sh -c 'make && make test'.",
  ],
  examples: [
    "crabbox-cs run -- npm test       # one-shot: create, sync, run, delete",
    "crabbox-cs run --id amber-crab -- go test ./...   # on a warm lease",
    "crabbox-cs run --pool -- npm test                 # borrow a prewarmed lease",
    "crabbox-cs run --id amber-crab --junit reports/junit.xml -- npm test",
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
    pool: { type: "boolean", description: "Borrow a ready pool lease (see prewarm) and return it afterwards; no ready one: a fresh one-shot lease (default: config pool.enabled)", negativeDescription: "Do not borrow from the pool, whatever pool.enabled says" },
    "pool-only": { type: "boolean", description: "Like --pool, but fail (exit 4) when no pool lease is ready" },
    ...collectArgs,
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
    const plan = collectPlan(ctx, args);
    // The tree to send is checked before any lease exists: a refused sync creates no codespace.
    const source = args.sync !== false ? await syncSource(runtime, Boolean(args["sync-all"])) : null;
    const oneShot = !args.id;
    // The ready pool: borrow (under the pool lock), return afterwards (lifecycle/pool.ts).
    if (args.pool === false && args["pool-only"]) throw usageError("--no-pool and --pool-only contradict each other", "pick one");
    const askedPool = args.pool === true || Boolean(args["pool-only"]);
    if (askedPool && (args.id || args.keep || args.pr)) throw usageError(`--pool cannot be combined with ${args.id ? "--id" : args.keep ? "--keep" : "--pr"}`, "a pool lease is borrowed and returned; use --no-pool for the others");
    const usePool = askedPool || (oneShot && !args.keep && !args.pr && args.pool !== false && ctx.config.pool.enabled);
    let pooled = false;
    let pooledOutcome: ReturnOutcome | null = null;
    let failedWith: string | null = null;
    const { durations, timed } = runTimer(log, () => runtime.now());
    let claim: Claim | undefined;
    // A fresh one-shot lease is not probed: its ControlMaster opens in the background, and the sync's session proves it.
    let master: Promise<boolean> | undefined;
    let exitCode = 0;
    let sync: SyncSummary | null = null;
    let collected: Collected = { results: null, downloads: [] };
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
        if (usePool) {
          const got = await borrowOrAcquire(svc, { use, timeoutMs, ttlMs: durationArg("ttl", args.ttl), poolOnly: Boolean(args["pool-only"]), onClaim: (c) => (claim = c) });
          pooled = got.pooled;
          return got.claim;
        }
        const fresh = await acquire(svc, {
          keep: Boolean(args.keep),
          ttlMs: durationArg("ttl", args.ttl),
          timeoutMs,
          pr: prArg(args.pr),
          use,
          // Without a sync, the probe also creates the work root the command starts in.
          probe: source ? false : undefined,
          onClaim: (c) => {
            claim = c;
          },
        });
        log.info(`lease ${fresh.claim.leaseId} (${fresh.claim.slug}) ready in ${elapsed(fresh.elapsedMs)}`);
        master = fresh.master;
        return fresh.claim;
      });

      // 3. The working tree (skipped when nothing changed; the connection is made only if rsync must run).
      // A small change set goes in the command's own session (not with a terminal: stdin carries it).
      let inSession: SessionSync | undefined;
      const allowInSession = !syncOnly && !runtime.tty.stdin;
      const syncNow = async (allowSet: boolean, early?: EarlySession | null) => {
        const r = await timed("sync", () =>
          syncLease(svc, claim!, { source: source!, connect: async (c) => ((await master) ? c : ensureMaster(svc, c, { timeoutMs })), inSession: allowSet, early }),
        );
        claim = r.claim;
        sync = r.summary;
        inSession = r.session;
        return Boolean(r.deferred);
      };
      // A change set applied in the command's session is remembered in the claim as soon as the start
      // marker proves it (beside the command, not after it); it is said once the command has ended.
      let remembered: Promise<Claim | null> | undefined;
      const rememberAtStart = (s: SessionSync | undefined): SessionSync | undefined =>
        s && {
          ...s,
          started: () => {
            s.started();
            if (remembered) return;
            remembered = s.result().then((applied) => (applied ? rememberSync(svc, claim!, applied) : null));
            remembered.catch(() => {});
          },
        };
      const command = (preamble: SessionSync | undefined) =>
        timed("command", async () =>
          runOnLease(
            svc,
            claim!,
            {
              argv,
              env,
              // The session the entry point opened ahead of the run (--no-sync, lifecycle/head-start.ts), if it is this one.
              opened: await takeOpenedSession(),
              onSpawn: (c) => interrupts.setChild(c),
              // The first Ctrl-C/SIGTERM stops the remote command; an interrupted run is never retried.
              signal: interrupts.signal,
              // With --json, stdout carries our summary: the command's output goes to stderr.
              stdoutToStderr: ctx.json,
              preamble: rememberAtStart(preamble),
            },
            { timeoutMs, oneShot: oneShot && !args.keep && !pooled },
          ),
        );
      // With a sync state to go on, the command's session opens now, beside the local check: the
      // codespace lists what changed there while git looks here, and the command waits for the
      // check's word (nothing to send, a change set, or the rsync way first: sync/remote.ts).
      const early = source && allowInSession && interrupts.count === 0 && !master ? openCommandSession(svc, claim, source) : null;
      const opened = early ? command(early.session) : undefined;
      opened?.catch(() => {});
      let deferred = false;
      if (source && interrupts.count === 0) {
        try {
          deferred = await syncNow(allowInSession, early);
        } catch (e) {
          early?.decide("A"); // the session ends before its command starts
          await opened?.catch(() => {});
          throw e;
        }
      }
      early?.decide("A"); // interrupted before the check: the session ends, nothing started
      if (early) inSession = early.session;

      // 4. The command (never beside a master still opening: it would open a second tunnel).
      await master;
      if (!syncOnly && (interrupts.count === 0 || opened)) {
        log.debug(`running in ${claim.workRoot}: ${argv.join(" ")}`);
        let r = opened ? await opened : await command(inSession);
        if (inSession) {
          const applied = await inSession.result();
          if (applied) {
            const rec = await recordSync(svc, r.claim, applied, " in the command's session", remembered);
            r = { ...r, claim: rec.claim };
            sync = { ...rec.summary, ms: (sync as SyncSummary | null)?.ms ?? rec.summary.ms };
          } else if (r.exit.declined && interrupts.count === 0) {
            // The change set was not applied and the command did not start: the rsync path, then the command.
            log.debug(`sync: ${deferred ? "rsync, now that the command's session has ended" : "the change set did not go in the command's session; syncing with rsync"}`);
            claim = r.claim;
            await syncNow(false);
            inSession = undefined;
            r = await command(undefined);
          }
        }
        interrupts.setChild(undefined);
        claim = r.claim;
        exitCode = interrupts.status || (r.exit.code ?? 128 + (signalNumber(r.exit.signal) ?? 0));
        if (exitCode === 255) log.warn("the command exited 255 (ssh's own failure status too): see docs/exit-codes.md");
        // 4b. Results and artifacts, even when the command failed (not after Ctrl-C).
        if (interrupts.count === 0) {
          collected = await collectAfter(ctx, claim, plan, null);
          if (collected.results) printResults(collected.results);
          exitCode = applyTestVerdict(exitCode, collected.results, plan);
        }
      } else if (interrupts.count > 0) {
        exitCode = interrupts.status;
      }
    } catch (e) {
      if (e instanceof CrabboxError) failedWith = e.code;
      // An interrupted run exits 128+n whatever failed on the way (e.g. rsync killed by the same Ctrl-C).
      if (!(e instanceof CrabboxError) || !claim || (!oneShot && interrupts.count === 0)) throw e;
      writeStderr(`${formatError(e, useColor(runtime.env, runtime.tty.stderr))}\n`);
      exitCode = interrupts.status || e.exit;
    } finally {
      // 5. A borrowed pool lease goes back (or is drained); a one-shot lease is released, whatever happened (unless --keep).
      if (pooled && claim) {
        const end = { interrupted: interrupts.count > 0, connectionLost: failedWith === "ssh_connection_lost", failed: failedWith };
        pooledOutcome = await timed("release", () => returnToPool(svc, claim!, end, { timeoutMs }));
      } else if (oneShot && claim) {
        await master; // a master still opening (a failure on the way) is closed by the release, not left behind
        const code = await timed("release", () => releaseOneShot(svc, claim!, Boolean(args.keep), timeoutMs));
        if (exitCode === 0) exitCode = code;
      }
      // Leases of this pool found abandoned are released now, off the borrow's critical path.
      if (usePool && interrupts.count === 0) await settlePool(svc, { timeoutMs }).catch((e: Error) => log.warn(`pool: ${e.message}`));
      interrupts.dispose();
      await use.done();
    }

    const summary: v.InferOutput<typeof RunSummary> = { leaseId: claim?.leaseId ?? null, slug: claim?.slug ?? null, exitCode, sync, durations, ...collected };
    if (usePool) summary.pool = { borrowed: pooled, outcome: pooledOutcome?.action ?? null, reason: pooledOutcome?.reason ?? null };
    if (ctx.json) ctx.printJson(summary);
    else log.debug(`timings: acquire ${elapsed(durations.acquire)}, sync ${elapsed(durations.sync)}, command ${elapsed(durations.command)}, release ${elapsed(durations.release)}`);
    return exitCode;
  },
});

/** The values of the variables named with --env (never any other). */
export function forwardedEnv(ctx: Context, names: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of names) {
    if (!ENV_NAME_RE.test(name)) throw usageError(`--env ${name}: not a valid variable name`);
    const value = ctx.runtime.env[name];
    if (value === undefined) ctx.log.warn(`--env ${name}: not set locally; not forwarded`);
    else env[name] = value;
  }
  return env;
}
