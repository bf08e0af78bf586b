/** The data plane end to end: real ssh, rsync and sshd through the gh stand-in's --stdio tunnel. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHarness, git, recordRsync, type Harness, closeWithLease, warmKeptLease } from "./harness.ts";

let h: Harness;
let lease: any;
let rsync: ReturnType<typeof recordRsync>;

/** Where the lease's work root is on this machine's disk. */
function remote(...parts: string[]): string {
  return join(h.emu.control.codespaceDir(lease.codespace.name), ".crabbox", "hello-world", ...parts);
}

beforeAll(async () => {
  h = await createHarness();
  // A recording rsync first on PATH, so tests can tell whether rsync ran at all.
  rsync = recordRsync(h);
  lease = await warmKeptLease(h);
});
afterAll(async () => {
  await closeWithLease(h, lease);
});

describe("run --id", () => {
  test("a second run reuses the connection: no new --stdio tunnel", async () => {
    const first = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "echo", "one"]);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe("one\n");
    const tunnels = h.emu.control.stdioCount(lease.codespace.name);
    h.emu.control.resetCounts();
    const second = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "echo", "two"]);
    expect(second.stdout).toBe("two\n");
    expect(h.emu.control.stdioCount(lease.codespace.name)).toBe(tunnels);
    const apiCalls = Object.values(h.emu.control.counts()).reduce((a, b) => a + b, 0);
    expect(apiCalls).toBeLessThanOrEqual(1);
  });

  test.each([0, 1, 3, 42])("exit status %d comes back", async (n) => {
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", `exit ${n}`]);
    expect(r.code).toBe(n);
  });

  test("a command killed by a signal exits 128+n", async () => {
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", "kill -9 $$"]);
    expect(r.code).toBe(137);
  });

  test("quoting torture: every argument arrives byte for byte", async () => {
    const marker = join(h.tmp, "INJECTED");
    const args = [
      "plain", "with space", "", "'single'", '"double"', "back\\slash", "semi;colon", "a && b", "$HOME", "$(touch " + marker + ")",
      "`touch " + marker + "`", "new\nline", "tab\there", "ünïcødé ✓", "*", "~", "-n", "--", "#hash", "!bang", "{a,b}", "x=1",
    ];
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", 'printf "%s\\0" "$@"', "sh", ...args]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\0").slice(0, -1)).toEqual(args);
    expect(existsSync(marker)).toBe(false);
  });

  test("sh -c 'echo $HOME' expands remotely, as typed", async () => {
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", "echo $0-$HOME", "zero"]);
    expect(r.stdout.trim()).toMatch(/^zero-\//);
  });

  test("--env forwards only the named variables; GH_TOKEN never by default", async () => {
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--env", "FOO", "--", "sh", "-c", 'echo "foo=$FOO bar=$BAR tok=$GH_TOKEN"'], {
      env: { FOO: "it's here", BAR: "not forwarded" },
    });
    expect(r.stdout.trim()).toBe("foo=it's here bar= tok=");
  });

  test("--json: summary on stdout, the command's output on stderr", async () => {
    const r = await h.run(["run", "--json", "--id", lease.slug, "--no-sync", "--", "sh", "-c", "echo out; exit 3"]);
    expect(r.code).toBe(3);
    const j = r.json();
    expect(j.leaseId).toBe(lease.leaseId);
    expect(j.exitCode).toBe(3);
    expect(Object.keys(j.durations).sort()).toEqual(["acquire", "command", "release", "sync"]);
    expect(r.stderr).toContain("out");
  });
});

describe("resume", () => {
  test("a codespace stopped behind our back (idle timeout) is started again by run --id; the command runs once", async () => {
    const res = await fetch(`${h.emu.url}/user/codespaces/${lease.codespace.name}/stop`, { method: "POST", headers: { Authorization: `Bearer ${h.emu.token}` } });
    expect(res.status).toBe(200);
    await Bun.sleep(300);
    expect(h.emu.control.codespaces().find((c: any) => c.name === lease.codespace.name)!.state).toBe("Shutdown");
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", "echo ran >> runs.log; cat runs.log | wc -l"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("1");
    expect(r.stderr).toContain("starting stopped codespace");
    expect(h.emu.control.codespaces().find((c: any) => c.name === lease.codespace.name)!.state).toBe("Available");
    rmSync(remote("runs.log"));
  });
});

