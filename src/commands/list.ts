import { defineCommand } from "./argv.ts";
import { createContext } from "../context.ts";
import type { Codespace } from "../github/schemas.ts";
import { createServices } from "../lifecycle/services.ts";
import { expiryText, table } from "../output/format.ts";
import { leaseView } from "../output/views.ts";
import { commonArgs } from "./shared.ts";

export default defineCommand({
  meta: { name: "list", description: "List leases with their live codespace state" },
  examples: [
    "crabbox-cs list",
    "crabbox-cs list --json | jq -r '.[].slug'",
  ],
  args: { ...commonArgs },
  async run({ args }) {
    const ctx = await createContext(args);
    const svc = createServices(ctx);
    const { claims, corrupt } = await svc.store.list();
    for (const c of corrupt) ctx.log.warn(`skipping unreadable claim ${c.path}: ${c.error}`);
    // One paginated list call for all leases — never one GET per lease.
    const live = new Map<string, Codespace>();
    if (claims.some((c) => c.codespace)) {
      for (const cs of await (await svc.api()).listMyCodespaces()) live.set(cs.name, cs);
    }
    // store.list() returns claims oldest first.
    const views = claims.map((c) => leaseView(c, c.codespace ? (live.get(c.codespace.name) ?? null) : undefined));
    if (ctx.json) {
      ctx.printJson(views);
      return 0;
    }
    if (views.length === 0) {
      ctx.log.info("no leases. Start one: crabbox-cs warmup");
      return 0;
    }
    const now = ctx.runtime.now();
    ctx.print(
      table(
        ["LEASE", "STATE", "CODESPACE", "LIVE", "EXPIRES"],
        views.map((v) => [
          v.slug,
          v.state + (v.keep ? "*" : ""),
          v.codespace?.name ?? "-",
          v.codespace ? (v.live?.state ?? "gone") : "-",
          expiryText(v, now),
        ]),
        { shrink: 2 },
      ),
    );
    return 0;
  },
});
