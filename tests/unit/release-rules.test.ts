/**
 * The pure release rules, table-tested exhaustively:
 *  - gitVerdict: delete only when both booleans are present and false and `ahead` is 0 or absent;
 *  - judgeMarker: which in-use markers still protect a lease (host, pid, start time, TTL);
 *  - cleanupVerdict: in use is never released; otherwise released when due.
 */
import { describe, expect, test } from "bun:test";
import type { GitStatus } from "../../src/github/schemas.ts";
import type { Claim } from "../../src/leases/claim.ts";
import type { ProcessProbe } from "../../src/leases/proc.ts";
import { statStartTime } from "../../src/leases/proc.ts";
import { judgeMarker, MARKER_TTL_MS, parseMarker, type UseMarker } from "../../src/leases/usage.ts";
import { GIT_STATUS_UNKNOWN, gitVerdict } from "../../src/lifecycle/claims.ts";
import { cleanupVerdict } from "../../src/lifecycle/cleanup.ts";

describe("gitVerdict", () => {
  type B = boolean | "absent";
  type A = 0 | 2 | "absent";
  const bools: B[] = [false, true, "absent"];
  const aheads: A[] = [0, 2, "absent"];
  const rows: [B, B, A][] = [];
  for (const u of bools) for (const p of bools) for (const a of aheads) rows.push([u, p, a]);

  test("covers all 27 combinations of present/absent/true/false and ahead 0/absent/>0", () => {
    expect(rows).toHaveLength(27);
  });

  test.each(rows)("uncommitted=%p unpushed=%p ahead=%p", (u, p, a) => {
    const g: GitStatus = { behind: 0, ref: "main" };
    if (u !== "absent") g.has_uncommitted_changes = u;
    if (p !== "absent") g.has_unpushed_changes = p;
    if (a !== "absent") g.ahead = a;
    const r = gitVerdict(g);
    const knownWork = u === true || p === true || a === 2;
    const proven = u === false && p === false && (a === 0 || a === "absent");
    // The rule of issue 10 item 3, stated independently of the implementation:
    expect(r.deletable).toBe(proven);
    if (proven) expect(r).toEqual({ deletable: true, reason: "clean", unknown: false });
    else if (knownWork) {
      expect(r.unknown).toBe(false);
      if (u === true) expect(r.reason).toContain("uncommitted changes");
      if (p === true || a === 2) expect(r.reason).toContain("unpushed commits");
      if (a === 2) expect(r.reason).toContain("(2 ahead)");
    } else expect(r).toEqual({ deletable: false, reason: GIT_STATUS_UNKNOWN, unknown: true });
  });

  test("no git_status at all, an empty one, or a negative ahead: unknown", () => {
    for (const g of [undefined, null, {}, { has_uncommitted_changes: false, has_unpushed_changes: false, ahead: -1 }]) {
      expect(gitVerdict(g as GitStatus)).toEqual({ deletable: false, reason: GIT_STATUS_UNKNOWN, unknown: true });
    }
  });
});