describe("sync", () => {
  test("ignored files stay home, deletions propagate, remote-only ignored caches survive, unchanged trees skip rsync", async () => {
    writeFileSync(join(h.work, "a.txt"), "A\n");
    writeFileSync(join(h.work, "ignored.txt"), "secret\n");
    mkdirSync(join(h.work, "sub dir"), { recursive: true });
    writeFileSync(join(h.work, "sub dir", "b.txt"), "B\n");
    const r1 = await h.run(["run", "--id", lease.slug, "--", "cat", "a.txt", "sub dir/b.txt"]);
    expect(r1.code).toBe(0);
    expect(r1.stdout).toBe("A\nB\n");
    expect(existsSync(remote("ignored.txt"))).toBe(false);
    expect(existsSync(remote(".git"))).toBe(false);
    expect(readFileSync(remote("README.md"), "utf8")).toBe("# hello\n");

    // Remote-only output the ignore rules match (a cache) must survive later syncs.
    await h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", "mkdir -p node_modules/p && echo x > node_modules/p/out"]);

    const before = rsync.transfers();
    const r2 = await h.run(["run", "--id", lease.slug, "--", "true"]);
    expect(r2.code).toBe(0);
    expect(r2.stderr).toContain("sync skipped");
    expect(rsync.transfers()).toBe(before);

    rmSync(join(h.work, "a.txt"));
    const r3 = await h.run(["run", "--id", lease.slug, "--", "true"]);
    expect(r3.code).toBe(0);
    // A deletion alone needs no rsync (the sync's remote session removes it), but the sync runs.
    expect(r3.stderr).toContain("1 removed");
    expect(existsSync(remote("a.txt"))).toBe(false);
    expect(existsSync(remote("sub dir", "b.txt"))).toBe(true);
    expect(existsSync(remote("node_modules", "p", "out"))).toBe(true);
  });

  test("a path that was a directory locally and is a file remotely goes when it leaves the checkout", async () => {
    // kind/ holds a file; then kind becomes a file (committed); then it is renamed away. The
    // last sync sees kind/f and kind both gone: kind was a directory in the local history, but
    // the remote holds the file the previous sync sent.
    mkdirSync(join(h.work, "kind"));
    writeFileSync(join(h.work, "kind", "f"), "f\n");
    git(h.work, "add", "kind");
    git(h.work, "commit", "-qm", "kind/f");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    expect(readFileSync(remote("kind", "f"), "utf8")).toBe("f\n");
    rmSync(join(h.work, "kind"), { recursive: true });
    writeFileSync(join(h.work, "kind"), "now a file\n");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    expect(readFileSync(remote("kind"), "utf8")).toBe("now a file\n");
    git(h.work, "add", "-A", "kind");
    git(h.work, "commit", "-qm", "kind is a file");
    git(h.work, "mv", "kind", "renamed");
    const r = await h.run(["run", "--id", lease.slug, "--", "true"]);
    expect(r.code).toBe(0);
    expect(readFileSync(remote("renamed"), "utf8")).toBe("now a file\n");
    expect(existsSync(remote("kind"))).toBe(false);
  });

  test("--sync-only syncs without running", async () => {
    writeFileSync(join(h.work, "c.txt"), "C\n");
    const r = await h.run(["run", "--id", lease.slug, "--sync-only"]);
    expect(r.code).toBe(0);
    expect(readFileSync(remote("c.txt"), "utf8")).toBe("C\n");
  });
});

describe("ssh", () => {
  test("ssh --id X -- cmd runs in the work root", async () => {
    const r = await h.run(["ssh", "--id", lease.slug, "--", "pwd"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("/workspaces/.crabbox/hello-world");
  });

  test("ssh --print shows a reusable command line without secrets", async () => {
    const r = await h.run(["ssh", "--id", lease.slug, "--print"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ssh -F '?\/.+\.config'? '?cs\./);
    expect(r.stdout).not.toContain(h.emu.token);
  });
});

describe("one-shot run", () => {
  test("run -- echo ok leaves no codespace behind", async () => {
    const before = h.emu.control.codespaces().length;
    const r = await h.run(["run", "--", "echo", "ok"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("ok\n");
    expect(h.emu.control.codespaces().length).toBe(before);
  });

  test.each(["SIGINT", "SIGTERM"] as const)("%s during the command still releases the lease", async (sig) => {
    const before = h.emu.control.codespaces().map((c: any) => c.name);
    const proc = h.spawn(["run", "--", "sh", "-c", "echo started; sleep 30"]);
    const reader = proc.stdout.getReader();
    const { value } = await reader.read();
    expect(new TextDecoder().decode(value)).toContain("started");
    proc.kill(sig);
    const code = await proc.exited;
    expect(code).not.toBe(0);
    const after = h.emu.control.codespaces().map((c: any) => c.name);
    expect(after.sort()).toEqual(before.sort());
  });

  test("a second Ctrl-C leaves the lease claimed and says how to release it", async () => {
    const proc = h.spawn(["run", "--", "sh", "-c", "echo started; sleep 30"]);
    const reader = proc.stdout.getReader();
    await reader.read();
    proc.kill("SIGINT");
    await Bun.sleep(150);
    proc.kill("SIGINT");
    const code = await proc.exited;
    const stderr = await new Response(proc.stderr).text();
    expect(code).toBe(130);
    const m = /release it with: crabbox-cs stop (\S+)/.exec(stderr);
    expect(m).not.toBeNull();
    const again = await h.run(["stop", m![1]!]);
    expect(again.code).toBe(0);
  });

  test("outside a git repository, --sync-all sends the directory, minus the usual excludes", async () => {
    const dir = join(h.tmp, "plain dir");
    mkdirSync(join(dir, "node_modules", "x"), { recursive: true });
    writeFileSync(join(dir, "node_modules", "x", "index.js"), "x");
    writeFileSync(join(dir, "main.sh"), "echo from-plain-dir\n");
    const r = await h.run(["run", "--github-codespaces-repo", "octo-org/hello-world", "--sync-all", "--", "sh", "-c", "sh main.sh; ls -A"], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("from-plain-dir");
    expect(r.stdout).not.toContain("node_modules");
  });

  test("an image without sshd: exit 7 with the devcontainer snippet", async () => {
    h.emu.control.addRepo({ fullName: "octo-org/no-sshd", sshd: false });
    const r = await h.run(["run", "--github-codespaces-repo", "octo-org/no-sshd", "--", "true"]);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain("ghcr.io/devcontainers/features/sshd:1");
    expect(h.emu.control.codespaces().filter((c: any) => c.repository.full_name === "octo-org/no-sshd")).toEqual([]);
  });
});
