/**
 * The git-based local check (src/sync/gitstate.ts): its key changes exactly
 * when the view changes, and `changedSince` names the paths that did.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { createRuntime } from "../../src/runtime.ts";
import { changedSince, gitState, parseStatus, type GitState, type StatEntry } from "../../src/sync/gitstate.ts";
import { hashTrusted } from "../../src/sync/racy.ts";
import { gitTopLevel } from "../../src/sync/files.ts";
import { secretRules } from "../../src/sync/secrets.ts";

let tmp: string;
let d: string;
const rt = () => createRuntime({ crabboxHome: join(tmp, "home"), env: { ...process.env } });
function git(dir: string, ...args: string[]) {
  const p = Bun.spawnSync(["git", "-C", dir, ...args], { env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" } });
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
}
let stats: Record<string, StatEntry> = {};
async function state(): Promise<GitState> {
  const s = await gitState(rt(), d, { salt: "alias\0/work", rules: secretRules(d, join(tmp, "home")), stats });
  if (!s) throw new Error("gitState returned null");
  stats = s.stats;
  return s;
}

beforeAll(() => {
  tmp = mkdtempSync("/tmp/cbx-gitstate-");
  d = join(tmp, "repo");
  mkdirSync(join(d, "src"), { recursive: true });
  writeFileSync(join(d, "a.txt"), "aaaa\n");
  writeFileSync(join(d, "src", "b.ts"), "b\n");
  writeFileSync(join(d, "run.sh"), "#!/bin/sh\n", { mode: 0o644 });
  symlinkSync("a.txt", join(d, "link"));
  writeFileSync(join(d, ".gitignore"), "ignored/\n");
  git(d, "init", "-q");
  git(d, "add", ".");
  git(d, "commit", "-qm", "i");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("gitState", () => {
  test("the key follows content, exec bit, symlink targets, additions, deletions and staging; not mtimes or ignored files", async () => {
    const base = await state();
    expect(base.key).toStartWith("git:");
    expect((await state()).key).toBe(base.key);
    const keys = new Set([base.key]);
    const expectNew = async (what: string) => {
      const k = (await state()).key;
      expect({ what, known: keys.has(k) }).toEqual({ what, known: false });
      keys.add(k);
      return k;
    };
    const t = new Date(Date.now() - 60_000);
    utimesSync(join(d, "a.txt"), t, t);
    expect((await state()).key).toBe(base.key);
    mkdirSync(join(d, "ignored"));
    writeFileSync(join(d, "ignored", "x"), "x");
    expect((await state()).key).toBe(base.key);

    writeFileSync(join(d, "a.txt"), "bbbb\n");
    const edited = await expectNew("worktree edit");
    git(d, "add", "a.txt");
    await expectNew("the same edit, staged"); // same view, different record: a harmless extra sync
    git(d, "commit", "-qm", "e");
    await expectNew("committed (HEAD moved)");
    chmodSync(join(d, "run.sh"), 0o755);
    await expectNew("exec bit");
    unlinkSync(join(d, "link"));
    symlinkSync("src/b.ts", join(d, "link"));
    await expectNew("symlink target");
    writeFileSync(join(d, "new file\nwith newline ü.txt"), "n\n");
    await expectNew("untracked addition");
    unlinkSync(join(d, "src", "b.ts"));
    await expectNew("deletion");
    expect(edited).not.toBe(base.key);
  });

  test("an untracked file edited within the same second, same size, is seen (stat cache: ctime, inode, racy window)", async () => {
    const f = join(d, "same.txt");
    writeFileSync(f, "1111\n");
    const old = new Date(Date.now() - 60_000);
    utimesSync(f, old, old);
    const first = await state();
    expect((await state()).key).toBe(first.key);
    writeFileSync(join(d, "same.tmp"), "2222\n");
    utimesSync(join(d, "same.tmp"), old, old);
    renameSync(join(d, "same.tmp"), f); // same size, same mtime, different content
    expect((await state()).key).not.toBe(first.key);
  });

  test("a stat is trusted (and nothing read) once a newer change was seen before the read (the clock had passed it), never on an mtime set back", async () => {
    const older = join(d, "older.txt");
    const newer = join(d, "newer.txt");
    writeFileSync(older, "o\n");
    const past = new Date(Date.now() - 60_000);
    utimesSync(older, past, past); // an mtime set back by hand (tar -x, cp -p): its ctime is now
    await Bun.sleep(30); // past the kernel's clock tick: the next change gets a later ctime
    writeFileSync(newer, "n\n");
    expect(statSync(newer).ctimeMs).toBeGreaterThan(statSync(older).ctimeMs);
    const s = await state();
    // Both changed within the last 2 s. older's ctime is behind a change seen before any file was read:
    // trusted. newer is the newest change: nothing says the clock had passed it, so it is read again.
    expect(s.stats["older.txt"]![5]).not.toBeNull();
    expect(s.stats["newer.txt"]![5]).toBeNull();
    // The trusted one is signed by its lstat, never read; the other by a hash of what was read.
    expect(s.stats["older.txt"]![5]).toStartWith("s");
    expect(s.dirty.get("newer.txt")).toMatch(/^100644:w[0-9a-f]{64}$/);
    // Later, a newer change makes newer.txt trusted with its stat unchanged: read once more, its
    // signature stays its hash (the same bytes, the same signature: nothing to send again).
    await Bun.sleep(30);
    writeFileSync(join(d, "newest.txt"), "x\n");
    expect(statSync(join(d, "newest.txt")).ctimeMs).toBeGreaterThan(statSync(newer).ctimeMs);
    const later = await state();
    expect(later.dirty.get("newer.txt")).toBe(s.dirty.get("newer.txt")!);
    expect(later.stats["newer.txt"]![5]).not.toBeNull();
    rmSync(join(d, "newest.txt"));
    // Alone, a fresh file is not trusted on an mtime set back: the rule looks at the ctime.
    rmSync(newer);
    writeFileSync(older, "p\n");
    utimesSync(older, past, past);
    expect((await state()).stats["older.txt"]![5]).toBeNull();
    rmSync(older);
  });

  test("hashTrusted: a ctime behind the newest change seen, or older than the window by our clock", () => {
    expect(hashTrusted(100, 101, 0)).toBe(true);
    expect(hashTrusted(101, 101, 0)).toBe(false); // the newest change itself
    expect(hashTrusted(101, Number.NEGATIVE_INFINITY, 0)).toBe(false);
    expect(hashTrusted(101, Number.NEGATIVE_INFINITY, 102)).toBe(true);
  });

  test("changedSince: the paths between two HEADs and every differing dirty record", async () => {
    git(d, "add", "-A");
    git(d, "commit", "-qm", "c");
    const before = await state();
    writeFileSync(join(d, "a.txt"), "cccc\n");
    git(d, "commit", "-qam", "d");
    writeFileSync(join(d, "untracked.txt"), "u\n");
    git(d, "rm", "-q", "run.sh");
    const now = await state();
    const changed = await changedSince(rt(), d, { head: before.head, dirty: before.dirty }, now);
    expect([...changed!].sort()).toEqual(["a.txt", "run.sh", "untracked.txt"]);
  });

  test("submodules and nested repositories are left to the full listing (null)", async () => {
    const nested = join(d, "nested");
    mkdirSync(nested);
    writeFileSync(join(nested, "f"), "f");
    git(nested, "init", "-q");
    expect(await gitState(rt(), d, { salt: "", rules: secretRules(d, join(tmp, "home")), stats: {} })).toBeNull();
    rmSync(nested, { recursive: true, force: true });
    expect(parseStatus("# branch.oid abc\u00001 .M S..M 160000 160000 160000 abc abc vendor/sub\u0000")).toBeNull();
  });
});

describe("gitTopLevel", () => {
  test("finds the work tree's top level from a subdirectory without running git; defers to git when told where GIT_DIR is", () => {
    expect(gitTopLevel(join(d, "src"), {})).toBe(d);
    expect(gitTopLevel(d, { GIT_DIR: join(d, ".git") })).toBeNull();
    expect(gitTopLevel(join(d, ".git"), {})).toBeNull();
    expect(gitTopLevel(tmp, {})).toBeNull();
    expect(statSync(d).isDirectory()).toBe(true);
  });
});
