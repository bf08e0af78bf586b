/**
 * The mechanisms behind the figures of docs/performance.md, checked by
 * counting — never by timing: tunnel handshakes (`--stdio` calls of the gh
 * stand-in), API requests (the emulator's counts) and rsync invocations (a
 * recording `rsync` first on PATH).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, createHarness, recordRsync, seedLeases, type Harness, closeWithLease, warmKeptLease } from "./harness.ts";
import { IN_SESSION_MAX_FILES } from "../../src/sync/insession.ts";

let h: Harness;
let lease: { leaseId: string; slug: string; codespace: { name: string } };
let rsync: ReturnType<typeof recordRsync>;

interface RsyncCall {
  version: boolean;
  args: string;
}

/** Every rsync invocation since the start, in order. */
function rsyncCalls(): RsyncCall[] {
  return rsync.calls().map((line) => ({ version: line === "version", args: line }));
}

function apiRequests(): number {
  return Object.values(h.emu.control.counts()).reduce((a, b) => a + b, 0);
}

function claimPath(id: string): string {
  return join(h.home, "claims", `${id}.json`);
}

function closeMaster(): void {
  const claim = JSON.parse(readFileSync(claimPath(lease.leaseId), "utf8"));
  Bun.spawnSync(["ssh", "-F", claim.sshConfigPath, "-O", "exit", claim.sshHost], { stdout: "ignore", stderr: "ignore" });
}

beforeAll(async () => {
  h = await createHarness();
  rsync = recordRsync(h);
  lease = await warmKeptLease(h);
});

afterAll(async () => {
  await closeWithLease(h, lease);
});

describe("connection reuse", () => {
  test("a warm run --id opens no new tunnel and makes at most one API request per run", async () => {
    const first = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "true"]);
    expect(first.code).toBe(0);
    const tunnels = h.emu.control.stdioCount(lease.codespace.name);
    h.emu.control.resetCounts();
    for (let i = 0; i < 3; i++) {
      const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "echo", `warm-${i}`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`warm-${i}\n`);
    }
    expect(h.emu.control.stdioCount(lease.codespace.name)).toBe(tunnels);
    expect(apiRequests()).toBeLessThanOrEqual(3);
  });

  test("a cold run --id (no live master) opens exactly one tunnel: probe and command share it", async () => {
    closeMaster();
    const before = h.emu.control.stdioCount(lease.codespace.name);
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "echo", "cold"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("cold\n");
    expect(h.emu.control.stdioCount(lease.codespace.name)).toBe(before + 1);
    // …and the next run reuses it.
    const again = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "true"]);
    expect(again.code).toBe(0);
    expect(h.emu.control.stdioCount(lease.codespace.name)).toBe(before + 1);
  });
});

describe("sync skipping", () => {
  test("an unchanged tree starts no rsync at all (not even rsync --version); a change starts one transfer", async () => {
    writeFileSync(join(h.work, "perf.txt"), "one\n");
    const first = await h.run(["run", "--id", lease.slug, "--json", "--", "true"]);
    expect(first.code).toBe(0);
    expect(first.json().sync.skipped).toBe(false);
    const afterFirst = rsyncCalls();
    expect(afterFirst.filter((c) => !c.version).length).toBeGreaterThanOrEqual(1);

    const tunnels = h.emu.control.stdioCount(lease.codespace.name);
    h.emu.control.resetCounts();
    for (let i = 0; i < 2; i++) {
      const same = await h.run(["run", "--id", lease.slug, "--json", "--", "true"]);
      expect(same.code).toBe(0);
      expect(same.json().sync.skipped).toBe(true);
    }
    expect(rsyncCalls()).toEqual(afterFirst);
    expect(apiRequests()).toBeLessThanOrEqual(2);
    expect(h.emu.control.stdioCount(lease.codespace.name)).toBe(tunnels);

    // A different size, so rsync's own quick check (size + whole-second mtime) sees it too.
    writeFileSync(join(h.work, "perf.txt"), "three\n");
    const changed = await h.run(["run", "--id", lease.slug, "--json", "--", "cat", "perf.txt"]);
    expect(changed.code).toBe(0);
    expect(changed.json().sync.skipped).toBe(false);
    expect(changed.stderr).toContain("three");
    // A one-file change goes in the command's own session (docs/sync.md): no rsync, not even --version.
    // (This used to pin "one rsync transfer"; tests/e2e/insession.test.ts counts the sessions.)
    expect(rsyncCalls()).toEqual(afterFirst);
    // A large change set (more paths than the session takes) still goes through rsync: one transfer, at most one version check.
    const many = IN_SESSION_MAX_FILES + 44;
    for (let i = 0; i < many; i++) writeFileSync(join(h.work, `bulk-${i}.txt`), `${i}\n`);
    const bulk = await h.run(["run", "--id", lease.slug, "--json", "--", "cat", `bulk-${many - 1}.txt`]);
    expect(bulk.code).toBe(0);
    expect(bulk.stderr).toContain(String(many - 1));
    const added = rsyncCalls().slice(afterFirst.length);
    expect(added.filter((c) => !c.version)).toHaveLength(1);
    expect(added.filter((c) => c.version).length).toBeLessThanOrEqual(1);
    for (let i = 0; i < many; i++) rmSync(join(h.work, `bulk-${i}.txt`));
  });
});

