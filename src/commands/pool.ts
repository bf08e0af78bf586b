import { defineCommand } from "./argv.ts";
import { createContext } from "../context.ts";
import { CrabboxError, Exit, usageError } from "../errors.ts";
import { resolveLease } from "../leases/resolve.ts";
import { drainPool, listPool } from "../lifecycle/pool-admin.ts";
import { createServices } from "../lifecycle/services.ts";
import { elapsed, table } from "../output/format.ts";
import { commonArgs, durationArg } from "./shared.ts";

export default defineCommand({
  meta: { name: "pool", description: "Show the ready pool (pool list) or drain it (pool drain)" },
  usage: ["pool list [flags]", "pool drain (--all | LEASE) [--dry-run] [flags]"],
  examples: [
    "crabbox-cs pool list",
    "crabbox-cs pool drain --all --dry-run",
    "crabbox-cs pool drain amber-crab",
  ],
  args: {
    ...commonArgs,
    action: { type: "positional", required: false, description: "list (default) or drain", valueHint: "list|drain" },
    lease: { type: "positional", required: false, description: "drain: the pool lease (id or slug)" },
    all: { type: "boolean", description: "drain: every pool lease nobody is using" },
    "dry-run": { type: "boolean", description: "drain: show what would happen; change nothing" },
    timeout: { type: "string", description: "drain: how long to wait for each stop/delete (Go duration)", default: "5m", valueHint: "duration" },
  },
  async run({ args }) {
    const action = args.action ?? "list";
    if (action !== "list" && action !== "drain") throw usageError(`unknown pool action "${action}"`, "crabbox-cs pool list   ·   crabbox-cs pool drain --all | LEASE");
    if (action === "list" && (args.lease || args.all || args["dry-run"])) throw usageError("pool list takes no lease, --all or --dry-run", "crabbox-cs pool list");
    if (action === "drain" && Boolean(args.all) === Boolean(args.lease)) throw usageError("pool drain needs --all or one lease", "crabbox-cs pool drain --all   ·   crabbox-cs pool drain <lease>");
    const ctx = await createContext(args);
    const svc = createServices(ctx);

    if (action === "list") {
      const views = await listPool(svc);
      if (ctx.json) ctx.printJson(views);
      else if (views.length === 0) ctx.log.info("the pool is empty. Fill it: crabbox-cs prewarm");
      else {
        ctx.print(
          table(
            ["LEASE", "STATE", "USES", "AGE", "LIVE", "KEY"],
            views.map((p) => [p.slug, p.state, String(p.uses), elapsed(p.ageMs), p.codespace ? (p.codespaceState ?? "gone") : "-", p.key]),
            { shrink: 0, wrapLast: true },
          ),
        );
      }
      return 0;
    }

    // drain: one named lease (refused while in use), or every pool lease (those in use are skipped).
    const dryRun = Boolean(args["dry-run"]);
    const ids = args.lease ? [(await resolveLease(svc.store, args.lease)).leaseId] : (await listPool(svc)).map((p) => p.leaseId);
    if (args.lease) {
      const claim = await svc.store.read(ids[0]!);
      if (!claim?.pool) throw new CrabboxError({ code: "not_a_pool_lease", message: `lease ${args.lease} is not in the pool`, hint: `release it with: crabbox-cs stop ${args.lease}`, exit: Exit.usage });
    }
    const decisions = await drainPool(svc, ids, { dryRun, timeoutMs: durationArg("timeout", args.timeout) });
    if (args.lease && decisions[0]?.action === "skip") {
      throw new CrabboxError({
        code: "lease_in_use",
        message: `not draining pool lease ${args.lease}: ${decisions[0].reason}`,
        why: "a borrowed lease is never drained while its command runs",
        hint: `wait for the run to end, then: crabbox-cs pool drain ${args.lease}`,
        exit: Exit.refused,
      });
    }
    if (ctx.json) ctx.printJson({ dryRun, decisions });
    else if (decisions.length === 0) ctx.log.info("the pool is empty: nothing to drain");
    else ctx.print(table(["LEASE", "CODESPACE", "ACTION", "REASON"], decisions.map((d) => [d.slug, d.codespace ?? "-", d.action, d.reason]), { shrink: 1, wrapLast: true }));
    const failed = decisions.find((d) => d.error);
    return failed?.error ? failed.error.exitCode : 0;
  },
});
