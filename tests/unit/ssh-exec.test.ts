import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeLeaseConfig } from "../../src/ssh/config.ts";
import { checkMaster, closeMaster, declineSession, openSession, runRemote, sshArgs } from "../../src/ssh/exec.ts";
import { remoteCommand, runNonce, shQuote } from "../../src/ssh/quote.ts";
import type { Runtime } from "../../src/runtime.ts";
import { startHarness, type Harness } from "./helpers/sshd.ts";

const MARKER = `/tmp/crabbox-quote-marker-${process.pid}`;

const TORTURE: string[] = [
  "plain",
  "two words",
  "$HOME",
  "${HOME}",
  `$(touch ${MARKER})`,
  `\`touch ${MARKER}\``,
  "a;b",
  "; touch " + MARKER,
  "&&",
  "x && touch " + MARKER,
  "|",
  ">out",
  "'",
  "''",
  `"`,
  `it's "quoted"`,
  "back\\slash",
  "\\",
  "line1\nline2",
  "tab\there",
  "trailing space ",
  " leading",
  "ünïcødé ✓ 🦀",
  "",
  "*",
  "~",
  "~/x",
  "-n",
  "--",
  "A=b",
  "!",
  "#comment",
  "%s",
  "\r",
];

let h: Harness;
let cfg: { path: string; alias: string };

/** Run argv remotely capturing stdout (ssh with piped stdio, like runRemote but captured). */
async function capture(argv: string[], env?: Record<string, string>, workRoot = "/") {
  const cmd = remoteCommand({ workRoot, argv, env });
  return h.runtime.exec(sshArgs({ configPath: cfg.path, alias: cfg.alias, tty: false, command: cmd }), { timeoutMs: 30_000 });
}

beforeAll(async () => {
  h = await startHarness();
  cfg = await writeLeaseConfig(h.runtime, "cbx_testexec00001", h.ghOutput);
  rmSync(MARKER, { force: true });
});
afterAll(async () => {
  rmSync(MARKER, { force: true });
  await h.cleanup();
});

describe("shQuote", () => {
  test("safe words stay bare, everything else is single-quoted", () => {
    expect(shQuote("abc-1.2/x")).toBe("abc-1.2/x");
    expect(shQuote("")).toBe("''");
    expect(shQuote("a b")).toBe("'a b'");
    expect(shQuote("it's")).toBe(`'it'\\''s'`);
    expect(shQuote("A=b")).toBe("'A=b'");
  });
  test("round-trips through a local sh", async () => {
    for (const s of TORTURE) {
      const p = Bun.spawnSync(["sh", "-c", `printf '%s' ${shQuote(s)}`]);
      expect(p.stdout.toString()).toBe(s);
    }
  });
  test("remoteCommand rejects invalid env names", () => {
    expect(() => remoteCommand({ workRoot: "/", argv: ["true"], env: { "A-B": "x" } })).toThrow(/invalid environment/);
    expect(() => remoteCommand({ workRoot: "/", argv: ["true"], env: { "1A": "x" } })).toThrow();
  });
});

describe("remote command over real ssh", () => {
  test("torture arguments arrive byte for byte and nothing is evaluated", async () => {
    const r = await capture(["sh", "-c", 'printf "%s\\0" "$@"', "sh", ...TORTURE]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const got = Buffer.from(r.stdout, "utf8").toString("utf8").split("\0");
    expect(got.pop()).toBe(""); // trailing NUL
    expect(got).toEqual(TORTURE);
    expect(existsSync(MARKER)).toBe(false);
  });

  test("what the user typed runs: sh -c 'echo $HOME' expands remotely", async () => {
    const r = await capture(["sh", "-c", "echo $HOME"]);
    expect(r.stdout).toBe("/root\n");
  });

  test("work root: cd happens, with spaces and ~/", async () => {
    const wr = join(h.remoteDir, "with space ' and $dollar");
    require("node:fs").mkdirSync(wr, { recursive: true });
    expect((await capture(["pwd"], undefined, wr)).stdout).toBe(`${wr}\n`);
    expect((await capture(["pwd"], undefined, "~")).stdout).toBe("/root\n");
    const rel = `crabbox-test-${process.pid} x`;
    require("node:fs").mkdirSync(join("/root", rel), { recursive: true });
    try {
      expect((await capture(["pwd"], undefined, `~/${rel}`)).stdout).toBe(`/root/${rel}\n`);
    } finally {
      rmSync(join("/root", rel), { recursive: true, force: true });
    }
    const missing = await capture(["pwd"], undefined, join(h.remoteDir, "nope"));
    expect(missing.code).not.toBe(0);
    expect(missing.stdout).toBe("");
  });

  test("env: only listed names, values verbatim", async () => {
    const env = { CRABBOX_A: "va'l $HOME `x`", CRABBOX_B: "" };
    const r = await capture(["sh", "-c", 'printf "%s|%s|%s" "$CRABBOX_A" "${CRABBOX_B-unset}" "${CRABBOX_C-unset}"'], env);
    expect(r.stdout).toBe("va'l $HOME `x`||unset");
  });

  test("exit codes pass through (0, 1, 42) and signal death reports 128+n, not 255", async () => {
    for (const code of [0, 1, 42]) {
      const r = await runRemote(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: "/", argv: ["sh", "-c", `exit ${code}`], tty: false });
      expect(r.code).toBe(code);
    }
    const killed = await runRemote(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: "/", argv: ["sh", "-c", "kill -KILL $$"], tty: false });
    expect(killed.code).toBe(137);
  });

  test("runRemote uses -T without a tty and puts the command after the alias", () => {
    const argv = sshArgs({ configPath: "/c f", alias: "cs.a.b", tty: false, command: "cd / && true" });
    expect(argv).toEqual(["ssh", "-F", "/c f", "-T", "cs.a.b", "--", "cd / && true"]);
    expect(sshArgs({ configPath: "/c", alias: "a", tty: true })).toEqual(["ssh", "-F", "/c", "-t", "a"]);
  });

  test("abort signal stops ssh", async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const p = runRemote(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: "/", argv: ["sleep", "30"], tty: false, signal: ac.signal });
    setTimeout(() => ac.abort(), 500);
    const r = await p;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.code === 255 || r.signal === "SIGTERM").toBe(true);
  });

  test("ControlMaster: the second command reuses the first connection", async () => {
    await closeMaster(h.runtime, cfg.path, cfg.alias);
    expect(await checkMaster(h.runtime, cfg.path, cfg.alias)).toBe(false);
    const before = h.proxyStarts();
    expect((await capture(["true"])).code).toBe(0);
    expect(await checkMaster(h.runtime, cfg.path, cfg.alias)).toBe(true);
    expect((await capture(["true"])).code).toBe(0);
    expect((await capture(["echo", "x"])).stdout).toBe("x\n");
    expect(h.proxyStarts() - before).toBe(1);
    expect(await closeMaster(h.runtime, cfg.path, cfg.alias)).toBe(true);
    expect(await checkMaster(h.runtime, cfg.path, cfg.alias)).toBe(false);
    expect((await capture(["true"])).code).toBe(0);
    expect(h.proxyStarts() - before).toBe(2);
  });
});

