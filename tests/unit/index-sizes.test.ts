/**
 * The view's size from git's index (src/sync/index-sizes.ts) against the
 * oracle it replaces: one lstat per path of the view (tracked and untracked,
 * secrets and deleted paths left out). Real git makes every index here: the
 * versions 2, 3 and 4, SHA-256, entries git does not check (assume-unchanged,
 * skip-worktree), zero-size entries, and random edits. A split index is not
 * read (null) and the size comes from lstat, still equal.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createRuntime } from "../../src/runtime.ts";
import { eachIndexEntry, snapshotIndex, viewSizeFromIndex, type IndexSnapshot } from "../../src/sync/index-sizes.ts";
import { gitState } from "../../src/sync/gitstate.ts";
import { fromBytes } from "../../src/sync/plan.ts";
import { secretByContent, secretByName, secretRules } from "../../src/sync/secrets.ts";
import { viewSize } from "../../src/sync/sync.ts";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e", GIT_CONFIG_NOSYSTEM: "1", HOME: tmpdir() };

function git(root: string, ...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], { cwd: root, env: GIT_ENV, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString("latin1");
}

function put(root: string, rel: string, content: string | Uint8Array): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), content);
}

/** A seeded generator: the failing case can be run again. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function repo(opts: { sha256?: boolean } = {}): string {
  const root = mkdtempSync(join(tmpdir(), "crabbox-index-"));
  roots.push(root);
  git(root, "init", "-q", ...(opts.sha256 ? ["--object-format=sha256"] : []));
  put(root, "a.txt", "alpha\n");
  put(root, "empty", "");
  put(root, "bin/run.sh", "#!/bin/sh\necho hi\n");
  chmodSync(join(root, "bin/run.sh"), 0o755);
  put(root, "dir with space/ünïcödé.txt", "x".repeat(300));
  put(root, "new\nline.txt", "n".repeat(17));
  put(root, ".env", "TOKEN=secret\n"); // committed, and still never sent
  put(root, "pkg/.npmrc", "//registry/:_authToken=abc\n");
  put(root, "pkg/plain/.npmrc", "color=false\n");
  put(root, `long/${"d".repeat(200)}/${"f".repeat(200)}.txt`, "long name\n");
  for (let i = 0; i < 40; i++) put(root, `tree/d${i % 7}/f${i}.txt`, "y".repeat((i * 37) % 500));
  symlinkSync("a.txt", join(root, "link-to-a"));
  symlinkSync("nowhere/at/all", join(root, "dangling"));
  git(root, "add", "-A");
  git(root, "commit", "-q", "-m", "base");
  return root;
}

/** The oracle: every path of the view looked at with lstat (files and links: their count and total size). */
function lstatOracle(root: string): { files: number; bytes: number; held: string[]; view: string[] } {
  const rules = secretRules(root, "/nonexistent-crabbox-home");
  const tracked = git(root, "ls-files", "-c", "-z").split("\0").filter(Boolean);
  const untracked = git(root, "ls-files", "-o", "--exclude-standard", "-z").split("\0").filter(Boolean);
  const names = [...new Set([...tracked, ...untracked])].map(fromBytes);
  let files = 0;
  let bytes = 0;
  const held: string[] = [];
  const view: string[] = [];
  for (const name of names) {
    if (name.includes("\uFFFD")) continue;
    if (secretByName(name, rules) || secretByContent(name, join(root, name))) {
      held.push(name);
      continue;
    }
    view.push(name);
    try {
      const st = lstatSync(join(root, name));
      if (!st.isFile() && !st.isSymbolicLink()) continue;
      files++;
      bytes += st.size;
    } catch {}
  }
  return { files, bytes, held, view };
}

/** viewSizeFromIndex for a caller without a listing of its own: an entry is out of the view by its name. */
function sizeFromIndex(root: string, outside: (name: string) => boolean, reported: string[] = [], opts: { env?: Record<string, string | undefined>; known?: (name: string) => number | undefined } = {}) {
  return viewSizeFromIndex({
    root,
    env: opts.env ?? GIT_ENV,
    visit: (e) => {
      const name = fromBytes(e.path);
      return outside(name) ? null : name;
    },
    reported: () => reported,
    known: opts.known,
  });
}

