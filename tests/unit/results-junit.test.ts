/** JUnit parsing (src/results/junit.ts) over the fixtures in fixtures/junit. */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mergeReports, parseJUnit, summaryLines } from "../../src/results/junit.ts";

const FIX = join(import.meta.dir, "../../fixtures/junit");
const read = (name: string) => readFileSync(join(FIX, name), "utf8");
function report(name: string) {
  const r = parseJUnit(read(name), name);
  if (!r.ok) throw new Error(r.warning);
  return r.report;
}

describe("parseJUnit", () => {
  test("a passing <testsuites> report: counts from the cases, time from the root", () => {
    expect(report("pass.xml")).toEqual({ tests: 3, failures: 0, errors: 0, skipped: 1, time: 1.25, failed: [] });
  });

  test("a lone <testsuite> with a failure and an error: suite, name and the first line of each message, entities decoded", () => {
    const r = report("fail.xml");
    expect({ tests: r.tests, failures: r.failures, errors: r.errors, skipped: r.skipped, time: r.time }).toEqual({ tests: 4, failures: 1, errors: 1, skipped: 0, time: 2.5 });
    expect(r.failed).toEqual([
      { suite: "parser & lexer", name: "reads <tags>", kind: "failure", message: "expected 2 < 1" },
      { suite: "parser & lexer", name: "no message", kind: "error", message: "TypeError: x is undefined" },
    ]);
  });

  test("nested suites: every case counted once, time from the outermost suite", () => {
    const r = report("nested.xml");
    expect(r.tests).toBe(3);
    expect(r.failures).toBe(1);
    expect(r.time).toBe(3);
    expect(r.failed[0]).toMatchObject({ suite: "inner-a", name: "y", message: "boom" });
  });

  test("malformed XML is a warning naming the file and line, never a throw", () => {
    const r = parseJUnit(read("malformed.xml"), "malformed.xml");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.warning).toMatch(/^malformed\.xml: not well-formed XML \(line \d+/);
  });

  test("well-formed XML that is no JUnit report is a warning", () => {
    const r = parseJUnit(read("not-junit.xml"), "not-junit.xml");
    expect(r).toEqual({ ok: false, warning: "not-junit.xml: no <testsuites> or <testsuite> element; not a JUnit report" });
  });

  test("an entity-expansion bomb is not expanded (the reference stays as written)", () => {
    const r = parseJUnit(read("laughs.xml"), "laughs.xml");
    const text = JSON.stringify(r);
    expect(text.length).toBeLessThan(1000);
    expect(text).not.toContain("lollol");
  });

  test("a file over the cap is a warning, not parsed", () => {
    const huge = `<testsuite name="h">${"<testcase name='x'/>".repeat(2000)}</testsuite>`;
    const r = parseJUnit(huge, "huge.xml", 1024);
    expect(r).toEqual({ ok: false, warning: "huge.xml: larger than 0 MiB; not parsed" });
    expect(parseJUnit(huge, "huge.xml").ok).toBe(true);
  });

  test("deeply nested garbage is a warning, not a stack overflow", () => {
    const deep = `${"<a>".repeat(5000)}${"</a>".repeat(5000)}`;
    const r = parseJUnit(deep, "deep.xml");
    expect(r.ok).toBe(false);
  });

  test("binary junk is a warning", () => {
    const r = parseJUnit("\u0000\u0001PK\u0003\u0004 garbage", "junk.xml");
    expect(r.ok).toBe(false);
  });
});

describe("mergeReports and summaryLines", () => {
  test("shards merge into one verdict; each failed case names its shard", () => {
    const merged = mergeReports([
      { report: report("pass.xml"), shard: 1 },
      { report: report("fail.xml"), shard: 2 },
    ]);
    expect(merged.tests).toBe(7);
    expect(merged.failures).toBe(1);
    expect(merged.errors).toBe(1);
    expect(merged.time).toBe(3.75);
    expect(merged.failed.map((f) => f.shard)).toEqual([2, 2]);
    expect(summaryLines(merged, { files: 2, shards: 2 })).toEqual([
      "tests: 7, failures: 1, errors: 1, skipped: 1, time: 3.75s (2 JUnit files)",
      "  FAIL [2/2] parser & lexer › reads <tags>: expected 2 < 1",
      "  ERROR [2/2] parser & lexer › no message: TypeError: x is undefined",
    ]);
  });
});
