/**
 * The one classification of codespace states (src/github/states.ts), checked
 * against GitHub's documented list (/work/shared/api.md, CODESPACE_STATES):
 * every documented state has a class, and what each class means for a wait
 * and a stop is stated here independently of the implementation.
 */
import { describe, expect, test } from "bun:test";
import { CODESPACE_STATES } from "../../src/github/schemas.ts";
import { isTerminal, stateClass, stopStep, waitStep, type StateClass, type WaitTarget } from "../../src/github/states.ts";

/** The documented list, as api.md words it. */
const API_MD_STATES =
  "Unknown, Created, Queued, Provisioning, Available, Awaiting, Unavailable, Deleted, Moved, Shutdown, Archived, Starting, ShuttingDown, Failed, Exporting, Updating, Rebuilding".split(", ");

const EXPECTED: Record<string, StateClass> = {
  Unknown: "unknown",
  Created: "pending",
  Queued: "pending",
  Provisioning: "pending",
  Available: "ready",
  Awaiting: "pending",
  Unavailable: "failed",
  Deleted: "gone",
  Moved: "failed",
  Shutdown: "stopped",
  Archived: "failed",
  Starting: "pending",
  ShuttingDown: "stopping",
  Failed: "failed",
  Exporting: "pending",
  Updating: "pending",
  Rebuilding: "pending",
};
const UNDOCUMENTED = ["Teleporting", "", "available", "constructor", "__proto__", "toString"];
const ALL = [...API_MD_STATES, ...UNDOCUMENTED];

describe("state classification", () => {
  test("the schema's list is api.md's list, and every documented state is classified", () => {
    expect([...CODESPACE_STATES] as string[]).toEqual(API_MD_STATES);
    expect(Object.keys(EXPECTED).sort()).toEqual([...API_MD_STATES].sort());
  });
  test.each(API_MD_STATES)("%s", (s) => expect(stateClass(s)).toBe(EXPECTED[s]!));
  test.each(UNDOCUMENTED)("undocumented %p is unknown: not ready, not gone", (s) => {
    expect(stateClass(s)).toBe("unknown");
    expect(isTerminal(s)).toBe(false);
  });
  test("Moved and Archived fail a wait, as the product always did (not stopped/pending)", () => {
    for (const s of ["Moved", "Archived"]) {
      expect(waitStep(s, "Available", false).action).toBe("fail");
      expect(waitStep(s, "Shutdown", false).action).toBe("fail");
    }
  });
});

describe("waitStep: every state x target x started", () => {
  const rows: [string, WaitTarget, boolean][] = [];
  for (const s of ALL) for (const t of ["Available", "Shutdown"] as WaitTarget[]) for (const st of [false, true]) rows.push([s, t, st]);
  test("covers every state", () => expect(rows).toHaveLength(ALL.length * 4));
  test.each(rows)("%p waiting for %p, started=%p", (state, target, started) => {
    const r = waitStep(state, target, started);
    const cls = EXPECTED[state] ?? "unknown";
    const expected =
      state === target ? "done"
      : target === "Available" && state === "Shutdown" && !started ? "start"
      : cls === "failed" || cls === "gone" ? "fail"
      : "poll";
    expect(r.action).toBe(expected);
    if (r.action === "poll") expect(r.unfamiliar).toBe(!API_MD_STATES.includes(state));
  });
});

describe("stopStep", () => {
  test.each(ALL)("%p", (s) => {
    expect(stopStep(s)).toBe(s === "Shutdown" ? "none" : s === "ShuttingDown" ? "wait" : "stop");
  });
});
