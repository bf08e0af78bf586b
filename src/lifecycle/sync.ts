/** Sync the local working tree to a lease and remember what was sent. */
import type * as v from "valibot";
import type { SyncSummary as SyncSummarySchema } from "../output/schemas.ts";
import type { Claim } from "../leases/claim.ts";
import { bytes, elapsed } from "../output/format.ts";
import type { Runtime } from "../runtime.ts";
import { syncTree } from "../sync/sync.ts";
import type { Services } from "./services.ts";

/** The `sync` part of `run --json` (shape: src/output/schemas.ts). */
export type SyncSummary = v.InferOutput<typeof SyncSummarySchema>;

/** The local root to sync: the git top level of the current directory, else the directory itself. */
export async function localRoot(runtime: Runtime): Promise<{ root: string; isGit: boolean }> {
  const r = await runtime.exec(["git", "rev-parse", "--show-toplevel"]);
  const top = r.code === 0 ? r.stdout.trim() : "";
  return top ? { root: top, isGit: true } : { root: runtime.cwd, isGit: false };
}

export interface SyncLeaseOptions {
  /** Make sure the connection is up before rsync runs (only called when rsync must run). */
  connect?: (claim: Claim) => Promise<Claim>;
}

export async function syncLease(svc: Services, claim: Claim, opts: SyncLeaseOptions = {}): Promise<{ claim: Claim; summary: SyncSummary }> {
  const { runtime, log } = svc.ctx;
  const { root, isGit } = await localRoot(runtime);
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
    workRoot: claim.workRoot,
    lastFingerprint: claim.lastSync?.fingerprint ?? null,
  });
  const summary: SyncSummary = { skipped: r.skipped, files: r.files, bytes: r.bytes, sentBytes: r.sentBytes ?? null, ms: r.ms };
  if (r.skipped) {
    log.info(`sync skipped: nothing changed since the last sync to this lease (${r.files} files, checked in ${elapsed(r.ms)})`);
    return { claim, summary };
  }
  log.info(
    `synced ${r.files} file${r.files === 1 ? "" : "s"} (${bytes(r.bytes)}) to ${claim.workRoot}${r.sentBytes != null ? `, ${bytes(r.sentBytes)} sent` : ""} in ${elapsed(r.ms)}`,
  );
  const at = new Date(runtime.now()).toISOString();
  const next = await svc.store.withLease(claim.leaseId, async (current) => {
    const updated = { ...current, lastSync: { fingerprint: r.fingerprint, at } };
    await svc.store.write(updated);
    return updated;
  });
  return { claim: next, summary };
}
