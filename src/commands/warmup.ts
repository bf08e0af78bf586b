import { defineCommand } from "./argv.ts";
import { createContext } from "../context.ts";
import { acquire } from "../lifecycle/acquire.ts";
import { createServices } from "../lifecycle/services.ts";
import { elapsed } from "../output/format.ts";
import { leaseView } from "../output/views.ts";
import { commonArgs, durationArg, leaseArgs, prArg } from "./shared.ts";

export default defineCommand({
  meta: { name: "warmup", description: "Lease a codespace and make it ready for commands" },
  examples: [
    "crabbox-cs warmup --keep          # a lease to reuse: run --id <slug>",
    "crabbox-cs warmup --ttl 4h --type premiumLinux",
    "crabbox-cs warmup --pr 42 --json  # from pull request 42",
  ],
  args: {
    ...commonArgs,
    ...leaseArgs,
    fresh: { type: "boolean", description: "Always create a new codespace, even if a kept lease for this repository could be resumed" },
  },
  async run({ args }) {
    const ctx = await createContext(args);
    const svc = createServices(ctx);
    const result = await acquire(svc, {
      keep: Boolean(args.keep),
      ttlMs: durationArg("ttl", args.ttl),
      timeoutMs: durationArg("timeout", args.timeout),
      pr: prArg(args.pr),
      reuse: !args.fresh,
    });
    const { claim, codespace } = result;
    if (ctx.json) {
      ctx.printJson({ ...leaseView(claim, codespace), elapsedMs: result.elapsedMs });
    } else {
      ctx.log.success(`lease ready in ${elapsed(result.elapsedMs)}`);
      ctx.print(
        [
          `lease      ${claim.leaseId}`,
          `slug       ${claim.slug}`,
          `codespace  ${codespace.name}`,
          `machine    ${claim.machine}`,
          `repo       ${claim.repo}${claim.ref ? `@${claim.ref}` : ""}`,
          `expires    ${claim.keep ? "never (kept: cleanup leaves it; stop stops it, never deletes)" : claim.expiresAt}`,
          `elapsed    ${elapsed(result.elapsedMs)}`,
        ].join("\n"),
      );
      ctx.log.info(`next: crabbox-cs run --id ${claim.slug} -- <command>   ·   crabbox-cs stop ${claim.slug}`);
    }
    return 0;
  },
});
