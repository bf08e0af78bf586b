import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, unlinkSync, writeFileSync, lstatSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import { writeLeaseConfig } from "../../src/ssh/config.ts";
import { createRuntime } from "../../src/runtime.ts";
import { statePath } from "../../src/sync/state.ts";
import { probe } from "../../src/ssh/readiness.ts";
import { parseRsyncStats, parseRsyncVersion, rsyncRemotePath, rsyncShellQuote, syncTree } from "../../src/sync/sync.ts";
import { startHarness, type Harness } from "./helpers/sshd.ts";

let h: Harness;
let cfg: { path: string; alias: string };
let local: string;
let remote: string;
const LEASE = "cbx_synctest00001";

function git(...args: string[]) {
  const p = Bun.spawnSync(["git", "-C", local, ...args], { env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" } });
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
}
const rsyncCalls = () => h.calls.filter((c) => c.argv[0] === "rsync" && !c.argv.includes("--version")).length;

beforeAll(async () => {
  h = await startHarness();
  // A config dir with a space: rsync's -e quoting must hold.
  h.runtime.crabboxHome = join(h.dir, "home dir");
  cfg = await writeLeaseConfig(h.runtime, LEASE, h.ghOutput);
  local = join(h.dir, "local repo");
  remote = join(h.remoteDir, "work root with spaces; $(touch x) 'q'");
  mkdirSync(join(local, "src", "deep"), { recursive: true });
  writeFileSync(join(local, ".gitignore"), "secret.env\nbuild/\nnode_modules/\n");
  writeFileSync(join(local, "README.md"), "hello\n");
  writeFileSync(join(local, "src", "main.ts"), "console.log(1)\n");
  writeFileSync(join(local, "src", "deep", "name with spaces & $dollar.txt"), "x\n");
  writeFileSync(join(local, "secret.env"), "TOKEN=nope\n");
  mkdirSync(join(local, "build"));
  writeFileSync(join(local, "build", "out.bin"), "bin\n");
  writeFileSync(join(local, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
  symlinkSync("README.md", join(local, "link-to-readme"));
  git("init", "-q");
  git("add", "README.md", "src", ".gitignore", "run.sh", "link-to-readme");
  git("commit", "-qm", "init");
  writeFileSync(join(local, "untracked.txt"), "new\n");
  const r = await probe(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: remote });
  expect(r.workRootWritable).toBe(true);
});
afterAll(async () => {
  await h.cleanup();
});

describe("syncTree against real rsync over real ssh", () => {
  let last: string | null = null;

  test("first sync: tracked + untracked arrive, ignored files and .git stay home", async () => {
    const r = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: null });
    expect(r.skipped).toBe(false);
    expect(r.files).toBe(7);
    expect(r.transferred).toBeGreaterThanOrEqual(6);
    expect(r.sentBytes).toBeGreaterThan(0);
    expect(readFileSync(join(remote, "README.md"), "utf8")).toBe("hello\n");
    expect(readFileSync(join(remote, "src", "deep", "name with spaces & $dollar.txt"), "utf8")).toBe("x\n");
    expect(readFileSync(join(remote, "untracked.txt"), "utf8")).toBe("new\n");
    expect(statSync(join(remote, "run.sh")).mode & 0o111).not.toBe(0);
    expect(lstatSync(join(remote, "link-to-readme")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(remote, "link-to-readme"))).toBe("README.md");
    expect(existsSync(join(remote, "secret.env"))).toBe(false);
    expect(existsSync(join(remote, "build"))).toBe(false);
    expect(existsSync(join(remote, ".git"))).toBe(false);
    expect(existsSync(join(h.remoteDir, "x"))).toBe(false);
    expect(statSync(statePath(h.runtime, LEASE)).mode & 0o777).toBe(0o600);
    last = r.fingerprint;
  });

  test("unchanged tree: skipped, and no rsync is started", async () => {
    const from = h.calls.length;
    const r = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: last });
    expect(r.skipped).toBe(true);
    expect(r.fingerprint).toBe(last!);
    expect(r.files).toBe(7);
    expect(h.calls.slice(from).filter((c) => c.argv[0] === "rsync" || c.argv[0] === "ssh")).toEqual([]);
  });

  test("touching a file without changing it does not force a sync", async () => {
    const f = join(local, "README.md");
    const t = new Date(Date.now() - 60_000);
    require("node:fs").utimesSync(f, t, t);
    const r = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: last });
    expect(r.skipped).toBe(true);
  });

  test("local deletion is mirrored; remote-only ignored caches survive, remote-only strays go; edits arrive", async () => {
    writeFileSync(join(remote, "remote-only.log"), "made remotely\n");
    mkdirSync(join(remote, "node_modules", "pkg"), { recursive: true });
    writeFileSync(join(remote, "node_modules", "pkg", "index.js"), "x\n");
    unlinkSync(join(local, "untracked.txt"));
    git("rm", "-q", "src/main.ts");
    writeFileSync(join(local, "README.md"), "hello again\n");
    const before = rsyncCalls();
    const r = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: last });
    expect(rsyncCalls()).toBe(before + 1);
    expect(r.skipped).toBe(false);
    expect(r.deleted).toBe(3); // untracked.txt, src/main.ts, and the stray remote-only.log
    expect(r.fingerprint).not.toBe(last);
    expect(existsSync(join(remote, "untracked.txt"))).toBe(false);
    expect(existsSync(join(remote, "src", "main.ts"))).toBe(false);
    expect(readFileSync(join(remote, "README.md"), "utf8")).toBe("hello again\n");
    expect(existsSync(join(remote, "remote-only.log"))).toBe(false);
    expect(existsSync(join(remote, "node_modules", "pkg", "index.js"))).toBe(true);
    last = r.fingerprint;
    // The deleted files are not deleted "again" next time.
    writeFileSync(join(local, "another.txt"), "a\n");
    const r2 = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: last });
    expect(r2.deleted).toBe(0);
    expect(readFileSync(join(remote, "another.txt"), "utf8")).toBe("a\n");
  });

  test("a failed sync never leaves the lease stuck: the next one is not skipped and mirrors everything", async () => {
    const ok = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: null });
    writeFileSync(join(local, "after-failure.txt"), "f\n");
    let err: CrabboxError | null = null;
    try {
      // The remote session cannot start (no such ssh config): the sync fails after it began.
      await syncTree(h.runtime, { leaseId: LEASE, configPath: join(h.dir, "missing.config"), alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: ok.fingerprint });
    } catch (e) {
      err = e as CrabboxError;
    }
    expect(err).toBeInstanceOf(CrabboxError);
    unlinkSync(join(local, "after-failure.txt"));
    writeFileSync(join(remote, "stray-after-failure.txt"), "s\n");
    // Locally back to what the last successful sync sent: without the failure, this would be skipped.
    const r = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: ok.fingerprint });
    expect(r.skipped).toBe(false);
    expect(r.mode).toBe("full");
    expect(existsSync(join(remote, "stray-after-failure.txt"))).toBe(false);
    const again = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: r.fingerprint });
    expect(again.skipped).toBe(true);
  });

  test("a git status started early is used only while fresh: an old one is ignored", async () => {
    const base = { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote };
    const first = await syncTree(h.runtime, { ...base, lastFingerprint: null });
    const { runStatus } = await import("../../src/sync/gitstate.ts");
    const before = runStatus(h.runtime, local);
    await before;
    writeFileSync(join(local, "README.md"), "changed after the early status\n");
    // Taken before the edit and 10 s "old": ignored, so the edit is seen and sent.
    const r = await syncTree(h.runtime, { ...base, lastFingerprint: first.fingerprint, status: { at: Date.now() - 10_000, result: before } });
    expect(r.skipped).toBe(false);
    expect(readFileSync(join(remote, "README.md"), "utf8")).toBe("changed after the early status\n");
  });

  test("a connection failure is an ssh error, not a generic sync failure", async () => {
    const bad = await startHarness({ noSshServer: true });
    try {
      const c = await writeLeaseConfig(bad.runtime, "cbx_syncbad000001", bad.ghOutput);
      writeFileSync(join(local, "changed.txt"), String(Date.now()));
      let err: CrabboxError | null = null;
      try {
        await syncTree(bad.runtime, { leaseId: "cbx_syncbad000001", configPath: c.path, alias: c.alias, localRoot: local, workRoot: remote, lastFingerprint: null });
      } catch (e) {
        err = e as CrabboxError;
      }
      expect(err?.code).toBe("ssh_server_missing");
      expect(err?.exit).toBe(7);
    } finally {
      await bad.cleanup();
    }
  });

  test("local rsync missing → install hint", async () => {
    const bin = join(h.dir, "bin-without-rsync");
    mkdirSync(bin, { recursive: true });
    for (const p of ["git", "ssh"]) if (!existsSync(join(bin, p))) symlinkSync(Bun.which(p)!, join(bin, p));
    const rt = createRuntime({ crabboxHome: h.runtime.crabboxHome, env: { ...process.env, PATH: bin } });
    writeFileSync(join(local, "changed2.txt"), String(Date.now()));
    let err: CrabboxError | null = null;
    try {
      await syncTree(rt, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: null });
    } catch (e) {
      err = e as CrabboxError;
    }
    expect(err?.code).toBe("rsync_not_found");
    expect(err?.exit).toBe(2);
    expect(err?.hint).toContain("brew install rsync");
  });
});

describe("rsync helpers", () => {
  test("versions, stats, quoting, remote paths", () => {
    expect(parseRsyncVersion("rsync  version 3.2.7  protocol version 31")).toEqual([3, 2, 7]);
    expect(parseRsyncVersion("openrsync: protocol version 29")).toBeNull();
    const s = parseRsyncStats("Number of regular files transferred: 1,234\nTotal bytes sent: 5,678,901\n");
    expect(s.transferred).toBe(1234);
    expect(s.sentBytes).toBe(5678901);
    expect(rsyncShellQuote("/a/b")).toBe("/a/b");
    expect(rsyncShellQuote("/a b/it's")).toBe("'/a b/it''s'");
    expect(rsyncRemotePath("~")).toBe("./");
    expect(rsyncRemotePath("~/w")).toBe("w/");
    expect(rsyncRemotePath("/workspaces/r")).toBe("/workspaces/r/");
  });
});
