/**
 * A small change set goes in the command's own session (issue 15; docs/sync.md,
 * "A small change set in the command's session"). Checked by counting ssh
 * invocations (a recording `ssh` first on PATH: every session, rsync's and
 * control queries included) and by comparing the remote tree with the checkout.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, closeWithLease, createHarness, git, recordRsync, recordSsh, type Harness, warmKeptLease } from "./harness.ts";
import { existsOrLink, walk } from "./tree-lib.ts";
import { IN_SESSION_MAX_BYTES, IN_SESSION_MAX_FILES } from "../../src/sync/insession.ts";
import { secretByContent, secretByName, secretRules } from "../../src/sync/secrets.ts";

let h: Harness;
let lease: any;
let remoteRoot: string;
let rsync: ReturnType<typeof recordRsync>;
let ssh: ReturnType<typeof recordSsh>;

/** ssh invocations since the log was cleared: sessions (anything but `-O` control queries) and control queries. */
function sshCalls(): { sessions: string[]; control: string[] } {
  const lines = ssh.calls();
  return { sessions: lines.filter((l) => !/(^| )-O /.test(l)), control: lines.filter((l) => /(^| )-O /.test(l)) };
}

beforeAll(async () => {
  h = await createHarness();
  rsync = recordRsync(h);
  ssh = recordSsh(h, "insession");
  h.env.PATH = ssh.env.PATH!;
  lease = await warmKeptLease(h);
  remoteRoot = join(h.emu.control.codespaceDir(lease.codespace.name), ".crabbox", "hello-world");
  // A first (full) sync, so that later ones are incremental.
  const first = await h.run(["run", "--id", lease.slug, "--", "true"]);
  expect(first.code).toBe(0);
});

afterAll(async () => {
  await closeWithLease(h, lease);
});

function localView(): string[] {
  return git(h.work, "ls-files", "-z", "-c", "-o", "--exclude-standard")
    .split("\0")
    .filter((p) => p !== "" && existsOrLink(join(h.work, p)) && !lstatSync(join(h.work, p)).isDirectory())
    .sort();
}
function entry(root: string, p: string): string {
  const abs = join(root, p);
  const st = lstatSync(abs);
  if (st.isSymbolicLink()) return `link:${readlinkSync(abs)}`;
  return `file:${(st.mode & 0o777).toString(8)}:${readFileSync(abs).toString("base64")}`;
}
function expectMirror(): void {
  const local = localView();
  expect(walk(remoteRoot).sort()).toEqual(local);
  for (const p of local) expect(`${p} ${entry(remoteRoot, p)}`).toBe(`${p} ${entry(h.work, p)}`);
}
/** After a run that settles the sync: the path of a counter file in the codespace, absent. */
async function settledCounter(name: string): Promise<string> {
  expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
  const counter = join(h.emu.control.codespaceDir(lease.codespace.name), name);
  rmSync(counter, { force: true });
  return counter;
}
/** The sync was recorded: the next run skips it. */
async function expectRecorded(): Promise<void> {
  const again = await h.run(["run", "--id", lease.slug, "--json", "--", "true"]);
  expect(again.json().sync.skipped).toBe(true);
}
function reset(): void {
  ssh.clear();
}
/** What the last sync's state says of the codespace's zstd. */
function savedZstd(): boolean | undefined {
  return JSON.parse(readFileSync(join(h.home, "sync", `${lease.leaseId}.state`), "utf8")).zstd;
}
/**
 * The codespace without zstd, until the returned function is called: its sessions' PATH (set in its
 * rc file) holds every command of this machine but zstd.
 */
function hideZstd(): () => void {
  const dir = join(h.tmp, "bin-without-zstd");
  if (!existsSync(dir)) {
    mkdirSync(dir);
    for (const d of ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
      if (!existsSync(d)) continue;
      for (const e of readdirSync(d)) if (!e.includes("zstd") && !existsOrLink(join(dir, e))) symlinkSync(join(d, e), join(dir, e));
    }
  }
  const rc = join(h.emu.control.codespaceHome(lease.codespace.name), ".bashrc");
  const before = readFileSync(rc, "utf8");
  writeFileSync(rc, `${before}\nPATH=${dir}; export PATH\n`);
  return () => writeFileSync(rc, before);
}