/** The size from the index (reported paths by lstat, and by the check's own record as sync.ts does), and sync.ts's lstat fallback. */
async function fromIndex(root: string, { held, view }: { held: string[]; view: string[] }) {
  const runtime = createRuntime({ cwd: root, env: GIT_ENV });
  const gs = await gitState(runtime, root, { salt: "s", rules: secretRules(root, "/nonexistent-crabbox-home"), stats: {} });
  if (!gs) throw new Error("gitState: null");
  const h = new Set(held);
  const reported = [...gs.dirty].filter(([p, sig]) => sig !== "-" && !h.has(p)).map(([p]) => p);
  const outside = (n: string) => h.has(n) || gs.dirty.has(n) || n.includes("\uFFFD");
  const direct = sizeFromIndex(root, outside, reported);
  const withKnown = sizeFromIndex(root, outside, reported, { known: (n) => gs.stats[n]?.[0] });
  const fallback = await viewSize(root, { candidates: view });
  return { direct, withKnown, fallback };
}

/** Random edits of the kinds a working tree sees. */
function edit(root: string, r: () => number, round: number): void {
  const tracked = git(root, "ls-files", "-c", "-z").split("\0").filter(Boolean).map(fromBytes);
  const pick = () => tracked[Math.floor(r() * tracked.length)]!;
  for (let k = 0; k < 6; k++) {
    const p = pick();
    const abs = join(root, p);
    let isFile = false;
    try {
      isFile = lstatSync(abs).isFile();
    } catch {}
    const what = Math.floor(r() * 9);
    if (what === 0 && isFile) writeFileSync(abs, "grown ".repeat(1 + Math.floor(r() * 50)));
    else if (what === 1 && isFile) {
      const old = readFileSync(abs);
      writeFileSync(abs, Buffer.from(old.map((b) => (b === 0x7a ? 0x79 : 0x7a)))); // same size, new content
    } else if (what === 2) rmSync(abs, { force: true });
    else if (what === 3) put(root, `untracked/r${round}k${k}.txt`, "u".repeat(Math.floor(r() * 90)));
    else if (what === 4 && isFile) {
      writeFileSync(abs, "staged then edited\n");
      git(root, "add", "--", p);
      writeFileSync(abs, "and edited again, longer now\n");
    } else if (what === 5 && isFile) {
      // git looks no more at it: its recorded size goes stale.
      git(root, "update-index", "--assume-unchanged", "--", p);
      writeFileSync(abs, "changed behind git's back ".repeat(3));
    } else if (what === 6 && isFile) {
      git(root, "update-index", "--skip-worktree", "--", p);
      rmSync(abs, { force: true });
    } else if (what === 7 && isFile) {
      rmSync(abs);
      symlinkSync("a.txt", abs); // a type change
    } else if (what === 8 && isFile) chmodSync(abs, 0o755);
  }
}

