/**
 * Resolve the configuration: defaults < repository .crabbox.yaml (untrusted
 * keys dropped) < user config file < CRABBOX_* environment < flags.
 * Files are read as YAML data only (see readYamlFile): we never execute a
 * config file, follow a link to one, or let one pull in another.
 */
import { normalizeApiUrl } from "../github/api-url.ts";
import { parseRepo } from "../github/repo-name.ts";
import { existsSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { lexists, type NoFollowRead, readFileNoFollow } from "../fsutil.ts";
import { CrabboxError, Exit } from "../errors.ts";
import { redact } from "../redact.ts";
import type { Env, Runtime } from "../runtime.ts";
import { DurationError, durationErrorFor, durationToMinutes } from "./duration.ts";
import { flagOverrides, normalizeProvider } from "./flags.ts";
import { allKeys, GC_KEYS, type KeyRow, POOL_KEYS, type PoolConfig, resolvedName, TOP_KEYS } from "./keys.ts";
import { parseDuration } from "./duration.ts";
import { type ConfigLayer, type FileGithubCodespaces, parseFileConfig } from "./schema.ts";
import { applyTrustRule } from "./trust.ts";
import type { Config, ConfigSource, GithubCodespacesConfig } from "./types.ts";

export const REPO_CONFIG_NAMES = [".crabbox.yaml", ".crabbox.yml"] as const;

/** The defaults as a layer (from keys.ts). */
export const DEFAULTS = {
  ...Object.fromEntries(Object.entries(TOP_KEYS).map(([k, row]) => [k, row.default])),
  githubCodespaces: Object.fromEntries(Object.entries(GC_KEYS).map(([k, row]) => [k, row.default])),
  pool: Object.fromEntries(Object.entries(POOL_KEYS).map(([k, row]) => [k, row.default])),
} as { provider: string; target: string; class: string; githubCodespaces: Required<FileGithubCodespaces>; pool: Record<string, string | boolean> };

export const IDLE_TIMEOUT_MINUTES = { min: 5, max: 240 } as const;
export const RETENTION_MINUTES = { min: 0, max: 720 * 60 } as const;

function usage(code: string, message: string, hint?: string, why?: string, details?: Record<string, unknown>): CrabboxError {
  return new CrabboxError({ code, message: redact(message), why, hint, exit: Exit.usage, details });
}

// ---------------------------------------------------------------- locations

/** The git top level containing `cwd` (nearest ancestor with `.git`), or null. */
export function findRepoRoot(cwd: string): string | null {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, ".git"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The repository-local config file, if present (.crabbox.yaml wins over .crabbox.yml). */
export function repoConfigPath(runtime: Pick<Runtime, "cwd">): { path: string | null; warnings: string[] } {
  const root = findRepoRoot(runtime.cwd) ?? resolve(runtime.cwd);
  // lexists: a link named .crabbox.yaml is found (and then refused), even a dangling one.
  const found = REPO_CONFIG_NAMES.map((n) => join(root, n)).filter((p) => lexists(p));
  const warnings: string[] = [];
  if (found.length > 1) warnings.push(`both ${found[0]} and ${found[1]} exist; using ${found[0]} and ignoring ${found[1]}`);
  return { path: found[0] ?? null, warnings };
}

/**
 * The user config file: $CRABBOX_CONFIG, else $XDG_CONFIG_HOME/crabbox/config.yaml,
 * else ~/.config/crabbox/config.yaml (config.yml accepted in the two default places).
 */
export function userConfigPath(runtime: Pick<Runtime, "env" | "cwd" | "homeDir">): { path: string; explicit: boolean } {
  const explicit = runtime.env.CRABBOX_CONFIG;
  if (explicit) return { path: resolve(runtime.cwd, explicit), explicit: true };
  const xdg = runtime.env.XDG_CONFIG_HOME;
  const base = xdg && isAbsolute(xdg) ? join(xdg, "crabbox") : join(runtime.homeDir, ".config", "crabbox");
  const yaml = join(base, "config.yaml");
  const yml = join(base, "config.yml");
  return { path: !lexists(yaml) && lexists(yml) ? yml : yaml, explicit: false };
}

// ---------------------------------------------------------------- reading

/**
 * Read one config file as YAML data, never as code. The file is checked with
 * lstat before anything opens it: a symbolic link (even one named .yaml) or
 * anything but a regular file is refused (exit 2); it is then opened with
 * O_NOFOLLOW and parsed by confbox's YAML parser (the one c12 uses for YAML),
 * which has no tags that construct code. c12's loader is not used: it
 * resolves a path through module resolution (following links and trying
 * .js/.ts extensions) and imports anything that is not JSON/YAML/TOML with
 * jiti, and `extends:` in a file could fetch or import more.
 * Returns undefined when the file does not exist or holds no document.
 */
export async function readYamlFile(path: string, role: "repo" | "user" = "user"): Promise<unknown> {
  const ext = extname(path).toLowerCase();
  if (ext !== ".yaml" && ext !== ".yml") {
    throw usage(
      "config_not_yaml",
      `config file ${path} must be a .yaml or .yml file`,
      "rename it to end in .yaml (crabbox-cs only reads YAML; it never executes a config file)",
    );
  }
  let found: NoFollowRead;
  try {
    found = await readFileNoFollow(path);
  } catch (e) {
    throw usage("config_unreadable", `cannot read config file ${path}: ${(e as Error).message}`, `check the permissions of ${path}`);
  }
  if (found.kind === "missing") return undefined;
  if (found.kind === "symlink") {
    throw usage(
      "config_symlink",
      `config file ${path} is a symbolic link; refusing to read it`,
      role === "repo"
        ? `a repository's ${basename(path)} must be a regular file inside the repository: replace the link with the file itself (or delete it)`
        : `replace the link with the file itself, or point CRABBOX_CONFIG at the real file`,
      "crabbox-cs reads config files only as plain YAML files, never through links (a link could point at code or at a file outside the repository)",
      { file: path },
    );
  }
  if (found.kind === "not-file") {
    throw usage("config_unreadable", `config path ${path} is ${found.what}, not a regular file`, `replace ${path} with a YAML file, or remove it`, undefined, { file: path });
  }
  let doc: unknown;
  try {
    // confbox (js-yaml) loads only when there is a file to parse: most runs have none.
    const { parseYAML } = await import("confbox/yaml");
    doc = parseYAML(found.text);
  } catch (e) {
    const first = (e as Error)?.message?.split("\n")[0] ?? String(e);
    // js-yaml ends its message with "(line:column)": say it in words, and keep both for --json.
    const at = /\s*\((\d+):(\d+)\)\s*$/.exec(first);
    const why = at ? first.slice(0, at.index) : first;
    const where = at ? ` at line ${at[1]}, column ${at[2]}` : "";
    throw usage("config_parse", `cannot parse config file ${path}${where}`, `fix the YAML syntax in ${path}${where}`, redact(why), {
      file: path,
      ...(at ? { line: Number(at[1]), column: Number(at[2]) } : {}),
    });
  }
  return doc === null ? undefined : doc;
}

// ---------------------------------------------------------------- environment

function parseBoolEnv(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === "true" || v === "1") return true;
  if (v === "false" || v === "0") return false;
  throw usage("config_invalid", `${name} must be true, false, 1 or 0`, `export ${name}=false (or true)`);
}

/** The CRABBOX_* environment variables as a layer (names from keys.ts). Empty variables count as unset. */
export function envLayer(env: Env): { layer: ConfigLayer; labels: Record<string, string> } {
  const layer: Record<string, unknown> = {};
  const nested: Record<string, unknown> = {};
  const labels: Record<string, string> = {};
  const pooled: Record<string, unknown> = {};
  for (const { key, name, row, group } of allKeys()) {
    const into = group === "top" ? layer : group === "pool" ? pooled : nested;
    for (const variable of [row.env, row.synonym?.env]) {
      const raw = variable ? env[variable] : undefined;
      if (!variable || raw === undefined || raw === "") continue;
      const value = typeof row.default === "boolean" ? parseBoolEnv(variable, raw) : raw;
      if (into[name] !== undefined && into[name] !== value) {
        throw usage("config_invalid", `${labels[key]} and ${variable} disagree`, "unset one of them");
      }
      into[name] = value;
      labels[key] ??= variable;
    }
  }
  if (typeof layer.provider === "string") layer.provider = normalizeProvider(layer.provider, labels.provider!);
  if (Object.keys(nested).length > 0) layer.githubCodespaces = nested;
  if (Object.keys(pooled).length > 0) layer.pool = pooled;
  return { layer: layer as ConfigLayer, labels };
}

// ---------------------------------------------------------------- merging and validation

interface SourcedLayer {
  source: ConfigSource;
  layer: ConfigLayer;
  /** Where a key came from, for messages: a path, an env var, a flag. */
  label: (key: string) => string;
}

/**
 * Check an owner/name repository (empty allowed: resolved later from the git
 * remote). The rule is parseRepo's (github/operations.ts); the error says where
 * the value came from.
 */
export function validateRepo(repo: string, from: string): string {
  const r = repo.trim();
  if (r === "") return "";
  try {
    const { owner, name } = parseRepo(r);
    return `${owner}/${name}`;
  } catch (e) {
    if (!(e instanceof CrabboxError)) throw e;
    throw new CrabboxError({
      code: e.code,
      message: `bad repo syntax ${JSON.stringify(r)} (from ${from})`,
      why: e.why,
      hint: e.hint,
      exit: e.exit,
    });
  }
}

/** The Config field path used in `sources` for a key (durations: `...Minutes` or `...Ms`). */
function fieldPath(key: string, name: string, row: KeyRow): string {
  return key === name ? key : `${key.slice(0, key.indexOf("."))}.${resolvedName(name, row)}`;
}

/** A pool.* value in Config terms: durations in ms, counts as numbers. */
function poolValue(value: unknown, row: KeyRow, key: string, from: string): unknown {
  if (row.ms) {
    try {
      return parseDuration(String(value));
    } catch (e) {
      if (!(e instanceof DurationError)) throw e;
      throw new CrabboxError({ code: "bad_duration", message: `${e.message} for ${key} (from ${from})`, why: e.why, hint: e.hint, exit: Exit.usage });
    }
  }
  if (row.count) {
    const s = String(value).trim();
    if (!/^\d+$/.test(s)) throw usage("config_invalid", `${key} ${JSON.stringify(s)} (from ${from}) is not a whole number`, "write 0 (no limit) or a positive whole number, e.g. 20");
    return Number(s);
  }
  return value;
}

function rejectControlChars(value: string, key: string, from: string): void {
  // A newline in a value could smuggle options into a generated ssh config.
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw usage("config_invalid", `${key} (from ${from}) contains a control character such as a newline`, "remove it");
  }
}

