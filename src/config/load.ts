/**
 * Resolve the configuration: defaults < repository .crabbox.yaml (untrusted
 * keys dropped) < user config file < CRABBOX_* environment < flags.
 * Files are read as YAML data only (see readYamlFile): we never execute a
 * config file, follow a link to one, or let one pull in another.
 */
import { checkApiUrl } from "../github/api-url.ts";
import { existsSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { parseYAML } from "confbox/yaml";
import { lexists, type NoFollowRead, readFileNoFollow } from "../fsutil.ts";
import { CrabboxError, Exit } from "../errors.ts";
import { redact, redactValue } from "../redact.ts";
import type { Env, Runtime } from "../runtime.ts";
import { DurationError, durationToMinutes } from "./duration.ts";
import { flagOverrides, normalizeProvider, PROVIDER } from "./flags.ts";
import { type ConfigLayer, type FileGithubCodespaces, parseFileConfig } from "./schema.ts";
import { applyTrustRule } from "./trust.ts";
import type { Config, ConfigSource, GithubCodespacesConfig } from "./types.ts";

export const REPO_CONFIG_NAMES = [".crabbox.yaml", ".crabbox.yml"] as const;

export const DEFAULTS = {
  provider: PROVIDER,
  target: "linux",
  class: "standard",
  githubCodespaces: {
    repo: "",
    ref: "",
    machine: "",
    devcontainerPath: "",
    workingDirectory: "",
    geo: "",
    idleTimeout: "30m",
    retentionPeriod: "1h",
    deleteOnRelease: true,
    ghPath: "gh",
    workRoot: "",
    apiUrl: "https://api.github.com",
  },
} as const satisfies ConfigLayer;

export const IDLE_TIMEOUT_MINUTES = { min: 5, max: 240 } as const;
export const RETENTION_MINUTES = { min: 0, max: 720 * 60 } as const;

/** Environment variable -> githubCodespaces key. */
export const ENV_VARS: Record<string, keyof FileGithubCodespaces> = {
  CRABBOX_GITHUB_CODESPACES_REPO: "repo",
  CRABBOX_GITHUB_CODESPACES_REF: "ref",
  CRABBOX_GITHUB_CODESPACES_MACHINE: "machine",
  CRABBOX_GITHUB_CODESPACES_DEVCONTAINER_PATH: "devcontainerPath",
  CRABBOX_GITHUB_CODESPACES_WORKING_DIRECTORY: "workingDirectory",
  CRABBOX_GITHUB_CODESPACES_GEO: "geo",
  CRABBOX_GITHUB_CODESPACES_IDLE_TIMEOUT: "idleTimeout",
  CRABBOX_GITHUB_CODESPACES_RETENTION_PERIOD: "retentionPeriod",
  CRABBOX_GITHUB_CODESPACES_DELETE_ON_RELEASE: "deleteOnRelease",
  CRABBOX_GITHUB_CODESPACES_GH: "ghPath",
  CRABBOX_GITHUB_CODESPACES_GH_PATH: "ghPath",
  CRABBOX_GITHUB_CODESPACES_WORK_ROOT: "workRoot",
  CRABBOX_GITHUB_CODESPACES_API_URL: "apiUrl",
};

const FLAG_NAMES: Record<keyof FileGithubCodespaces, string> = {
  repo: "--github-codespaces-repo",
  ref: "--github-codespaces-ref",
  machine: "--github-codespaces-machine",
  devcontainerPath: "--github-codespaces-devcontainer-path",
  workingDirectory: "--github-codespaces-working-directory",
  geo: "--github-codespaces-geo",
  idleTimeout: "--github-codespaces-idle-timeout",
  retentionPeriod: "--github-codespaces-retention-period",
  deleteOnRelease: "--github-codespaces-delete-on-release",
  ghPath: "--github-codespaces-gh-path",
  workRoot: "--github-codespaces-work-root",
  apiUrl: "--github-codespaces-api-url",
};

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
    doc = parseYAML(found.text);
  } catch (e) {
    const why = (e as Error)?.message?.split("\n")[0] ?? String(e);
    throw usage("config_parse", `cannot parse config file ${path}`, `fix the YAML syntax in ${path}`, redact(why), { file: path });
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

/** The CRABBOX_* environment variables as a layer. Empty variables count as unset. */
export function envLayer(env: Env): { layer: ConfigLayer; labels: Record<string, string> } {
  const layer: ConfigLayer = {};
  const labels: Record<string, string> = {};
  if (env.CRABBOX_PROVIDER) {
    layer.provider = normalizeProvider(env.CRABBOX_PROVIDER, "CRABBOX_PROVIDER");
    labels.provider = "CRABBOX_PROVIDER";
  }
  const gc: FileGithubCodespaces = {};
  for (const [name, key] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value === undefined || value === "") continue;
    if (key === "deleteOnRelease") {
      gc.deleteOnRelease = parseBoolEnv(name, value);
    } else {
      const previous = gc[key];
      if (key === "ghPath" && previous !== undefined && previous !== value) {
        throw usage(
          "config_invalid",
          "CRABBOX_GITHUB_CODESPACES_GH and CRABBOX_GITHUB_CODESPACES_GH_PATH disagree",
          "unset one of them",
        );
      }
      (gc as Record<string, unknown>)[key] = value;
    }
    labels[`githubCodespaces.${key}`] = name;
  }
  if (Object.keys(gc).length > 0) layer.githubCodespaces = gc;
  return { layer, labels };
}

