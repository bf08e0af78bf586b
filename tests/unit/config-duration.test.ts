import { describe, expect, test } from "bun:test";
import { DurationError, durationToMinutes, formatDuration, parseDuration } from "../../src/config/duration.ts";
import { CrabboxError, Exit } from "../../src/errors.ts";

describe("parseDuration", () => {
  const valid: [string, number][] = [
    ["30m", 30 * 60_000],
    ["1h", 3_600_000],
    ["1h30m", 90 * 60_000],
    ["90s", 90_000],
    ["168h", 168 * 3_600_000],
    ["500ms", 500],
    ["2h45m10s", 2 * 3_600_000 + 45 * 60_000 + 10_000],
    ["1.5h", 90 * 60_000],
    [".5s", 500],
    ["0", 0],
    ["0s", 0],
    ["+5m", 5 * 60_000],
    ["1500us", 1.5],
    ["2000000ns", 2],
    [" 10m ", 600_000],
  ];
  for (const [input, ms] of valid) {
    test(`accepts ${JSON.stringify(input)}`, () => {
      expect(parseDuration(input)).toBeCloseTo(ms, 9);
    });
  }

  const invalid: [string, RegExp][] = [
    ["", /empty/],
    ["   ", /empty/],
    ["-5m", /negative/],
    ["-1h30m", /negative/],
    ["abc", /unexpected text/],
    ["1d", /not a duration unit/],
    ["2w", /not a duration unit/],
    ["30", /no unit/],
    ["1.5", /no unit/],
    ["1H", /unexpected text/],
    ["1h 30m", /unexpected text/],
    ["1x", /unknown unit/],
    ["m", /unexpected text/],
    ["1h-30m", /unexpected text/],
  ];
  for (const [input, why] of invalid) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      let caught: unknown;
      try {
        parseDuration(input);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(DurationError);
      expect(caught).toBeInstanceOf(CrabboxError);
      const err = caught as CrabboxError;
      expect(err.exit).toBe(Exit.usage);
      expect(err.why ?? "").toMatch(why);
      expect(err.hint).toBeTruthy();
    });
  }

  test("1d suggests hours", () => {
    try {
      parseDuration("2d");
      throw new Error("not thrown");
    } catch (e) {
      expect((e as CrabboxError).hint).toContain("48h");
    }
  });
});

describe("formatDuration", () => {
  const cases: [number, string][] = [
    [0, "0s"],
    [500, "500ms"],
    [1_000, "1s"],
    [90_000, "1m30s"],
    [30 * 60_000, "30m"],
    [90 * 60_000, "1h30m"],
    [168 * 3_600_000, "168h"],
    [2 * 3_600_000 + 45 * 60_000 + 10_000, "2h45m10s"],
    [1_500, "1.5s"],
    [3_600_000 + 250, "1h0.25s"],
  ];
  for (const [ms, text] of cases) {
    test(`${ms} -> ${text}`, () => {
      expect(formatDuration(ms)).toBe(text);
      expect(parseDuration(text)).toBeCloseTo(ms, 6);
    });
  }

  test("round-trips whole milliseconds", () => {
    for (const ms of [1, 999, 1_001, 59_999, 60_000, 3_599_999, 86_400_000, 123_456_789]) {
      expect(parseDuration(formatDuration(ms))).toBeCloseTo(ms, 6);
    }
  });
});

describe("durationToMinutes", () => {
  test("converts whole minutes", () => {
    expect(durationToMinutes("1h30m", "x")).toBe(90);
    expect(durationToMinutes("120s", "x")).toBe(2);
    expect(durationToMinutes("0s", "x")).toBe(0);
  });
  test("refuses fractions of a minute with a suggestion", () => {
    try {
      durationToMinutes("90s", "retention period");
      throw new Error("not thrown");
    } catch (e) {
      const err = e as CrabboxError;
      expect(err).toBeInstanceOf(DurationError);
      expect(err.why).toContain("whole number of minutes");
      expect(err.hint).toContain("1m");
      expect(err.hint).toContain("2m");
    }
  });
});
