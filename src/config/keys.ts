/**
 * The one table of configuration keys. Each row says everything about one
 * key: where it lives in a YAML file, its flag and environment variable, its
 * default, its valibot schema, whether a repository's own .crabbox.yaml may
 * set it, and the help and doc text. flags.ts (arg definitions, flag ->
 * layer), load.ts (defaults, env layer, merge), trust.ts (untrusted keys),
 * schema.ts (file schema) and types.ts (the resolved Config type) derive
 * from it; docs/configuration.md's key table is checked against it
 * (tests/unit/config-keys.test.ts). Adding a key is adding a row.
 */
import * as v from "valibot";
import { DurationError, parseDuration } from "./duration.ts";
import { PROVIDER, PROVIDER_NAMES } from "../provider.ts";

export { PROVIDER, PROVIDER_NAMES };

/** Why a string is not a Go duration, or null when it is one. */
function durationProblem(input: unknown): string | null {
  try {
    parseDuration(String(input));
    return null;
  } catch (e) {
    const why = e instanceof DurationError ? e.why : undefined;
    const hint = e instanceof DurationError ? e.hint : undefined;
    return `is not a valid duration${why ? `: ${why}` : ""}; ${hint ?? "write a Go duration such as 30m, 1h30m or 168h"}`;
  }
}

const str = v.nullish(v.string("must be a string"));
const duration = v.nullish(
  v.pipe(
    v.string("must be a duration string such as 30m or 1h (a bare number has no unit)"),
    v.check((s) => durationProblem(s) === null, (issue) => durationProblem(issue.input) ?? "is not a valid duration"),
  ),
);
const bool = v.nullish(v.boolean("must be true or false (unquoted)"));
const count = v.nullish(
  v.pipe(
    v.union([v.number(), v.string()], "must be a whole number"),
    v.check((n) => /^\d+$/.test(String(n).trim()), "must be a whole number (0 means no limit)"),
  ),
);

/** A second spelling of a key (same meaning; where both are given they must agree). */
export interface Synonym {
  flag?: string;
  env?: string;
  /** A second key name in files, e.g. `gh` for `ghPath`. */
  file?: string;
}

export interface KeyRow {
  /** The flag, without dashes. */
  flag: string;
  /** The environment variable, or null when only files and flags set it. */
  env: string | null;
  /** Defaults are strings in the file's notation (durations as "30m"), or booleans. */
  default: string | boolean;
  schema: typeof str | typeof duration | typeof bool | typeof count;
  /** Durations resolve to whole minutes in Config, as `<key>Minutes`. */
  minutes?: true;
  /** Durations resolve to milliseconds in Config, as `<key>Ms`. */
  ms?: true;
  /** A whole number (0 or more) in Config. */
  count?: true;
  /** May a repository's own .crabbox.yaml set it? (see trust.ts) */
  repoMay: boolean;
  /** --help text of the flag; `negativeHelp` for a boolean's --no- form. */
  help: string;
  negativeHelp?: string;
  valueHint?: string;
  /** A second flag in the GLOBAL FLAGS group (--type for machine) with its own help. */
  globalFlag?: { flag: string; help: string; valueHint: string };
  synonym?: Synonym;
  /** docs/configuration.md: the type column and the default column. */
  docType: string;
  docDefault: string;
}

/** Keys at the top level of a config file. */
export const TOP_KEYS = {
  provider: {
    flag: "provider", env: "CRABBOX_PROVIDER", default: PROVIDER, schema: str, repoMay: true,
    help: `Provider: ${PROVIDER_NAMES.join(", ")} (all the same; default ${PROVIDER})`, valueHint: "name",
    docType: "string", docDefault: "`github-codespaces`",
  },
  target: {
    flag: "target", env: null, default: "linux", schema: str, repoMay: true,
    help: "Target OS; only linux is supported", valueHint: "os",
    docType: "string", docDefault: "`linux`",
  },
  class: {
    flag: "class", env: null, default: "standard", schema: str, repoMay: true,
    help: "Machine class (default standard)", valueHint: "class",
    docType: "string", docDefault: "`standard`",
  },
} as const satisfies Record<string, KeyRow>;