// ---------------------------------------------------------------- merging and validation

interface SourcedLayer {
  source: ConfigSource;
  layer: ConfigLayer;
  /** Where a key came from, for messages: a path, an env var, a flag. */
  label: (key: string) => string;
}

const REPO_RE = /^([A-Za-z0-9-]{1,39})\/([A-Za-z0-9._-]{1,100})$/;

/** Check an owner/name repository spelling (empty allowed: resolved later from the git remote). */
export function validateRepo(repo: string, from: string): string {
  const r = repo.trim();
  if (r === "") return "";
  const m = REPO_RE.exec(r);
  const name = m?.[2];
  if (!m || name === "." || name === ".." || m[1]!.startsWith("-") || m[1]!.endsWith("-")) {
    throw usage(
      "bad_repo",
      `bad repo syntax ${JSON.stringify(r)} (from ${from})`,
      "write the repository as owner/name, e.g. octocat/hello-world",
      "a GitHub owner is 1-39 letters, digits or single hyphens; a name is 1-100 letters, digits, '.', '_' or '-'",
    );
  }
  return r;
}

/** https (or http on a loopback host only), no credentials/query/fragment; trailing slash removed. */
export function normalizeApiUrl(raw: string, from: string): string {
  const r = checkApiUrl(raw);
  if ("url" in r) return r.url;
  throw usage(
    "bad_api_url",
    `apiUrl ${JSON.stringify(redact(raw))} (from ${from}) is not usable`,
    "use https://api.github.com, https://<host>/api/v3 (GitHub Enterprise Server) or http://127.0.0.1:<port> for a local emulator",
    r.problem,
  );
}

const TOP_KEYS = ["provider", "target", "class"] as const;
const GC_KEYS = Object.keys(DEFAULTS.githubCodespaces) as (keyof typeof DEFAULTS.githubCodespaces)[];

/** The Config field path used in `sources` for a githubCodespaces file key. */
function fieldPath(key: keyof FileGithubCodespaces): string {
  if (key === "idleTimeout") return "githubCodespaces.idleTimeoutMinutes";
  if (key === "retentionPeriod") return "githubCodespaces.retentionPeriodMinutes";
  return `githubCodespaces.${key}`;
}

function rejectControlChars(value: string, key: string, from: string): void {
  // A newline in a value could smuggle options into a generated ssh config.
  if (/[\u0000-\u001f\u007f]/.test(value)) {
    throw usage("config_invalid", `${key} (from ${from}) contains a control character such as a newline`, "remove it");
  }
}

