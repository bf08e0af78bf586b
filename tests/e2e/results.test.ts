/** run --junit / --results-auto / --fail-on-test-failures / --download, against the emulator. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { RunSummary } from "../../src/output/schemas.ts";
import { closeWithLease, createHarness, warmKeptLease, type Harness } from "./harness.ts";

let h: Harness;
let lease: any;
const FIX = join(import.meta.dir, "../../fixtures/junit");
const fixture = (name: string) => readFileSync(join(FIX, name), "utf8");

beforeAll(async () => {
  h = await createHarness();
  lease = await warmKeptLease(h);
});
afterAll(async () => {
  await closeWithLease(h, lease);
});

/** Run a remote sh script (with $1.. set to `args`) on the kept lease. */
function runScript(flags: string[], script: string, ...args: string[]) {
  return h.run(["run", "--id", lease.slug, "--no-sync", ...flags, "--", "sh", "-c", script, "sh", ...args]);
}

describe("results", () => {
  test("--junit after a failing command: summary on stderr, failed cases listed, the command's exit code kept, a missing file warned", async () => {
    const r = await runScript(
      ["--json", "--junit", "reports/fail.xml,reports/pass.xml", "--junit", "reports/missing.xml"],
      'mkdir -p reports && printf "%s" "$1" > reports/fail.xml && printf "%s" "$2" > reports/pass.xml; exit 3',
      fixture("fail.xml"),
      fixture("pass.xml"),
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("tests: 7, failures: 1, errors: 1, skipped: 1, time: 3.75s (2 JUnit files)");
    expect(r.stderr).toContain("FAIL parser & lexer › reads <tags>: expected 2 < 1");
    expect(r.stderr).toContain("ERROR parser & lexer › no message: TypeError: x is undefined");
    expect(r.stderr).toMatch(/warning: reports\/missing\.xml: not found on the lease/);
    const j = r.json();
    expect(v.safeParse(RunSummary, j).success).toBe(true);
    expect(j.exitCode).toBe(3);
    expect(j.results).toMatchObject({ tests: 7, failures: 1, errors: 1, skipped: 1 });
    expect(j.results.failed).toEqual([
      { suite: "parser & lexer", name: "reads <tags>", kind: "failure", message: "expected 2 < 1" },
      { suite: "parser & lexer", name: "no message", kind: "error", message: "TypeError: x is undefined" },
    ]);
    expect(j.results.files.find((f: any) => f.path === "reports/missing.xml")).toMatchObject({ ok: false });
  });

  test("--fail-on-test-failures turns a zero exit into 1 when the results show failures (and only then)", async () => {
    const script = 'mkdir -p reports && printf "%s" "$1" > reports/r.xml; exit 0';
    const plain = await runScript(["--junit", "reports/r.xml"], script, fixture("fail.xml"));
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain("failures: 1");
    const strict = await runScript(["--junit", "reports/r.xml", "--fail-on-test-failures"], script, fixture("fail.xml"));
    expect(strict.code).toBe(1);
    const passing = await runScript(["--junit", "reports/r.xml", "--fail-on-test-failures"], script, fixture("pass.xml"));
    expect(passing.code).toBe(0);
    expect(passing.stderr).toContain("tests: 3, failures: 0");
  });

  test("--results-auto finds the usual places; a malformed file is a warning, never a crash", async () => {
    const r = await runScript(
      ["--json", "--results-auto"],
      'rm -rf reports test-results; mkdir -p reports/unit test-results/e2e && printf "%s" "$1" > reports/unit/a.xml && printf "%s" "$2" > test-results/e2e/b.xml && printf "%s" "$3" > test-results/bad.xml && echo "<x/>" > elsewhere.xml',
      fixture("pass.xml"),
      fixture("fail.xml"),
      fixture("malformed.xml"),
    );
    expect(r.code).toBe(0);
    const j = r.json();
    expect(j.results.files.map((f: any) => f.path).sort()).toEqual(["reports/unit/a.xml", "test-results/bad.xml", "test-results/e2e/b.xml"]);
    expect(j.results.tests).toBe(7);
    expect(r.stderr).toMatch(/warning: test-results\/bad\.xml: not well-formed XML/);
  });
});

describe("--download", () => {
  test("a file and a directory come back on a failing command; a missing path is a warning and a non-zero entry", async () => {
    const r = await runScript(
      ["--json", "--download", "out/report.txt", "--download", "coverage", "--download", "nope.txt"],
      "mkdir -p out coverage/deep && echo report > out/report.txt && echo cov > coverage/deep/index.html; exit 4",
    );
    expect(r.code).toBe(4);
    const dir = join(h.work, ".crabbox", "artifacts", lease.slug);
    expect(readFileSync(join(dir, "out/report.txt"), "utf8")).toBe("report\n");
    expect(readFileSync(join(dir, "coverage/deep/index.html"), "utf8")).toBe("cov\n");
    const j = r.json();
    expect(j.exitCode).toBe(4);
    expect(j.downloads.map((d: any) => [d.path, d.exitCode])).toEqual([["out/report.txt", 0], ["coverage", 0], ["nope.txt", 23]]);
    expect(r.stderr).toContain("warning: --download nope.txt: not found on the lease");
    expect(readFileSync(join(h.work, ".git/info/exclude"), "utf8")).toContain("/.crabbox/artifacts/");
    expect(existsSync(join(dir, "nope.txt"))).toBe(false);
  });

  test("--download-dir, and a path outside the work root is refused before anything runs", async () => {
    const dir = join(h.tmp, "arts");
    const r = await runScript(["--download", "x.txt", "--download-dir", dir], "echo x > x.txt");
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, "x.txt"), "utf8")).toBe("x\n");
    const bad = await runScript(["--download", "../etc/passwd"], "touch ran-anyway");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("must be a path inside the work root");
    const badJunit = await runScript(["--junit", "a/../../x.xml"], "touch ran-anyway");
    expect(badJunit.code).toBe(2);
    expect(badJunit.stderr).toContain("a relative path may not leave the work root");
  });
});