/** Keys under `githubCodespaces:` in a config file. */
export const GC_KEYS = {
  repo: {
    flag: "github-codespaces-repo", env: "CRABBOX_GITHUB_CODESPACES_REPO", default: "", schema: str, repoMay: false,
    help: "Repository owner/name to create codespaces in (default: this checkout's GitHub remote)", valueHint: "owner/name",
    docType: "`owner/name`", docDefault: "`\"\"` (the checkout's GitHub remote)",
  },
  ref: {
    flag: "github-codespaces-ref", env: "CRABBOX_GITHUB_CODESPACES_REF", default: "", schema: str, repoMay: true,
    help: "Branch or ref to create the codespace from (default: the repository's default branch)", valueHint: "ref",
    docType: "string", docDefault: "`\"\"` (repository default branch)",
  },
  machine: {
    flag: "github-codespaces-machine", env: "CRABBOX_GITHUB_CODESPACES_MACHINE", default: "", schema: str, repoMay: false,
    help: "Machine type, e.g. basicLinux32gb (default: the smallest the repository offers)", valueHint: "machine",
    globalFlag: { flag: "type", help: "Exact machine type, e.g. basicLinux32gb (same as --github-codespaces-machine)", valueHint: "machine" },
    docType: "string", docDefault: "`\"\"` (smallest machine the repository offers)",
  },
  devcontainerPath: {
    flag: "github-codespaces-devcontainer-path", env: "CRABBOX_GITHUB_CODESPACES_DEVCONTAINER_PATH", default: "", schema: str, repoMay: true,
    help: "Path of the devcontainer.json to use, e.g. .devcontainer/crabbox/devcontainer.json", valueHint: "path",
    docType: "string", docDefault: "`\"\"` (repository default)",
  },
  workingDirectory: {
    flag: "github-codespaces-working-directory", env: "CRABBOX_GITHUB_CODESPACES_WORKING_DIRECTORY", default: "", schema: str, repoMay: true,
    help: "Working directory of the codespace", valueHint: "path",
    docType: "string", docDefault: "`\"\"`",
  },
  geo: {
    flag: "github-codespaces-geo", env: "CRABBOX_GITHUB_CODESPACES_GEO", default: "", schema: str, repoMay: true,
    help: "Requested geographic area: EuropeWest, SoutheastAsia, UsEast, UsWest", valueHint: "geo",
    docType: "string", docDefault: "`\"\"` (GitHub picks)",
  },
  idleTimeout: {
    flag: "github-codespaces-idle-timeout", env: "CRABBOX_GITHUB_CODESPACES_IDLE_TIMEOUT", default: "30m", schema: duration, minutes: true, repoMay: false,
    help: "Stop the codespace after this much inactivity, 5m..240m (default 30m)", valueHint: "duration",
    docType: "duration", docDefault: "`30m`",
  },
  retentionPeriod: {
    flag: "github-codespaces-retention-period", env: "CRABBOX_GITHUB_CODESPACES_RETENTION_PERIOD", default: "1h", schema: duration, minutes: true, repoMay: false,
    help: "Delete a stopped codespace after this long, 0..720h (default 1h)", valueHint: "duration",
    docType: "duration", docDefault: "`1h`",
  },
  deleteOnRelease: {
    flag: "github-codespaces-delete-on-release", env: "CRABBOX_GITHUB_CODESPACES_DELETE_ON_RELEASE", default: true, schema: bool, repoMay: false,
    help: "Delete the codespace on release when it has no unsaved work (default true)",
    negativeHelp: "Only stop the codespace on release; keep it for reuse",
    docType: "boolean", docDefault: "`true`",
  },
  ghPath: {
    flag: "github-codespaces-gh-path", env: "CRABBOX_GITHUB_CODESPACES_GH_PATH", default: "gh", schema: str, repoMay: false,
    help: "Path of the GitHub CLI executable (default gh on PATH)", valueHint: "path",
    synonym: { flag: "github-codespaces-gh", env: "CRABBOX_GITHUB_CODESPACES_GH", file: "gh" },
    docType: "string", docDefault: "`gh` (looked up on `PATH`)",
  },
  workRoot: {
    flag: "github-codespaces-work-root", env: "CRABBOX_GITHUB_CODESPACES_WORK_ROOT", default: "", schema: str, repoMay: true,
    help: "Remote directory the working tree is synced to (default /workspaces/.crabbox/<repo-name>)", valueHint: "path",
    docType: "absolute path", docDefault: "`\"\"` (`/workspaces/.crabbox/<repo-name>`)",
  },
  apiUrl: {
    flag: "github-codespaces-api-url", env: "CRABBOX_GITHUB_CODESPACES_API_URL", default: "https://api.github.com", schema: str, repoMay: false,
    help: "GitHub REST API base URL (default https://api.github.com)", valueHint: "url",
    docType: "URL", docDefault: "`https://api.github.com`",
  },
} as const satisfies Record<string, KeyRow>;

