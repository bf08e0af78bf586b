/**
 * The flags every command takes: --json/--verbose/--quiet, and one flag per
 * configuration key (derived from keys.ts), plus the mapping from parsed flags
 * to a config layer. Parsing itself is src/commands/argv.ts.
 */
import type { ArgDef as CittyArgDef } from "citty";
import { CrabboxError, Exit } from "../errors.ts";
import { allKeys, GC_KEYS, type KeyRow, POOL_KEYS, PROVIDER, PROVIDER_NAMES, TOP_KEYS } from "./keys.ts";
import type { ConfigLayer } from "./schema.ts";

export { PROVIDER, PROVIDER_NAMES };

/** An arg definition: citty's shape, plus `multiple` for a repeatable string flag. */
export type ArgDef = CittyArgDef & { multiple?: boolean };
export type ArgsDef = Record<string, ArgDef>;

/** Normalise a provider name or throw a usage error (exit 2) listing the accepted names. */
export function normalizeProvider(name: string, from: string): typeof PROVIDER {
  const n = name.trim().toLowerCase();
  if ((PROVIDER_NAMES as readonly string[]).includes(n)) return PROVIDER;
  throw new CrabboxError({
    code: "unknown_provider",
    message: `unknown provider ${JSON.stringify(name)} (from ${from})`,
    why: "crabbox-cs has one provider: GitHub Codespaces",
    hint: `use one of: ${PROVIDER_NAMES.join(", ")}`,
    exit: Exit.usage,
  });
}

/** A row's flags: its own, its synonym's ("Same as ...") and its global alias (--type). */
function rowArgs(row: KeyRow): { provider: ArgsDef; global: ArgsDef } {
  const own: ArgsDef =
    typeof row.default === "boolean"
      ? { [row.flag]: { type: "boolean", description: row.help, negativeDescription: row.negativeHelp } }
      : { [row.flag]: { type: "string", description: row.help, valueHint: row.valueHint } };
  if (row.synonym?.flag) own[row.synonym.flag] = { type: "string", description: `Same as --${row.flag}`, valueHint: row.valueHint };
  const global: ArgsDef = row.globalFlag
    ? { [row.globalFlag.flag]: { type: "string", description: row.globalFlag.help, valueHint: row.globalFlag.valueHint } }
    : {};
  return { provider: own, global };
}

/** Arg definitions from rows: top-level keys and aliases are "global", githubCodespaces.* and pool.* "provider". */
export function keyArgs(
  top: Record<string, KeyRow> = TOP_KEYS,
  gc: Record<string, KeyRow> = GC_KEYS,
  pool: Record<string, KeyRow> = POOL_KEYS,
): { global: ArgsDef; provider: ArgsDef } {
  const global: ArgsDef = {};
  const provider: ArgsDef = {};
  for (const row of Object.values(top)) Object.assign(global, rowArgs(row).provider);
  for (const row of [...Object.values(gc), ...Object.values(pool)]) {
    const a = rowArgs(row);
    Object.assign(provider, a.provider);
    Object.assign(global, a.global);
  }
  return { global, provider };
}

const derived = keyArgs();

export const globalArgs = {
  json: { type: "boolean", description: "Print exactly one JSON document on stdout" },
  verbose: { type: "boolean", description: "Trace on stderr: every config value and its source, API request, child process and step time (redacted)" },
  quiet: { type: "boolean", description: "Only print errors on stderr" },
  ...derived.global,
} satisfies ArgsDef;

export const providerArgs: ArgsDef = derived.provider;

/** The flags every command (but completion) takes. */
export const commonArgs = { ...globalArgs, ...providerArgs } satisfies ArgsDef;

function disagree(a: string, b: string, va: unknown, vb: unknown): CrabboxError {
  return new CrabboxError({
    code: "usage",
    message: `${a} and ${b} disagree`,
    why: `${a} ${JSON.stringify(va)} vs ${b} ${JSON.stringify(vb)}`,
    hint: "pass only one of them",
    exit: Exit.usage,
  });
}

/**
 * Map parsed args (src/commands/argv.ts) to a config layer with the file
 * schema's shape. Only flags actually given appear. Throws exit 2 for an
 * unknown provider, or when two spellings of one key disagree (--type and
 * --github-codespaces-machine, --github-codespaces-gh and -gh-path).
 */
export function flagOverrides(
  args: Record<string, unknown>,
  top: Record<string, KeyRow> = TOP_KEYS,
  gc: Record<string, KeyRow> = GC_KEYS,
  pool: Record<string, KeyRow> = POOL_KEYS,
): { layer: ConfigLayer; labels: Record<string, string> } {
  const layer: Record<string, unknown> = {};
  const labels: Record<string, string> = {};
  const nested: Record<string, unknown> = {};
  const pooled: Record<string, unknown> = {};
  for (const { name, row, group, key } of allKeys(top, gc, pool)) {
    const into = group === "top" ? layer : group === "pool" ? pooled : nested;
    const spellings = [row.flag, row.synonym?.flag, row.globalFlag?.flag].filter((f): f is string => Boolean(f));
    let given: { flag: string; value: unknown } | undefined;
    for (const flag of spellings) {
      const value = args[flag];
      if (value === undefined) continue;
      if (given && given.value !== value) throw disagree(`--${flag}`, `--${given.flag}`, value, given.value);
      given = { flag, value };
    }
    if (!given) continue;
    into[name] = given.value;
    labels[key] = `--${given.flag}`;
  }
  if (typeof layer.provider === "string") layer.provider = normalizeProvider(layer.provider, "--provider");
  if (Object.keys(nested).length > 0) layer.githubCodespaces = nested;
  if (Object.keys(pooled).length > 0) layer.pool = pooled;
  return { layer: layer as ConfigLayer, labels };
}
