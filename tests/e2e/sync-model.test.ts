/**
 * Model-based (differential) test of the tree sync (issue 17): random local edits in
 * a git checkout with a warm lease, `run --id L -- true` after each step, then the
 * remote work root is compared with the local view (`git ls-files -co --exclude-standard`):
 * the set of paths, bytes, exec bits and symlink targets. Remote-only ignored caches
 * are planted now and then (they must stay) and remote strays (they must go).
 * SEED=<n> reproduces a run; a failure prints the seed and the step.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHarness, git, type Harness, closeWithLease, warmKeptLease } from "./harness.ts";
import { existsOrLink, walk } from "./tree-lib.ts";

const SEED = Number(process.env.SEED ?? 20261203);
const BLOCKS = 8;
const STEPS = 38;

let h: Harness;
let lease: any;
let remoteRoot: string;
let step = 0;
const planted = { caches: new Set<string>(), strays: new Set<string>() };

// mulberry32
let state = SEED >>> 0;
function rnd(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const NAMES = ["a.txt", "b.js", "sp ace.md", "new\nline", "q'uo\"te", "back\\slash", "-dash", "ünï.txt", "x", "y.sh"];
const DIRS = ["", "lib", "lib/deep", "dir two", "-d"];

function localView(): string[] {
  return git(h.work, "ls-files", "-z", "-c", "-o", "--exclude-standard")
    .split("\0")
    .filter((p) => p !== "" && inCheckout(p))
    .filter((p) => !lstatSync(join(h.work, p)).isDirectory())
    .sort();
}
/**
 * The path exists in the work tree as git sees it: its leaf exists, and every
 * parent is a real directory. A tracked path "beyond a symbolic link" (its
 * parent became a symlink, say to another directory) is not in the checkout,
 * even though the file system finds something there through the link.
 */
function inCheckout(p: string): boolean {
  const parts = p.split("/");
  for (let i = 1; i < parts.length; i++) {
    try {
      if (!lstatSync(join(h.work, ...parts.slice(0, i))).isDirectory()) return false;
    } catch {
      return false;
    }
  }
  return existsOrLink(join(h.work, p));
}
function describeEntry(root: string, p: string): string {
  const abs = join(root, p);
  const st = lstatSync(abs);
  if (st.isSymbolicLink()) return `link:${readlinkSync(abs)}`;
  return `file:${st.mode & 0o111 ? "x" : "-"}:${readFileSync(abs).toString("base64")}`;
}
/** Paths an edit may touch (the ignore rules stay as they are: the caches depend on them). */
function files(): string[] {
  return localView().filter((p) => p !== ".gitignore");
}
function anyPath(): string | null {
  const f = files();
  return f.length ? pick(f) : null;
}
function freshPath(): string {
  const d = pick(DIRS);
  return d ? `${d}/${pick(NAMES)}` : pick(NAMES);
}
function ensureParent(p: string): boolean {
  const parts = p.split("/");
  let cur = h.work;
  for (const part of parts.slice(0, -1)) {
    cur = join(cur, part);
    if (existsOrLink(cur) && !lstatSync(cur).isDirectory()) return false;
  }
  mkdirSync(join(h.work, ...parts.slice(0, -1)), { recursive: true });
  return !existsOrLink(join(h.work, p)) || !lstatSync(join(h.work, p)).isDirectory();
}
const gitq = (...args: string[]) => {
  try {
    git(h.work, ...args);
  } catch {}
};

/**
 * Change touch.txt, a file at the root of the checkout, so that a step's sync
 * runs. The edits may have made it a directory or a symlink (it is a path like
 * any other): it is then replaced by a plain file, never written through.
 */
function touch(): void {
  const p = join(h.work, "touch.txt");
  if (existsOrLink(p) && !lstatSync(p).isFile()) rmSync(p, { recursive: true, force: true });
  writeFileSync(p, `t${step}\n`);
}