describe("the view's size from git's index", () => {
  for (const version of [2, 3, 4]) {
    test(`index version ${version}: equal to one lstat per path, after random edits (seeded)`, async () => {
      const root = repo();
      const r = rng(version * 7919);
      for (let round = 0; round < 4; round++) {
        if (round > 0) edit(root, r, round);
        git(root, "update-index", "--index-version", String(version));
        const want = lstatOracle(root);
        const got = await fromIndex(root, want);
        expect({ round, ...got.direct }).toEqual({ round, files: want.files, bytes: want.bytes });
        expect(got.withKnown).toEqual({ files: want.files, bytes: want.bytes });
        expect(got.fallback).toEqual({ files: want.files, bytes: want.bytes });
        // The listing reads these entries instead of `git ls-files -c` (sync.ts): the same paths, in the same order.
        const names: string[] = [];
        expect(eachIndexEntry(readFileSync(join(root, ".git/index")), (e) => names.push(e.path), () => (names.length = 0))).toBe(true);
        expect(names).toEqual(git(root, "ls-files", "-c", "-z").split("\0").filter(Boolean));
      }
      // The version asked for is the one read (git keeps extended flags at 3 or above).
      expect(readFileSync(join(root, ".git/index")).readUInt32BE(4)).toBe(version === 2 ? 3 : version);
    });
  }

  test("the index read earlier (while git status ran) is walked when it is still the same file, read again when it is not", async () => {
    const root = repo();
    edit(root, rng(11), 1);
    const entries = (opts: { snapshot?: IndexSnapshot | null }) => {
      const seen: string[] = [];
      const size = viewSizeFromIndex({ root, env: GIT_ENV, visit: (e) => (seen.push(e.path), fromBytes(e.path)), reported: () => [], ...opts });
      return { seen, size };
    };
    const snap = snapshotIndex(root, GIT_ENV)!;
    expect(snap.entries.map((e) => e.path)).toEqual(git(root, "ls-files", "-c", "-z").split("\0").filter(Boolean));
    // The same file: its entries walked, not read again (a damaged file on disk would say otherwise).
    expect(entries({ snapshot: snap })).toEqual(entries({}));
    // The index written again since (here: a path staged): the snapshot is stale, the file is read.
    put(root, "staged-after.txt", "late\n");
    git(root, "add", "--", "staged-after.txt");
    const fresh = entries({});
    expect(fresh.seen).toContain("staged-after.txt");
    expect(entries({ snapshot: snap })).toEqual(fresh);
    expect(snapshotIndex(root, { ...GIT_ENV, GIT_INDEX_FILE: join(root, ".git", "index") })).toBeNull();
  });

  test("a SHA-256 repository", async () => {
    const root = repo({ sha256: true });
    edit(root, rng(5), 1);
    const want = lstatOracle(root);
    expect((await fromIndex(root, want)).direct).toEqual({ files: want.files, bytes: want.bytes });
  });

  test("an entry whose recorded size is 0 (git zeroes a racily clean one) is looked at", async () => {
    const root = repo();
    // A fresh entry with no stat data at all, for a file with content.
    const blob = git(root, "hash-object", "-w", "a.txt").trim();
    git(root, "update-index", "--cacheinfo", `100644,${blob},a.txt`);
    let zero = false;
    expect(eachIndexEntry(readFileSync(join(root, ".git/index")), (e) => e.path === "a.txt" && (zero = e.size === 0), () => {})).toBe(true);
    expect(zero).toBe(true);
    const want = lstatOracle(root);
    const h = new Set(want.held);
    // No status first (it would refresh the entry): the index as it is.
    const got = sizeFromIndex(root, (n) => h.has(n));
    expect(got).toEqual({ files: want.files, bytes: want.bytes });
  });

  test("a file git status reported is sized from the local check's own lstat, not looked at again", async () => {
    const root = repo();
    put(root, "a.txt", "edited, longer than before\n");
    put(root, "untracked.txt", "u".repeat(33));
    const want = lstatOracle(root);
    const runtime = createRuntime({ cwd: root, env: GIT_ENV });
    const gs = await gitState(runtime, root, { salt: "s", rules: secretRules(root, "/nonexistent-crabbox-home"), stats: {} });
    if (!gs) throw new Error("gitState: null");
    const h = new Set(want.held);
    const outside = (n: string) => h.has(n) || gs.dirty.has(n);
    const reported = [...gs.dirty].filter(([p, sig]) => sig !== "-" && !h.has(p)).map(([p]) => p);
    const known = (n: string) => gs.stats[n]?.[0];
    expect(sizeFromIndex(root, outside, reported, { known })).toEqual({ files: want.files, bytes: want.bytes });
    // What the check recorded is what counts: a size it did not see on disk shows up in the total.
    for (const p of ["a.txt", "untracked.txt"]) gs.stats[p]![0] += 1000;
    expect(sizeFromIndex(root, outside, reported, { known })).toEqual({ files: want.files, bytes: want.bytes + 2000 });
  });

  test("a split index is not read here; the size comes from lstat and is the same", async () => {
    const root = repo();
    git(root, "update-index", "--split-index");
    put(root, "after-split.txt", "more\n");
    git(root, "add", "after-split.txt");
    const want = lstatOracle(root);
    const got = await fromIndex(root, want);
    expect(got.direct).toBeNull();
    expect(got.fallback).toEqual({ files: want.files, bytes: want.bytes });
  });

  test("a damaged index, or one the environment moves, is not read", () => {
    const root = repo();
    const index = readFileSync(join(root, ".git/index"));
    const outside = () => false;
    // The first entry's name length (its flags, after 40 bytes of stat data and a 20-byte hash) one off.
    const misnamed = Buffer.from(index);
    misnamed.writeUInt16BE(misnamed.readUInt16BE(12 + 60) + 1, 12 + 60);
    const version5 = Buffer.from(index);
    version5.writeUInt32BE(5, 4);
    for (const cut of [index.subarray(0, 12), index.subarray(0, index.length - 30), misnamed, version5, Buffer.concat([index, Buffer.from("x")])]) {
      writeFileSync(join(root, ".git/index"), cut);
      expect(sizeFromIndex(root, outside)).toBeNull();
    }
    writeFileSync(join(root, ".git/index"), index);
    expect(sizeFromIndex(root, outside)).not.toBeNull();
    expect(sizeFromIndex(root, outside, [], { env: { ...GIT_ENV, GIT_INDEX_FILE: "/elsewhere" } })).toBeNull();
  });

  test("a linked worktree's index is its own", async () => {
    const main = repo();
    const wt = `${main}-wt`;
    roots.push(wt);
    git(main, "worktree", "add", "-q", wt);
    put(wt, "only-here.txt", "z".repeat(1234));
    git(wt, "add", "only-here.txt");
    put(wt, "bin/run.sh", "changed in the worktree\n");
    const want = lstatOracle(wt);
    expect((await fromIndex(wt, want)).direct).toEqual({ files: want.files, bytes: want.bytes });
  });
});
