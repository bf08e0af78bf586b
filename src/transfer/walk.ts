/**
 * The entries of a local directory for `cp` up: every directory, file and
 * symlink under it (relative paths, directories before what they hold),
 * minus the secrets the sync never sends (src/sync/secrets.ts). With
 * `follow`, symlinks are followed (a link back up the tree is not followed
 * twice).
 */
import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { secretByContent, secretByName, type SecretRules } from "../sync/secrets.ts";

export interface Walked {
  entries: string[];
  /** Secrets held back (relative paths). */
  held: string[];
  /** Entries that could not be read (dangling links when following, unreadable directories). */
  unreadable: string[];
}

export function walkForCopy(root: string, rules: SecretRules, follow: boolean): Walked {
  const out: Walked = { entries: [], held: [], unreadable: [] };
  const visit = (rel: string, chain: Set<string>) => {
    let names: string[];
    try {
      names = readdirSync(rel ? join(root, rel) : root).sort();
    } catch {
      out.unreadable.push(rel || ".");
      return;
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(root, r);
      let st;
      try {
        st = follow ? statSync(abs) : lstatSync(abs);
      } catch {
        out.unreadable.push(r);
        continue;
      }
      if (st.isDirectory()) {
        if (secretByName(`${r}/x`, rules)) {
          out.held.push(`${r}/`);
          continue;
        }
        let real = abs;
        if (follow) {
          try {
            real = realpathSync(abs);
          } catch {}
          if (chain.has(real)) continue;
        }
        out.entries.push(r);
        visit(r, follow ? new Set([...chain, real]) : chain);
      } else if (secretByName(r, rules) || (st.isFile() && secretByContent(r, abs))) {
        out.held.push(r);
      } else {
        out.entries.push(r);
      }
    }
  };
  let rootReal = root;
  try {
    rootReal = realpathSync(root);
  } catch {}
  visit("", new Set([rootReal]));
  return out;
}
