import { defineCommand } from "./argv.ts";
import { createContext } from "../context.ts";
import { usageError } from "../errors.ts";
import { createServices } from "../lifecycle/services.ts";
import { prewarm } from "../lifecycle/pool-admin.ts";
import { syncSource } from "../lifecycle/sync.ts";
import { elapsed, table } from "../output/format.ts";
import { commonArgs, durationArg } from "./shared.ts";

export default defineCommand({
  meta: { name: "prewarm", description: "Fill the ready pool: lease, sync and hydrate codespaces" },
  usage: ["prewarm [--count N] [--probe-command CMD] [--stop] [flags]"],
  examples: [
    'crabbox-cs prewarm --count 2 --probe-command "npm ci"   # two hydrated leases',
    "crabbox-cs prewarm --stop      # stopped: storage billed, compute not",
    "crabbox-cs run --pool -- npm test",
  ],
  args: {
    ...commonArgs,
    count: { type: "string", description: "How many pool leases to add", default: "1", valueHint: "n" },
    "probe-command": { type: "string", description: "Hydrate command run on each lease after the sync, e.g. \"npm ci\" (default: config pool.hydrate)", valueHint: "command" },
    stop: { type: "boolean", description: "Leave the codespaces stopped (a run starts one: faster than creating; storage is still billed)" },
    sync: { type: "boolean", default: true, description: "Sync the working tree before hydrating", negativeDescription: "Do not sync; hydrate what the codespace has" },
    timeout: { type: "string", description: "Give up waiting for a codespace or the hydrate command after this long", default: "10m", valueHint: "duration" },
  },
  async run({ args }) {
    // 1. How many, and what to run on each.
    const count = Number(args.count);
    if (!Number.isInteger(count) || count < 1 || count > 20) throw usageError(`bad --count "${args.count}": expected a whole number from 1 to 20`);
    const ctx = await createContext(args);
    const svc = createServices(ctx);
    const hydrate = (args["probe-command"] ?? ctx.config.pool.hydrate).trim();
    const timeoutMs = durationArg("timeout", args.timeout);
    const source = args.sync !== false ? await syncSource(ctx.runtime, false) : null;

    // 2. Lease, sync, hydrate, mark ready (all at once).
    const t0 = ctx.runtime.now();
    const leases = await prewarm(svc, { count, hydrate, stop: Boolean(args.stop), timeoutMs, source });
    const elapsedMs = ctx.runtime.now() - t0;

    // 3. What is in the pool now; a failed lease is released and makes the exit code non-zero.
    if (ctx.json) ctx.printJson({ leases, elapsedMs });
    else {
      ctx.print(table(["LEASE", "SLUG", "CODESPACE", "STATE"], leases.map((l) => [l.leaseId ?? "-", l.slug ?? "-", l.codespace ?? "-", l.state === "ready" ? (l.stopped ? "ready (stopped)" : "ready") : `failed: ${l.error?.message ?? ""}`]), { shrink: 2, wrapLast: true }));
      ctx.log.info(`${leases.filter((l) => l.state === "ready").length} of ${count} ready in ${elapsed(elapsedMs)}; use them: crabbox-cs run --pool -- <command>   ·   crabbox-cs pool list`);
    }
    const failed = leases.find((l) => l.state === "failed");
    return failed ? (failed.hydrateExitCode || failed.error?.exitCode || 1) : 0;
  },
});
