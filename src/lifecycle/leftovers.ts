/**
 * A lease's local files besides its claim, and their removal:
 *   <home>/ssh/<leaseId>.config and .proxy.log (src/ssh/config.ts), the
 *   ControlMaster socket that config names (closed first), <home>/sync/<leaseId>*
 *   (sync cache and file lists), and <claimsDir>/<leaseId>.inuse.* markers.
 * `forgetLease` removes the claim and these together; `sweepLeftovers` finds
 * such files of leases that no claim holds any more (for `cleanup`).
 */
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { fsp } from "../util/fsp.ts";
import { join } from "node:path";
import { LEASE_ID_RE } from "../leases/claim.ts";
import { markerLeaseId, readMarkers } from "../leases/usage.ts";
import { leaseConfigPath, proxyLogPathFor } from "../ssh/config.ts";
import { closeMaster } from "../ssh/exec.ts";
import type { Runtime } from "../runtime.ts";
import type { Services } from "./services.ts";

const ID = LEASE_ID_RE.source.slice(1, -1); // cbx_[a-z2-7]{12}
const SSH_FILE_RE = new RegExp(`^(${ID})\\.(config|proxy\\.log)$`);
const SYNC_FILE_RE = new RegExp(`^(${ID})\\.`);

export interface Leftover {
  leaseId: string;
  paths: string[];
}

/** The Host alias of a config file we wrote (first Host line). */
function aliasOf(configPath: string): string | null {
  try {
    if (!lstatSync(configPath).isFile()) return null;
    return /^Host\s+(\S+)/m.exec(readFileSync(configPath, "utf8"))?.[1] ?? null;
  } catch {
    return null;
  }
}

/** The ControlMaster socket path a config resolves to (`ssh -G` expands %C), or null. */
async function controlSocketOf(runtime: Runtime, configPath: string, alias: string): Promise<string | null> {
  const r = await runtime.exec(["ssh", "-G", "-F", configPath, alias], { timeoutMs: 10_000 });
  if (r.code !== 0) return null;
  const path = /^controlpath\s+(.+)$/m.exec(r.stdout)?.[1]?.trim();
  return path && path !== "none" && !path.includes("%") ? path : null;
}

function isSocket(path: string): boolean {
  try {
    return lstatSync(path).isSocket();
  } catch {
    return false;
  }
}

/** Paths of a lease's local files that exist now (not the claim, not its lock). */
async function filesOf(runtime: Runtime, claimsDir: string, leaseId: string): Promise<string[]> {
  const config = leaseConfigPath(runtime, leaseId);
  const found = [config, proxyLogPathFor(config)].filter((p) => existsSync(p));
  const syncDir = join(runtime.crabboxHome, "sync");
  for (const n of await fsp().readdir(syncDir).catch(() => [] as string[])) {
    if (SYNC_FILE_RE.exec(n)?.[1] === leaseId) found.push(join(syncDir, n));
  }
  for (const n of await fsp().readdir(claimsDir).catch(() => [] as string[])) {
    if (markerLeaseId(n) === leaseId) found.push(join(claimsDir, n));
  }
  return found;
}

/**
 * Remove a lease's local files: close its ControlMaster and remove the socket,
 * then the ssh config, proxy log, sync cache and in-use markers. Returns what
 * was (or, with dryRun, would be) removed.
 */
export async function removeLeaseFiles(svc: Services, leaseId: string, opts: { dryRun?: boolean } = {}): Promise<string[]> {
  const { runtime } = svc.ctx;
  const files = await filesOf(runtime, svc.store.claimsDir, leaseId);
  const config = leaseConfigPath(runtime, leaseId);
  const alias = existsSync(config) ? aliasOf(config) : null;
  const socket = alias ? await controlSocketOf(runtime, config, alias) : null;
  const all = socket && isSocket(socket) ? [socket, ...files] : files;
  if (opts.dryRun || all.length === 0) return all;
  if (alias && socket && isSocket(socket)) {
    await closeMaster(runtime, config, alias).catch(() => false);
    if (isSocket(socket)) await fsp().rm(socket, { force: true }).catch(() => undefined);
  }
  for (const p of files) await fsp().rm(p, { force: true }).catch(() => undefined);
  return all;
}

/** The claim is gone for good: remove it and every local file of the lease. Call under the lease lock. */
export async function forgetLease(svc: Services, leaseId: string): Promise<void> {
  await svc.store.remove(leaseId);
  await removeLeaseFiles(svc, leaseId);
}

/**
 * Per-lease files whose lease has no claim: removed (reported only with
 * dryRun). A lease with a live in-use marker is left alone (its claim may be
 * about to be written), and each lease's claim is checked again just before.
 */
export async function sweepLeftovers(svc: Services, opts: { dryRun: boolean }): Promise<Leftover[]> {
  const { runtime } = svc.ctx;
  const { store } = svc;
  const ids = new Set<string>();
  const sshDir = join(runtime.crabboxHome, "ssh");
  for (const n of await fsp().readdir(sshDir).catch(() => [] as string[])) {
    const id = SSH_FILE_RE.exec(n)?.[1];
    if (id) ids.add(id);
  }
  for (const n of await fsp().readdir(join(runtime.crabboxHome, "sync")).catch(() => [] as string[])) {
    const id = SYNC_FILE_RE.exec(n)?.[1];
    if (id) ids.add(id);
  }
  for (const n of await fsp().readdir(store.claimsDir).catch(() => [] as string[])) {
    const id = markerLeaseId(n);
    if (id) ids.add(id);
  }
  const out: Leftover[] = [];
  for (const leaseId of [...ids].sort()) {
    if (existsSync(store.claimPath(leaseId))) continue;
    if ((await readMarkers(store, leaseId)).some((m) => m.verdict.live)) continue;
    const paths = await removeLeaseFiles(svc, leaseId, opts);
    if (paths.length > 0) out.push({ leaseId, paths });
  }
  return out;
}
