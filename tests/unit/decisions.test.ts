/**
 * The lifecycle decisions as pure functions, table-tested exhaustively
 * against oracles written here independently of the implementation:
 *  - releaseDecision: every state x every git status (27 field combinations,
 *    and none) x identity (match, codespace mismatch, account mismatch) x
 *    kept/one-shot x override (none, --delete, --keep), and a 404;
 *  - recoveryDecision and reclaimDecision: every claim state x what GitHub lists x who asks;
 *  - cleanupVerdict: every claim state x kept x expired x in use.
 */
import { describe, expect, test } from "bun:test";
import { CODESPACE_STATES, type Codespace, type GitStatus } from "../../src/github/schemas.ts";
import type { Claim, ClaimState } from "../../src/leases/claim.ts";
import { cleanupVerdict } from "../../src/lifecycle/cleanup.ts";
import { reclaimDecision, recoveryDecision, releaseDecision, type RecoveryAsker } from "../../src/lifecycle/decisions.ts";
import { API_URL, ME, claimFor, codespace } from "./helpers/fakes.ts";

const STATES: string[] = [...CODESPACE_STATES, "Teleporting", ""];
type B = boolean | "absent";
type A = 0 | 3 | "absent";
const GITS: (GitStatus | undefined)[] = [undefined];
for (const u of [false, true, "absent"] as B[])
  for (const p of [false, true, "absent"] as B[])
    for (const a of [0, 3, "absent"] as A[]) {
      const g: GitStatus = { behind: 0, ref: "main" };
      if (u !== "absent") g.has_uncommitted_changes = u;
      if (p !== "absent") g.has_unpushed_changes = p;
      if (a !== "absent") g.ahead = a;
      GITS.push(g);
    }
const IDENTITIES = ["match", "codespace-mismatch", "account-mismatch"] as const;
const OVERRIDES = [undefined, true, false] as const;

describe("releaseDecision", () => {
  test("the table has every combination", () => {
    expect(GITS).toHaveLength(28);
    expect(STATES).toHaveLength(19);
  });

  test.each(STATES)("state %p x 28 git statuses x 3 identities x kept/one-shot x 3 overrides", (state) => {
    let rows = 0;
    for (const git of GITS)
      for (const identity of IDENTITIES)
        for (const keep of [false, true])
          for (const override of OVERRIDES) {
            const live = codespace({ state, git_status: git as GitStatus });
            const claim = claimFor(codespace(), { keep });
            if (identity === "codespace-mismatch") live.id = 999;
            const me = identity === "account-mismatch" ? { login: "mallory", id: 66 } : ME;
            const d = releaseDecision({ claim, live, me, apiUrl: API_URL, override });
            rows++;

            // The oracle.
            if (identity !== "match") {
              expect(d.action).toBe("refuse");
              if (d.action === "refuse") {
                expect(d.code).toBe("identity_mismatch");
                expect(d.mismatches[0]!.field).toContain(identity === "account-mismatch" ? "github.login" : "codespace.id");
              }
              continue;
            }
            const stop = state === "Shutdown" ? "none" : state === "ShuttingDown" ? "wait" : "stop";
            expect("stop" in d && d.stop).toBe(stop);
            const del = override ?? !keep; // deleteOnRelease is true in claimFor
            if (!del) {
              expect(d).toEqual({ action: "stop", reason: keep ? "kept lease: stopped, not deleted" : "policy: stop on release", stop });
              continue;
            }
            const work = git?.has_uncommitted_changes === true || git?.has_unpushed_changes === true || (git?.ahead ?? 0) > 0;
            const proven = git?.has_uncommitted_changes === false && git?.has_unpushed_changes === false && (git?.ahead ?? 0) === 0;
            if (work) expect(d).toMatchObject({ action: "refuse-delete", code: "codespace_dirty" });
            else if (!proven) expect(d).toMatchObject({ action: "refuse-delete", code: "git_status_unknown", reason: "git status unknown" });
            else expect(d).toMatchObject({ action: "delete" });
          }
    expect(rows).toBe(28 * 3 * 2 * 3);
  });

  test("a codespace GitHub no longer knows is forgotten, unless another account is asking (it would see 404 too)", () => {
    const claim = claimFor(codespace());
    expect(releaseDecision({ claim, live: null, me: ME, apiUrl: API_URL })).toEqual({ action: "forget", reason: "the codespace no longer exists on GitHub" });
    expect(releaseDecision({ claim, live: null, me: { login: "mallory", id: 66 }, apiUrl: API_URL }).action).toBe("refuse");
    expect(releaseDecision({ claim, live: null, me: ME, apiUrl: "https://api.other.ghe.com" }).action).toBe("refuse");
  });
});

