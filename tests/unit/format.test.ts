import { describe, expect, test } from "bun:test";
import { relativeTime, table } from "../../src/output/format.ts";

describe("table", () => {
  test("aligns columns and never pads the last one", () => {
    expect(table(["A", "BB"], [["xxx", "y"]])).toBe("A    BB\nxxx  y");
  });

  test("fits 80 columns by shortening the chosen column", () => {
    const rows = [["lease", "x".repeat(60), "Available", "in 1h"]];
    const out = table(["LEASE", "CODESPACE", "LIVE", "EXPIRES"], rows, { shrink: 1 });
    for (const line of out.split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    expect(out).toContain("…");
  });

  test("wraps a long last column onto aligned continuation lines", () => {
    const reason = "word ".repeat(30).trim();
    const out = table(["LEASE", "ACTION", "REASON"], [["amber-crab", "skip", reason]], { shrink: 0, wrapLast: true });
    const lines = out.split("\n");
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    // Continuation lines start exactly under the REASON column.
    const col = lines[0]!.indexOf("REASON");
    for (const l of lines.slice(2)) expect(l.slice(0, col).trim()).toBe("");
    expect(out.replace(/\s+/g, " ")).toContain(reason);
  });

  test("control characters in cells are neutralised", () => {
    expect(table(["A"], [["x\u001b[2Jy"]])).toBe("A\nx?[2Jy");
  });
});

describe("relativeTime", () => {
  const now = Date.parse("2026-01-01T12:00:00Z");
  test.each([
    ["2026-01-01T12:00:00Z", "just now"],
    ["2026-01-01T11:59:30Z", "30s ago"],
    ["2026-01-01T13:30:00Z", "in 1h 30m"], // to the minute (#14 item 11); was "in 1h"
    ["2026-01-01T13:00:00Z", "in 1h"],
    ["2026-01-01T13:29:40Z", "in 1h 30m"],
    ["2026-01-01T12:05:00Z", "in 5m"],
    ["2026-01-03T15:00:00Z", "in 2d 3h"],
    ["2025-12-30T12:00:00Z", "2d ago"],
    [null, "-"],
    ["garbage", "-"],
  ])("%p → %p", (iso, text) => {
    expect(relativeTime(iso, now)).toBe(text);
  });
});
