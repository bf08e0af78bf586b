import { defineCommand } from "./argv.ts";
import { createContext } from "../context.ts";
import { bringUp } from "../lifecycle/connect.ts";
import { createServices } from "../lifecycle/services.ts";
import { resolveLease } from "../leases/resolve.ts";
import { expiryText, gitStatusText, relativeTime } from "../output/format.ts";
import { oneLine } from "../output/sanitize.ts";
import { leaseView } from "../output/views.ts";
import { commonArgs, durationArg, leaseRefArg, leaseRefArgs } from "./shared.ts";
import { CrabboxError, Exit } from "../errors.ts";
import { ghHostFor } from "../github/api-url.ts";
import type { Claim } from "../leases/claim.ts";
import { accountMismatches } from "../lifecycle/identity.ts";
import type { GithubUser } from "../github/schemas.ts";

/** The lease was made by another GitHub user or through another API: its codespace cannot be seen from here. */
function assertStatusAccount(claim: Claim, me: GithubUser, apiUrl: string): void {
  const m = accountMismatches(claim, me, apiUrl)[0];
  if (!m) return;
  const sameApi = m.field !== "apiUrl";
  const owner = claim.github.login;
  const host = ghHostFor(claim.apiUrl);
  throw new CrabboxError({
    code: "identity_mismatch",
    message: sameApi
      ? `lease ${claim.slug} belongs to GitHub user ${owner}, but you are logged in as ${me.login}${me.login === owner ? ` (a different account id: ${claim.github.id} vs ${me.id})` : ""}`
      : `lease ${claim.slug} was made through ${claim.apiUrl}, but this command uses ${apiUrl}`,
    why: sameApi
      ? `GitHub shows a codespace only to its owner, so as ${me.login} its state cannot be read (it is not gone); nothing was changed`
      : "the codespace lives on the API the lease was made with; nothing was changed",
    hint: sameApi
      ? `log in as ${owner} (gh auth switch -h ${host} -u ${owner}, or set GH_TOKEN to a token of ${owner}), then run crabbox-cs status ${claim.slug} again`
      : `crabbox-cs status ${claim.slug} --github-codespaces-api-url ${claim.apiUrl}`,
    exit: Exit.refused,
    details: { leaseId: claim.leaseId, owner, ownerId: claim.github.id, you: me.login, youId: me.id, apiUrl: claim.apiUrl },
  });
}

export default defineCommand({
  meta: { name: "status", description: "Show one lease and its codespace" },
  examples: [
    "crabbox-cs status amber-crab",
    "crabbox-cs status amber-crab --wait   # start it and wait until ready",
    "crabbox-cs status amber-crab --json | jq -r .live.state",
  ],
  args: {
    ...commonArgs,
    ...leaseRefArgs,
    wait: { type: "boolean", description: "Wait until the lease is ready (finishes an interrupted warmup)" },
    timeout: { type: "string", description: "How long --wait waits (Go duration)", default: "10m", valueHint: "duration" },
  },
  async run({ args }) {
    const ctx = await createContext(args);
    const svc = createServices(ctx);
    let claim = await resolveLease(svc.store, leaseRefArg(args, "status"));
    // Another account (or API) would see the codespace as 404: say whose lease it is instead of "gone".
    if (claim.codespace) assertStatusAccount(claim, await svc.me(), ctx.config.githubCodespaces.apiUrl);
    // No codespace bound: nothing to ask GitHub (and no token needed).
    let live = claim.codespace ? await (await svc.api()).getCodespaceOrNull(claim.codespace.name) : undefined;
    if (args.wait && claim.codespace && live && (claim.state !== "ready" || live.state !== "Available")) {
      if (claim.state === "failed" || claim.state === "releasing") {
        throw new CrabboxError({ code: "lease_not_usable", message: `lease ${claim.slug} is ${claim.state}: it will not become ready`, hint: `crabbox-cs stop ${claim.slug}`, exit: Exit.refused });
      }
      const timeoutMs = durationArg("timeout", args.timeout);
      const up = await svc.store.withLease(claim.leaseId, (c) => bringUp(svc, c, { timeoutMs }));
      claim = up.claim;
      live = up.codespace;
    }
    if (claim.codespace && live && claim.lastSeen?.state !== live.state) {
      // Remember what we saw (labels only; nothing on GitHub changes).
      const seenAt = new Date(ctx.runtime.now()).toISOString();
      await svc.store.withLease(claim.leaseId, async (c) => {
        await svc.store.write({ ...c, lastSeen: { state: live!.state, at: seenAt } });
      }).catch(() => undefined);
    }
    const view = leaseView(claim, live);
    if (ctx.json) {
      ctx.printJson(view);
      return 0;
    }
    const now = ctx.runtime.now();
    ctx.print(
      [
        `lease      ${view.leaseId} (${view.slug})`,
        `state      ${view.state}${view.keep ? " (kept)" : ""}`,
        `repo       ${view.repo}${view.ref ? `@${view.ref}` : ""}`,
        `machine    ${view.machine}`,
        `codespace  ${view.codespace?.name ?? "-"}${view.codespace ? ` (${oneLine(view.live?.state ?? "gone")})` : ""}`,
        ...(view.live
          ? [`git        ${gitStatusText(view.live.gitStatus)}`]
          : []),
        `work root  ${view.workRoot}`,
        `created    ${relativeTime(view.createdAt, now)}`,
        `expires    ${expiryText(view, now)}`,
        ...(view.lastSync ? [`last sync  ${relativeTime(view.lastSync.at, now)}`] : []),
        ...(view.failure ? [`note       ${view.failure}`] : []),
      ].join("\n"),
    );
    return 0;
  },
});
