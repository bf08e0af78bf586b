/**
 * Releasing polls the transitions it asked for (the stop, the delete) closely:
 * no pause between two looks is longer than STARTED_POLL_CAP_MS, however long
 * GitHub takes. Fake time: the sleeps are recorded, never slept.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Codespace } from "../../src/github/schemas.ts";
import { release } from "../../src/lifecycle/release.ts";
import { STARTED_POLL_CAP_MS } from "../../src/lifecycle/wait.ts";
import { claimFor, codespace, fakeApi, fakeServices } from "./helpers/fakes.ts";

const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

test("a stop and a delete that take many looks: polled at most STARTED_POLL_CAP_MS apart, then the claim goes", async () => {
  const home = mkdtempSync(join(tmpdir(), "crabbox-polls-"));
  homes.push(home);
  const cs = codespace({ state: "Available" });
  const api = fakeApi([cs]);
  // GitHub is slow: 12 looks while stopping, 12 more while deleting.
  let phase: "up" | "stopping" | "deleting" | "gone" = "up";
  let looks = 0;
  api.stopCodespace = async (name) => {
    api.calls.push(`stop ${name}`);
    phase = "stopping";
    looks = 0;
    return { ...structuredClone(cs), state: "ShuttingDown" } as Codespace;
  };
  api.deleteCodespace = async (name) => {
    api.calls.push(`delete ${name}`);
    phase = "deleting";
    looks = 0;
    return 202;
  };
  api.getCodespaceOrNull = async () => {
    looks++;
    if (phase === "up") return structuredClone(cs);
    if (phase === "stopping") return { ...structuredClone(cs), state: looks > 12 ? "Shutdown" : "ShuttingDown" } as Codespace;
    if (phase === "deleting" && looks <= 12) return { ...structuredClone(cs), state: "Shutdown" } as Codespace;
    phase = "gone";
    return null;
  };
  const svc = fakeServices(home, api);
  const sleeps: number[] = [];
  svc.ctx.runtime.sleep = async (ms) => {
    sleeps.push(ms);
  };
  const claim = await svc.store.create(claimFor(cs));
  const out = await release(svc, claim.leaseId, { timeoutMs: 600_000 });
  expect(out.action).toBe("deleted");
  expect(api.calls).toEqual([`stop ${cs.name}`, `delete ${cs.name}`]);
  expect(sleeps.length).toBeGreaterThanOrEqual(22); // both waits were polled (not vacuous)
  expect(Math.max(...sleeps)).toBeLessThanOrEqual(STARTED_POLL_CAP_MS);
  expect(await svc.store.read(claim.leaseId)).toBeNull();
});
