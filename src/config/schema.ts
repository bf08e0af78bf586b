/**
 * The shape of a config file (YAML), checked with valibot. A file is one
 * "layer"; flags and environment variables are turned into the same shape so
 * that merging treats all layers alike.
 *
 * Rules: unknown keys are warnings (so an older binary can read a newer file);
 * a wrong type is a usage error (exit 2) naming the file and the key; an empty
 * value (`repo:` with nothing after it, i.e. null) means "not set here";
 * a token-looking value anywhere is refused before anything else, without
 * ever repeating the value.
 */
import { DurationError, durationErrorFor, parseDuration } from "./duration.ts";
import * as v from "valibot";
import { CrabboxError, Exit } from "../errors.ts";
import { looksLikeToken } from "../redact.ts";
import { type FilePool, GC_KEYS, type FileGithubCodespaces, type KeyRow, POOL_KEYS, TOP_KEYS } from "./keys.ts";

export type { FileGithubCodespaces, FilePool };

/** One layer of configuration: a file, the environment, or the flags. */
export interface ConfigLayer {
  provider?: string;
  target?: string;
  class?: string;
  githubCodespaces?: FileGithubCodespaces;
  pool?: FilePool;
  /** `shard:` settings (a repository's file may only lower maxCount). */
  shard?: { maxCount?: number };
}

/** The valibot object for a set of rows (a file key and its synonym share the row's schema). */
function rowsSchema(rows: Record<string, KeyRow>) {
  const entries: Record<string, KeyRow["schema"]> = {};
  for (const [name, row] of Object.entries(rows)) {
    entries[name] = row.schema;
    if (row.synonym?.file) entries[row.synonym.file] = row.schema;
  }
  return entries;
}

export const githubCodespacesFileSchema = v.object(
  rowsSchema(GC_KEYS),
  "must be a mapping (repo: ..., ref: ..., on their own indented lines)",
);

export const shardFileSchema = v.object(
  { maxCount: v.nullish(v.pipe(v.number("must be a whole number"), v.integer("must be a whole number"), v.minValue(1, "must be at least 1"))) },
  "must be a mapping (maxCount: 8 on its own indented line)",
);

export const poolFileSchema = v.object(rowsSchema(POOL_KEYS), "must be a mapping (enabled: ..., hydrate: ..., on their own indented lines)");

export const fileConfigSchema = v.object(
  { ...rowsSchema(TOP_KEYS), githubCodespaces: v.nullish(githubCodespacesFileSchema), pool: v.nullish(poolFileSchema), shard: v.nullish(shardFileSchema) },
  "must be a YAML mapping (key: value)",
);

export const TOP_LEVEL_KEYS = Object.keys(fileConfigSchema.entries);
export const GITHUB_CODESPACES_KEYS = Object.keys(githubCodespacesFileSchema.entries);
export const POOL_FILE_KEYS = Object.keys(poolFileSchema.entries);

function describeType(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "a list";
  if (typeof x === "object") return "a mapping";
  return `a ${typeof x}`;
}

function configError(file: string, key: string | undefined, problem: string, hint?: string): CrabboxError {
  return new CrabboxError({
    code: "config_invalid",
    message: key ? `invalid config in ${file}: ${key} ${problem}` : `invalid config in ${file}: the file ${problem}`,
    hint: hint ?? `edit ${file}; see docs/configuration.md`,
    exit: Exit.usage,
    details: { file, ...(key ? { key } : {}) },
  });
}

/** True when any word-like piece of the string looks like a GitHub token. */
export function containsToken(value: string): boolean {
  if (looksLikeToken(value)) return true;
  return value.split(/[^A-Za-z0-9_]+/).some((piece) => piece.length > 0 && looksLikeToken(piece));
}

/**
 * Refuse a token-looking key or value anywhere in `raw`. The error names the
 * file and the key path, never the value.
 */
export function rejectTokens(raw: unknown, file: string, path = ""): void {
  const fail = (key: string) =>
    new CrabboxError({
      code: "config_token",
      message: `${file} contains what looks like a GitHub token at ${key || "the top level"}`,
      why: "tokens must never be stored in crabbox config files (they are read from the repository and shown by doctor)",
      hint: "remove it from the file (and revoke it if the file was shared); authenticate with `gh auth login` or set GH_TOKEN in the environment",
      exit: Exit.usage,
      details: { file, key: key || "(top level)" },
    });
  if (typeof raw === "string") {
    if (containsToken(raw)) throw fail(path);
    return;
  }
  if (Array.isArray(raw)) {
    raw.forEach((item, i) => rejectTokens(item, file, `${path}[${i}]`));
    return;
  }
  if (raw && typeof raw === "object") {
    for (const [k, val] of Object.entries(raw as Record<string, unknown>)) {
      const keyPath = path ? `${path}.${k}` : k;
      if (containsToken(k)) throw fail(path ? `${path}.<a key>` : "<a key>");
      rejectTokens(val, file, keyPath);
    }
  }
}