/** One random edit; returns a label for the failure message. */
function edit(): string {
  const ops: [number, () => string][] = [
    [4, () => { const p = freshPath(); if (!ensureParent(p)) return "skip"; writeFileSync(join(h.work, p), `v${step} ${rnd()}\n`); return `write ${JSON.stringify(p)}`; }],
    [3, () => { const p = anyPath(); if (!p || lstatSync(join(h.work, p)).isSymbolicLink()) return "skip"; writeFileSync(join(h.work, p), `m${step}\n`); return `modify ${JSON.stringify(p)}`; }],
    [2, () => { const p = anyPath(); if (!p) return "skip"; rmSync(join(h.work, p)); return `delete ${JSON.stringify(p)}`; }],
    [2, () => { const p = anyPath(); const q = freshPath(); if (!p || !ensureParent(q) || existsOrLink(join(h.work, q))) return "skip"; renameSync(join(h.work, p), join(h.work, q)); return `mv ${JSON.stringify(p)} ${JSON.stringify(q)}`; }],
    [2, () => { const p = anyPath(); const q = freshPath(); if (!p || !ensureParent(q) || existsOrLink(join(h.work, q))) return "skip"; gitq("add", "--", p); gitq("commit", "-qm", `s${step}`); try { git(h.work, "mv", "--", p, q); } catch { return "skip"; } return `git mv ${JSON.stringify(p)} ${JSON.stringify(q)}`; }],
    [1, () => { const d = pick(DIRS.filter(Boolean)); if (!existsOrLink(join(h.work, d))) return "skip"; rmSync(join(h.work, d), { recursive: true, force: true }); return `rm -r ${JSON.stringify(d)}`; }],
    [1, () => { const p = anyPath(); if (!p || p.split("/").length > 2) return "skip"; rmSync(join(h.work, p)); mkdirSync(join(h.work, p)); writeFileSync(join(h.work, p, "inner"), "in\n"); return `file->dir ${JSON.stringify(p)}`; }],
    [1, () => { const d = pick(DIRS.filter(Boolean)); if (!existsOrLink(join(h.work, d)) || !lstatSync(join(h.work, d)).isDirectory()) return "skip"; rmSync(join(h.work, d), { recursive: true }); writeFileSync(join(h.work, d), "now a file\n"); return `dir->file ${JSON.stringify(d)}`; }],
    [1, () => { const p = anyPath(); if (!p) return "skip"; rmSync(join(h.work, p)); symlinkSync(pick(["a.txt", "../x", "nowhere", "lib"]), join(h.work, p)); return `file->symlink ${JSON.stringify(p)}`; }],
    [1, () => { const p = anyPath(); if (!p || !lstatSync(join(h.work, p)).isSymbolicLink()) return "skip"; rmSync(join(h.work, p)); writeFileSync(join(h.work, p), "was a link\n"); return `symlink->file ${JSON.stringify(p)}`; }],
    [2, () => { const p = anyPath(); if (!p || lstatSync(join(h.work, p)).isSymbolicLink()) return "skip"; const m = lstatSync(join(h.work, p)).mode; chmodSync(join(h.work, p), m & 0o111 ? 0o644 : 0o755); return `chmod ${JSON.stringify(p)}`; }],
    [1, () => { gitq("add", "-A"); gitq("commit", "-qm", `c${step}`); return "commit -A"; }],
    [1, () => { const p = anyPath(); if (!p) return "skip"; gitq("add", "--", p); return `stage ${JSON.stringify(p)}`; }],
    [1, () => { const p = anyPath(); if (!p) return "skip"; gitq("reset", "-q", "--", p); return `unstage ${JSON.stringify(p)}`; }],
    [1, () => { const p = freshPath().replace(/[^/]*$/, "ignored.txt"); if (!ensureParent(p)) return "skip"; writeFileSync(join(h.work, p), "local only\n"); return `ignored ${JSON.stringify(p)}`; }],
  ];
  const total = ops.reduce((s, [w]) => s + w, 0);
  let r = rnd() * total;
  for (const [w, op] of ops) {
    if ((r -= w) < 0) return op();
  }
  return "skip";
}