describe("judgeMarker", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  const probe: ProcessProbe = {
    host: "here",
    alive: (pid) => pid === 100 || pid === 200,
    startTime: (pid) => (pid === 100 ? "5000" : pid === 200 ? null : null),
  };
  const m = (o: Partial<UseMarker>): UseMarker => ({
    version: 1,
    leaseId: "cbx_aaaaaaaaaaaa",
    host: "here",
    pid: 100,
    startTime: "5000",
    createdAt: new Date(now - 1000).toISOString(),
    expiresAt: new Date(now - 1000 + MARKER_TTL_MS).toISOString(),
    ...o,
  });
  const rows: [string, UseMarker | null, boolean, string][] = [
    ["this host, live pid, same start time", m({}), true, "process 100 on host here"],
    ["this host, dead pid", m({ pid: 300 }), false, "process 300 is gone"],
    ["this host, pid reused (start time differs)", m({ startTime: "4999" }), false, "another process"],
    ["this host, start time not recorded, pid alive", m({ startTime: null }), true, "process 100"],
    ["this host, start time not readable now, pid alive", m({ pid: 200, startTime: "1" }), true, "process 200"],
    ["this host, expired TTL but live process (TTL is for other hosts)", m({ expiresAt: new Date(now - 1).toISOString() }), true, "process 100"],
    ["other host, within TTL (pid means nothing here)", m({ host: "there", pid: 300 }), true, "process 300 on host there"],
    ["other host, TTL passed", m({ host: "there", expiresAt: new Date(now - 1).toISOString() }), false, "expired"],
    ["other host, expiry unreadable", m({ host: "there", expiresAt: "soon" }), false, "expired"],
    ["unreadable marker", null, false, "unreadable"],
  ];
  test.each(rows)("%s", (_name, marker, live, text) => {
    const v = judgeMarker(marker, probe, now);
    expect(v.live).toBe(live);
    expect(v.live ? v.who : v.why).toContain(text);
  });
});

describe("parseMarker and statStartTime", () => {
  test("a written marker parses; a mismatched lease id or junk does not; a legacy empty marker is this host's", () => {
    const good = { version: 1, leaseId: "cbx_aaaaaaaaaaaa", host: "h", pid: 7, startTime: "9", createdAt: "a", expiresAt: "b" };
    expect(parseMarker(JSON.stringify(good), "cbx_aaaaaaaaaaaa.inuse.abcdefgh23", "me")).toEqual(good as UseMarker);
    expect(parseMarker(JSON.stringify(good), "cbx_bbbbbbbbbbbb.inuse.abcdefgh23", "me")).toBeNull();
    expect(parseMarker("{", "cbx_aaaaaaaaaaaa.inuse.abcdefgh23", "me")).toBeNull();
    expect(parseMarker("", "cbx_aaaaaaaaaaaa.inuse.4242", "me")).toMatchObject({ host: "me", pid: 4242, startTime: null });
  });

  test("field 22 of /proc/<pid>/stat, with a command name holding spaces and parentheses", () => {
    const stat = "19806 (a (b) c) R 19804 19804 16922 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 73067 3133440 379";
    expect(statStartTime(stat)).toBe("73067");
    expect(statStartTime("garbage")).toBeNull();
  });
});

describe("cleanupVerdict", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  const past = new Date(now - 1).toISOString();
  const future = new Date(now + 60_000).toISOString();
  const c = (o: Partial<Claim>): Claim => ({ state: "ready", keep: false, expiresAt: future, ...o }) as Claim;
  const user = [{ pid: 42, host: "box" }];
  const rows: [string, Claim, boolean, boolean, string][] = [
    ["ready, not expired", c({}), false, false, "not expired"],
    ["ready, expired", c({ expiresAt: past }), false, true, "expired at"],
    ["ready, expired, in use", c({ expiresAt: past }), true, false, "in use by process 42 on host box"],
    ["kept, expired", c({ keep: true, expiresAt: past }), false, false, "kept lease"],
    ["pending, no user (interrupted warmup)", c({ state: "pending" }), false, true, "interrupted warmup"],
    ["pending, in use (warmup running)", c({ state: "pending" }), true, false, "in use"],
    ["failed", c({ state: "failed" }), false, true, "failed lease"],
    ["failed, in use (run about to release it)", c({ state: "failed" }), true, false, "in use"],
    ["releasing", c({ state: "releasing" }), false, true, "interrupted release"],
    ["releasing, in use", c({ state: "releasing" }), true, false, "in use"],
    ["released, expired", c({ state: "released", expiresAt: past }), false, true, "expired"],
  ];
  test.each(rows)("%s", (_n, claim, inUse, release, text) => {
    const v = cleanupVerdict(claim, now, inUse ? user : []);
    expect(v.release).toBe(release);
    expect(v.reason).toContain(text);
  });
});