/**
 * Merge layers (lowest first) over the defaults and validate the result.
 * Exported for tests and for callers that build layers themselves.
 */
export function resolveLayers(layers: SourcedLayer[], warnings: string[] = []): Config {
  const sources: Record<string, ConfigSource> = {};
  const labels: Record<string, string> = {};
  const top: Record<(typeof TOP_KEYS)[number], string> = {
    provider: DEFAULTS.provider,
    target: DEFAULTS.target,
    class: DEFAULTS.class,
  };
  const gc: Record<string, string | boolean> = { ...DEFAULTS.githubCodespaces };
  for (const k of TOP_KEYS) {
    sources[k] = "default";
    labels[k] = "default";
  }
  for (const k of GC_KEYS) {
    sources[fieldPath(k)] = "default";
    labels[k] = "default";
  }
  for (const { source, layer, label } of layers) {
    for (const k of TOP_KEYS) {
      const value = layer[k];
      if (value === undefined) continue;
      top[k] = value;
      sources[k] = source;
      labels[k] = label(k);
    }
    for (const k of GC_KEYS) {
      const value = layer.githubCodespaces?.[k];
      if (value === undefined) continue;
      gc[k] = value;
      sources[fieldPath(k)] = source;
      labels[k] = label(`githubCodespaces.${k}`);
    }
  }

  const provider = normalizeProvider(top.provider, labels.provider!);
  const target = top.target.trim().toLowerCase();
  if (target !== "linux") {
    throw usage(
      "unsupported_target",
      `target ${JSON.stringify(top.target)} (from ${labels.target}) is not supported`,
      "use --target linux, or remove the target setting",
      "GitHub Codespaces are Linux dev containers",
    );
  }
  const str = (k: string) => {
    const value = gc[k] as string;
    rejectControlChars(value, `githubCodespaces.${k}`, labels[k]!);
    return value.trim();
  };
  rejectControlChars(top.class, "class", labels.class!);

  const durationMinutes = (k: "idleTimeout" | "retentionPeriod", what: string) => {
    try {
      return durationToMinutes(gc[k] as string, what);
    } catch (e) {
      if (e instanceof DurationError) {
        throw new CrabboxError({
          code: "bad_duration",
          message: `${e.message} for githubCodespaces.${k} (from ${labels[k]})`,
          why: e.why,
          hint: e.hint,
          exit: Exit.usage,
        });
      }
      throw e;
    }
  };
  const idle = durationMinutes("idleTimeout", "idle timeout");
  if (idle < IDLE_TIMEOUT_MINUTES.min || idle > IDLE_TIMEOUT_MINUTES.max) {
    throw usage(
      "bad_idle_timeout",
      `idle timeout ${gc.idleTimeout} (from ${labels.idleTimeout}) is out of range`,
      "choose between 5m and 4h (240m), e.g. 30m",
      "GitHub accepts idle timeouts from 5 to 240 minutes",
    );
  }
  const retention = durationMinutes("retentionPeriod", "retention period");
  if (retention < RETENTION_MINUTES.min || retention > RETENTION_MINUTES.max) {
    throw usage(
      "bad_retention_period",
      `retention period ${gc.retentionPeriod} (from ${labels.retentionPeriod}) is out of range`,
      "choose between 0m and 720h (30 days), e.g. 1h",
      "GitHub keeps a stopped codespace for at most 30 days",
    );
  }

  const ghPath = str("ghPath");
  if (ghPath === "") {
    throw usage("config_invalid", `githubCodespaces.ghPath (from ${labels.ghPath}) is empty`, "remove the setting to use gh from PATH, or give the path of the gh executable");
  }
  const workRoot = str("workRoot");
  if (workRoot !== "" && (!workRoot.startsWith("/") || /^\/+$/.test(workRoot))) {
    throw usage(
      "config_invalid",
      `githubCodespaces.workRoot ${JSON.stringify(workRoot)} (from ${labels.workRoot}) must be an absolute path below /`,
      "e.g. /workspaces/<repo-name>/crabbox, or leave it empty for the default",
      "the sync deletes files under the work root that are not in your checkout",
    );
  }

  const githubCodespaces: GithubCodespacesConfig = {
    repo: validateRepo(str("repo"), labels.repo!),
    ref: str("ref"),
    machine: str("machine"),
    devcontainerPath: str("devcontainerPath"),
    workingDirectory: str("workingDirectory"),
    geo: str("geo"),
    idleTimeoutMinutes: idle,
    retentionPeriodMinutes: retention,
    deleteOnRelease: gc.deleteOnRelease as boolean,
    ghPath,
    workRoot,
    apiUrl: normalizeApiUrl(gc.apiUrl as string, labels.apiUrl!),
  };
  return {
    provider,
    target: "linux",
    class: top.class.trim() || DEFAULTS.class,
    githubCodespaces,
    sources,
    warnings,
  };
}