/** Keys under `pool:` in a config file: the ready pool (prewarm, run --pool, docs/lifecycle.md#pool). */
export const POOL_KEYS = {
  enabled: {
    flag: "pool-enabled", env: "CRABBOX_POOL_ENABLED", default: false, schema: bool, repoMay: false,
    help: "run borrows a ready pool lease first, like run --pool (default false)",
    negativeHelp: "run leases a fresh codespace unless --pool is given",
    docType: "boolean", docDefault: "`false`",
  },
  hydrate: {
    flag: "pool-hydrate", env: "CRABBOX_POOL_HYDRATE", default: "", schema: str, repoMay: true,
    help: "Command prewarm runs on each new pool lease after the sync, e.g. \"npm ci\"", valueHint: "command",
    docType: "shell command", docDefault: "`\"\"` (none)",
  },
  stopIdle: {
    flag: "pool-stop-idle", env: "CRABBOX_POOL_STOP_IDLE", default: false, schema: bool, repoMay: false,
    help: "Stop a pool lease's codespace when a run returns it (default false)",
    negativeHelp: "Leave returned pool leases running (until GitHub's idle timeout)",
    docType: "boolean", docDefault: "`false`",
  },
  maxUses: {
    flag: "pool-max-uses", env: "CRABBOX_POOL_MAX_USES", default: "20", schema: count, count: true, repoMay: false,
    help: "Drain a pool lease after this many runs, 0 = no limit (default 20)", valueHint: "n",
    docType: "whole number", docDefault: "`20` (`0`: no limit)",
  },
  maxAge: {
    flag: "pool-max-age", env: "CRABBOX_POOL_MAX_AGE", default: "12h", schema: duration, ms: true, repoMay: false,
    help: "Drain a pool lease once it is this old (default 12h)", valueHint: "duration",
    docType: "duration", docDefault: "`12h`",
  },
  idleTtl: {
    flag: "pool-idle-ttl", env: "CRABBOX_POOL_IDLE_TTL", default: "2h", schema: duration, ms: true, repoMay: false,
    help: "cleanup drains a ready pool lease unused for this long (default 2h)", valueHint: "duration",
    docType: "duration", docDefault: "`2h`",
  },
} as const satisfies Record<string, KeyRow>;

export type TopKey = keyof typeof TOP_KEYS;
export type GcKey = keyof typeof GC_KEYS;
export type PoolKey = keyof typeof POOL_KEYS;

/** Where a key lives in a file: the top level, `githubCodespaces:` or `pool:`. */
export type KeyGroup = "top" | "githubCodespaces" | "pool";

