import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync, chmodSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { createRuntime } from "../../src/runtime.ts";
import { listFiles, WALK_EXCLUDES } from "../../src/sync/files.ts";
import { computeFingerprint, fingerprintTree, loadSyncCache, syncCachePath } from "../../src/sync/fingerprint.ts";

let tmp: string;
const rt = () => createRuntime({ crabboxHome: join(tmp, "home"), env: { ...process.env } });
function git(dir: string, ...args: string[]) {
  const p = Bun.spawnSync(["git", "-C", dir, ...args], { env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" } });
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
}

beforeAll(() => {
  tmp = mkdtempSync("/tmp/cbx-files-");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("listFiles", () => {
  test("git: tracked + untracked, ignored skipped, .git never listed; a deleted tracked file never reaches the fingerprint", async () => {
    const d = join(tmp, "repo");
    mkdirSync(join(d, "a"), { recursive: true });
    writeFileSync(join(d, ".gitignore"), "*.log\nnode_modules/\n");
    writeFileSync(join(d, "a", "x.ts"), "x");
    writeFileSync(join(d, "gone.txt"), "g");
    writeFileSync(join(d, "weird\nname.txt"), "w");
    git(d, "init", "-q");
    git(d, "add", ".");
    git(d, "commit", "-qm", "i");
    unlinkSync(join(d, "gone.txt"));
    writeFileSync(join(d, "debug.log"), "l");
    mkdirSync(join(d, "node_modules", "p"), { recursive: true });
    writeFileSync(join(d, "node_modules", "p", "i.js"), "i");
    writeFileSync(join(d, "new.txt"), "n");
    symlinkSync("a/x.ts", join(d, "ln"));
    const r = await listFiles(rt(), d);
    expect(r.source).toBe("git");
    // listFiles does not stat (speed): git still lists the deleted tracked file...
    expect(r.files).toEqual([".gitignore", "a/x.ts", "gone.txt", "ln", "new.txt", "weird\nname.txt"].sort());
    // ...and the fingerprint, which stats every file anyway, drops it: it is never sent.
    const fp = computeFingerprint(d, r.files, { version: 2, localRoot: d, entries: {}, lastSync: null }, Date.now());
    expect(fp.files).toEqual([".gitignore", "a/x.ts", "ln", "new.txt", "weird\nname.txt"].sort());
  });

  test("git: a submodule's files are listed through its own git", async () => {
    const sub = join(tmp, "subsrc");
    mkdirSync(sub);
    writeFileSync(join(sub, "lib.c"), "c");
    git(sub, "init", "-q");
    git(sub, "add", ".");
    git(sub, "commit", "-qm", "i");
    const d = join(tmp, "super");
    mkdirSync(d);
    writeFileSync(join(d, "top.txt"), "t");
    git(d, "init", "-q");
    git(d, "-c", "protocol.file.allow=always", "submodule", "add", "-q", sub, "vendor/sub");
    const r = await listFiles(rt(), d);
    expect(r.files).toContain("vendor/sub/lib.c");
    expect(r.files).toContain("top.txt");
    expect(r.files.some((f) => f.includes(".git/") || f.endsWith("/.git") || f === "vendor/sub")).toBe(false);
  });

  test("outside git: walk with the documented excludes", async () => {
    const d = join(tmp, "plain");
    mkdirSync(join(d, "node_modules", "x"), { recursive: true });
    mkdirSync(join(d, ".git"), { recursive: true });
    mkdirSync(join(d, "src"), { recursive: true });
    writeFileSync(join(d, "node_modules", "x", "a.js"), "");
    writeFileSync(join(d, ".git", "HEAD"), "");
    writeFileSync(join(d, ".DS_Store"), "");
    writeFileSync(join(d, "src", "m.ts"), "");
    writeFileSync(join(d, "dist.txt"), "");
    symlinkSync("/etc", join(d, "etc-link"));
    const r = await listFiles(rt(), d);
    expect(WALK_EXCLUDES).toEqual([".git", "node_modules", ".DS_Store"]);
    expect(r.source).toBe("walk");
    expect(r.files).toEqual(["dist.txt", "etc-link", "src/m.ts"]);
  });
});

describe("fingerprintTree", () => {
  test("changes with content, mode, additions and deletions; not with mtime alone", async () => {
    const d = join(tmp, "fp");
    mkdirSync(d);
    writeFileSync(join(d, "a"), "aaa");
    writeFileSync(join(d, "b"), "bbb");
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(d, "a"), old, old);
    utimesSync(join(d, "b"), old, old);
    const f = (salt?: string) => fingerprintTree(rt(), { leaseId: "cbx_fp0000000001", localRoot: d, salt });
    const base = await f();
    expect(base.files).toEqual(["a", "b"]);
    expect(base.totalBytes).toBe(6);
    expect((await f()).fingerprint).toBe(base.fingerprint);
    expect((await f("other work root")).fingerprint).not.toBe(base.fingerprint);
    const t = new Date(Date.now() - 30_000);
    utimesSync(join(d, "a"), t, t);
    expect((await f()).fingerprint).toBe(base.fingerprint);
    // same size, same mtime, different content: caught by ctime/inode change + hash
    writeFileSync(join(d, "a"), "abc");
    utimesSync(join(d, "a"), t, t);
    const changed = await f();
    expect(changed.fingerprint).not.toBe(base.fingerprint);
    writeFileSync(join(d, "a"), "aaa");
    utimesSync(join(d, "a"), t, t);
    expect((await f()).fingerprint).toBe(base.fingerprint);
    chmodSync(join(d, "b"), 0o755);
    const modeChanged = await f();
    expect(modeChanged.fingerprint).not.toBe(base.fingerprint);
    chmodSync(join(d, "b"), 0o644);
    writeFileSync(join(d, "c"), "");
    expect((await f()).fingerprint).not.toBe(base.fingerprint);
    unlinkSync(join(d, "c"));
    expect((await f()).fingerprint).toBe(base.fingerprint);
    unlinkSync(join(d, "b"));
    expect((await f()).fingerprint).not.toBe(base.fingerprint);
  });

  test("20 000 files: a warm fingerprint costs well under a second and hashes nothing", async () => {
    const d = join(tmp, "big");
    for (let i = 0; i < 200; i++) {
      const sub = join(d, `dir${i}`);
      mkdirSync(sub, { recursive: true });
      for (let j = 0; j < 100; j++) writeFileSync(join(sub, `f${j}.txt`), `file ${i}/${j}\n`.repeat(j % 7));
    }
    // Let the racy window pass (src/sync/racy.ts looks at the ctime, which no utimes can age).
    await Bun.sleep(2_100);
    const runtime = rt();
    const cold0 = performance.now();
    const cold = await fingerprintTree(runtime, { leaseId: "cbx_fpbig00000001", localRoot: d });
    const coldMs = performance.now() - cold0;
    expect(cold.files).toHaveLength(20_000);
    const cache = loadSyncCache(runtime, "cbx_fpbig00000001", d);
    expect(Object.values(cache.entries).every((e) => e[5] !== null)).toBe(true);
    const cacheFile = syncCachePath(runtime, "cbx_fpbig00000001");
    const savedAt = statSync(cacheFile, { bigint: true }).mtimeNs;
    const warm0 = performance.now();
    const warm = await fingerprintTree(runtime, { leaseId: "cbx_fpbig00000001", localRoot: d });
    const warmMs = performance.now() - warm0;
    expect(warm.fingerprint).toBe(cold.fingerprint);
    // Nothing was re-hashed, so the cache was not rewritten.
    expect(statSync(cacheFile, { bigint: true }).mtimeNs).toBe(savedAt);
    console.error(`fingerprint 20k files: cold ${coldMs.toFixed(0)} ms, warm ${warmMs.toFixed(0)} ms`);
    expect(warmMs).toBeLessThan(1000);
  }, 120_000);
});
