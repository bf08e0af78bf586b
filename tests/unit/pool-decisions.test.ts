/** The ready pool's pure decisions (src/lifecycle/pool-decisions.ts), table-tested. */
import { describe, expect, test } from "bun:test";
import type { Claim, ClaimPool } from "../../src/leases/claim.ts";
import { ClaimSchema } from "../../src/leases/claim.ts";
import { parseClaim } from "../../src/leases/store.ts";
import { cleanupVerdict } from "../../src/lifecycle/cleanup.ts";
import {
  borrowCandidates,
  drainVerdict,
  identityDrainAction,
  poolCleanupReason,
  poolKey,
  returnDecision,
  spentReason,
} from "../../src/lifecycle/pool-decisions.ts";
import * as v from "valibot";
import { API_URL, ME, claimFor, codespace } from "./helpers/fakes.ts";

const KEY = poolKey({ repo: "octocat/Hello-World", ref: "", machine: "", devcontainerPath: "" });
const CREATED = Date.parse("2026-12-01T11:00:00Z");
const MIN = 60_000;
const LIMITS = { maxUses: 3, maxAgeMs: 60 * MIN, idleTtlMs: 10 * MIN, stopIdle: false };
const cs = codespace();

function pooled(p: Partial<ClaimPool> = {}, o: Partial<Claim> = {}, id = "cbx_aaaaaaaaaaaa"): Claim {
  return claimFor(cs, { leaseId: id, keep: true, pool: { key: KEY, state: "ready", uses: 0, borrowedAt: null, returnedAt: null, drainReason: null, ...p }, ...o });
}
const USER = { pid: 42, host: "here" };

describe("poolKey", () => {
  test("equal exactly when repo, ref, machine and devcontainer path are", () => {
    const base = { repo: "o/r", ref: "", machine: "", devcontainerPath: "" };
    expect(poolKey(base)).toBe("o/r");
    expect(poolKey({ repo: "o/r", ref: "dev", machine: "premiumLinux", devcontainerPath: ".devcontainer/x.json" })).toBe("o/r@dev machine=premiumLinux devcontainer=.devcontainer/x.json");
    expect(poolKey({ ...base, machine: "x" })).not.toBe(poolKey({ ...base, devcontainerPath: "x" }));
    for (const change of [{ repo: "o/s" }, { ref: "dev" }, { machine: "largePremiumLinux" }, { devcontainerPath: ".devcontainer/x.json" }]) {
      expect(poolKey({ ...base, ...change })).not.toBe(poolKey(base));
    }
  });
});

describe("borrowCandidates", () => {
  const now = CREATED + 5 * MIN;
  const cases: [string, Claim, boolean][] = [
    ["ready, running", pooled(), true],
    ["ready, stopped and kept", pooled({}, { state: "released" }), true],
    ["busy", pooled({ state: "busy" }), false],
    ["draining", pooled({ state: "draining" }), false],
    ["another pool key", pooled({ key: "o/other" }), false],
    ["another API", pooled({}, { apiUrl: "https://ghe.example/api/v3" }), false],
    ["no codespace bound", pooled({}, { codespace: null }), false],
    ["failed claim", pooled({}, { state: "failed" }), false],
    ["releasing claim", pooled({}, { state: "releasing" }), false],
    ["used maxUses times", pooled({ uses: 3 }), false],
    ["older than maxAge", pooled({}, { createdAt: new Date(now - 61 * MIN).toISOString() }), false],
    ["not a pool lease", claimFor(cs, { keep: true }), false],
  ];
  for (const [name, claim, ok] of cases) {
    test(`${name}: ${ok ? "borrowable" : "not borrowable"}`, () => {
      expect(borrowCandidates([claim], KEY, API_URL, now, LIMITS).length).toBe(ok ? 1 : 0);
    });
  }
  test("a running lease first, then the least recently returned", () => {
    const stopped = pooled({ returnedAt: "2026-12-01T11:01:00Z" }, { state: "released" }, "cbx_bbbbbbbbbbbb");
    const recent = pooled({ returnedAt: "2026-12-01T11:04:00Z" }, {}, "cbx_cccccccccccc");
    const older = pooled({ returnedAt: "2026-12-01T11:02:00Z" }, {}, "cbx_dddddddddddd");
    expect(borrowCandidates([stopped, recent, older], KEY, API_URL, now, LIMITS).map((c) => c.leaseId)).toEqual(["cbx_dddddddddddd", "cbx_cccccccccccc", "cbx_bbbbbbbbbbbb"]);
  });
});

