/** Sync the local working tree to a lease and remember what was sent. */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type * as v from "valibot";
import type { SyncSummary as SyncSummarySchema } from "../output/schemas.ts";
import type { Claim } from "../leases/claim.ts";
import { CrabboxError, Exit } from "../errors.ts";
import { bytes, elapsed } from "../output/format.ts";
import type { ExecResult, Runtime } from "../runtime.ts";
import { gitTopLevel, neverSynced, realOr } from "../sync/files.ts";
import { startRunStatus, takeHeadStart } from "./head-start.ts";
import { openEarlySession, syncTree, type EarlySession, type SessionSync, type SyncResult } from "../sync/sync.ts";
import type { Services } from "./services.ts";

/** The `sync` part of `run --json` (shape: src/output/schemas.ts). */
export type SyncSummary = v.InferOutput<typeof SyncSummarySchema>;

/** The local root to sync: the git top level of the current directory, else the directory itself. */
export async function localRoot(runtime: Runtime): Promise<{ root: string; isGit: boolean }> {
  // Found by looking for `.git` upwards (no git spawn); git itself answers when that cannot be trusted.
  const found = gitTopLevel(runtime.cwd, runtime.env);
  if (found) return { root: found, isGit: true };
  const r = await runtime.exec(["git", "rev-parse", "--show-toplevel"]);
  const top = r.code === 0 ? r.stdout.trim() : "";
  return top ? { root: top, isGit: true } : { root: runtime.cwd, isGit: false };
}

/**
 * The tree may be sent: never $HOME itself or `/` (even as a git work tree,
 * even with --sync-all); outside git only with --sync-all.
 */
export function assertSyncableRoot(runtime: Runtime, root: string, isGit: boolean, syncAll: boolean): void {
  const r = realOr(root);
  if (neverSynced(r, runtime.homeDir)) {
    throw new CrabboxError({
      code: "sync_root_refused",
      message: `refusing to sync ${r === "/" ? "/" : "your home directory"} (${r})`,
      why: "it holds credentials and everything else you own; crabbox-cs never sends it, even with --sync-all",
      hint: "cd into the project directory first, or pass --no-sync",
      exit: Exit.refused,
    });
  }
  if (!isGit && !syncAll) {
    throw new CrabboxError({
      code: "sync_not_git",
      message: `${r} is not inside a git work tree`,
      why: "outside git there are no ignore rules to keep local-only files home",
      hint: "run from your checkout, or pass --sync-all to send this directory (secrets are never sent, see docs/sync.md), or --no-sync",
      exit: Exit.usage,
    });
  }
}

/** The local tree a sync sends. */
export interface SyncSource {
  root: string;
  isGit: boolean;
  /** `git status` of the tree, started here so that it runs while the lease is resolved (used only while fresh). */
  status?: { at: number; result: Promise<ExecResult> };
}

/** The tree to sync from the current directory, refused (before any lease is made) when it may not be sent. */
export async function syncSource(runtime: Runtime, syncAll: boolean): Promise<SyncSource> {
  const source = await localRoot(runtime);
  assertSyncableRoot(runtime, source.root, source.isGit, syncAll);
  // (With submodules the sync lists the tree itself: no status to start.)
  if (!source.isGit || existsSync(join(source.root, ".gitmodules"))) return source;
  return { ...source, status: takeHeadStart(source.root, runtime) ?? startRunStatus(runtime, source.root) };
}

export interface SyncLeaseOptions {
  /** The tree to send (from `syncSource`). */
  source: SyncSource;
  /** Make sure the connection is up before anything remote runs (only called when something changed). */
  connect?: (claim: Claim) => Promise<Claim>;
  /** A small change set may go in the command's own session (then `session` is set and nothing was sent yet). */
  inSession?: boolean;
  /** The command's session, already open (openCommandSession): this sync settles it. */
  early?: EarlySession | null;
}

/**
 * The command's session may open before the local check when the last sync
 * to this lease left a state to go on (sync.ts openEarlySession): then
 * `syncLease` with `early` tells it what to do. Null: check first.
 */
