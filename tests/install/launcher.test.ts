/**
 * npm/launcher.cjs, the main npm package's `bin`: it finds @crabbox-cs/<os>-<cpu>/bin/crabbox-cs by
 * Node's module resolution and runs it with the same argv and stdio, exiting with its code or dying
 * of its signal. Here the platform binary is a small sh script, laid out as npm installs it, so the
 * signal cases are exact. (tests/install/npm.test.ts runs the real binary through a real npm install.)
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostTarget, platformPackageName } from "../../npm/packages.ts";

const ROOT = join(import.meta.dir, "../..");
let tmp: string;
let launcher: string;
let fakeBin: string;

beforeAll(() => {
  const host = hostTarget();
  if (!host) throw new Error(`no platform package for ${process.platform}-${process.arch}`);
  tmp = mkdtempSync(join(tmpdir(), "crabbox-launcher-"));
  launcher = join(tmp, "node_modules/crabbox-cs/bin/crabbox-cs.cjs");
  mkdirSync(join(tmp, "node_modules/crabbox-cs/bin"), { recursive: true });
  copyFileSync(join(ROOT, "npm/launcher.cjs"), launcher);
  chmodSync(launcher, 0o755);
  fakeBin = join(tmp, "node_modules", platformPackageName(host), "bin/crabbox-cs");
  mkdirSync(join(fakeBin, ".."), { recursive: true });
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function fake(script: string): void {
  writeFileSync(fakeBin, `#!/bin/sh\n${script}\n`);
  chmodSync(fakeBin, 0o755);
}

/** Start the launcher in its own process group (like a shell job); resolves with how it ended. */
function start(args: string[], input = "") {
  const p = spawn(launcher, args, { detached: true, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const lines: ((s: string) => void)[] = [];
  p.stdout!.on("data", (d) => {
    stdout += d;
    for (const f of lines.splice(0)) f(stdout);
  });
  p.stderr!.on("data", (d) => (stderr += d));
  p.stdin!.end(input);
  const done = new Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }>((resolve) =>
    p.on("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  const waitFor = async (text: string) => {
    while (!stdout.includes(text)) await new Promise<string>((r) => lines.push(r));
  };
  return { p, done, waitFor };
}

test("argv, stdin, stdout, stderr and the exit code pass through", async () => {
  fake(`for a in "$@"; do echo "arg:$a"; done; read line; echo "in:$line"; echo oops >&2; exit 7`);
  const r = await start(["run", "--id", "a b", "--", "x"], "hello\n").done;
  expect(r).toEqual({ code: 7, signal: null, stdout: "arg:run\narg:--id\narg:a b\narg:--\narg:x\nin:hello\n", stderr: "oops\n" });
});

test("a binary killed by a signal makes the launcher die of the same signal", async () => {
  fake(`kill -TERM $$`);
  const r = await start([]).done;
  expect({ code: r.code, signal: r.signal }).toEqual({ code: null, signal: "SIGTERM" });
});

test("Ctrl-C to the process group reaches the binary once, not twice (a second one means: leave at once)", async () => {
  const log = join(tmp, "int.log");
  // A node binary: every delivered signal is counted (sh would fold two INTs into one trap run).
  writeFileSync(
    fakeBin,
    `#!/usr/bin/env node
const fs = require("fs");
process.on("SIGINT", () => fs.appendFileSync(${JSON.stringify(log)}, "int\\n"));
process.on("SIGTERM", () => { fs.appendFileSync(${JSON.stringify(log)}, "term\\n"); process.exit(143); });
setInterval(() => {}, 1000);
console.log("ready");
`,
  );
  chmodSync(fakeBin, 0o755);
  const s = start([]);
  await s.waitFor("ready");
  process.kill(-s.p.pid!, "SIGINT");
  while (!(existsSync(log) && readFileSync(log, "utf8").includes("int"))) await Bun.sleep(10);
  // SIGTERM to the launcher alone: it is passed on after any SIGINT the launcher itself passed on.
  s.p.kill("SIGTERM");
  const r = await s.done;
  expect({ code: r.code, signal: r.signal }).toEqual({ code: 143, signal: null });
  expect(readFileSync(log, "utf8")).toBe("int\nterm\n");
});

test("SIGTERM sent to the launcher alone is passed on to the binary", async () => {
  const log = join(tmp, "term.log");
  fake(`trap 'echo term >> ${log}; exit 143' TERM; echo ready; while :; do sleep 0.05; done`);
  const s = start([]);
  await s.waitFor("ready");
  s.p.kill("SIGTERM");
  const r = await s.done;
  expect({ code: r.code, signal: r.signal }).toEqual({ code: 143, signal: null });
  expect(readFileSync(log, "utf8")).toBe("term\n");
});

test("a missing platform package is one clear error, exit 1", async () => {
  rmSync(fakeBin);
  expect(existsSync(fakeBin)).toBe(false);
  const r = await start(["--version"]).done;
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toContain(`error: the crabbox-cs binary for ${process.platform}-${process.arch} is not installed`);
  expect(r.stderr).toContain("fix: ");
});
