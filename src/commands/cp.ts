import { defineCommand } from "./argv.ts";
import { lstatSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { createContext } from "../context.ts";
import { CrabboxError, Exit, usageError } from "../errors.ts";
import type { Claim } from "../leases/claim.ts";
import { resolveLease } from "../leases/resolve.ts";
import { withLeaseInUse } from "../lifecycle/in-use.ts";
import { createServices } from "../lifecycle/services.ts";
import type { CopyResult } from "../output/schemas.ts";
import type { Runtime } from "../runtime.ts";
import { secretByContent, secretByName, secretRules } from "../sync/secrets.ts";
import { parseSides, remoteDest, remoteSource, type CopySides } from "../transfer/cp-spec.ts";
import { lexists, pullEntries, pushEntries, pushFile, RSYNC_PARTIAL, type LeaseEnds } from "../transfer/rsync-copy.ts";
import { walkForCopy } from "../transfer/walk.ts";
import { tail } from "../util/text.ts";
import type * as v from "valibot";
import { commonArgs, durationArg, idArg } from "./shared.ts";

export default defineCommand({
  meta: { name: "cp", description: "Copy files between here and a lease (SANDBOX:PATH on one side)" },
  usage: ["cp [--id LEASE] [flags] SRC DEST"],
  examples: [
    "crabbox-cs cp --id amber-crab ./fixtures :test/fixtures   # up",
    "crabbox-cs cp amber-crab:coverage/ ./out/   # down: ./out/coverage",
    "crabbox-cs cp -L --id amber-crab ./config.json :/tmp/config.json",
  ],
  args: {
    ...commonArgs,
    ...idArg,
    src: { type: "positional", required: true, description: "What to copy: a local path, or SANDBOX:PATH" },
    dest: { type: "positional", required: true, description: "Where to: a local path, or SANDBOX:PATH" },
    "follow-links": { type: "boolean", alias: "L", description: "Copy what symlinks in the source point to, not the links" },
    timeout: { type: "string", description: "How long to wait if the codespace must be started (Go duration)", default: "10m", valueHint: "duration" },
  },
  async run({ args }) {
    // 1. Which side is remote, and which lease.
    if (!args.src || !args.dest) throw usageError("cp needs SRC and DEST", "crabbox-cs cp [--id LEASE] SRC DEST   (one side SANDBOX:PATH, e.g. amber-crab:reports/)");
    const sides = parseSides(args.src, args.dest);
    const ctx = await createContext(args);
    const svc = createServices(ctx);
    const ref = sides.sandbox || args.id;
    if (!ref) throw usageError("cp needs a lease", "name it before the colon (amber-crab:PATH), or pass --id with :PATH");
    const claim = await resolveLease(svc.store, ref);
    if (sides.sandbox && args.id && (await resolveLease(svc.store, args.id)).leaseId !== claim.leaseId) {
      throw usageError(`--id ${args.id} and ${sides.sandbox}: name different leases`, "give the lease once: SANDBOX:PATH, or --id with :PATH");
    }
    const follow = Boolean(args["follow-links"]);
    const local = resolve(ctx.runtime.cwd, sides.local);
    // 2. The copy, with the lease marked in use and its connection up.
    const result = await withLeaseInUse(svc, claim, { timeoutMs: durationArg("timeout", args.timeout), connect: true }, (c) =>
      sides.direction === "up" ? copyUp(ctx.runtime, c, sides, local, follow, (m) => ctx.log.warn(m)) : copyDown(ctx.runtime, c, sides, local, follow),
    );
    if (ctx.json) ctx.printJson(result);
    else ctx.log.info(`copied ${result.source} to ${result.dest}${result.held.length ? ` (${result.held.length} secret path${result.held.length === 1 ? "" : "s"} not sent)` : ""}`);
    return 0;
  },
});

type Result = v.InferOutput<typeof CopyResult>;

function ends(claim: Claim): LeaseEnds {
  return { configPath: claim.sshConfigPath!, alias: claim.sshHost!, workRoot: claim.workRoot };
}

function failed(what: string, r: { code: number; stderr: string }): CrabboxError {
  return new CrabboxError({
    code: "cp_failed",
    message: `copying ${what} failed (rsync exit ${r.code})`,
    why: tail(r.stderr) || undefined,
    hint: "check the paths (missing remote parent directories are created only with rsync 3.2.3 or newer in the codespace)",
    exit: r.code === 255 ? Exit.sshConnect : Exit.unexpected,
  });
}

function secretRefused(path: string): CrabboxError {
  return new CrabboxError({
    code: "cp_secret_refused",
    message: `not copying ${path}: it is a secret the sync never sends`,
    why: "credentials (.ssh, .aws, .gnupg, .config/gh, .netrc, .git-credentials, .env*, an .npmrc with a token) never leave this machine (docs/sync.md)",
    hint: "copy only what the codespace needs; pass secrets with run --env instead",
    exit: Exit.refused,
  });
}

/** Local → lease: a file (named DEST, or into DEST/), or a directory's entries minus secrets. */
async function copyUp(runtime: Runtime, claim: Claim, sides: CopySides, local: string, follow: boolean, warn: (m: string) => void): Promise<Result> {
  let st;
  try {
    st = follow ? statSync(local) : lstatSync(local);
  } catch {
    throw usageError(`${sides.local}: no such local file or directory`);
  }
  const rules = secretRules(dirname(local), runtime.crabboxHome);
  const into = sides.remote.endsWith("/");
  const selfPath = local.replace(/^\/+/, "");
  const base = { leaseId: claim.leaseId, direction: "up" as const, source: sides.local, held: [] as string[] };
  if (st.isDirectory()) {
    if (secretByName(`${selfPath}/x`, rules) || secretByName(`${basename(local)}/x`, rules)) throw secretRefused(sides.local);
    const walked = walkForCopy(local, secretRules(local, runtime.crabboxHome), follow);
    if (walked.held.length > 0) warn(`not sent (secrets are never copied, see docs/sync.md): ${walked.held.slice(0, 3).join(", ")}${walked.held.length > 3 ? `, and ${walked.held.length - 3} more` : ""}`);
    for (const u of walked.unreadable) warn(`not sent (unreadable): ${u}`);
    const target = remoteDest(claim.workRoot, into ? `${sides.remote}${basename(local)}` : sides.remote, true);
    const r = await pushEntries(runtime, ends(claim), { localBase: local, entries: walked.entries, remoteDir: target, follow });
    if (r.code !== 0) throw failed(sides.local, r);
    return { ...base, dest: target, entries: walked.entries.length, held: walked.held };
  }
  if (secretByName(selfPath, rules) || secretByName(basename(local), rules) || (st.isFile() && secretByContent(basename(local), local))) throw secretRefused(sides.local);
  const target = remoteDest(claim.workRoot, into ? `${sides.remote}${basename(local)}` : sides.remote, false);
  const r = await pushFile(runtime, ends(claim), { localPath: local, remotePath: target, follow });
  if (r.code !== 0) throw failed(sides.local, r);
  return { ...base, dest: target, entries: 1 };
}

/** Lease → local: into DEST when it is a directory (or ends with /), else named DEST. */
async function copyDown(runtime: Runtime, claim: Claim, sides: CopySides, local: string, follow: boolean): Promise<Result> {
  const src = remoteSource(claim.workRoot, sides.remote);
  let isDir = false;
  try {
    isDir = statSync(local).isDirectory();
  } catch {}
  const into = isDir || sides.local.endsWith("/");
  const dir = into ? local : dirname(local);
  if (!lexists(dir)) throw usageError(`${into ? sides.local : dirname(sides.local)}: no such local directory`);
  // Named DEST: copy beside it, then rename (so DEST is exactly the copy, whatever SRC's name).
  const stage = into ? dir : mkdtempSync(join(dir, ".crabbox-cp-"));
  try {
    const r = await pullEntries(runtime, ends(claim), { base: src.base, entries: [src.entry], dest: stage, keepPath: false, follow });
    const landed = join(stage, src.name);
    if (r.code === RSYNC_PARTIAL && !lexists(landed)) {
      throw new CrabboxError({ code: "cp_not_found", message: `${sides.remote}: no such file or directory on lease ${claim.slug}`, why: tail(r.stderr) || undefined, hint: `look: crabbox-cs ssh ${claim.slug} -- ls -la`, exit: Exit.notFound });
    }
    if (r.code !== 0) throw failed(sides.remote, r);
    if (!into) renameSync(landed, local);
    return { leaseId: claim.leaseId, direction: "down", source: sides.remote, dest: into ? join(local, src.name) : local, entries: 1, held: [] };
  } finally {
    if (!into) rmSync(stage, { recursive: true, force: true });
  }
}