function closest(name: string, candidates: string[]): string | undefined {
  const lower = name.toLowerCase().replace(/[-_]/g, "");
  return candidates.find((c) => c.toLowerCase() === lower);
}

export interface ParsedFile {
  layer: ConfigLayer;
  warnings: string[];
}

/**
 * Validate the parsed YAML of one file and turn it into a layer.
 * `raw` undefined/null (an empty file) is an empty layer.
 */
export function parseFileConfig(raw: unknown, file: string): ParsedFile {
  const warnings: string[] = [];
  if (raw === undefined || raw === null) return { layer: {}, warnings };
  rejectTokens(raw, file);
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw configError(file, undefined, `must be a YAML mapping (key: value), not ${describeType(raw)}`);
  }
  const result = v.safeParse(fileConfigSchema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const key = v.getDotPath(issue) ?? undefined;
    // A bad duration is the same error wherever it was written (flag, environment, file).
    if (issue.kind !== "schema" && typeof issue.input === "string" && issue.message.startsWith("is not a valid duration")) {
      try {
        parseDuration(issue.input);
      } catch (e) {
        if (e instanceof DurationError) throw durationErrorFor(e, `${key} (from ${file})`);
      }
    }
    const problem = issue.kind === "schema" ? `${issue.message}, not ${describeType(issue.input)}` : issue.message;
    throw configError(file, key, problem);
  }

  // Unknown keys: warn (the schema dropped them).
  const top = raw as Record<string, unknown>;
  for (const k of Object.keys(top)) {
    if (!TOP_LEVEL_KEYS.includes(k)) {
      const guess = closest(k, TOP_LEVEL_KEYS);
      warnings.push(`${file}: unknown key "${k}" ignored${guess ? ` (did you mean "${guess}"?)` : ""}`);
    }
  }
  const gcRaw = top.githubCodespaces;
  if (gcRaw && typeof gcRaw === "object") {
    for (const k of Object.keys(gcRaw)) {
      if (!GITHUB_CODESPACES_KEYS.includes(k)) {
        const guess = closest(k, GITHUB_CODESPACES_KEYS);
        warnings.push(
          `${file}: unknown key "githubCodespaces.${k}" ignored${guess ? ` (did you mean "githubCodespaces.${guess}"?)` : ""}`,
        );
      }
    }
  }

  const poolRaw = top.pool;
  if (poolRaw && typeof poolRaw === "object") {
    for (const k of Object.keys(poolRaw)) {
      if (!POOL_FILE_KEYS.includes(k)) warnings.push(`${file}: unknown key "pool.${k}" ignored`);
    }
  }

  const out = result.output as Record<string, unknown> & { githubCodespaces?: Record<string, unknown> | null; pool?: Record<string, unknown> | null };
  const layer: ConfigLayer = {};
  for (const k of Object.keys(TOP_KEYS) as (keyof typeof TOP_KEYS)[]) if (out[k] != null) layer[k] = out[k] as string;
  if (out.githubCodespaces) {
    const gc: Record<string, unknown> = {};
    for (const [name, row] of Object.entries(GC_KEYS) as [string, KeyRow][]) {
      const value = out.githubCodespaces[name];
      const synonym = row.synonym?.file ? out.githubCodespaces[row.synonym.file] : undefined;
      if (value != null && synonym != null && value !== synonym) {
        throw configError(file, `githubCodespaces.${row.synonym!.file}`, `and githubCodespaces.${name} are both set and differ`, `keep only githubCodespaces.${name} in ${file}`);
      }
      if (value != null) gc[name] = value;
      else if (synonym != null) gc[name] = synonym;
    }
    if (Object.keys(gc).length > 0) layer.githubCodespaces = gc as FileGithubCodespaces;
  }
  if (out.pool) {
    const pool: Record<string, unknown> = {};
    for (const name of Object.keys(POOL_KEYS)) if (out.pool[name] != null) pool[name] = out.pool[name];
    if (Object.keys(pool).length > 0) layer.pool = pool as FilePool;
  }
  const shard = out.shard as { maxCount?: number | null } | null | undefined;
  if (shard?.maxCount != null) layer.shard = { maxCount: shard.maxCount };
  return { layer, warnings };
}
