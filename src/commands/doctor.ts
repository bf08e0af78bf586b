import { defineCommand } from "./argv.ts";
import type * as v from "valibot";
import type { DoctorCheck as DoctorCheckSchema } from "../output/schemas.ts";
import { createContext } from "../context.ts";
import { describeSources } from "../config/load.ts";
import { CrabboxError, Exit } from "../errors.ts";
import type { Repository } from "../github/schemas.ts";
import { assertPermissionsAccepted, chooseMachine } from "../lifecycle/preflight.ts";
import { resolveRepo } from "../lifecycle/repo.ts";
import { installHint, missingTools } from "../lifecycle/tools.ts";
import { createServices } from "../lifecycle/services.ts";
import { resolveLease } from "../leases/resolve.ts";
import { leaseRef } from "../lifecycle/claims.ts";
import { checkLocalRsync, checkRemoteRsync } from "../sync/rsync.ts";
import { probeWritable } from "../fsutil.ts";
import { doctorReport } from "../output/doctor-report.ts";
import { commonArgs, idArg } from "./shared.ts";

/** One row of `doctor --json` (shape: src/output/schemas.ts). */
export type DoctorCheck = v.InferOutput<typeof DoctorCheckSchema>;

export default defineCommand({
  meta: { name: "doctor", description: "Check gh, auth, repository, Codespaces access and local state" },
  examples: [
    "crabbox-cs doctor",
    "crabbox-cs doctor --id amber-crab   # also the rsync inside that lease",
    "crabbox-cs doctor --json | jq -r '.[] | select(.ok | not) | .check'",
  ],
  args: { ...commonArgs, ...idArg },
  async run({ args }) {
    // A broken config file is a failed check (with its line and column), not an abort: the file is left out.
    const fileErrors: CrabboxError[] = [];
    const ctx = await createContext(args, undefined, { onFileError: (e) => fileErrors.push(e) });
    const svc = createServices(ctx);
    const cfg = ctx.config.githubCodespaces;
    const checks: DoctorCheck[] = [];
    let firstExit = 0;

    async function check(name: DoctorCheck["check"], fn: () => Promise<string>): Promise<boolean> {
      try {
        checks.push({ check: name, ok: true, detail: await fn(), hint: null, code: null });
        return true;
      } catch (e) {
        const err = e instanceof CrabboxError ? e : new CrabboxError({ code: "unexpected", message: (e as Error).message, exit: 1 });
        checks.push({ check: name, ok: false, detail: err.why ? `${err.message}: ${err.why}` : err.message, hint: err.hint ?? null, code: err.code });
        firstExit ||= err.exit;
        return false;
      }
    }
    /** A check that cannot run because one it depends on failed: `skip` and why. */
    const skip = (name: DoctorCheck["check"], why: string) => checks.push({ check: name, ok: false, detail: `skipped: ${why}`, hint: null, code: "skipped" });

    await check("config", async () => {
      if (fileErrors.length) throw fileErrors[0]!;
      const files = [ctx.config.files?.repo, ctx.config.files?.user].filter(Boolean);
      return files.length ? `read ${files.join(" and ")}` : "no config file; defaults, CRABBOX_* variables and flags";
    });
    await check("tools", async () => {
      const missing = missingTools(ctx.runtime, ["ssh", "rsync", "git"]);
      if (missing.length) throw new CrabboxError({ code: "tools_missing", message: `not on PATH: ${missing.join(", ")}`, hint: installHint(missing), exit: 1 });
      return "ssh, rsync and git found";
    });
    await check("rsync", async () => {
      const { version, line } = await checkLocalRsync(ctx.runtime);
      return `local rsync ${version} (${line})`;
    });
    if (args.id) {
      await check("remote-rsync", async () => {
        const claim = await resolveLease(svc.store, String(args.id));
        if (!claim.sshConfigPath || !claim.sshHost) {
          throw new CrabboxError({ code: "lease_not_ready", message: `lease ${leaseRef(claim)} has no ssh config yet`, hint: `bring it up first: crabbox-cs run --id ${leaseRef(claim)} --no-sync -- true`, exit: Exit.refused });
        }
        const { version, line } = await checkRemoteRsync(ctx.runtime, { configPath: claim.sshConfigPath, alias: claim.sshHost, ref: leaseRef(claim) });
        return `rsync ${version} in ${leaseRef(claim)} (${line})`;
      });
    }
    await check("gh", async () => {
      const v = await svc.gh.version();
      if (!v) throw new CrabboxError({ code: "gh_missing", message: `GitHub CLI not found (${cfg.ghPath})`, why: "crabbox-cs uses `gh codespace ssh --config` for SSH access", hint: "install gh (https://cli.github.com) or point --github-codespaces-gh at it", exit: 1 });
      return v;
    });
    const authOk = await check("auth", async () => {
      const { source } = await svc.token();
      const me = await svc.me();
      return `authenticated as ${me.login} (token from ${source}) at ${cfg.apiUrl}`;
    });
    let repo = "";
    let repository: Repository | undefined;
    const repoOk = authOk && (await check("repository", async () => {
      repo = await resolveRepo(ctx.runtime, cfg.repo, cfg.apiUrl);
      const r = (repository = await (await svc.api()).getRepository(repo));
      return `${r.full_name} (${r.private ? "private" : "public"}, default branch ${r.default_branch})`;
    }));
    if (!authOk) skip("repository", "needs auth, which failed");
    if (!repoOk) for (const name of ["codespaces", "machines", "permissions"] as const) skip(name, authOk ? "needs the repository check, which failed" : "needs auth, which failed");
    let devcontainerPath = cfg.devcontainerPath;
    if (repoOk && repository) {
      const api = await svc.api();
      // The same ref warmup would use.
      const ref = cfg.ref || repository.default_branch;
      await check("codespaces", async () => {
        const d = await api.getRepoDefaults(repo, { ref });
        devcontainerPath ||= d.defaults.devcontainer_path ?? "";
        return `available; billed to ${d.billable_owner.login}; default location ${d.defaults.location}${devcontainerPath ? `; devcontainer ${devcontainerPath}` : ""}`;
      });
      await check("machines", async () => {
        const m = (await api.listRepoMachines(repo, { ref })).machines;
        const { machine, picked } = chooseMachine(repo, ref, m, cfg.machine);
        return `${m.map((x) => `${x.name} (${x.cpus} cores)`).join(", ")}; warmup would use ${machine.name}${picked ? " (the smallest)" : ""}`;
      });
      if (devcontainerPath) {
        await check("permissions", async () => {
          await assertPermissionsAccepted(api, repository!, ref, devcontainerPath);
          return `accepted for ${devcontainerPath}@${ref}`;
        });
      } else skip("permissions", "no devcontainer path configured or defaulted");
    }
    await check("claims", async () => {
      const { claims, corrupt } = await svc.store.list();
      if (corrupt.length) {
        throw new CrabboxError({ code: "claims_corrupt", message: `${corrupt.length} unreadable claim file(s)`, why: corrupt.map((c) => `${c.path}: ${c.error}`).join("; "), hint: "inspect and remove them by hand; other leases are unaffected", exit: 1 });
      }
      // Really writable (a test directory is made and removed), not just present.
      await probeWritable(svc.store.claimsDir);
      return `${claims.length} lease(s) in ${svc.store.claimsDir} (writable)`;
    });

    if (ctx.json) ctx.printJson(checks);
    else ctx.print(doctorReport(checks, describeSources(ctx.config, { all: true })));
    return checks.every((c) => c.ok || c.code === "skipped") ? 0 : firstExit || 1;
  },
});