export function openCommandSession(svc: Services, claim: Claim, source: SyncSource): EarlySession | null {
  if (!source.isGit || !source.status) return null;
  return openEarlySession(svc.ctx.runtime, { leaseId: claim.leaseId, alias: claim.sshHost!, localRoot: source.root, workRoot: claim.workRoot });
}

export async function syncLease(
  svc: Services,
  claim: Claim,
  opts: SyncLeaseOptions,
): Promise<{ claim: Claim; summary: SyncSummary | null; session?: SessionSync; deferred?: boolean }> {
  const { runtime, log } = svc.ctx;
  const { root, isGit } = opts.source;
  const early = opts.early ?? undefined;
  const r = await syncTree(runtime, {
    beforeTransfer: opts.connect
      ? async () => {
          claim = await opts.connect!(claim);
        }
      : undefined,
    leaseId: claim.leaseId,
    configPath: claim.sshConfigPath!,
    alias: claim.sshHost!,
    localRoot: root,
    isGit,
    status: opts.source.status,
    workRoot: claim.workRoot,
    lastFingerprint: claim.lastSync?.fingerprint ?? null,
    inSession: opts.inSession,
    early: early?.early,
  }).catch((e: unknown) => {
    early?.decide("A");
    throw e;
  });
  early?.decide(r.skipped ? "N" : r.session ? "W" : "A", r.session);
  if (r.deferred) {
    log.debug("sync: the change set does not go in the command's session; syncing with rsync once it has ended");
    return { claim, summary: null, deferred: true };
  }
  if (r.session) {
    log.debug(`sync: ${r.session.changed} changed path(s) go in the command's own session`);
    return { claim, summary: { skipped: false, files: 0, bytes: 0, sentBytes: null, ms: r.ms }, session: r.session };
  }
  return recordSync(svc, claim, r);
}

/**
 * Say what a sync did and remember it in the claim (the no-op check compares against it). `written`:
 * the claim as `rememberSync` already wrote it (a change set applied in the command's session is
 * remembered as soon as its start marker says so, beside the command, and said after it).
 */
export async function recordSync(svc: Services, claim: Claim, r: SyncResult, where = "", written?: Promise<Claim | null>): Promise<{ claim: Claim; summary: SyncSummary }> {
  const { log } = svc.ctx;
  const summary: SyncSummary = { skipped: r.skipped, files: r.files, bytes: r.bytes, sentBytes: r.sentBytes ?? null, ms: r.ms };
  if (r.skipped) {
    log.info(`sync skipped: nothing changed since the last sync to this lease (${r.files} files, checked in ${elapsed(r.ms)})`);
    return { claim, summary };
  }
  if (r.held.length > 0) {
    const names = r.held.slice(0, 3).join(", ") + (r.held.length > 3 ? `, and ${r.held.length - 3} more` : "");
    log.warn(`not sent (secrets are never synced, see docs/sync.md): ${names}`);
  }
  if (r.unreadable > 0) log.warn(`not sent: ${r.unreadable} path${r.unreadable === 1 ? "" : "s"} whose names are not valid UTF-8`);
  log.info(
    `synced ${r.files} file${r.files === 1 ? "" : "s"} (${bytes(r.bytes)}) to ${claim.workRoot}${r.sentBytes != null ? `, ${bytes(r.sentBytes)} sent` : ""}${r.deleted ? `, ${r.deleted} removed` : ""}${where} in ${elapsed(r.ms)}`,
  );
  log.debug(`sync: ${r.mode} check, ${r.transferred ?? 0} file(s) transferred, ${r.sessions} ssh session(s)`);
  return { claim: (await written) ?? (await rememberSync(svc, claim, r)), summary };
}

/** The sync's fingerprint in the lease's claim (the no-op check compares against it); the claim as written. */
export function rememberSync(svc: Services, claim: Claim, r: SyncResult): Promise<Claim> {
  const at = new Date(svc.ctx.runtime.now()).toISOString();
  return svc.store.withLease(claim.leaseId, async (current) => {
    const updated = { ...current, lastSync: { fingerprint: r.fingerprint, at } };
    await svc.store.write(updated);
    return updated;
  });
}
