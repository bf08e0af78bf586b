/**
 * run's head-start git status (src/lifecycle/head-start.ts): which flags and
 * trees start it, and that only syncSource's own tree, under the same
 * environment, takes it (once). The e2e side (one git per no-op run, none
 * over $HOME, traced with --verbose) is tests/e2e/perf-mechanisms.test.ts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { headStart, takeHeadStart } from "../../src/lifecycle/head-start.ts";
import { createRuntime, type Runtime } from "../../src/runtime.ts";

const tmp = mkdtempSync(join(tmpdir(), "head-start-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A directory that looks like a git work tree (found without a spawn). */
function repo(name: string): string {
  const d = join(tmp, name);
  mkdirSync(join(d, ".git"), { recursive: true });
  writeFileSync(join(d, ".git", "HEAD"), "ref: refs/heads/main\n");
  return d;
}

function fake(cwd: string, homeDir = join(tmp, "home")): { runtime: Runtime; calls: string[][] } {
  const calls: string[][] = [];
  const env = { PATH: "/usr/bin" };
  const runtime = createRuntime({
    env,
    cwd,
    homeDir,
    exec: async (argv) => {
      calls.push(argv);
      return { code: 0, signal: null, stdout: "", stderr: "" };
    },
  });
  return { runtime, calls };
}

describe("head start", () => {
  const root = repo("work");

  test("starts git status for a run that syncs, and only that tree under that environment takes it, once", () => {
    const { runtime, calls } = fake(root);
    headStart(["--id", "amber-crab"], runtime);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toContain("status");
    expect(takeHeadStart(join(tmp, "other"), runtime)).toBeNull();
    expect(takeHeadStart(root, createRuntime({ env: { PATH: "/usr/bin" }, cwd: root }))).toBeNull();
    expect(takeHeadStart(root, runtime)).not.toBeNull();
    expect(takeHeadStart(root, runtime)).toBeNull();
  });

  for (const flags of [["--no-sync"], ["--sync=false"], ["--help"], ["-h"], ["--help-all"], ["--verbose"], ["--id", "x", "--verbose"]]) {
    test(`not with ${flags.join(" ")}`, () => {
      const { runtime, calls } = fake(root);
      headStart(flags, runtime);
      expect(calls).toEqual([]);
      expect(takeHeadStart(root, runtime)).toBeNull();
    });
  }

  test("not outside a git work tree, not in $HOME, not with submodules", () => {
    const plain = join(tmp, "plain");
    mkdirSync(plain, { recursive: true });
    const home = repo("home-repo");
    const subs = repo("with-submodules");
    writeFileSync(join(subs, ".gitmodules"), "");
    for (const [cwd, homeDir] of [[plain, undefined], [home, home], [subs, undefined]] as const) {
      const { runtime, calls } = fake(cwd, homeDir);
      headStart(["--id", "x"], runtime);
      expect({ cwd, calls }).toEqual({ cwd, calls: [] });
    }
  });
});
