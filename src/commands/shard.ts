import { defineCommand } from "./argv.ts";
import type * as v from "valibot";
import { createContext } from "../context.ts";
import { usageError } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { leaseRef } from "../lifecycle/claims.ts";
import { settlePool } from "../lifecycle/pool.ts";
import { createServices } from "../lifecycle/services.ts";
import { syncSource } from "../lifecycle/sync.ts";
import { elapsed } from "../output/format.ts";
import type { ShardSummary } from "../output/schemas.ts";
import { mergeResults } from "../results/collect.ts";
import type { Child } from "../runtime.ts";
import { checkCount, planLines, usesIndex } from "../shard/plan.ts";
import { collectArgs, collectPlan, defaultDownloadDir, printResults } from "./collect.ts";
import { trapInterrupts } from "./interrupts.ts";
import { forwardedEnv } from "./run.ts";
import { runShard, type Outcome } from "./shard-run.ts";
import { commonArgs, durationArg, leaseArgs, prArg } from "./shared.ts";
import { writeStderr } from "../output/write.ts";

export default defineCommand({
  meta: { name: "shard", description: "Split a command over N codespaces at once" },
  usage: ["shard --count N [flags] -- <command> [args...]"],
  notes: [
    "In the command, {{index}} (1-based), {{total}}, {{lease}} and {{slug}} are replaced for each shard; it also gets CRABBOX_SHARD_INDEX and CRABBOX_SHARD_TOTAL. The command does the splitting.",
  ],
  examples: [
    "crabbox-cs shard --count 4 -- npx vitest run --shard '{{index}}/{{total}}'",
    "crabbox-cs shard --count 2 --junit junit.xml -- sh test.sh {{index}} {{total}}",
    "crabbox-cs shard --count 3 --no-pool --download coverage -- npm run coverage",
  ],
  passthrough: "command with {{index}} {{total}}...",
  args: {
    ...commonArgs,
    count: { type: "string", description: "How many shards (each on its own codespace); at most shard.maxCount (default 8)", valueHint: "n" },
    ...leaseArgs,
    keep: { type: "boolean", description: "Keep every lease afterwards (release stops the codespaces instead of deleting them)" },
    pool: { type: "boolean", default: true, description: "Borrow ready pool leases (see prewarm) where there are some, and return them; the other shards get fresh leases", negativeDescription: "Give every shard a fresh lease, even when pool leases are ready" },
    "fail-fast": { type: "boolean", description: "When one shard fails (to provision, or its command), stop the others and release everything" },
    sync: { type: "boolean", default: true, description: "Sync the working tree to each lease first", negativeDescription: "Do not sync; run on what the codespaces hold" },
    env: { type: "string", description: "Forward this local environment variable (repeatable, or comma-separated); none by default", valueHint: "NAME", multiple: true },
    ...collectArgs,
  },
  async run({ args, passthrough: template }) {
    // 1. The plan, checked and printed before anything is provisioned.
    if (template.length === 0) throw usageError("nothing to run", "crabbox-cs shard --count 4 -- npx vitest run --shard '{{index}}/{{total}}'");
    const ctx = await createContext(args);
    const count = checkCount(args.count, ctx.config.shard.maxCount);
    const env = forwardedEnv(ctx, args.env);
    const plan = collectPlan(ctx, args);
    const svc = createServices(ctx);
    const { runtime, log } = ctx;
    const timeoutMs = durationArg("timeout", args.timeout);
    const ttlMs = durationArg("ttl", args.ttl);
    const pr = prArg(args.pr);
    const source = args.sync !== false ? await syncSource(runtime, false) : null;
    // Pool leases are borrowed and returned; a kept or pull-request lease is always a fresh one.
    const usePool = args.pool !== false && !args.keep && pr === undefined;
    if (!ctx.quiet) writeStderr(`${planLines(template, count, { keep: Boolean(args.keep), maxCount: ctx.config.shard.maxCount, pool: usePool }).join("\n")}\n`);
    if (!usesIndex(template)) log.warn("the command has no {{index}}: every shard runs the same thing (CRABBOX_SHARD_INDEX is still set)");
    const downloadBase = plan.downloads.length === 0 ? null : (plan.downloadDir ?? (await defaultDownloadDir(ctx, `shard-${stamp(runtime.now())}`)));

    // 2. Ctrl-C stops every shard's command and releases every lease; --fail-fast does the same on the first failure.
    const claims = new Map<number, Claim>();
    const children = new Map<number, Child>();
    const interrupts = trapInterrupts(log, {
      releasing: !args.keep,
      leftover: () => (claims.size ? [...claims.values()].map((c) => `lease ${c.leaseId} claimed (crabbox-cs stop ${leaseRef(c)})`).join("; ") : null),
    });
    interrupts.setChild(allOf(children));
    const failFast = new AbortController();
    const signal = AbortSignal.any([interrupts.signal, failFast.signal]);
    const t0 = runtime.now();
    const reservedSlugs = new Set<string>();

    // 3. Every shard at once: acquire, sync, run, collect, release.
    let outcomes: Outcome[];
    try {
      outcomes = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          runShard(ctx, svc, {
            index: i + 1,
            total: count,
            template,
            env,
            source,
            plan,
            downloadBase,
            keep: Boolean(args.keep),
            pool: usePool,
            ttlMs,
            timeoutMs,
            pr,
            signal,
            reservedSlugs,
            onChild: (c) => (c ? children.set(i + 1, c) : children.delete(i + 1)),
            onClaim: (c) => (c ? claims.set(i + 1, c) : claims.delete(i + 1)),
          }).then((o) => {
            if (args["fail-fast"] && o.exitCode !== 0 && !o.cancelled && !signal.aborted) {
              log.warn(`[${o.index}/${count}] failed: --fail-fast stops the other shards`);
              failFast.abort("SIGTERM");
            }
            return o;
          }),
        ),
      );
    } finally {
      interrupts.dispose();
    }
    // Pool leases found abandoned on the way are released now, after every shard's verdict.
    if (usePool && interrupts.count === 0) await settlePool(svc, { timeoutMs }).catch((e: Error) => log.warn(`pool: ${e.message}`));

    // 4. One verdict: the lowest-numbered failing shard's status (a stopped shard is not the failure).
    const failing = outcomes.find((o) => o.exitCode !== 0 && !o.cancelled);
    const exitCode = interrupts.count > 0 ? interrupts.status : (failing?.exitCode ?? 0);
    const withResults = outcomes.filter((o) => o.results);
    const results = withResults.length ? mergeResults(withResults.map((o) => ({ results: o.results!, shard: o.index }))) : null;
    const summary: v.InferOutput<typeof ShardSummary> = {
      exitCode,
      count,
      failedShard: interrupts.count > 0 ? null : (failing?.index ?? null),
      shards: outcomes,
      results,
      durations: { total: runtime.now() - t0 },
    };
    for (const line of summaryLines(outcomes, count)) writeStderr(`${line}\n`);
    if (results) printResults(results, count);
    const passed = outcomes.filter((o) => o.exitCode === 0).length;
    writeStderr(`shard: ${passed} of ${count} shard${count === 1 ? "" : "s"} passed in ${elapsed(summary.durations.total)}${failing && !interrupts.count ? `; exit ${exitCode} (shard ${failing.index})` : interrupts.count ? `; interrupted (exit ${exitCode})` : ""}\n`);
    if (ctx.json) ctx.printJson(summary);
    return exitCode;
  },
});

/** One line per shard: its exit (or why it has none), lease and step times. */
function summaryLines(outcomes: Outcome[], total: number): string[] {
  return outcomes.map((o) => {
    const d = o.durations;
    const what = o.error && !o.leaseId ? `no lease (exit ${o.exitCode}): ${o.error.message}` : o.cancelled ? `stopped (exit ${o.exitCode})` : o.error ? `failed (exit ${o.exitCode}): ${o.error.message}` : `exit ${o.exitCode}`;
    const lease = o.leaseId ? ` · ${o.slug} (${o.leaseId})` : "";
    return `[${o.index}/${total}] ${what}${lease} · acquire ${elapsed(d.acquire)}, sync ${elapsed(d.sync)}, command ${elapsed(d.command)}, release ${elapsed(d.release)}`;
  });
}

/** A Child that stands for every shard's running ssh (ended together on a second Ctrl-C). */
function allOf(children: Map<number, Child>): Child {
  return {
    pid: 0,
    exited: Promise.resolve({ code: null, signal: null }),
    kill(sig) {
      for (const c of children.values()) {
        try {
          c.kill(sig);
        } catch {}
      }
    },
    stdout: null,
    stderr: null,
  };
}

/** 20261203-141502 */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}