/** Checks beyond a key's schema, in Config terms (minutes for durations). `from` names the layer. */
const CHECKS: { [K in keyof GithubCodespacesConfig]?: (value: GithubCodespacesConfig[K], from: string, raw: unknown) => GithubCodespacesConfig[K] } = {
  repo: (repo, from) => validateRepo(repo, from),
  apiUrl: (url, from) => normalizeApiUrl(url, from),
  ghPath: (ghPath, from) => {
    if (ghPath !== "") return ghPath;
    throw usage("config_invalid", `githubCodespaces.ghPath (from ${from}) is empty`, "remove the setting to use gh from PATH, or give the path of the gh executable");
  },
  workRoot: (workRoot, from) => {
    if (workRoot === "" || (workRoot.startsWith("/") && !/^\/+$/.test(workRoot))) return workRoot;
    throw usage(
      "config_invalid",
      `githubCodespaces.workRoot ${JSON.stringify(workRoot)} (from ${from}) must be an absolute path below /`,
      "e.g. /workspaces/<repo-name>/crabbox, or leave it empty for the default",
      "the sync deletes files under the work root that are not in your checkout",
    );
  },
  idleTimeoutMinutes: (idle, from, raw) => {
    if (idle >= IDLE_TIMEOUT_MINUTES.min && idle <= IDLE_TIMEOUT_MINUTES.max) return idle;
    throw usage("bad_idle_timeout", `idle timeout ${String(raw)} (from ${from}) is out of range`, "choose between 5m and 4h (240m), e.g. 30m", "GitHub accepts idle timeouts from 5 to 240 minutes");
  },
  retentionPeriodMinutes: (retention, from, raw) => {
    if (retention >= RETENTION_MINUTES.min && retention <= RETENTION_MINUTES.max) return retention;
    throw usage("bad_retention_period", `retention period ${String(raw)} (from ${from}) is out of range`, "choose between 0m and 720h (30 days), e.g. 1h", "GitHub keeps a stopped codespace for at most 30 days");
  },
};

