/**
 * "In use" markers: a `run --id` or `ssh` on a lease leaves
 * `<claimsDir>/<leaseId>.inuse.<pid>` while it works, so that `cleanup`
 * never releases a lease under a running command. Markers of dead processes
 * are ignored (and swept).
 */
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pidAlive } from "./lock.ts";
import { assertLeaseId, type ClaimStore } from "./store.ts";

export async function markInUse(store: ClaimStore, leaseId: string): Promise<() => Promise<void>> {
  assertLeaseId(leaseId);
  const path = join(store.claimsDir, `${leaseId}.inuse.${process.pid}`);
  await writeFile(path, "", { mode: 0o600 }).catch(() => undefined);
  return () => rm(path, { force: true });
}

/** Pids of live processes using the lease. */
export async function usersOf(store: ClaimStore, leaseId: string): Promise<number[]> {
  assertLeaseId(leaseId);
  const prefix = `${leaseId}.inuse.`;
  const names = await readdir(store.claimsDir).catch(() => [] as string[]);
  const pids: number[] = [];
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    const pid = Number(n.slice(prefix.length));
    if (Number.isInteger(pid) && pid > 0 && pidAlive(pid)) pids.push(pid);
    else await rm(join(store.claimsDir, n), { force: true });
  }
  return pids;
}