/** Now and then, things made remotely: ignored caches stay, strays go. */
function plantRemote(): string {
  const kind = rnd();
  if (kind < 0.5) {
    const p = pick(["node_modules/pkg/index.js", "lib/node_modules/m.js", "cache.ignored/blob", "ignored.txt"]);
    const abs = join(remoteRoot, p);
    try {
      mkdirSync(join(abs, ".."), { recursive: true });
      writeFileSync(abs, "cache\n");
      planted.caches.add(p);
      return `plant cache ${p}`;
    } catch {
      return "skip";
    }
  }
  const p = pick(["stray.txt", "lib/stray out.txt", "newdir/stray", "bad\xff"]);
  const abs = p === "bad\xff" ? Buffer.from(`${remoteRoot}/bad\xff`, "latin1") : join(remoteRoot, p);
  try {
    if (p !== "bad\xff") mkdirSync(join(remoteRoot, p, ".."), { recursive: true });
    writeFileSync(abs, "stray\n");
    planted.strays.add(p);
    return `plant stray ${JSON.stringify(p)}`;
  } catch {
    return "skip";
  }
}

function compare(label: string) {
  const local = localView();
  const localSet = new Set(local);
  const remoteFiles = walk(remoteRoot, [".git", "node_modules", "cache.ignored"]).filter((p) => localSet.has(p) || !isIgnoredRemote(p)).sort();
  const want = Object.fromEntries(local.map((p) => [p, describeEntry(h.work, p)]));
  const got = Object.fromEntries(remoteFiles.map((p) => [p, describeEntry(remoteRoot, p)]));
  const where = `SEED=${SEED} step ${step} (${label})`;
  expect({ where, paths: Object.keys(got) }).toEqual({ where, paths: Object.keys(want) });
  expect({ where, entries: got }).toEqual({ where, entries: want });
  for (const c of planted.caches) {
    // A cache stays unless the checkout now needs that path (or a parent) for its own files.
    if (local.some((p) => p === c || c.startsWith(`${p}/`))) {
      planted.caches.delete(c); // the checkout took that path over: the mirror replaced it
      continue;
    }
    if (!existsOrLink(join(remoteRoot, c))) {
      expect({ where, keptCache: c, exists: false }).toEqual({ where, keptCache: c, exists: true });
    }
  }
  for (const s of planted.strays) {
    const abs = s === "bad\xff" ? Buffer.from(`${remoteRoot}/bad\xff`, "latin1") : join(remoteRoot, s);
    if (!local.includes(s)) expect({ where, stray: s, exists: existsOrLink(abs as string) }).toEqual({ where, stray: s, exists: false });
  }
  planted.strays.clear();
}
function isIgnoredRemote(p: string): boolean {
  // Remote-only ignored paths are caches: not part of the mirror comparison.
  const r = Bun.spawnSync(["git", "check-ignore", "-q", "--", p], { cwd: h.work });
  return r.exitCode === 0;
}

beforeAll(async () => {
  h = await createHarness();
  writeFileSync(join(h.work, ".gitignore"), "ignored.txt\nnode_modules/\ncache.ignored/\n");
  git(h.work, "add", ".gitignore");
  git(h.work, "commit", "-qm", "ignores");
  lease = await warmKeptLease(h);
  remoteRoot = join(h.emu.control.codespaceDir(lease.codespace.name), ".crabbox", "hello-world");
  const first = await h.run(["run", "--id", lease.slug, "--", "true"]);
  if (first.code !== 0) throw new Error(first.stderr);
  process.stderr.write(`sync-model: SEED=${SEED}\n`);
});
afterAll(async () => {
  await closeWithLease(h, lease);
});

describe(`sync model (SEED=${SEED})`, () => {
  for (let b = 0; b < BLOCKS; b++) {
    test(`steps ${b * STEPS + 1}-${(b + 1) * STEPS}`, async () => {
      for (let i = 0; i < STEPS; i++) {
        step++;
        let label = edit();
        if (rnd() < 0.15) {
          label += `; ${plantRemote()}`;
          // A local change makes sure this step's sync runs (no change: no sync, by design).
          touch();
        }
        if (process.env.SYNC_MODEL_TRACE) process.stderr.write(`step ${step}: ${label}\n`);
        const r = await h.run(["run", "--id", lease.slug, "--", "true"]);
        if (r.code !== 0) {
          throw new Error(`SEED=${SEED} step ${step} (${label}): run exited ${r.code}\n${r.stderr}`);
        }
        compare(label);
      }
    });
  }
});