function minutesOf(value: string, key: string, from: string): number {
  try {
    return durationToMinutes(value, key === "githubCodespaces.idleTimeout" ? "idle timeout" : key === "githubCodespaces.retentionPeriod" ? "retention period" : key);
  } catch (e) {
    if (!(e instanceof DurationError)) throw e;
    throw durationErrorFor(e, `${key} (from ${from})`);
  }
}

/**
 * Merge layers (lowest first) over the defaults and validate the result.
 * Exported for tests and for callers that build layers themselves.
 */
export function resolveLayers(layers: SourcedLayer[], warnings: string[] = []): Config {
  const sources: Record<string, ConfigSource> = {};
  const origins: Record<string, string> = {};
  const top: Record<string, unknown> = {};
  const gc: Record<string, unknown> = {};
  const pool: Record<string, unknown> = {};
  for (const { key, name, row, group } of allKeys()) {
    const into = group === "top" ? top : group === "pool" ? pool : gc;
    const field = fieldPath(key, name, row);
    into[name] = row.default;
    sources[field] = "default";
    let from = "default";
    for (const { source, layer, label } of layers) {
      const value = group === "top" ? (layer as Record<string, unknown>)[name] : (layer[group] as Record<string, unknown> | undefined)?.[name];
      if (value === undefined) continue;
      into[name] = value;
      sources[field] = source;
      from = origins[field] = label(key);
    }
    // Resolve to Config terms: trimmed strings without control characters, durations in minutes.
    let value = into[name];
    if (typeof value === "number") value = String(value);
    if (typeof value === "string") {
      rejectControlChars(value, key, from);
      value = row.minutes ? minutesOf(value, key, from) : value.trim();
    }
    const check = (CHECKS as Record<string, ((v: unknown, from: string, raw: unknown) => unknown) | undefined>)[resolvedName(name, row)];
    if (group === "pool") {
      delete pool[name];
      pool[resolvedName(name, row)] = poolValue(value, row, key, from);
    } else if (key !== name) {
      delete gc[name];
      gc[resolvedName(name, row)] = check ? check(value, from, into[name]) : value;
    } else top[name] = value;
  }

  const provider = normalizeProvider(top.provider as string, origins.provider ?? "default");
  const target = (top.target as string).toLowerCase();
  if (target !== "linux") {
    throw usage(
      "unsupported_target",
      `target ${JSON.stringify(top.target)} (from ${origins.target ?? "default"}) is not supported`,
      "use --target linux, or remove the target setting",
      "GitHub Codespaces are Linux dev containers",
    );
  }
  return {
    provider,
    target: "linux",
    class: (top.class as string) || DEFAULTS.class,
    githubCodespaces: gc as GithubCodespacesConfig,
    pool: pool as PoolConfig,
    shard: { maxCount: shardMaxCount(layers, warnings) },
    sources,
    origins,
    warnings,
  };
}