/** Every row with its dotted key ("provider", "githubCodespaces.repo", "pool.enabled"), in table order. */
export function allKeys(
  top: Record<string, KeyRow> = TOP_KEYS,
  gc: Record<string, KeyRow> = GC_KEYS,
  pool: Record<string, KeyRow> = POOL_KEYS,
): { key: string; name: string; row: KeyRow; group: KeyGroup }[] {
  return [
    ...Object.entries(top).map(([name, row]) => ({ key: name, name, row, group: "top" as const })),
    ...Object.entries(gc).map(([name, row]) => ({ key: `githubCodespaces.${name}`, name, row, group: "githubCodespaces" as const })),
    ...Object.entries(pool).map(([name, row]) => ({ key: `pool.${name}`, name, row, group: "pool" as const })),
  ];
}

/** The value type a row's schema accepts (string or boolean; a count may be written as a number). */
type ValueOf<R> = R extends { schema: typeof bool } ? boolean : R extends { count: true } ? string | number : string;

/** githubCodespaces.* as written in a file (durations still strings). */
export type FileGithubCodespaces = { -readonly [K in GcKey]?: ValueOf<(typeof GC_KEYS)[K]> };

/** The resolved githubCodespaces.* (durations in minutes, as `<key>Minutes`). */
export type GithubCodespacesConfig = {
  -readonly [K in GcKey as (typeof GC_KEYS)[K] extends { minutes: true } ? `${K}Minutes` : K]: (typeof GC_KEYS)[K] extends { minutes: true }
    ? number
    : ValueOf<(typeof GC_KEYS)[K]>;
};

/** pool.* as written in a file. */
export type FilePool = { -readonly [K in PoolKey]?: ValueOf<(typeof POOL_KEYS)[K]> };

/** The resolved pool.* (durations in milliseconds, as `<key>Ms`; counts as numbers). */
export type PoolConfig = {
  -readonly [K in PoolKey as (typeof POOL_KEYS)[K] extends { ms: true } ? `${K}Ms` : K]: (typeof POOL_KEYS)[K] extends { ms: true }
    ? number
    : (typeof POOL_KEYS)[K] extends { count: true } ? number : ValueOf<(typeof POOL_KEYS)[K]>;
};

/** The Config field a nested key resolves to (durations: `<key>Minutes` or `<key>Ms`). */
export function resolvedName(name: string, row: KeyRow): string {
  return row.minutes ? `${name}Minutes` : row.ms ? `${name}Ms` : name;
}

/** Where else a key can be set, for messages: "CRABBOX_X, --x or --y". */
export function whereInstead(row: KeyRow): string {
  const all = [row.env, row.synonym?.env, typeof row.default === "boolean" ? `--[no-]${row.flag}` : `--${row.flag}`, row.globalFlag && `--${row.globalFlag.flag}`];
  const names = all.filter((x): x is string => Boolean(x));
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names.at(-1)}` : names.join("");
}

/** The "## Keys" table of docs/configuration.md, derived from the rows. */
export function docsKeyTable(top: Record<string, KeyRow> = TOP_KEYS, gc: Record<string, KeyRow> = GC_KEYS, pool: Record<string, KeyRow> = POOL_KEYS): string {
  const code = (s: string) => `\`${s}\``;
  const lines = ["| key | type | default | environment variable | flag |", "|---|---|---|---|---|"];
  for (const { key, row } of allKeys(top, gc, pool)) {
    const keyCell = `${code(key)}${row.synonym?.file ? ` (synonym ${code(row.synonym.file)})` : ""}`;
    const env = [row.env, row.synonym?.env].filter((x): x is string => Boolean(x)).map(code).join(", ") || "—";
    const flags = [`--${row.flag}`];
    if (row.default === true || row.default === false) flags.push(`--no-${row.flag}`);
    if (row.synonym?.flag) flags.push(`--${row.synonym.flag}`);
    if (row.globalFlag) flags.push(`--${row.globalFlag.flag}`);
    lines.push(`| ${keyCell} | ${row.docType} | ${row.docDefault} | ${env} | ${flags.map(code).join(", ")} |`);
  }
  return lines.join("\n");
}