describe("recoveryDecision", () => {
  const claimStates: ClaimState[] = ["pending", "ready", "releasing", "released", "failed"];
  const ours = (name: string) => codespace({ name, display_name: "crabbox brave-crab abcdefgh" });
  const lists: [string, Codespace[]][] = [
    ["nothing", []],
    ["one of ours", [ours("cs-a")]],
    ["ours under another owner", [{ ...ours("cs-b"), owner: { ...ours("cs-b").owner, login: "mallory" } }]],
    ["another lease's name", [codespace({ name: "cs-c", display_name: "crabbox brave-crab zzzzzzzz" })]],
    ["two of ours", [ours("cs-a"), ours("cs-d")]],
  ];
  const rows: [ClaimState, string, RecoveryAsker][] = [];
  for (const s of claimStates) for (const [n] of lists) for (const a of ["acquire", "release"] as RecoveryAsker[]) rows.push([s, n, a]);
  test.each(rows)("claim %p, GitHub lists %p, asked by %p", (state, name, asker) => {
    const listed = lists.find(([n]) => n === name)![1];
    const d = recoveryDecision(claimFor(null, { state }), listed, ME, asker);
    const none = asker === "acquire" ? "fail" : "forget";
    if (state === "failed") expect(d.action).toBe(none);
    else if (name === "one of ours") expect(d).toMatchObject({ action: "adopt", codespace: { name: "cs-a" } });
    else if (name === "two of ours") expect(d).toMatchObject({ action: "refuse", candidates: ["cs-a", "cs-d"] });
    else expect(d.action).toBe(none);
  });
});

describe("reclaimDecision", () => {
  const mine = codespace({ name: "cs-x", display_name: "crabbox brave-crab abcdefgh" });
  const table: [string, Codespace | null | undefined, boolean, string][] = [
    ["not looked up, no claim holds it", undefined, false, "lookup"],
    ["held by a claim (no lookup needed)", undefined, true, "refuse:already_claimed"],
    ["held by a claim", mine, true, "refuse:already_claimed"],
    ["GitHub does not know it", null, false, "fail:codespace_not_found"],
    ["no display name", { ...mine, display_name: null }, false, "refuse:not_ours"],
    ["a display name crabbox-cs never gives", { ...mine, display_name: "my workspace" }, false, "refuse:not_ours"],
    ["someone else's", { ...mine, owner: { ...mine.owner, login: "mallory" } }, false, "refuse:not_ours"],
    ["ours", mine, false, "adopt"],
  ];
  test.each(table.map(([n]) => n))("%s", (name) => {
    const [, live, held, expected] = table.find(([n]) => n === name)!;
    const claims = held ? [claimFor(codespace({ name: "cs-x" }))] : [claimFor(codespace())];
    const d = reclaimDecision("cs-x", live, ME, claims);
    expect("code" in d ? `${d.action}:${d.code}` : d.action).toBe(expected);
    if (d.action === "adopt") expect(d).toMatchObject({ slug: "brave-crab", nonce: "abcdefgh" });
  });
});

describe("cleanupVerdict: every claim state x kept x expired x in use", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  const rows: [ClaimState, boolean, boolean, boolean][] = [];
  for (const s of ["pending", "ready", "releasing", "released", "failed"] as ClaimState[])
    for (const keep of [false, true]) for (const expired of [false, true]) for (const inUse of [false, true]) rows.push([s, keep, expired, inUse]);
  test.each(rows)("state %p kept=%p expired=%p inUse=%p", (state, keep, expired, inUse) => {
    const claim: Claim = claimFor(codespace(), { state, keep, expiresAt: new Date(now + (expired ? -1 : 60_000)).toISOString() });
    const v = cleanupVerdict(claim, now, inUse ? [{ pid: 7, host: "h" }] : []);
    const interrupted = state === "pending" || state === "failed" || state === "releasing";
    expect(v.release).toBe(!inUse && (interrupted || (!keep && expired)));
    if (inUse) expect(v.reason).toBe("in use by process 7 on host h");
  });
});