/**
 * A session opened ahead of its run (lifecycle/head-start.ts, docs/performance.md): ssh behind a gate
 * that waits for `N` on stdin before the nonce is claimed. Each command appends its shell's pid to a
 * file of its own (the sshd here runs on this machine), so "ran" and "ran once" are line counts.
 */
describe("a session opened ahead of its run", () => {
  /** The runtime of a run without a terminal, counting the programs it spawns. */
  function runtimeNoTty(): { rt: Runtime; spawned: string[][] } {
    const spawned: string[][] = [];
    const rt: Runtime = { ...h.runtime, tty: { stdin: false, stdout: false, stderr: false } };
    rt.spawn = (argv, opts) => {
      spawned.push(argv);
      return h.runtime.spawn(argv, opts);
    };
    return { rt, spawned };
  }
  const file = (tag: string) => join(h.dir, `ahead-${tag}-${process.pid}`);
  const count = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean).length : 0);
  const appendPid = (path: string) => ["sh", "-c", `echo $$ >> ${shQuote(path)}`];
  const lease = () => ({ configPath: cfg.path, alias: cfg.alias, workRoot: "/" });

  test("runRemote takes the session that is its own: no second ssh, the command runs once, after the gate", async () => {
    const { rt, spawned } = runtimeNoTty();
    const f = file("taken");
    rmSync(f, { force: true });
    const nonce = runNonce();
    const opened = openSession(rt, { ...lease(), argv: appendPid(f), nonce });
    expect(opened).not.toBeNull();
    expect(spawned.length).toBe(1);
    expect(spawned[0]!.at(-1)!.startsWith(`IFS= read -r v && [ "$v" = N ] || `)).toBe(true);
    const r = await runRemote(rt, { ...lease(), argv: appendPid(f), nonce, opened });
    expect(r.code).toBe(0);
    expect(r.started).toBe(true);
    expect(r.declined).toBe(false);
    expect(spawned.length).toBe(1);
    expect(count(f)).toBe(1);
  });

  test("a session that is not exactly the run's is ended unused; the run's own command runs once in a session of its own", async () => {
    const { rt, spawned } = runtimeNoTty();
    const [fa, fb] = [file("other-a"), file("other-b")];
    for (const f of [fa, fb]) rmSync(f, { force: true });
    const nonce = runNonce();
    const opened = openSession(rt, { ...lease(), argv: appendPid(fa), nonce })!;
    // Another command, the same nonce: not this session.
    const r = await runRemote(rt, { ...lease(), argv: appendPid(fb), nonce, opened });
    expect(r.code).toBe(0);
    expect(spawned.length).toBe(2);
    expect(spawned[1]!.at(-1)!.includes("read -r v")).toBe(false);
    const ended = await opened.child.exited;
    expect(ended.code === 0).toBe(false);
    expect(count(fa)).toBe(0);
    expect(count(fb)).toBe(1);
    // Another nonce, the same command: not this session either.
    const opened2 = openSession(rt, { ...lease(), argv: appendPid(fa), nonce: runNonce() })!;
    const r2 = await runRemote(rt, { ...lease(), argv: appendPid(fa), nonce, opened: opened2 });
    expect(r2.code).toBe(254); // that nonce ran above: never twice
    expect(r2.alreadyStarted).toBe(true);
    await opened2.child.exited;
    expect(count(fa)).toBe(0);
  });

  test("declined, or our end of stdin gone before the word (a run killed), the command never starts", async () => {
    const { rt } = runtimeNoTty();
    const f = file("declined");
    rmSync(f, { force: true });
    const declined = openSession(rt, { ...lease(), argv: appendPid(f), nonce: runNonce() })!;
    declineSession(declined);
    await declined.child.exited;
    const eof = openSession(rt, { ...lease(), argv: appendPid(f), nonce: runNonce() })!;
    eof.child.stdin!.end();
    const e = await eof.child.exited;
    expect(e.code).toBe(3);
    expect(count(f)).toBe(0);
  });

  test("with a terminal on stdin no session is opened ahead (the gate would read the terminal)", () => {
    const rt: Runtime = { ...h.runtime, tty: { stdin: true, stdout: false, stderr: false } };
    expect(openSession(rt, { ...lease(), argv: ["true"], nonce: runNonce() })).toBeNull();
  });
});
