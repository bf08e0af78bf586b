/**
 * What the last successful sync to a lease left there, as the git-based check
 * (gitstate.ts) needs it: `<crabboxHome>/sync/<leaseId>.state` (0600).
 *
 * Its size follows what git reports as dirty (and what the last sync wrote),
 * never the size of the tree: a clean checkout of 100 000 files keeps a few
 * hundred bytes. One JSON line, rewritten after a sync (and after a skip
 * only when a dirty file had to be hashed again).
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ensurePrivateDir, writeFileAtomicQuick } from "../fsutil.ts";
import type { Runtime } from "../runtime.ts";
import type { StatEntry } from "./gitstate.ts";

export interface SyncState {
  v: 3;
  /** The local root and salt (alias + work root) it belongs to. */
  root: string;
  salt: string;
  /** The view's key when the last sync finished (gitstate.ts). */
  key: string;
  head: string;
  /** [path, signature] of each path git reported then. */
  dirty: [string, string][];
  stats: Record<string, StatEntry>;
  /** The remote stamp that sync touched (remote.ts). */
  stamp: string;
  /** The codespace had `zstd` then (its report said so): the next change set's first part may travel zstd-compressed. */
  zstd?: boolean;
  /** The paths its rsync wrote (latin1 byte strings), unless it wrote the whole view. */
  written?: string[];
  wroteAll?: boolean;
  files: number;
  bytes: number;
}

export function statePath(runtime: Runtime, leaseId: string): string {
  return join(runtime.crabboxHome, "sync", `${leaseId}.state`);
}

export function loadState(runtime: Runtime, leaseId: string): SyncState | null {
  try {
    const s = JSON.parse(readFileSync(statePath(runtime, leaseId), "utf8")) as Partial<SyncState>;
    if (s.v !== 3 || typeof s.key !== "string" || typeof s.head !== "string" || !Array.isArray(s.dirty) || typeof s.stamp !== "string") return null;
    return { stats: {}, files: 0, bytes: 0, ...s } as SyncState;
  } catch {
    return null;
  }
}

/**
 * Written whole or not at all (temp file, then rename), without fsync: it is saved when a change set
 * has just been applied, often while the command's session ends, and syncing it to disk there costs
 * more than the file is worth. A crash of this machine may lose it (or leave it empty): the next
 * sync then finds the state before it, whose older stamp lists a superset of what changed there,
 * or none and checks everything.
 */
export async function saveState(runtime: Runtime, leaseId: string, state: SyncState): Promise<void> {
  await ensurePrivateDir(join(runtime.crabboxHome, "sync"));
  writeFileAtomicQuick(statePath(runtime, leaseId), `${JSON.stringify(state)}\n`);
  // The per-file stat cache of earlier versions is not needed any more.
  rmSync(join(runtime.crabboxHome, "sync", `${leaseId}.json`), { force: true });
}

export function forgetState(runtime: Runtime, leaseId: string): void {
  rmSync(statePath(runtime, leaseId), { force: true });
}
