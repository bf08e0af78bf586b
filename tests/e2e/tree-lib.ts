/** Walking trees in the sync e2e suites (sync-model, insession): what is there, links included. */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** Present as anything, a dangling symlink included. */
export function existsOrLink(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Every non-directory under root (relative paths), skipping directories named in `skip`. */
export function walk(root: string, skip: readonly string[] = [".git", "node_modules"], prefix = "", out: string[] = []): string[] {
  for (const e of readdirSync(join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (skip.includes(e.name)) continue;
      walk(root, skip, rel, out);
    } else out.push(rel);
  }
  return out;
}
