/**
 * runRemote with a run nonce, against a real sshd: the remote side runs a
 * nonce at most once, reports start and end, and a cancel stops the remote
 * process group (or claims the nonce first so the command never starts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeLeaseConfig } from "../../src/ssh/config.ts";
import { cancelRemote, closeMaster, runRemote } from "../../src/ssh/exec.ts";
import { runNonce } from "../../src/ssh/quote.ts";
import { startHarness, type Harness } from "./helpers/sshd.ts";

let h: Harness;
let cfg: { path: string; alias: string };
beforeAll(async () => {
  h = await startHarness();
  cfg = await writeLeaseConfig(h.runtime, "cbx_testonce00001", h.ghOutput);
});
afterAll(async () => {
  await closeMaster(h.runtime, cfg.path, cfg.alias);
  await h.cleanup();
});

const run = (nonce: string, argv: string[], signal?: AbortSignal) =>
  runRemote(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: "/", argv, tty: false, nonce, signal });

describe("runRemote with a nonce", () => {
  test("reports start and the command's status; the same nonce never runs again", async () => {
    const nonce = runNonce();
    const file = join(h.remoteDir, `once-${nonce}`);
    const first = await run(nonce, ["sh", "-c", `echo x >> ${file}; exit 5`]);
    expect(first).toMatchObject({ code: 5, started: true, finished: 5, alreadyStarted: false, cancelled: false });
    const second = await run(nonce, ["sh", "-c", `echo x >> ${file}; exit 5`]);
    expect(second).toMatchObject({ started: false, alreadyStarted: true, finished: null });
    expect(readFileSync(file, "utf8")).toBe("x\n");
  });

  test("a cancel before the start claims the nonce: the command never runs", async () => {
    const nonce = runNonce();
    const file = join(h.remoteDir, `never-${nonce}`);
    expect(await cancelRemote(h.runtime, cfg.path, cfg.alias, nonce, "SIGINT")).toBe("cancelled");
    const r = await run(nonce, ["sh", "-c", `echo x >> ${file}`]);
    expect(r.alreadyStarted).toBe(true);
    expect(existsSync(file)).toBe(false);
  });

  test("aborting stops the remote process group, even a command that ignores SIGINT", async () => {
    const nonce = runNonce();
    const pidFile = join(h.remoteDir, `pid-${nonce}`);
    const ac = new AbortController();
    const p = run(nonce, ["sh", "-c", `trap '' INT; echo $$ > ${pidFile}; while :; do sleep 0.1; done`], ac.signal);
    const end = Date.now() + 30_000;
    while (!existsSync(pidFile) || readFileSync(pidFile, "utf8").trim() === "") {
      if (Date.now() > end) throw new Error("the command never started");
      await Bun.sleep(20);
    }
    const pid = Number(readFileSync(pidFile, "utf8"));
    ac.abort("SIGINT");
    const r = await p;
    expect(r.cancelled).toBe(true);
    expect(r.started).toBe(true);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    expect(alive).toBe(false);
    rmSync(pidFile, { force: true });
  });
});