/** A recording `git` first on PATH for one run: every invocation's arguments, one line each. */
function recordGit(): { env: Record<string, string>; calls(): string[] } {
  const dir = join(h.tmp, "git-wrap");
  const log = join(h.tmp, "git.log");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "git"), `#!/bin/sh\necho "$*" >> '${log}'\nexec '${Bun.which("git")}' "$@"\n`, { mode: 0o755 });
  rmSync(log, { force: true });
  return { env: { PATH: `${dir}:${h.env.PATH}` }, calls: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []) };
}

describe("the local check is git's", () => {
  test("a no-op check spawns at most one git (git status), from the checkout's top level or a subdirectory", async () => {
    writeFileSync(join(h.work, "git-count.txt"), "x\n");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    const g = recordGit();
    const r = await h.run(["run", "--id", lease.slug, "--json", "--", "true"], { env: g.env });
    expect(r.code).toBe(0);
    expect(r.json().sync.skipped).toBe(true);
    expect(g.calls().length).toBeGreaterThanOrEqual(1); // the recorder sees the check (not vacuous)
    expect(g.calls().length).toBeLessThanOrEqual(1);
    expect(g.calls()[0]).toContain("status");
    mkdirSync(join(h.work, "sub"), { recursive: true });
    writeFileSync(join(h.work, "sub", "f.txt"), "f\n");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"], { cwd: join(h.work, "sub") })).code).toBe(0);
    const g2 = recordGit();
    const r2 = await h.run(["run", "--id", lease.slug, "--json", "--", "true"], { env: g2.env, cwd: join(h.work, "sub") });
    expect(r2.json().sync.skipped).toBe(true);
    expect(g2.calls()).toHaveLength(1);
  });

  test("git status starts before the command loads only where the sync would start it (lifecycle/head-start.ts)", async () => {
    writeFileSync(join(h.work, "head-start.txt"), "x\n");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    // --no-sync: no git at all.
    const none = recordGit();
    expect((await h.run(["run", "--id", lease.slug, "--no-sync", "--", "true"], { env: none.env })).code).toBe(0);
    expect(none.calls()).toEqual([]);
    // --verbose: one git status, and it is traced (syncSource started it, with the tracing runtime).
    const traced = recordGit();
    const v = await h.run(["run", "--id", lease.slug, "--verbose", "--", "true"], { env: traced.env });
    expect(v.code).toBe(0);
    expect(traced.calls().filter((c) => c.includes("status"))).toHaveLength(1);
    expect(v.stderr).toMatch(/exec: \S*git .*status --porcelain=v2/);
    // $HOME as a git work tree: refused, and no git status ran over it.
    const home = h.env.HOME!;
    Bun.spawnSync(["git", "init", "-q", home]);
    try {
      const g = recordGit();
      const refused = await h.run(["run", "--id", lease.slug, "--", "true"], { cwd: home, env: g.env });
      expect(refused.code).toBe(5);
      expect(refused.stderr).toContain("refusing to sync your home directory");
      expect(g.calls().filter((c) => c.includes("status"))).toEqual([]);
    } finally {
      rmSync(join(home, ".git"), { recursive: true, force: true });
    }
  });

  for (const [what, args, code, says] of [
    ["a usage error", ["--id", "LEASE", "--no-such-flag"], 2, "no-such-flag"],
    ["a lease that does not resolve", ["--id", "no-such-lease"], 4, "no lease matches"],
  ] as const) {
    test(`a run that fails before its sync (${what}) ends the git status it started: it never waits for git`, async () => {
      const dir = join(h.tmp, "slow-git");
      const pidFile = join(h.tmp, "slow-git.pid");
      const ended = join(h.tmp, "slow-git.ended");
      mkdirSync(dir, { recursive: true });
      rmSync(ended, { force: true });
      rmSync(pidFile, { force: true });
      // A git status that takes 5 s (a very large tree): it says when it got to its end. Its sleep
      // holds none of the pipes to us, so that the script ended leaves nothing our exec waits for.
      const script = [
        "#!/bin/sh",
        `case "$*" in *status*) echo $$ > '${pidFile}'; sleep 5 </dev/null >/dev/null 2>&1; echo x > '${ended}';; esac`,
        `exec '${Bun.which("git")}' "$@"`,
        "",
      ];
      writeFileSync(join(dir, "git"), script.join("\n"), { mode: 0o755 });
      const argv = ["run", ...args.map((a) => (a === "LEASE" ? lease.slug : a)), "--", "true"];
      const r = await h.run(argv, { env: { PATH: `${dir}:${h.env.PATH}` } });
      expect(r.code).toBe(code);
      expect(r.stderr).toContain(says);
      // Not left to run to its end (without lifecycle/head-start.ts endRunStatuses the run waits 5 s and this fails)...
      expect(existsSync(ended)).toBe(false);
      // ...nor left running (it may be ended before it could write its pid).
      if (existsSync(pidFile)) expect(() => process.kill(Number(readFileSync(pidFile, "utf8")), 0)).toThrow();
    });
  }
});

