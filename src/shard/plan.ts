/**
 * The shard plan, pure: check --count against shard.maxCount, and expand the
 * command template per shard. The template owns the splitting (as in
 * Crabbox): crabbox-cs never splits tests itself. Placeholders are replaced
 * inside each argument, so `--shard={{index}}/{{total}}` works; an argument
 * stays one argument whatever it expands to.
 */
import { CrabboxError, Exit, usageError } from "../errors.ts";

export interface ShardVars {
  index: number;
  total: number;
  lease: string;
  slug: string;
}

const PLACEHOLDER = /\{\{\s*(index|total|lease|slug)\s*\}\}/g;

/** The argv for one shard. */
export function expandTemplate(argv: string[], vars: ShardVars): string[] {
  return argv.map((a) => a.replace(PLACEHOLDER, (_, name: keyof ShardVars) => String(vars[name])));
}

/** Whether the template mentions {{index}} (without it every shard runs the same thing). */
export function usesIndex(argv: string[]): boolean {
  return argv.some((a) => /\{\{\s*index\s*\}\}/.test(a));
}

/** --count: a whole number from 1 to the cap. */
export function checkCount(raw: string | undefined, maxCount: number): number {
  if (raw === undefined || raw === "") throw usageError("--count is required", "crabbox-cs shard --count 4 -- <command with {{index}} and {{total}}>");
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw usageError(`bad --count "${raw}": expected a whole number of shards, at least 1`);
  if (n > maxCount) {
    throw new CrabboxError({
      code: "shard_count_over_cap",
      message: `--count ${n} is over shard.maxCount (${maxCount})`,
      why: "each shard is a codespace billed to you; the cap keeps a typo from starting dozens",
      hint: `use --count ${maxCount} or fewer, or raise shard.maxCount in your user config file (a repository's .crabbox.yaml may only lower it)`,
      exit: Exit.usage,
    });
  }
  return n;
}

/** The plan printed before anything is provisioned. */
export function planLines(argv: string[], total: number, opts: { keep: boolean; maxCount: number; pool?: boolean }): string[] {
  const shown = (a: string[]) => a.map((w) => (/^[A-Za-z0-9_@%+=:,./{}-]+$/.test(w) ? w : JSON.stringify(w))).join(" ");
  const lines = [
    `shard plan: ${total} shard${total === 1 ? "" : "s"} (cap ${opts.maxCount}), each on ${opts.pool ? "a ready pool lease where one is free, else its own new codespace" : "its own new codespace"}, ${opts.keep ? "kept afterwards (--keep)" : "released (or returned to the pool) when its shard ends"}`,
  ];
  for (let i = 1; i <= total; i++) lines.push(`  [${i}/${total}] ${shown(expandTemplate(argv, { index: i, total, lease: "{{lease}}", slug: "{{slug}}" }))}`);
  return lines;
}