/** The default of `shard.maxCount`. */
export const SHARD_MAX_COUNT = 8;

/**
 * `shard.maxCount`: the user's file (or the default) sets the cap; a
 * repository's own file may lower it, never raise it (it would spend your
 * money), and is ignored with a warning when it tries.
 */
function shardMaxCount(layers: SourcedLayer[], warnings: string[]): number {
  let cap = SHARD_MAX_COUNT;
  for (const l of layers) if (l.source !== "repo" && l.layer.shard?.maxCount != null) cap = l.layer.shard.maxCount;
  for (const l of layers) {
    const repo = l.source === "repo" ? l.layer.shard?.maxCount : undefined;
    if (repo == null) continue;
    if (repo <= cap) cap = repo;
    else warnings.push(`ignored shard.maxCount ${repo} in ${l.label("shard.maxCount")}: a repository's own config file may only lower the cap (${cap}); set it in your user config file`);
  }
  return cap;
}

/**
 * "machine = largePremiumLinux from ~/.config/crabbox/config.yaml", for each
 * key not at its default; with `all`, every key ("ref = "" (default)" too).
 */
export function describeSources(config: Config, opts: { all?: boolean } = {}): string[] {
  const out: string[] = [];
  const fields = opts.all ? Object.keys(config.sources) : Object.keys(config.origins);
  for (const field of fields) {
    const value = field.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], config);
    const shown = field.endsWith("Minutes") ? `${String(value)}m` : value === "" ? '""' : String(value);
    const origin = config.origins[field];
    out.push(origin ? `${field} = ${shown} from ${origin}` : `${field} = ${shown} (default)`);
  }
  return out;
}