/** Flag name for a config key, for messages. */
function flagLabel(key: string): string {
  if (key.startsWith("githubCodespaces.")) return FLAG_NAMES[key.slice(17) as keyof FileGithubCodespaces] ?? `--${key}`;
  return `--${key}`;
}

/**
 * Load and resolve the configuration for this invocation.
 * `flagArgs` are the parsed citty args (globalArgs/providerArgs); unknown
 * entries are ignored.
 */
export async function loadConfig(runtime: Runtime, flagArgs: Record<string, unknown> = {}): Promise<Config> {
  const warnings: string[] = [];
  const layers: SourcedLayer[] = [];

  const repoFile = repoConfigPath(runtime);
  warnings.push(...repoFile.warnings);
  const user = userConfigPath(runtime);
  const userHint = user.path;

  if (repoFile.path) {
    const raw = await readYamlFile(repoFile.path, "repo");
    const parsed = parseFileConfig(raw, repoFile.path);
    warnings.push(...parsed.warnings);
    const rawGc = raw && typeof raw === "object" ? (raw as Record<string, unknown>).githubCodespaces : undefined;
    const rawKeys = rawGc && typeof rawGc === "object" ? Object.keys(rawGc) : [];
    const trusted = applyTrustRule(parsed.layer, repoFile.path, userHint, rawKeys);
    warnings.push(...trusted.warnings);
    const path = repoFile.path;
    layers.push({ source: "repo", layer: trusted.layer, label: () => path });
  }

  if (user.explicit && !lexists(user.path)) {
    warnings.push(`CRABBOX_CONFIG names ${user.path}, which does not exist; no user config file was read`);
  } else {
    const raw = await readYamlFile(user.path);
    if (raw !== undefined) {
      const parsed = parseFileConfig(raw, user.path);
      warnings.push(...parsed.warnings);
      layers.push({ source: "user", layer: parsed.layer, label: () => user.path });
    }
  }

  const env = envLayer(runtime.env);
  layers.push({ source: "env", layer: env.layer, label: (k) => env.labels[k] ?? "environment" });

  const flags = flagOverrides(flagArgs);
  const typeGiven = flagArgs.type !== undefined && flagArgs.type !== null;
  const machineFlagGiven =
    flagArgs["github-codespaces-machine"] !== undefined || flagArgs.githubCodespacesMachine !== undefined;
  layers.push({
    source: "flag",
    layer: flags,
    label: (k) => (k === "githubCodespaces.machine" && typeGiven && !machineFlagGiven ? "--type" : flagLabel(k)),
  });

  const config = resolveLayers(layers, warnings);
  config.files = { repo: repoFile.path, user: lexists(user.path) ? user.path : null };
  return config;
}

/** A copy of the config safe to print (nothing secret is expected in it; this is the hook). */
export function redactConfig(config: Config): Config {
  return redactValue(config);
}
