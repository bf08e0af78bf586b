/**
 * The local files a sync sends, as paths relative to the local root.
 *
 * Inside a git work tree: `git ls-files -co --exclude-standard -z` run in the
 * local root — tracked plus untracked-but-not-ignored files, so ignored files
 * (.env, build output, node_modules) stay home. Tracked files deleted on disk
 * are skipped; submodules are listed through their own `git ls-files`.
 * Outside git: a directory walk that skips WALK_EXCLUDES.
 * `.git` is never listed. Symlinks are listed as themselves (never followed).
 */
import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { CrabboxError, Exit } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import { tail } from "../util/text.ts";

/** Names skipped at any depth when the local root is not a git work tree. */
export const WALK_EXCLUDES: readonly string[] = [".git", "node_modules", ".DS_Store"];

export interface FileList {
  /** Relative paths, sorted, no duplicates. */
  files: string[];
  source: "git" | "walk";
}

function isGitDir(name: string): boolean {
  return name === ".git" || name.endsWith("/.git") || name.startsWith(".git/") || name.includes("/.git/");
}

async function isGitWorkTree(runtime: Runtime, dir: string): Promise<boolean> {
  const r = await runtime.exec(["git", "-C", dir, "rev-parse", "--is-inside-work-tree"], { timeoutMs: 30_000 });
  return r.code === 0 && r.stdout.trim() === "true";
}

/**
 * git's list of files. Without submodules (no .gitmodules) nothing is stat'ed
 * here: deleted-on-disk entries are dropped by the fingerprint's own lstat.
 */
async function gitFiles(runtime: Runtime, root: string, prefix: string, out: string[], depth: number): Promise<void> {
  const dir = prefix ? join(root, prefix) : root;
  const r = await runtime.exec(["git", "ls-files", "-c", "-o", "--exclude-standard", "-z"], { cwd: dir, timeoutMs: 120_000 });
  if (r.code !== 0) {
    throw new CrabboxError({
      code: "git_ls_files_failed",
      message: `git ls-files failed in ${dir}`,
      why: tail(r.stderr) || r.spawnError,
      hint: "Fix the repository (try `git status` there), or run from a directory outside git",
      exit: Exit.unexpected,
    });
  }
  const submodules = existsSync(join(dir, ".gitmodules"));
  for (const rel of r.stdout.split("\0")) {
    if (rel === "") continue;
    const path = (prefix ? `${prefix}/${rel}` : rel).replace(/\/$/, "");
    if (isGitDir(path)) continue;
    // A nested repository shows up as "dir/": only those (and submodules) need a look.
    if (!submodules && !rel.endsWith("/")) {
      out.push(path);
      continue;
    }
    let st;
    try {
      st = lstatSync(join(root, path));
    } catch {
      continue; // tracked but deleted on disk
    }
    if (st.isDirectory()) {
      // A gitlink (submodule) or a nested repository: list it through its own git.
      if (depth < 8 && (await isGitWorkTree(runtime, join(root, path)))) await gitFiles(runtime, root, path, out, depth + 1);
      continue;
    }
    out.push(path);
  }
}

function walk(root: string, prefix: string, out: string[]): void {
  const dir = prefix ? join(root, prefix) : root;
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    if (WALK_EXCLUDES.includes(ent.name)) continue;
    const rel = prefix ? `${prefix}/${ent.name}` : ent.name;
    if (ent.isDirectory()) walk(root, rel, out);
    else if (ent.isFile() || ent.isSymbolicLink()) out.push(rel);
  }
}

/** `isGit`: the caller already knows whether localRoot is a git work tree (saves a git spawn). */
export async function listFiles(runtime: Runtime, localRoot: string, isGit?: boolean): Promise<FileList> {
  let files: string[] = [];
  let source: FileList["source"];
  if (isGit ?? (await isGitWorkTree(runtime, localRoot))) {
    await gitFiles(runtime, localRoot, "", files, 0);
    source = "git";
  } else {
    walk(localRoot, "", files);
    source = "walk";
  }
  files = [...new Set(files)].sort();
  return { files, source };
}

/** A tree that is never sent, even as a git work tree, even with --sync-all: `/` and $HOME. `realRoot`: resolved already (realOr, or gitTopLevel's answer). */
export function neverSynced(realRoot: string, homeDir: string): boolean {
  return realRoot === "/" || realRoot === realOr(homeDir);
}

/** `p` with its symlinks resolved; `p` itself when that fails. */
export function realOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * The top level of the git work tree holding `dir`, found without running git:
 * the nearest directory upwards with a `.git` directory (holding HEAD) or a
 * `.git` file (`gitdir: …`, a linked worktree). null when git itself must
 * answer: GIT_DIR or GIT_WORK_TREE set, `dir` inside a `.git` directory, or
 * no `.git` found (the caller then asks `git rev-parse`).
 */
export function gitTopLevel(dir: string, env: Record<string, string | undefined>): string | null {
  if (env.GIT_DIR || env.GIT_WORK_TREE || env.GIT_CEILING_DIRECTORIES || env.GIT_DISCOVERY_ACROSS_FILESYSTEM) return null;
  let d: string;
  try {
    d = realpathSync(dir);
  } catch {
    return null;
  }
  if (d.split("/").includes(".git")) return null;
  for (;;) {
    const g = join(d, ".git");
    try {
      const st = lstatSync(g);
      if (st.isDirectory()) return existsSync(join(g, "HEAD")) ? d : null;
      if (st.isFile()) return readFileSync(g, "utf8").startsWith("gitdir:") ? d : null;
      return null;
    } catch {}
    const up = dirname(d);
    if (up === d) return null;
    d = up;
  }
}

/** What a file of the view is: a regular file or a symlink (lstat, never followed), and its size; null for anything else or nothing there. */
export function fileOrLinkSize(abs: string): number | null {
  try {
    const st = lstatSync(abs);
    return st.isFile() || st.isSymbolicLink() ? st.size : null;
  } catch {
    return null;
  }
}