describe("returnDecision", () => {
  const now = CREATED + 5 * MIN;
  const end: { interrupted: boolean; connectionLost: boolean; failed?: string | null } = { interrupted: false, connectionLost: false };
  const cases: [string, Claim, typeof end, typeof LIMITS, string][] = [
    ["a normal run", pooled({ uses: 1, state: "busy" }), end, LIMITS, "return"],
    ["pool.stopIdle", pooled({ uses: 1, state: "busy" }), end, { ...LIMITS, stopIdle: true }, "return+stop"],
    ["maxUses reached", pooled({ uses: 3, state: "busy" }), end, LIMITS, "drain"],
    ["maxUses 0 = no limit", pooled({ uses: 300, state: "busy" }), end, { ...LIMITS, maxUses: 0 }, "return"],
    ["maxAge passed", pooled({ uses: 1, state: "busy" }, { createdAt: new Date(now - 60 * MIN).toISOString() }), end, LIMITS, "drain"],
    ["interrupted", pooled({ uses: 1, state: "busy" }), { interrupted: true, connectionLost: false }, LIMITS, "drain"],
    ["connection lost", pooled({ uses: 1, state: "busy" }), { interrupted: false, connectionLost: true }, LIMITS, "drain"],
    ["claim no longer ready", pooled({ uses: 1, state: "busy" }, { state: "released" }), end, LIMITS, "drain"],
    ["the run failed on the way (codespace gone)", pooled({ uses: 1, state: "busy" }), { ...end, failed: "codespace_gone" }, LIMITS, "drain"],
    ["the command failed (its own status)", pooled({ uses: 1, state: "busy" }), { ...end, failed: null }, LIMITS, "return"],
  ];
  for (const [name, claim, e, cfg, want] of cases) {
    test(`${name} → ${want}`, () => {
      const d = returnDecision(claim, claim.pool!, e, now, cfg);
      expect(d.action === "return" ? (d.stop ? "return+stop" : "return") : "drain").toBe(want);
    });
  }
});

describe("poolCleanupReason and cleanupVerdict: never drained while in use", () => {
  const now = CREATED + 30 * MIN;
  const cases: [string, Claim, (typeof USER)[], RegExp | null][] = [
    ["busy, borrower alive", pooled({ state: "busy" }), [USER], null],
    ["busy, borrower gone", pooled({ state: "busy" }), [], /abandoned/],
    ["ready, idle past idleTtl", pooled({ returnedAt: new Date(now - 11 * MIN).toISOString() }), [], /idleTtl/],
    ["ready, idle past idleTtl but in use", pooled({ returnedAt: new Date(now - 11 * MIN).toISOString() }), [USER], null],
    ["ready, recently returned", pooled({ returnedAt: new Date(now - MIN).toISOString() }), [], null],
    ["draining", pooled({ state: "draining", drainReason: "maxUses" }), [], /draining: maxUses/],
    ["spent", pooled({ uses: 3, returnedAt: new Date(now - MIN).toISOString() }), [], /maxUses/],
    ["not a pool lease", claimFor(cs, { keep: true }), [], null],
  ];
  for (const [name, claim, users, want] of cases) {
    test(`${name} → ${want ?? "not drained"}`, () => {
      const reason = poolCleanupReason(claim, now, users, LIMITS);
      if (want) expect(reason).toMatch(want);
      else expect(reason).toBeNull();
      expect(cleanupVerdict(claim, now, users, reason).release).toBe(want !== null);
    });
  }
});

describe("drainVerdict (pool drain)", () => {
  test("a lease in use is never drained; an unused one is, busy or not", () => {
    expect(drainVerdict(pooled({ state: "busy" }), [USER]).drain).toBe(false);
    expect(drainVerdict(pooled({ state: "ready" }), [USER]).drain).toBe(false);
    expect(drainVerdict(pooled({ state: "busy" }), [])).toEqual({ drain: true, reason: "abandoned: busy, but its borrower is gone" });
    expect(drainVerdict(pooled({ state: "ready" }), []).drain).toBe(true);
    expect(drainVerdict(claimFor(cs), []).drain).toBe(false);
  });
});

describe("identityDrainAction", () => {
  test("stop when the codespace is still yours, else touch nothing", () => {
    expect(identityDrainAction({ owner: { ...cs.owner, login: ME.login, id: ME.id } }, ME)).toBe("stop");
    expect(identityDrainAction({ owner: { ...cs.owner, login: "mallory", id: 666 } }, ME)).toBe("refuse");
    expect(identityDrainAction({ owner: { ...cs.owner, login: ME.login, id: 666 } }, ME)).toBe("refuse");
  });
});

describe("spentReason", () => {
  test("0 means no limit for both", () => {
    const old = pooled({ uses: 1000 }, { createdAt: "2000-01-01T00:00:00Z" });
    expect(spentReason(old, old.pool!, CREATED, { maxUses: 0, maxAgeMs: 0, idleTtlMs: 0 })).toBeNull();
  });
});

describe("the claim schema stays compatible", () => {
  test("a claim without pool fields still loads; one with them round-trips", () => {
    const old = claimFor(cs);
    delete (old as Partial<Claim>).pool;
    expect(typeof parseClaim(JSON.stringify(old))).toBe("object");
    const p = pooled({ state: "busy", uses: 2, borrowedAt: "2026-12-01T11:05:00Z" });
    expect(v.parse(ClaimSchema, JSON.parse(JSON.stringify(p))).pool).toEqual(p.pool);
    expect(typeof parseClaim(JSON.stringify({ ...p, pool: { ...p.pool, state: "lent" } }))).toBe("string");
  });
});
