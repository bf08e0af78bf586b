/**
 * Which paths the checkout's ignore rules match, with git's own semantics
 * (.gitignore at every level, .git/info/exclude, core.excludesFile, negation):
 * `git check-ignore --stdin -z -v -n`, one answer per path in input order.
 * Paths are latin1 byte strings (every byte kept); a directory is asked as
 * "dir/" so that `dir/` patterns match it.
 */
import { lstatSync } from "node:fs";
import type { Runtime } from "../runtime.ts";

export interface IgnoreQuery {
  path: string;
  dir: boolean;
}

/**
 * The first proper prefix of `path` that is a symlink (or a non-directory)
 * locally: git refuses to look "beyond a symbolic link", so that prefix is
 * asked instead (if the link is ignored, so is everything below it).
 */
function askable(localRoot: string, path: string): { path: string; dir: boolean } | null {
  const parts = path.split("/");
  let prefix = "";
  for (let i = 0; i < parts.length - 1; i++) {
    prefix = prefix ? `${prefix}/${parts[i]}` : parts[i]!;
    try {
      const st = lstatSync(Buffer.from(`${localRoot}/${prefix}`, "latin1"));
      if (!st.isDirectory()) return { path: prefix, dir: false };
    } catch {
      return null;
    }
  }
  return null;
}

/**
 * For each query, whether git ignores it. `null` when git could not answer
 * (e.g. a path inside a submodule): callers then keep everything.
 */
export async function ignoredPaths(runtime: Runtime, localRoot: string, queries: IgnoreQuery[]): Promise<boolean[] | null> {
  if (queries.length === 0) return [];
  const asked = queries.map((q) => askable(localRoot, q.path) ?? q);
  // ":(top)" makes every name literal: no other pathspec magic is parsed after it.
  const input = Buffer.from(asked.map((q) => `:(top)${q.path}${q.dir ? "/" : ""}\0`).join(""), "latin1");
  const r = await runtime.exec(["git", "check-ignore", "--stdin", "-z", "-v", "-n"], { cwd: localRoot, input, timeoutMs: 120_000 });
  if (r.code !== 0 && r.code !== 1) return null;
  const fields = r.stdout.split("\0");
  const out: boolean[] = [];
  for (let i = 0; i < queries.length; i++) {
    const source = fields[4 * i];
    const pattern = fields[4 * i + 2];
    if (source === undefined || pattern === undefined) return null;
    out.push(source !== "" && !pattern.startsWith("!"));
  }
  return out;
}
