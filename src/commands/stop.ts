import { defineCommand } from "./argv.ts";
import { createContext } from "../context.ts";
import { elapsed, releaseText } from "../output/format.ts";
import { usageError } from "../errors.ts";
import { release } from "../lifecycle/release.ts";
import { reclaim } from "../lifecycle/reclaim.ts";
import { createServices } from "../lifecycle/services.ts";
import { resolveLease } from "../leases/resolve.ts";
import { commonArgs, durationArg, leaseRefArg, leaseRefArgs } from "./shared.ts";

export default defineCommand({
  meta: { name: "stop", description: "Release a lease: stop, and delete when safe" },
  usage: ["stop [LEASE] [flags]", "stop --reclaim <codespace-name> [flags]"],
  examples: [
    "crabbox-cs stop amber-crab          # delete if clean (stop only if kept)",
    "crabbox-cs stop amber-crab --keep   # stop, keep for later",
    "crabbox-cs stop --reclaim monalisa-hello-world-g4w7rqx5v2",
  ],
  args: {
    ...commonArgs,
    ...leaseRefArgs,
    delete: { type: "boolean", description: "Delete this time even if the lease is kept or the policy says stop (never when there is unsaved work)" },
    keep: { type: "boolean", description: "Only stop this time, even if the policy says delete" },
    force: { type: "boolean", description: "Same as --delete; still never deletes a codespace with uncommitted or unpushed work" },
    reclaim: { type: "string", description: "Adopt and release a codespace that lost its claim; give its full name (only codespaces named by crabbox-cs qualify)", valueHint: "codespace-name" },
    timeout: { type: "string", description: "How long to wait for stop/delete to complete (Go duration)", default: "5m", valueHint: "duration" },
  },
  async run({ args }) {
    if (args.delete && args.keep) throw usageError("--delete and --keep contradict each other", "pick one");
    if (args.reclaim && (args.lease || args.id)) throw usageError("--reclaim takes the codespace name instead of a lease", "crabbox-cs stop --reclaim <codespace-name>");
    const ctx = await createContext(args);
    const svc = createServices(ctx);
    const override = args.keep ? false : args.delete || args.force ? true : undefined;
    const opts = { delete: override, timeoutMs: durationArg("timeout", args.timeout) };
    const t0 = ctx.runtime.now();
    const outcome = args.reclaim
      ? await reclaim(svc, args.reclaim, opts)
      : await release(svc, (await resolveLease(svc.store, leaseRefArg(args, "stop"))).leaseId, opts);
    if (ctx.json) ctx.printJson(outcome);
    else {
      ctx.log.success(`lease ${outcome.leaseId} (${outcome.slug}): ${outcome.codespace ?? "no codespace"} ${releaseText(outcome)} in ${elapsed(ctx.runtime.now() - t0)}`);
    }
    return 0;
  },
});
