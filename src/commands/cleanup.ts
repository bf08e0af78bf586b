import { defineCommand } from "./argv.ts";
import { createContext } from "../context.ts";
import { cleanup } from "../lifecycle/cleanup.ts";
import { createServices } from "../lifecycle/services.ts";
import { table } from "../output/format.ts";
import { commonArgs, durationArg } from "./shared.ts";

export default defineCommand({
  meta: { name: "cleanup", description: "Release expired leases; report unclaimed look-alikes" },
  usage: ["cleanup [--dry-run] [flags]"],
  examples: [
    "crabbox-cs cleanup --dry-run        # what would be released",
    "crabbox-cs cleanup",
  ],
  args: {
    ...commonArgs,
    "dry-run": { type: "boolean", description: "Show what would happen; change nothing" },
    timeout: { type: "string", description: "How long to wait for each stop/delete (Go duration)", default: "5m", valueHint: "duration" },
  },
  async run({ args }) {
    const ctx = await createContext(args);
    const svc = createServices(ctx);
    const dryRun = Boolean(args["dry-run"]);
    const result = await cleanup(svc, { dryRun, timeoutMs: durationArg("timeout", args.timeout) });
    for (const c of result.corrupt) ctx.log.warn(`unreadable claim ${c.path}: ${c.error} (left alone)`);
    if (ctx.json) ctx.printJson(result);
    else if (result.decisions.length === 0 && result.leftovers.length === 0) ctx.log.info("nothing to clean up");
    // Full codespace names: the next command (stop --reclaim NAME) needs them as they are.
    else if (result.decisions.length > 0) ctx.print(table(["LEASE", "CODESPACE", "ACTION", "REASON"], result.decisions.map((d) => [d.slug ?? d.leaseId ?? "-", d.codespace ?? "-", d.action, d.reason]), { wrapLast: true }));
    if (!ctx.json) {
      for (const l of result.leftovers) {
        ctx.log.info(`${dryRun ? "would remove" : "removed"} files of lease ${l.leaseId}, which no claim holds: ${l.paths.join(", ")}`);
      }
    }
    const failed = result.decisions.find((d) => d.error);
    return failed?.error ? failed.error.exitCode : 0;
  },
});