/**
 * Load and resolve the configuration for this invocation.
 * `flagArgs` are the parsed citty args (globalArgs/providerArgs); unknown
 * entries are ignored.
 */
/** Config file errors that abort every command, doctor included (see LoadOptions.onFileError). */
const REFUSED_FILE_CODES = new Set(["config_symlink", "config_token", "config_not_yaml"]);

export interface LoadOptions {
  /**
   * Called with a config file's error (unreadable, bad YAML, invalid values)
   * instead of throwing it; that file is then left out (doctor: a failed
   * check, and the other checks still run). A linked file, a token in a file
   * or a file that is not YAML is still refused (thrown).
   */
  onFileError?: (error: CrabboxError) => void;
}

export async function loadConfig(runtime: Runtime, flagArgs: Record<string, unknown> = {}, opts: LoadOptions = {}): Promise<Config> {
  const warnings: string[] = [];
  const layers: SourcedLayer[] = [];

  const repoFile = repoConfigPath(runtime);
  warnings.push(...repoFile.warnings);
  const user = userConfigPath(runtime);
  const userHint = user.path;
  /** Run one file's reading; with onFileError, its failure is reported and the file left out. */
  const guarded = async (fn: () => Promise<void>): Promise<boolean> => {
    if (!opts.onFileError) {
      await fn();
      return true;
    }
    try {
      await fn();
      return true;
    } catch (e) {
      // Safety refusals (a linked file, a token in a file) stay refusals: only content problems are reported.
      if (!(e instanceof CrabboxError) || e.exit !== Exit.usage || REFUSED_FILE_CODES.has(e.code)) throw e;
      opts.onFileError(e);
      return false;
    }
  };
  let repoOk = true;
  let userOk = true;

  const repoPath = repoFile.path;
  if (repoPath) repoOk = await guarded(async () => {
    const raw = await readYamlFile(repoPath, "repo");
    const parsed = parseFileConfig(raw, repoPath);
    warnings.push(...parsed.warnings);
    const rawGc = raw && typeof raw === "object" ? (raw as Record<string, unknown>).githubCodespaces : undefined;
    const rawKeys = rawGc && typeof rawGc === "object" ? Object.keys(rawGc) : [];
    const trusted = applyTrustRule(parsed.layer, repoPath, userHint, rawKeys);
    warnings.push(...trusted.warnings);
    const path = repoPath;
    // Resolved alone too, so that a bad value in this file is its error (and no other file's).
    if (opts.onFileError) resolveLayers([{ source: "repo", layer: trusted.layer, label: () => path }]);
    layers.push({ source: "repo", layer: trusted.layer, label: () => path });
  });

  if (user.explicit && !lexists(user.path)) {
    warnings.push(`CRABBOX_CONFIG names ${user.path}, which does not exist; no user config file was read`);
  } else {
    userOk = await guarded(async () => {
      const raw = await readYamlFile(user.path);
      if (raw !== undefined) {
        const parsed = parseFileConfig(raw, user.path);
        warnings.push(...parsed.warnings);
        if (opts.onFileError) resolveLayers([{ source: "user", layer: parsed.layer, label: () => user.path }]);
        layers.push({ source: "user", layer: parsed.layer, label: () => user.path });
      }
    });
  }

  const env = envLayer(runtime.env);
  layers.push({ source: "env", layer: env.layer, label: (k) => env.labels[k] ?? "environment" });

  const flags = flagOverrides(flagArgs);
  layers.push({ source: "flag", layer: flags.layer, label: (k) => flags.labels[k] ?? "flags" });

  const config = resolveLayers(layers, warnings);
  config.files = { repo: repoOk ? repoFile.path : null, user: userOk && lexists(user.path) ? user.path : null };
  return config;
}