describe("sync correctness of the skip", () => {
  // Regression test: rsync's default quick check compares sizes and whole-second mtimes, so
  // a same-size edit in the same second as the previous sync used to be skipped by rsync
  // while the fingerprint recorded it as synced (a stale remote copy). Fixed with
  // --modify-window=-1 in src/sync/sync.ts.
  test("a same-size edit within the same second is sent", async () => {
    const file = join(h.work, "same-second.txt");
    writeFileSync(file, "aaaa\n");
    const first = await h.run(["run", "--id", lease.slug, "--", "true"]);
    expect(first.code).toBe(0);
    const before = statSync(file).mtimeMs;
    writeFileSync(file, "bbbb\n");
    // Same whole second as the synced copy, a different sub-second part.
    const sec = Math.floor(before / 1000);
    const frac = (before / 1000 - sec) < 0.5 ? 0.75 : 0.25;
    utimesSync(file, sec + frac, sec + frac);
    const r = await h.run(["run", "--id", lease.slug, "--", "cat", "same-second.txt"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("bbbb\n");
  });
});

describe("list at scale", () => {
  test("list --json fetches the live state with one paginated listing, never one GET per lease", async () => {
    const extra = 149;
    seedLeases(h, lease.leaseId, extra);
    h.emu.control.resetCounts();
    const r = await h.run(["list", "--json"]);
    expect(r.code).toBe(0);
    const views = r.json<{ live?: unknown }[]>();
    expect(views).toHaveLength(extra + 1);
    expect(views.filter((v) => v.live).length).toBe(extra + 1);
    const counts = h.emu.control.counts();
    // 150 codespaces at 100 per page: two pages; nothing per lease.
    expect(counts["GET /user/codespaces"]).toBe(2);
    expect(apiRequests()).toBeLessThanOrEqual(3);
    expect(Object.keys(counts).some((k) => k.startsWith("GET /user/codespaces/"))).toBe(false);
  });
});

describe("resolving a slug", () => {
  test("run --id <slug> reads one claim file, not every claim (50 others on disk)", async () => {
    seedLeases(h, lease.leaseId, 50);
    const claimsDir = join(h.home, "claims");
    const opened = async () => {
      const log = join(h.tmp, `strace-${Date.now()}.log`);
      const r = Bun.spawn(["strace", "-f", "-qq", "-e", "trace=openat,open", "-o", log, BIN, "run", "--id", lease.slug, "--no-sync", "--", "echo", "resolved"], {
        cwd: h.work,
        env: h.env,
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, code] = await Promise.all([new Response(r.stdout).text(), r.exited]);
      expect({ code, out }).toEqual({ code: 0, out: "resolved\n" });
      const files = new Set<string>();
      for (const m of readFileSync(log, "utf8").matchAll(/open(?:at)?\([^"]*"([^"]+)"/g)) {
        const p = m[1]!;
        if (p.startsWith(claimsDir) && /\/cbx_[a-z2-7]{12}\.json$/.test(p)) files.add(p);
      }
      return files;
    };
    await opened(); // the first resolve after the seeding may build the names index
    const files = await opened();
    expect([...files]).toEqual([join(claimsDir, `${lease.leaseId}.json`)]);
  });
});

/** Run BIN under strace (the given syscalls, children followed); its stdout and the strace log's lines. */
async function straced(syscalls: string, args: string[]): Promise<{ code: number; out: string; err: string; lines: string[] }> {
  const log = join(h.tmp, `strace-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const r = Bun.spawn(["strace", "-f", "-qq", "-e", `trace=${syscalls}`, "-o", log, BIN, ...args], { cwd: h.work, env: h.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(r.stdout).text(), new Response(r.stderr).text(), r.exited]);
  return { code, out, err, lines: readFileSync(log, "utf8").split("\n") };
}

/** Our own process's dups of fd 0, 1 or 2 (a node stream built for stdin, stdout or stderr), not a child's. */
function ownDupsOfStdio(lines: string[]): string[] {
  const children = new Set(lines.filter((l) => /execve\("[^"]*\/(?:ssh|git|tar|rsync)"/.test(l)).map((l) => l.split(/\s+/)[0]));
  return lines.filter((l) => !children.has(l.split(/\s+/)[0]) && /\b(?:fcntl\([012], F_DUPFD(?:_CLOEXEC)?, 0\)|dup[23]?\([012]\b)/.test(l));
}

describe("start-up and the warm run's own work", () => {
  test("--version and a warm run --id never build node streams for stdin, stdout or stderr (no dup of fd 0, 1 or 2)", async () => {
    // process.stdout (or .stdin/.stderr, even for .isTTY) dups its fd into a node stream: several ms
    // of start-up. The terminal check asks Bun's tty binding; --version prints with console.log.
    const warm = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "true"]); // master up
    expect(warm.code).toBe(0);
    const version = await straced("fcntl,dup,dup2,dup3", ["--version"]);
    expect(version.code).toBe(0);
    expect(version.out).toMatch(/^crabbox-cs \S+ \(\S+\)\n$/);
    expect(ownDupsOfStdio(version.lines)).toEqual([]);
    const run = await straced("execve,fcntl,dup,dup2,dup3", ["run", "--id", lease.slug, "--no-sync", "--", "echo", "warm"]);
    expect({ code: run.code, out: run.out }).toEqual({ code: 0, out: "warm\n" });
    // Our own process and threads only: ssh (a child that exec'd) dups its stdio, as it should.
    const children = new Set(run.lines.filter((l) => /execve\("[^"]*\/ssh"/.test(l)).map((l) => l.split(/\s+/)[0]));
    expect(children.size).toBe(1); // the probe is real: ssh's own lines are in the trace
    expect(run.lines.some((l) => children.has(l.split(/\s+/)[0]) && /\bdup[23]?\(|F_DUPFD/.test(l))).toBe(true);
    expect(ownDupsOfStdio(run.lines)).toEqual([]);
  });

  test("a run that prints, progress on stderr and --json on stdout, builds no node stream for them either", async () => {
    // The first write through process.stdout or process.stderr builds the stream: ~2 ms of a run's
    // wall time. What we print goes out with write(2) (src/output/write.ts).
    writeFileSync(join(h.work, "printed.txt"), `${Date.now()}\n`);
    const run = await straced("execve,fcntl,dup,dup2,dup3", ["run", "--id", lease.slug, "--json", "--", "echo", "printed"]);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.out) as { exitCode: number; sync: { skipped: boolean } }; // the command's output went to stderr
    expect(summary).toMatchObject({ exitCode: 0, sync: { skipped: false } });
    expect(run.err).toContain("printed\n");
    expect(run.err).toContain("synced ");
    expect(ownDupsOfStdio(run.lines)).toEqual([]);
    // An error, on stderr and in the JSON document, the same way.
    const bad = await straced("execve,fcntl,dup,dup2,dup3", ["run", "--id", "no-such-lease", "--json", "--", "true"]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("error:");
    expect((JSON.parse(bad.out) as { error: { code: string } }).error.code).toBeString();
    expect(ownDupsOfStdio(bad.lines)).toEqual([]);
  });

  test("a warm run --id --no-sync starts one program (ssh) and makes no fsync: the in-use marker is atomic, not durable", async () => {
    const warm = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "true"]); // master up
    expect(warm.code).toBe(0);
    const markers = () => readdirSync(join(h.home, "claims")).filter((n) => n.includes(".inuse."));
    const before = markers();
    const run = await straced("execve,fsync,fdatasync,rename,renameat,renameat2", ["run", "--id", lease.slug, "--no-sync", "--", "echo", "once"]);
    expect({ code: run.code, out: run.out }).toEqual({ code: 0, out: "once\n" });
    const execs = run.lines.filter((l) => /execve\(/.test(l) && !/ENOENT/.test(l)).map((l) => /execve\("([^"]+)"/.exec(l)?.[1]);
    expect(execs.slice(1).map((p) => p?.split("/").pop())).toEqual(["ssh"]); // [0] is crabbox-cs itself
    // The marker was written (temp file renamed into place) and removed again…
    expect(run.lines.filter((l) => /rename/.test(l) && /\.inuse\./.test(l))).toHaveLength(1);
    expect(markers()).toEqual(before);
    // …without an fsync, of the marker or of anything else.
    expect(run.lines.filter((l) => /\bf(?:data)?sync\(/.test(l))).toEqual([]);
  });
});
