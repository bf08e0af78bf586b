/** Two processes never borrow the same lease: 10 concurrent `run --pool` over 3 ready leases. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHarness, type Harness } from "./harness.ts";
import { claims, gate, liveState, prewarm, waitFor } from "./pool-lib.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  for (const c of claims(h)) await h.run(["stop", c.leaseId, "--delete"]);
  await h?.close();
});

test("10 concurrent run --pool over 3 ready leases: 3 borrow, 7 fall back, every lease ends ready or released", async () => {
  const pw = await prewarm(h, ["--count", "3"]);
  const pool = new Set<string>(pw.leases.map((l: any) => l.leaseId));
  expect(pool.size).toBe(3);
  const g = gate();
  // Every command waits until all ten run at once: a returned lease cannot be borrowed twice.
  const procs = Array.from({ length: 10 }, (_, i) => h.spawn(["run", "--pool", "--json", "--", "sh", "-c", g.cmd(String(i))]));
  expect(await waitFor(() => g.started() === 10, 180_000)).toBe(true);
  // While all ten run: three distinct pool leases are busy.
  expect(claims(h).filter((c) => c.pool?.state === "busy").map((c) => c.leaseId).sort()).toEqual([...pool].sort());
  g.open();
  const results = await Promise.all(procs.map(async (p) => ({ code: await p.exited, out: JSON.parse(await new Response(p.stdout).text()) })));
  for (const r of results) expect(r.code).toBe(0);
  const borrowed = results.filter((r) => r.out.pool.borrowed);
  expect(borrowed).toHaveLength(3);
  expect(new Set(borrowed.map((r) => r.out.leaseId))).toEqual(pool);
  expect(results.filter((r) => !r.out.pool.borrowed)).toHaveLength(7);
  // No lost claims: exactly the three pool leases remain, ready, used once; the seven one-shot codespaces are gone.
  const left = claims(h);
  expect(left.map((c) => c.leaseId).sort()).toEqual([...pool].sort());
  for (const c of left) expect(c.pool).toMatchObject({ state: "ready", uses: 1 });
  const codespaces = (h.emu.control.codespaces() as any[]).map((c) => c.name).sort();
  expect(codespaces).toEqual(left.map((c) => c.codespace.name).sort());
  for (const c of left) expect(liveState(h, c.codespace.name)).toBe("Available");
}, 300_000);
