/**
 * The remote wrapper of exactly-once (quote.ts `exactlyOnce`, `cancelScript`), run by local
 * shells (dash as sh, and bash when present) with a temporary HOME: what it claims, what it
 * refuses, and how many programs it starts (counted with strace, never timed).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cancelScript, exactlyOnce, RUNS_DIR } from "../../src/ssh/quote.ts";

const SHELLS = ["/bin/sh", "/bin/bash"].filter((s) => existsSync(s));
const HAVE_STRACE = Bun.spawnSync(["sh", "-c", "command -v strace"]).exitCode === 0;

let tmp: string;
let n = 0;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "crabbox-once-"));
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A fresh HOME and nonce. */
function fresh(): { home: string; nonce: string } {
  n++;
  const home = join(tmp, `home${n}`);
  mkdirSync(home);
  return { home, nonce: `nonce${String(n).padStart(4, "0")}abcd` };
}

function sh(shell: string, script: string, home: string): { code: number; stdout: string; stderr: string } {
  const r = Bun.spawnSync([shell, "-c", script], { env: { HOME: home, PATH: process.env.PATH ?? "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Programs started while `script` ran (execve calls after the shell's own). */
function execsOf(shell: string, script: string, home: string): string[] {
  const log = join(tmp, `strace-${++n}.log`);
  const r = Bun.spawnSync(["strace", "-f", "-qq", "-e", "trace=execve", "-o", log, shell, "-c", script], {
    env: { HOME: home, PATH: process.env.PATH ?? "/usr/bin:/bin" },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(r.exitCode).toBe(0);
  const lines = readFileSync(log, "utf8").split("\n").filter((l) => /execve\(/.test(l) && !/ENOENT/.test(l));
  return lines.slice(1).map((l) => /execve\("([^"]+)"/.exec(l)?.[1] ?? l); // the first is the shell itself
}

describe.each(SHELLS)("exactly-once wrapper under %s", (shell) => {
  test("claims the nonce once: the first run records running then done; a second start of the nonce runs nothing (254, again)", () => {
    const { home, nonce } = fresh();
    const body = `echo ran >>"$HOME/count"`;
    const first = sh(shell, exactlyOnce(nonce, body), home);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain(`\x1fcrabbox-cs:${nonce}:started:`);
    expect(first.stderr).toContain(`\x1fcrabbox-cs:${nonce}:exit:0`);
    const state = join(home, RUNS_DIR, nonce);
    expect(readFileSync(state, "utf8")).toBe("done 0\n");
    const again = sh(shell, exactlyOnce(nonce, body), home);
    expect(again.code).toBe(254);
    expect(again.stderr).toContain(`\x1fcrabbox-cs:${nonce}:again`);
    expect(again.stderr).not.toContain(":started:");
    expect(readFileSync(join(home, "count"), "utf8")).toBe("ran\n");
  });

  test("the command runs without noclobber (its own > still truncates), and its status is the wrapper's", () => {
    const { home, nonce } = fresh();
    const r = sh(shell, exactlyOnce(nonce, `echo one >"$HOME/f" && echo two >"$HOME/f" && sh -c "exit 7"`), home);
    expect(r.code).toBe(7);
    expect(readFileSync(join(home, "f"), "utf8")).toBe("two\n");
    expect(readFileSync(join(home, RUNS_DIR, nonce), "utf8")).toBe("done 7\n");
  });

  test("a cancel before the start claims the nonce: the run then refuses to start; a cancel after the end says finished", () => {
    const { home, nonce } = fresh();
    expect(sh(shell, cancelScript(nonce, "INT"), home).stdout).toBe("cancelled\n");
    const r = sh(shell, exactlyOnce(nonce, `echo ran >"$HOME/ran"`), home);
    expect(r.code).toBe(254);
    expect(existsSync(join(home, "ran"))).toBe(false);
    const done = fresh();
    expect(sh(shell, exactlyOnce(done.nonce, "true"), done.home).code).toBe(0);
    expect(sh(shell, cancelScript(done.nonce, "INT"), done.home).stdout).toBe("finished\n");
  });

  test("a home where nothing can be made still runs the command, unguarded, with its start marker", () => {
    const { home, nonce } = fresh();
    writeFileSync(join(home, ".cache"), "a file where the runs directory would go\n");
    const r = sh(shell, exactlyOnce(nonce, "echo hi"), home);
    expect(r).toMatchObject({ code: 0, stdout: "hi\n" });
    expect(r.stderr).toContain(`\x1fcrabbox-cs:${nonce}:started:`);
    expect(r.stderr).toContain(`\x1fcrabbox-cs:${nonce}:exit:0`);
  });

  test.skipIf(!HAVE_STRACE)("starts no program besides the command (mkdir -p only for the first run on a codespace)", () => {
    const first = fresh();
    // The runs directory is missing: one mkdir -p makes it, then the command.
    expect(execsOf(shell, exactlyOnce(first.nonce, "/bin/true"), first.home).map((p) => p.split("/").pop())).toEqual(["mkdir", "true"]);
    expect(statSync(join(first.home, RUNS_DIR)).isDirectory()).toBe(true);
    // Every later run: the command only.
    const next = exactlyOnce(`${first.nonce}x`, "/bin/true");
    expect(execsOf(shell, next, first.home)).toEqual(["/bin/true"]);
  });
});
