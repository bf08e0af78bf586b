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
import { endRunStatuses, headStart, startRunStatus, takeHeadStart } from "../../src/lifecycle/head-start.ts";
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

function fake(cwd: string, homeDir = join(tmp, "home")): { runtime: Runtime; calls: string[][]; signals: (AbortSignal | undefined)[] } {
  const calls: string[][] = [];
  const signals: (AbortSignal | undefined)[] = [];
  const env = { PATH: "/usr/bin" };
  const runtime = createRuntime({
    env,
    cwd,
    homeDir,
    exec: async (argv, opts) => {
      calls.push(argv);
      signals.push(opts?.signal);
      return { code: 0, signal: null, stdout: "", stderr: "" };
    },
  });
  return { runtime, calls, signals };
}

describe("head start", () => {
  const root = repo("work");

  test("starts git status for a run that syncs, and only that tree under that environment takes it, once", () => {
    const { runtime, calls } = fake(root);
    headStart(["--id", "amber-crab"], [], runtime);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toContain("status");
    expect(takeHeadStart(join(tmp, "other"), runtime)).toBeNull();
    expect(takeHeadStart(root, createRuntime({ env: { PATH: "/usr/bin" }, cwd: root }))).toBeNull();
    expect(takeHeadStart(root, runtime)).not.toBeNull();
    expect(takeHeadStart(root, runtime)).toBeNull();
  });

  test("when the run ends, a status still running is ended, taken or not (the head start, or the sync's own); one that ended is not touched", async () => {
    const running = (cwd: string) => {
      const signals: (AbortSignal | undefined)[] = [];
      const runtime = createRuntime({ env: { PATH: "/usr/bin" }, cwd, homeDir: join(tmp, "home"), exec: (_argv, opts) => (signals.push(opts?.signal), new Promise(() => {})) });
      return { runtime, signals };
    };
    const untaken = running(root);
    headStart(["--id", "x"], [], untaken.runtime);
    const taken = running(root);
    const own = startRunStatus(taken.runtime, root);
    expect(own.at).toBeGreaterThan(0);
    const finished = fake(root);
    await startRunStatus(finished.runtime, root).result;
    endRunStatuses();
    expect(untaken.signals[0]?.aborted).toBe(true);
    expect(taken.signals[0]?.aborted).toBe(true);
    expect(finished.signals[0]?.aborted).toBe(false);
    expect(takeHeadStart(root, untaken.runtime)).toBeNull();
  });

  for (const flags of [["--no-sync"], ["--sync=false"], ["--help"], ["-h"], ["--help-all"], ["--verbose"], ["--id", "x", "--verbose"]]) {
    test(`not with ${flags.join(" ")}`, () => {
      const { runtime, calls } = fake(root);
      headStart(flags, [], runtime);
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
      headStart(["--id", "x"], [], runtime);
      expect({ cwd, calls }).toEqual({ cwd, calls: [] });
    }
  });
});

describe("runtime.exec with a signal", () => {
  test("an abort ends the child (SIGTERM) and exec reports it", async () => {
    const stop = new AbortController();
    const running = createRuntime().exec(["sleep", "30"], { signal: stop.signal });
    stop.abort();
    const r = await running;
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 143, signal: "SIGTERM" });
  });

  test("a signal that aborted before the start ends the child at once", async () => {
    const stop = new AbortController();
    stop.abort();
    const r = await createRuntime().exec(["sleep", "30"], { signal: stop.signal });
    expect(r.signal).toBe("SIGTERM");
  });
});
