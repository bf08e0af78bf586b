import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeLeaseConfig } from "../../src/ssh/config.ts";
import { checkMaster, closeMaster, runRemote, sshArgs } from "../../src/ssh/exec.ts";
import { remoteCommand, shQuote } from "../../src/ssh/quote.ts";
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