describe("a small change set goes in the command's own session", () => {
  test("a 1-file change opens no ssh session besides the command's own (no rsync, no report session, no master check)", async () => {
    writeFileSync(join(h.work, "one.txt"), "one\n");
    reset();
    const transfers = rsync.transfers();
    const r = await h.run(["run", "--id", lease.slug, "--json", "--", "cat", "one.txt"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("one\n");
    expect(r.json().sync.skipped).toBe(false);
    expect(r.json().sync.files).toBeGreaterThan(0);
    const calls = sshCalls();
    expect(calls.sessions).toHaveLength(1);
    expect(calls.control).toHaveLength(0);
    expect(rsync.transfers()).toBe(transfers);
    // Recorded as synced: the next run skips.
    await expectRecorded();
  });

  test("what changed only between two commits waits for the view to be listed: sent when it is in the view, never when it is ignored now", async () => {
    writeFileSync(join(h.work, "kept.txt"), "v1\n");
    writeFileSync(join(h.work, "ignored.txt"), "v1\n");
    git(h.work, "add", "kept.txt");
    git(h.work, "add", "-f", "ignored.txt");
    git(h.work, "commit", "-q", "-m", "kept and ignored");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    // Committed, so git status reports neither: only the two commits differ. ignored.txt is
    // untracked and ignored from now on, and changed here: it must not go (the codespace's copy
    // stays, as an ignored path there does). reported.txt is new: git status reports it.
    writeFileSync(join(h.work, "kept.txt"), "v2\n");
    git(h.work, "add", "kept.txt");
    writeFileSync(join(h.work, "ignored.txt"), "v2, never sent\n");
    git(h.work, "rm", "-q", "--cached", "ignored.txt");
    git(h.work, "commit", "-q", "-m", "kept v2, ignored untracked");
    writeFileSync(join(h.work, "reported.txt"), "reported\n");
    reset();
    const r = await h.run(["run", "--id", lease.slug, "--verbose", "--", "cat", "kept.txt", "reported.txt", "ignored.txt"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("v2\nreported\nv1\n");
    expect(r.stderr).toContain("ssh: change set part sent");
    expect(sshCalls().sessions).toHaveLength(1);
    rmSync(join(h.work, "ignored.txt"));
    rmSync(join(remoteRoot, "ignored.txt"));
    expectMirror();
    await expectRecorded();
  });

  test("the summary's file count and size are the view's: summed in the listing's pass over git's index, or (split index) afterwards", async () => {
    const rules = secretRules(h.work, h.env.CRABBOX_HOME!);
    const oracle = () => {
      const view = localView().filter((p) => !secretByName(p, rules) && !secretByContent(p, join(h.work, p)));
      return { files: view.length, bytes: view.reduce((n, p) => n + lstatSync(join(h.work, p)).size, 0) };
    };
    writeFileSync(join(h.work, "README.md"), "a longer readme than the one committed\n");
    writeFileSync(join(h.work, "sized-untracked.txt"), "u".repeat(1234));
    writeFileSync(join(h.work, ".env.sized"), "SECRET=1\n"); // never sent, never counted
    const viaIndex = await h.run(["run", "--id", lease.slug, "--json", "--", "true"]);
    expect(viaIndex.code).toBe(0);
    expect(viaIndex.json().sync.sentBytes).toBeGreaterThan(0);
    expect({ files: viaIndex.json().sync.files, bytes: viaIndex.json().sync.bytes }).toEqual(oracle());
    git(h.work, "update-index", "--split-index"); // not read here: git ls-files lists, the size comes after
    try {
      writeFileSync(join(h.work, "sized-untracked.txt"), "v".repeat(4321));
      const viaGit = await h.run(["run", "--id", lease.slug, "--json", "--", "true"]);
      expect(viaGit.code).toBe(0);
      expect(viaGit.json().sync.sentBytes).toBeGreaterThan(0);
      expect({ files: viaGit.json().sync.files, bytes: viaGit.json().sync.bytes }).toEqual(oracle());
    } finally {
      git(h.work, "update-index", "--no-split-index");
    }
    for (const f of ["sized-untracked.txt", ".env.sized"]) rmSync(join(h.work, f));
    git(h.work, "checkout", "--", "README.md");
  });

  test("exactness: modes, symlinks, deletions, names with spaces, newlines and unicode; remote edits overwritten, strays removed, ignored caches kept", async () => {
    const names = ["sp ace.txt", "new\nline", "ünï cödé.md", "-dash", "q'uo\"te"];
    mkdirSync(join(h.work, "dir two", "deep"), { recursive: true });
    for (const n of names) writeFileSync(join(h.work, "dir two", n), `${n}\n`);
    writeFileSync(join(h.work, "run.sh"), "#!/bin/sh\necho ran\n");
    chmodSync(join(h.work, "run.sh"), 0o755);
    writeFileSync(join(h.work, "dir two", "deep", "gone.txt"), "bye\n");
    symlinkSync("../run.sh", join(h.work, "dir two", "link"));
    writeFileSync(join(h.work, "edited.txt"), "local\n");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    expectMirror();

    // Local: a delete, a mode change, a retargeted link, a file that becomes a link.
    rmSync(join(h.work, "dir two", "deep", "gone.txt"));
    chmodSync(join(h.work, "run.sh"), 0o644);
    rmSync(join(h.work, "dir two", "link"));
    symlinkSync("sp ace.txt", join(h.work, "dir two", "link"));
    rmSync(join(h.work, "dir two", "-dash"));
    symlinkSync("new\nline", join(h.work, "dir two", "-dash"));
    // Remote: an edit, a stray, an ignored cache.
    writeFileSync(join(remoteRoot, "edited.txt"), "remote edit\n");
    writeFileSync(join(remoteRoot, "stray file.txt"), "stray\n");
    mkdirSync(join(remoteRoot, "node_modules", "pkg"), { recursive: true });
    writeFileSync(join(remoteRoot, "node_modules", "pkg", "index.js"), "cache\n");
    reset();
    const r = await h.run(["run", "--id", lease.slug, "--", "cat", "edited.txt"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("local\n");
    expect(sshCalls().sessions).toHaveLength(1);
    expectMirror();
    expect(existsSync(join(remoteRoot, "stray file.txt"))).toBe(false);
    expect(readFileSync(join(remoteRoot, "node_modules", "pkg", "index.js"), "utf8")).toBe("cache\n");
  });

  test("files of ours deleted in the codespace come back: a changed directory's entries are listed (names with a newline, a leading dash, a dot)", async () => {
    const names = ["plain.txt", "new\nline.txt", "-dash", ".dot", "sp ace"];
    mkdirSync(join(h.work, "del", "sub"), { recursive: true });
    for (const n of names) writeFileSync(join(h.work, "del", n), `${n}\n`);
    writeFileSync(join(h.work, "del", "sub", "kept.txt"), "kept\n");
    writeFileSync(join(h.work, "root-del.txt"), "root\n");
    writeFileSync(join(h.work, "trigger.txt"), "0\n");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    expectMirror();
    // Remotely: files of ours deleted, in a directory, in its parent, and at the top; locally one
    // unrelated change, so that the set goes in the session and the report is incremental.
    for (const n of ["new\nline.txt", "-dash", ".dot"]) rmSync(join(remoteRoot, "del", n));
    rmSync(join(remoteRoot, "del", "sub"), { recursive: true });
    rmSync(join(remoteRoot, "root-del.txt"));
    writeFileSync(join(h.work, "trigger.txt"), "1\n");
    // What is still there is not written again (its ctime stays): only what is missing is sent.
    const untouched = ["del/plain.txt", "del/sp ace", "README.md"];
    const ctimes = () => untouched.map((p) => `${p} ${statSync(join(remoteRoot, p), { bigint: true }).ctimeNs}`);
    const before = ctimes();
    reset();
    const r = await h.run(["run", "--id", lease.slug, "--", "cat", "del/-dash", "root-del.txt", "del/sub/kept.txt"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("-dash\nroot\nkept\n");
    expect(sshCalls().sessions).toHaveLength(1);
    expectMirror();
    expect(ctimes()).toEqual(before);
  });

  for (const [label, top, plant] of [
    ["a symlink out of the work root where the directory itself goes", "esc", "link"],
    ["a symlink out of the work root two levels up", "esc2", "link"],
    ["a file where the directory goes", "esc3", "file"],
  ] as const) {
    test(`remotely, ${label}: replaced by a directory, never written through`, async () => {
      const outside = join(h.tmp, `outside-${top}`);
      mkdirSync(outside, { recursive: true });
      const dir = top === "esc2" ? join(top, "mid", "leaf") : top;
      mkdirSync(join(h.work, dir), { recursive: true });
      writeFileSync(join(h.work, dir, "a.txt"), "a\n");
      expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
      // Remotely, the top directory becomes a symlink out of the work root (or a file); locally a file under it changes.
      rmSync(join(remoteRoot, top), { recursive: true });
      if (plant === "link") symlinkSync(outside, join(remoteRoot, top));
      else writeFileSync(join(remoteRoot, top), "a file\n");
      writeFileSync(join(h.work, dir, "a.txt"), "changed\n");
      reset();
      const r = await h.run(["run", "--id", lease.slug, "--", "cat", `${dir}/a.txt`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("changed\n");
      expect(sshCalls().sessions).toHaveLength(1); // it went through the tar
      expect(readdirSync(outside)).toEqual([]);
      expect(lstatSync(join(remoteRoot, top)).isDirectory()).toBe(true);
      expectMirror();
    });
  }

  test("directories: a new one is made with its mode here; one that is there keeps its times (the next report does not list it again)", async () => {
    mkdirSync(join(h.work, "keep", "deep"), { recursive: true });
    writeFileSync(join(h.work, "keep", "deep", "f.txt"), "1\n");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    const times = (p: string) => {
      const st = statSync(join(remoteRoot, p), { bigint: true });
      return `${p} ${st.ctimeNs} ${st.mtimeNs}`;
    };
    const before = [times("keep")];
    // A changed file two levels down, and new directories with modes of their own.
    writeFileSync(join(h.work, "keep", "deep", "f.txt"), "2\n");
    mkdirSync(join(h.work, "fresh", "inner"), { recursive: true });
    chmodSync(join(h.work, "fresh"), 0o750);
    chmodSync(join(h.work, "fresh", "inner"), 0o700);
    writeFileSync(join(h.work, "fresh", "inner", "n.txt"), "n\n");
    reset();
    const r = await h.run(["run", "--id", lease.slug, "--", "cat", "keep/deep/f.txt", "fresh/inner/n.txt"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("2\nn\n");
    expect(sshCalls().sessions).toHaveLength(1);
    expectMirror();
    expect([times("keep")]).toEqual(before); // only deep (its file replaced) and the root (fresh made in it) changed
    expect((statSync(join(remoteRoot, "fresh")).mode & 0o777).toString(8)).toBe("750");
    expect((statSync(join(remoteRoot, "fresh", "inner")).mode & 0o777).toString(8)).toBe("700");
  });

  test("the command's stdin still reaches it, with a change set and without one", async () => {
    writeFileSync(join(h.work, "stdin.txt"), "x\n");
    reset();
    const r = await h.run(["run", "--id", lease.slug, "--", "cat"], { input: "hi\n" });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("hi\n");
    expect(sshCalls().sessions).toHaveLength(1); // the change set went in this session
    expect(readFileSync(join(remoteRoot, "stdin.txt"), "utf8")).toBe("x\n");
    const big = "line\n".repeat(50_000);
    writeFileSync(join(h.work, "stdin.txt"), "y\n");
    const r2 = await h.run(["run", "--id", lease.slug, "--", "wc", "-c"], { input: big });
    expect(r2.stdout.trim()).toBe(String(big.length));
    const r3 = await h.run(["run", "--id", lease.slug, "--", "cat"], { input: "no change\n" });
    expect(r3.stdout).toBe("no change\n");
    // A stdin that never ends does not keep run alive once the command is done.
    writeFileSync(join(h.work, "stdin.txt"), "z\n");
    reset();
    const open = Bun.spawn([BIN, "run", "--id", lease.slug, "--", "cat", "stdin.txt"], { cwd: h.work, env: h.env, stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    const [out, code] = await Promise.all([new Response(open.stdout).text(), open.exited]);
    expect(code).toBe(0);
    expect(out).toBe("z\n");
    expect(sshCalls().sessions).toHaveLength(1);
  });

  test("a change set applied in the session is remembered in the claim as soon as the command starts, not after it ends", async () => {
    writeFileSync(join(h.work, "remember.txt"), "remember\n");
    const claimPath = join(h.home, "claims", `${lease.leaseId}.json`);
    const fingerprint = () => (JSON.parse(readFileSync(claimPath, "utf8")) as { lastSync?: { fingerprint: string } }).lastSync?.fingerprint;
    const before = fingerprint();
    // The command waits for go-remember (20 s at most), which is made only once the claim changed (10 s at most).
    const proc = h.spawn(["run", "--id", lease.slug, "--", "sh", "-c", "i=0; while [ ! -e go-remember ] && [ $i -lt 400 ]; do i=$((i+1)); sleep 0.05; done; rm -f go-remember"]);
    let whileRunning = false;
    for (let i = 0; i < 200 && !whileRunning; i++) {
      const now = fingerprint();
      if (now !== undefined && now !== before) whileRunning = true;
      else await Bun.sleep(50);
    }
    writeFileSync(join(remoteRoot, "go-remember"), "");
    expect(await proc.exited).toBe(0);
    expect(whileRunning).toBe(true);
    expect(existsSync(join(remoteRoot, "remember.txt"))).toBe(true);
    await expectRecorded();
  });

  test("a same-size edit within the same second is sent", async () => {
    const file = join(h.work, "same-second.txt");
    writeFileSync(file, "aaaa\n");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    const before = statSync(file).mtimeMs;
    writeFileSync(file, "bbbb\n");
    const sec = Math.floor(before / 1000);
    const frac = before / 1000 - sec < 0.5 ? 0.75 : 0.25;
    utimesSync(file, sec + frac, sec + frac);
    reset();
    const r = await h.run(["run", "--id", lease.slug, "--", "cat", "same-second.txt"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("bbbb\n");
    expect(sshCalls().sessions).toHaveLength(1);
  });

  test("exactly once: the connection cut before the start marker; the retry resends the set, the command runs once", async () => {
    // A recording git that holds the ignore check (made while the session waits for the change set) until told.
    const dir = join(h.tmp, "git-hold");
    const held = join(h.tmp, "git-held");
    const go = join(h.tmp, "git-go");
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "git"),
      `#!/bin/sh\nif [ "$1" = check-ignore ] && [ ! -e '${held}' ]; then : > '${held}'; while [ ! -e '${go}' ]; do sleep 0.05; done; fi\nexec '${Bun.which("git")}' "$@"\n`,
      { mode: 0o755 },
    );
    writeFileSync(join(h.work, "once.txt"), "once\n");
    writeFileSync(join(remoteRoot, "stray2.txt"), "stray\n"); // makes the local side ask git check-ignore
    const ran = join(h.emu.control.codespaceDir(lease.codespace.name), "ran-once");
    rmSync(ran, { force: true });
    const proc = h.spawn(["run", "--id", lease.slug, "--", "sh", "-c", 'cat once.txt; echo x >> "$CODESPACE_DIR/ran-once"'], { env: { PATH: `${dir}:${h.env.PATH}` } });
    const until = Date.now() + 50_000;
    while (!existsSync(held) && Date.now() < until) await Bun.sleep(20);
    expect(existsSync(held)).toBe(true);
    expect(h.emu.control.cutConnections(lease.codespace.name)).toBeGreaterThan(0);
    writeFileSync(go, "");
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (process.env.SHOW) console.log(stderr);
    expect(code).toBe(0);
    expect(stderr).toContain("the command did not start"); // the cut came before the marker: one retry
    expect(stdout).toBe("once\n");
    expect(readFileSync(ran, "utf8")).toBe("x\n");
    expect(existsSync(join(remoteRoot, "stray2.txt"))).toBe(false);
    expectMirror();
  });
});

/** Paths of the in-session script's report files in the codespace (one exists while a session waits for our word). */
function waitingReports(): string[] {
  const dir = join(h.emu.control.codespaceHome(lease.codespace.name), ".cache", "crabbox-cs", "sync");
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".rep")) : [];
}

/** A `git` first on PATH that holds the first `git status` until `until` exists (or 20 s pass: then it says so in `late`). */
function holdingGit(tag: string, until: string): { env: Record<string, string>; held: string; late: string } {
  const dir = join(h.tmp, `git-${tag}`);
  const held = join(h.tmp, `${tag}-held`);
  const late = join(h.tmp, `${tag}-late`);
  mkdirSync(dir, { recursive: true });
  rmSync(held, { force: true });
  rmSync(late, { force: true });
  const wait = `i=0; while ! ls ${until} >/dev/null 2>&1; do i=$((i+1)); if [ $i -ge 400 ]; then : > '${late}'; break; fi; sleep 0.05; done`;
  writeFileSync(join(dir, "git"), `#!/bin/sh
for a; do if [ "$a" = status ] && [ ! -e '${held}' ]; then : > '${held}'; ${wait}; break; fi; done
exec '${Bun.which("git")}' "$@"
`, { mode: 0o755 });
  return { env: { PATH: `${dir}:${h.env.PATH}` }, held, late };
}

describe("the command's session opens beside the local check", () => {
  const syncDir = () => join(h.emu.control.codespaceHome(lease.codespace.name), ".cache", "crabbox-cs", "sync");

  test("with a sync state to go on, the session is open and listing remotely while git status runs; the change still goes in it", async () => {
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    writeFileSync(join(h.work, "early.txt"), "early\n");
    // git status waits until the codespace side has started listing (its report file exists).
    const g = holdingGit("early", `'${syncDir()}'/*.rep`);
    reset();
    const r = await h.run(["run", "--id", lease.slug, "--json", "--", "cat", "early.txt"], { env: g.env });
    expect(r.code).toBe(0);
    expect(existsSync(g.held)).toBe(true);
    expect(existsSync(g.late)).toBe(false); // the session was there before git status finished
    expect(r.stderr).toContain("early\n");
    expect(sshCalls().sessions).toHaveLength(1);
    expect(r.json().sync.skipped).toBe(false);
    expect(waitingReports()).toEqual([]);
    expectMirror();
    await expectRecorded();
  });

  test("nothing changed: the open session is told so and the command runs once, with its stdin; remote strays stay as before", async () => {
    const counter = await settledCounter("ran-noop");
    reset();
    const r = await h.run(["run", "--id", lease.slug, "--json", "--", "sh", "-c", 'cat; echo x >> "$CODESPACE_DIR/ran-noop"'], { input: "still here\n" });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("still here\n");
    expect(r.json().sync.skipped).toBe(true);
    expect(readFileSync(counter, "utf8")).toBe("x\n");
    expect(sshCalls().sessions).toHaveLength(1);
    expect(waitingReports()).toEqual([]);
  });

  // Over either limit (paths, or bytes of content), the set goes the rsync way.
  for (const big of [
    { what: "too many paths", files: IN_SESSION_MAX_FILES + 44, size: 2 },
    { what: "too many bytes", files: 5, size: Math.ceil(IN_SESSION_MAX_BYTES / 4) },
  ]) {
    test(`a change too big for the session (${big.what}): it ends before its command starts, rsync sends the set, the command runs once`, async () => {
      const counter = await settledCounter("ran-big");
      mkdirSync(join(h.work, "many"), { recursive: true });
      for (let i = 0; i < big.files; i++) writeFileSync(join(h.work, "many", `f${i}.txt`), `${i}\n`.padEnd(big.size, "x"));
      const transfers = rsync.transfers();
      reset();
      const r = await h.run(["run", "--id", lease.slug, "--", "sh", "-c", 'ls many | wc -l; echo x >> "$CODESPACE_DIR/ran-big"']);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(String(big.files));
      expect(readFileSync(counter, "utf8")).toBe("x\n");
      expect(rsync.transfers()).toBeGreaterThan(transfers);
      expect(sshCalls().sessions.length).toBeGreaterThan(1); // the command's first session ended; rsync and a new one followed
      expectMirror();
      rmSync(join(h.work, "many"), { recursive: true });
      expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
      expectMirror();
    });
  }

  test("our process killed before its word: the open session ends and the command never runs", async () => {
    const counter = await settledCounter("ran-killed");
    writeFileSync(join(h.work, "killed.txt"), "k\n");
    const go = join(h.tmp, "killed-go");
    rmSync(go, { force: true });
    const g = holdingGit("killed", `'${go}'`);
    const proc = h.spawn(["run", "--id", lease.slug, "--", "sh", "-c", 'echo x >> "$CODESPACE_DIR/ran-killed"'], { env: g.env });
    const until = Date.now() + 50_000;
    while (!(existsSync(g.held) && waitingReports().length > 0) && Date.now() < until) await Bun.sleep(20);
    expect(waitingReports().length).toBe(1); // the session is open and waits for our word
    expect(existsSync(g.late)).toBe(false); // while git status is still held
    proc.kill("SIGKILL");
    await proc.exited;
    writeFileSync(go, "");
    // Its stdin is closed with our process: the remote side stops waiting and ends, nothing started.
    while (waitingReports().length > 0 && Date.now() < until) await Bun.sleep(20);
    expect(waitingReports()).toEqual([]);
    expect(existsSync(counter)).toBe(false);
    // The next run syncs and runs normally.
    const r = await h.run(["run", "--id", lease.slug, "--", "cat", "killed.txt"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("k\n");
    expect(existsSync(counter)).toBe(false);
  });

  test("a codespace that sends a sync report before it is asked for one gets no frame: the command's stdin is ours, untouched", async () => {
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    // The codespace's own rc (armed once) speaks out of turn: a well-formed report, with this run's nonce, before the
    // session's script has even started. Whatever it says, no frame may go into the session's stdin for it.
    const home = h.emu.control.codespaceHome(lease.codespace.name);
    const rc = join(home, ".bashrc");
    const original = readFileSync(rc, "utf8");
    writeFileSync(
      rc,
      `${original}if [ -e "$HOME/arm-hostile" ]; then case "$BASH_EXECUTION_STRING" in *crabbox-sync*)
  rm -f "$HOME/arm-hostile"; n=$(printf '%s\\n' "$BASH_EXECUTION_STRING" | grep -o 'crabbox/runs/[a-z2-7]*' | head -n 1); n=\${n##*/}
  printf '\\037crabbox-cs:%s:report:16\\n' "$n" >&2; printf 'Mincr\\000fevil.txt\\000' >&2;;
esac; fi
`,
    );
    writeFileSync(join(home, "arm-hostile"), "");
    const go = join(h.tmp, "hostile-go");
    rmSync(go, { force: true });
    // git status (nothing changed: the verdict will be N) waits until our process has seen the report.
    const g = holdingGit("hostile", `'${go}'`);
    try {
      const { code, stdout, stderr: err } = await runWatching(
        ["run", "--id", lease.slug, "--verbose", "--", "cat"],
        (err) => {
          if (!existsSync(go) && err.includes("sync report received")) writeFileSync(go, "");
        },
        { env: g.env, input: "ours, and only ours\n" },
      );
      expect(existsSync(g.late)).toBe(false); // the report came while git status was held: before the verdict
      expect({ code, stdout }).toEqual({ code: 0, stdout: "ours, and only ours\n" });
      expect(err).toContain("ssh: sync report received (16 bytes), not asked for: ignored");
      expect(existsSync(join(home, "arm-hostile"))).toBe(false);
      expect(waitingReports()).toEqual([]);
    } finally {
      writeFileSync(rc, original);
      rmSync(join(home, "arm-hostile"), { force: true });
    }
  });
});


/**
 * The codespace's own rc (armed once) puts a `find` first on the sync script's PATH that, for the
 * walk of the work root (the one that prunes `.git`), waits until `go` exists (20 s at most: then it
 * says so in `late`), so that the remote report is held while the local side goes on.
 */
function holdingRemoteFind(tag: string): { go: string; late: string; disarm(): void } {
  const home = h.emu.control.codespaceHome(lease.codespace.name);
  const rc = join(home, ".bashrc");
  const original = readFileSync(rc, "utf8");
  const bin = join(home, `hold-${tag}`);
  const go = join(h.tmp, `${tag}-go`);
  const late = join(h.tmp, `${tag}-late`);
  rmSync(go, { force: true });
  rmSync(late, { force: true });
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "find"), `#!/bin/sh
case " $* " in *" -prune "*)
  i=0; while [ ! -e '${go}' ]; do i=$((i+1)); if [ $i -ge 400 ]; then : > '${late}'; break; fi; sleep 0.05; done;;
esac
exec '${Bun.which("find")}' "$@"
`, { mode: 0o755 });
  writeFileSync(rc, `${original}case "$BASH_EXECUTION_STRING" in *crabbox-sync*) PATH='${bin}':$PATH; export PATH;; esac\n`);
  return {
    go,
    late,
    disarm() {
      writeFileSync(rc, original);
      writeFileSync(go, "");
    },
  };
}

/** Run, reading stderr as it comes: `on(err)` is called on each chunk (killed after 50 s). */
async function runWatching(
  args: string[],
  on: (err: string, proc: Bun.Subprocess) => void,
  opts: { env?: Record<string, string>; input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdin = opts.input === undefined ? "ignore" : new TextEncoder().encode(opts.input);
  const proc = Bun.spawn([BIN, ...args], { cwd: h.work, env: { ...h.env, ...opts.env }, stdin, stdout: "pipe", stderr: "pipe" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 50_000);
  const out = new Response(proc.stdout).text();
  let err = "";
  const decoder = new TextDecoder();
  for await (const chunk of proc.stderr) {
    err += decoder.decode(chunk, { stream: true });
    on(err, proc);
  }
  const code = await proc.exited;
  clearTimeout(killer);
  return { code, stdout: await out, stderr: err };
}

describe("the change set goes in two parts: what changed here at once, the report's repairs after it", () => {
  test("the local change is sent, and written there, while the codespace still lists; remote edits and strays are repaired after; one session, exact", async () => {
    writeFileSync(join(h.work, "edited.txt"), "local\n");
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    writeFileSync(join(h.work, "part-local.txt"), "from here\n");
    writeFileSync(join(remoteRoot, "edited.txt"), "edited there\n");
    writeFileSync(join(remoteRoot, "part-stray.txt"), "stray\n");
    const hold = holdingRemoteFind("part");
    try {
      reset();
      // The report cannot come while find is held: the part must go without it, and the codespace
      // writes it before its listing ends (looked for while find is held: 10 s at most).
      let whileListing = null as boolean | null;
      const written = join(remoteRoot, "part-local.txt");
      const r = await runWatching(["run", "--id", lease.slug, "--verbose", "--", "cat", "part-local.txt", "edited.txt"], (err) => {
        if (whileListing !== null || !err.includes("ssh: change set part sent")) return;
        whileListing = false;
        void (async () => {
          for (let i = 0; i < 200 && !whileListing; i++) {
            if (existsSync(written) && readFileSync(written, "utf8") === "from here\n") whileListing = true;
            else await Bun.sleep(50);
          }
          writeFileSync(hold.go, "");
        })();
      });
      expect(existsSync(hold.late)).toBe(false);
      expect(whileListing).toBe(true);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("from here\nlocal\n");
      expect(r.stderr.indexOf("ssh: change set part sent")).toBeLessThan(r.stderr.indexOf("ssh: sync report received"));
      expect(r.stderr.indexOf("ssh: change set part sent")).toBeGreaterThanOrEqual(0);
    } finally {
      hold.disarm();
    }
    expect(sshCalls().sessions).toHaveLength(1);
    expect(existsSync(join(remoteRoot, "part-stray.txt"))).toBe(false);
    expectMirror();
    await expectRecorded();
  });

  test("a report that asks for the rsync path after the part went (the remote stamp is gone): the session ends, rsync mirrors, the command runs once", async () => {
    const counter = await settledCounter("ran-after-part");
    writeFileSync(join(h.work, "after-part.txt"), "p\n");
    writeFileSync(join(remoteRoot, "after-part-stray.txt"), "stray\n");
    // Without its stamp the codespace can only list everything: a full report, which the session does not take.
    const syncDir = join(h.emu.control.codespaceHome(lease.codespace.name), ".cache", "crabbox-cs", "sync");
    for (const f of readdirSync(syncDir)) rmSync(join(syncDir, f), { force: true });
    reset();
    const transfers = rsync.transfers();
    const r = await h.run(["run", "--id", lease.slug, "--verbose", "--", "sh", "-c", 'cat after-part.txt; echo x >> "$CODESPACE_DIR/ran-after-part"']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("p\n");
    expect(r.stderr).toContain("ssh: change set part sent");
    expect(readFileSync(counter, "utf8")).toBe("x\n");
    expect(rsync.transfers()).toBeGreaterThan(transfers);
    expect(sshCalls().sessions.length).toBeGreaterThan(1);
    expect(existsSync(join(remoteRoot, "after-part-stray.txt"))).toBe(false);
    expectMirror();
    await expectRecorded();
  });

  test("the tar travels zstd-compressed when the codespace said it has zstd, else gzipped; a word gone stale sends the set the rsync way, the command once", async () => {
    // The emulated codespaces run on this machine: .ci/run installs zstd.
    expect(Bun.which("zstd"), "zstd must be installed on the test machine (.ci/run installs it)").not.toBeNull();
    const part = async (name: string) => {
      writeFileSync(join(h.work, "codec.txt"), `${name}\n`);
      reset();
      const transfers = rsync.transfers();
      const r = await h.run(["run", "--id", lease.slug, "--verbose", "--", "sh", "-c", `cat codec.txt; echo x >> "$CODESPACE_DIR/ran-${name}"`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${name}\n`);
      expectMirror();
      expect(readFileSync(join(h.emu.control.codespaceDir(lease.codespace.name), `ran-${name}`), "utf8")).toBe("x\n");
      return { codec: /change set part sent \(\d+ bytes, P \d+ \d+ (\w+)\)/.exec(r.stderr)?.[1] ?? null, rsync: rsync.transfers() > transfers, zstd: savedZstd() };
    };
    await part("settle");
    expect(savedZstd()).toBe(true);
    expect(await part("with-zstd")).toEqual({ codec: "zst", rsync: false, zstd: true });
    const restore = hideZstd();
    try {
      // The state still says zstd: the part fails to unpack there, nothing started; rsync, then the command once.
      expect(await part("zstd-gone")).toEqual({ codec: "zst", rsync: true, zstd: false });
      expect(await part("gzip")).toEqual({ codec: "gz", rsync: false, zstd: false });
    } finally {
      restore();
    }
    expect(await part("zstd-back")).toEqual({ codec: "gz", rsync: false, zstd: true });
    expect(await part("zstd-again")).toEqual({ codec: "zst", rsync: false, zstd: true });
  });

  for (const [tool, script] of [
    ["gzip", 'cat >/dev/null; echo "gzip: simulated failure" >&2; exit 1'],
    ["tar", 'echo "tar: simulated failure" >&2; exit 2'],
  ] as const) {
    test(`the change set cannot be packed here (${tool} fails): rsync sends it, the command runs once, exact`, async () => {
      // gzip packs only for a codespace without zstd (and once a sync has heard so).
      const restore = tool === "gzip" ? hideZstd() : () => {};
      try {
        if (tool === "gzip") {
          writeFileSync(join(h.work, "heard.txt"), `${Math.random()}\n`);
          expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
          expect(savedZstd()).toBe(false);
        }
        await packFails(tool, script);
      } finally {
        restore();
      }
    });
  }

  async function packFails(tool: string, script: string): Promise<void> {
    const counter = await settledCounter(`ran-${tool}-fails`);
    const bin = join(h.tmp, `failing-${tool}`);
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, tool), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, tool), 0o755);
    writeFileSync(join(h.work, `${tool}-fails.txt`), "packed?\n");
    reset();
    const transfers = rsync.transfers();
    const r = await h.run(["run", "--id", lease.slug, "--", "sh", "-c", `cat ${tool}-fails.txt; echo x >> "$CODESPACE_DIR/ran-${tool}-fails"`], {
      env: { ...h.env, PATH: `${bin}:${h.env.PATH}` },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("packed?\n");
    expect(readFileSync(counter, "utf8")).toBe("x\n");
    expect(rsync.transfers()).toBeGreaterThan(transfers);
    expectMirror();
  }

  test("our process killed between the part and the answer: the command never runs, and the next run mirrors exactly", async () => {
    const counter = await settledCounter("ran-part");
    writeFileSync(join(h.work, "part-killed.txt"), "k1\n");
    writeFileSync(join(remoteRoot, "killed-stray.txt"), "stray\n");
    const hold = holdingRemoteFind("killed-part");
    let r: { code: number; stderr: string };
    try {
      r = await runWatching(["run", "--id", lease.slug, "--verbose", "--", "sh", "-c", 'echo x >> "$CODESPACE_DIR/ran-part"'], (err, proc) => {
        if (existsSync(hold.go) || !err.includes("ssh: change set part sent")) return;
        proc.kill("SIGKILL");
        writeFileSync(hold.go, ""); // the report now comes, to no one
      });
    } finally {
      hold.disarm();
    }
    expect(existsSync(hold.late)).toBe(false);
    expect(r.code).toBe(137);
    expect(r.stderr).toContain("ssh: change set part sent");
    expect(r.stderr).not.toContain("ssh: sync report received");
    // The codespace side ends on its own (its stdin is gone), with nothing started.
    const until = Date.now() + 20_000;
    while (waitingReports().length > 0 && Date.now() < until) await Bun.sleep(20);
    expect(waitingReports()).toEqual([]);
    expect(existsSync(counter)).toBe(false);
    // Unknown is not clean: the next run mirrors everything, the stray goes, the command runs once.
    writeFileSync(join(h.work, "part-killed.txt"), "k2\n");
    const next = await h.run(["run", "--id", lease.slug, "--", "sh", "-c", 'cat part-killed.txt; echo x >> "$CODESPACE_DIR/ran-part"']);
    expect(next.code).toBe(0);
    expect(next.stdout).toBe("k2\n");
    expect(readFileSync(counter, "utf8")).toBe("x\n");
    expect(existsSync(join(remoteRoot, "killed-stray.txt"))).toBe(false);
    expectMirror();
  });
});
