import { defineCommand } from "citty";
import { createContext } from "../context.ts";
import { CrabboxError, Exit, usageError } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { resolveLease } from "../leases/resolve.ts";
import { markInUse } from "../leases/usage.ts";
import { acquire } from "../lifecycle/acquire.ts";
import { leaseRef } from "../lifecycle/claims.ts";
import { ensureConnected } from "../lifecycle/connect.ts";
import { release } from "../lifecycle/release.ts";
import { createServices } from "../lifecycle/services.ts";
import { syncLease, type SyncSummary } from "../lifecycle/sync.ts";
import { elapsed } from "../output/format.ts";
import { useColor } from "../output/log.ts";
import { formatError } from "../output/report.ts";
import { signalNumber } from "../runtime.ts";
import { ENV_NAME_RE } from "../ssh/quote.ts";
import { runRemote } from "../ssh/exec.ts";
import type { Child } from "../runtime.ts";
import { commonArgs, durationArg, idArg, leaseArgs, passthrough, prArg, repeated } from "./shared.ts";

export default defineCommand({
  meta: { name: "run", description: "Sync the working tree and run a command on a codespace (a new one-shot lease, or --id LEASE)" },
  args: {
    ...commonArgs,
    ...idArg,
    ...leaseArgs,
    sync: { type: "boolean", default: true, description: "Sync the working tree first", negativeDescription: "Do not sync; run on what is there" },
    "sync-only": { type: "boolean", description: "Sync, do not run anything" },
    env: { type: "string", description: "Forward this local environment variable (repeatable, or comma-separated); none by default", valueHint: "NAME" },
  },
  async run({ args, rawArgs }) {
    const argv = passthrough(rawArgs);
    const syncOnly = Boolean(args["sync-only"] ?? args.syncOnly);
    if (argv.length === 0 && !syncOnly) throw usageError("nothing to run", "crabbox-cs run [--id LEASE] -- <command> [args...]");
    if (syncOnly && args.sync === false) throw usageError("--sync-only and --no-sync contradict each other");
    const envNames = repeated(rawArgs, "env");
    const ctx = await createContext(args);
    const env: Record<string, string> = {};
    for (const name of envNames) {
      if (!ENV_NAME_RE.test(name)) throw usageError(`--env ${name}: not a valid variable name`);
      const value = ctx.runtime.env[name];
      if (value === undefined) ctx.log.warn(`--env ${name}: not set locally; not forwarded`);
      else env[name] = value;
    }
    const svc = createServices(ctx);
    const { runtime, log } = ctx;
    const timeoutMs = durationArg("timeout", args.timeout);
    const oneShot = !args.id;
    const durations = { acquire: 0, sync: 0, command: 0, release: 0 };
    let claim: Claim | undefined;
    let exitCode = 0;
    let sync: SyncSummary | null = null;
    let child: Child | undefined;
    let interrupts = 0;
    let unmark: (() => Promise<void>) | undefined;

    // Ctrl-C / SIGTERM: first one stops the remote command (ssh gets it) and we still release;
    // a second one leaves at once, lease still claimed.
    const onSignal = (sig: NodeJS.Signals) => {
      interrupts++;
      if (interrupts === 1) {
        log.warn(`${sig}: stopping${oneShot ? " and releasing the lease (press Ctrl-C again to leave it claimed)" : ""}`);
        try {
          child?.kill(sig);
        } catch {}
        return;
      }
      log.warn(claim ? `leaving lease ${claim.leaseId} claimed; release it with: crabbox-cs stop ${leaseRef(claim)}` : "interrupted");
      process.exit(128 + (signalNumber(sig) ?? 2));
    };
    const handlers = (["SIGINT", "SIGTERM", "SIGHUP"] as const).map((s) => {
      const h = () => onSignal(s);
      process.on(s, h);
      return [s, h] as const;
    });
    const interrupted = () => interrupts > 0;

    try {
      let t = runtime.now();
      if (args.id) {
        claim = await resolveLease(svc.store, String(args.id));
        unmark = await markInUse(svc.store, claim.leaseId);
        claim = await ensureConnected(svc, claim, { timeoutMs });
      } else {
        claim = (
          await acquire(svc, {
            keep: Boolean(args.keep),
            ttlMs: durationArg("ttl", args.ttl),
            timeoutMs,
            pr: prArg(args.pr),
            onClaim: (c) => {
              claim = c;
            },
          })
        ).claim;
        log.info(`lease ${claim.leaseId} (${claim.slug}) ready`);
      }
      durations.acquire = runtime.now() - t;

      if (args.sync !== false && !interrupted()) {
        t = runtime.now();
        const r = await syncLease(svc, claim);
        claim = r.claim;
        sync = r.summary;
        durations.sync = runtime.now() - t;
      }

      if (!syncOnly && !interrupted()) {
        t = runtime.now();
        log.debug(`running in ${claim.workRoot}: ${argv.join(" ")}`);
        const result = await runRemote(runtime, {
          configPath: claim.sshConfigPath!,
          alias: claim.sshHost!,
          workRoot: claim.workRoot,
          argv,
          env,
          onSpawn: (c) => {
            child = c;
          },
          // With --json, stdout carries our summary: the command's output goes to stderr.
          ...(ctx.json ? { stdoutToStderr: true } : {}),
        });
        child = undefined;
        durations.command = runtime.now() - t;
        exitCode = result.code ?? 128 + (signalNumber(result.signal) ?? 0);
        if (exitCode === 255) {
          log.warn("ssh exited 255: either the connection failed or the command itself exited 255 (see docs/exit-codes.md)");
        }
      } else if (interrupted()) {
        exitCode = 130;
      }
    } catch (e) {
      if (!(e instanceof CrabboxError)) throw e;
      if (!oneShot || !claim) throw e;
      process.stderr.write(`${formatError(e, useColor(runtime.env, runtime.tty.stderr))}\n`);
      exitCode = e.exit;
    } finally {
      // The lease may already be gone (e.g. released because it was unusable).
      const stillClaimed = oneShot && claim ? Boolean(await svc.store.read(claim.leaseId).catch(() => claim)) : false;
      if (stillClaimed && claim && !args.keep) {
        const t = runtime.now();
        try {
          const outcome = await release(svc, claim.leaseId, { timeoutMs: Math.max(timeoutMs, 60_000) });
          log.info(`released lease ${claim.leaseId}: ${outcome.action} ${outcome.codespace ?? ""}`.trim());
        } catch (e) {
          log.error(`releasing lease ${claim.leaseId} failed: ${(e as Error).message}`);
          log.info(`finish it with: crabbox-cs stop ${leaseRef(claim)}`);
          if (exitCode === 0) exitCode = e instanceof CrabboxError ? e.exit : Exit.unexpected;
        }
        durations.release = runtime.now() - t;
      } else if (stillClaimed && claim) {
        log.info(`lease kept: crabbox-cs run --id ${claim.slug} -- ...   ·   crabbox-cs stop ${claim.slug}`);
      }
      for (const [s, h] of handlers) process.off(s, h);
      await unmark?.();
    }

    if (ctx.json) {
      ctx.printJson({ leaseId: claim?.leaseId ?? null, slug: claim?.slug ?? null, exitCode, sync, durations });
    } else {
      log.debug(`timings: acquire ${elapsed(durations.acquire)}, sync ${elapsed(durations.sync)}, command ${elapsed(durations.command)}, release ${elapsed(durations.release)}`);
    }
    return exitCode;
  },
});
