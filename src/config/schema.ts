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
import * as v from "valibot";
import { CrabboxError, Exit } from "../errors.ts";
import { looksLikeToken } from "../redact.ts";
import { DurationError, parseDuration } from "./duration.ts";

/** githubCodespaces.* as written in a file (durations still strings). */
export interface FileGithubCodespaces {
  repo?: string;
  ref?: string;
  machine?: string;
  devcontainerPath?: string;
  workingDirectory?: string;
  geo?: string;
  idleTimeout?: string;
  retentionPeriod?: string;
  deleteOnRelease?: boolean;
  ghPath?: string;
  workRoot?: string;
  apiUrl?: string;
}

/** One layer of configuration: a file, the environment, or the flags. */
export interface ConfigLayer {
  provider?: string;
  target?: string;
  class?: string;
  githubCodespaces?: FileGithubCodespaces;
}

function durationProblem(input: unknown): string {
  try {
    parseDuration(String(input));
    return "is not a valid duration";
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
    v.check((s) => {
      try {
        parseDuration(s);
        return true;
      } catch {
        return false;
      }
    }, (issue) => durationProblem(issue.input)),
  ),
);
const bool = v.nullish(v.boolean("must be true or false (unquoted)"));

export const githubCodespacesFileSchema = v.object(
  {
    repo: str,
    ref: str,
    machine: str,
    devcontainerPath: str,
    workingDirectory: str,
    geo: str,
    idleTimeout: duration,
    retentionPeriod: duration,
    deleteOnRelease: bool,
    ghPath: str,
    /** The seed's short name; a synonym of ghPath. */
    gh: str,
    workRoot: str,
    apiUrl: str,
  },
  "must be a mapping (repo: ..., ref: ..., on their own indented lines)",
);

export const fileConfigSchema = v.object(
  {
    provider: str,
    target: str,
    class: str,
    githubCodespaces: v.nullish(githubCodespacesFileSchema),
  },
  "must be a YAML mapping (key: value)",
);

export const TOP_LEVEL_KEYS = Object.keys(fileConfigSchema.entries);
export const GITHUB_CODESPACES_KEYS = Object.keys(githubCodespacesFileSchema.entries);

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

  const out = result.output;
  const layer: ConfigLayer = {};
  if (out.provider != null) layer.provider = out.provider;
  if (out.target != null) layer.target = out.target;
  if (out.class != null) layer.class = out.class;
  if (out.githubCodespaces) {
    const { gh, ...rest } = out.githubCodespaces;
    const gc: FileGithubCodespaces = {};
    for (const [k, val] of Object.entries(rest)) {
      if (val !== null && val !== undefined) (gc as Record<string, unknown>)[k] = val;
    }
    if (gh != null) {
      if (gc.ghPath !== undefined && gc.ghPath !== gh) {
        throw configError(file, "githubCodespaces.gh", "and githubCodespaces.ghPath are both set and differ", `keep only githubCodespaces.ghPath in ${file}`);
      }
      gc.ghPath = gh;
    }
    if (Object.keys(gc).length > 0) layer.githubCodespaces = gc;
  }
  return { layer, warnings };
}

/** Every configurable key: file key, env var, flag, default (as a string). For docs and doctor. */
export const CONFIG_KEYS = [
  { key: "provider", env: "CRABBOX_PROVIDER", flag: "--provider", default: "github-codespaces" },
  { key: "target", env: null, flag: "--target", default: "linux" },
  { key: "class", env: null, flag: "--class", default: "standard" },
  { key: "githubCodespaces.repo", env: "CRABBOX_GITHUB_CODESPACES_REPO", flag: "--github-codespaces-repo", default: "" },
  { key: "githubCodespaces.ref", env: "CRABBOX_GITHUB_CODESPACES_REF", flag: "--github-codespaces-ref", default: "" },
  { key: "githubCodespaces.machine", env: "CRABBOX_GITHUB_CODESPACES_MACHINE", flag: "--github-codespaces-machine, --type", default: "" },
  { key: "githubCodespaces.devcontainerPath", env: "CRABBOX_GITHUB_CODESPACES_DEVCONTAINER_PATH", flag: "--github-codespaces-devcontainer-path", default: "" },
  { key: "githubCodespaces.workingDirectory", env: "CRABBOX_GITHUB_CODESPACES_WORKING_DIRECTORY", flag: "--github-codespaces-working-directory", default: "" },
  { key: "githubCodespaces.geo", env: "CRABBOX_GITHUB_CODESPACES_GEO", flag: "--github-codespaces-geo", default: "" },
  { key: "githubCodespaces.idleTimeout", env: "CRABBOX_GITHUB_CODESPACES_IDLE_TIMEOUT", flag: "--github-codespaces-idle-timeout", default: "30m" },
  { key: "githubCodespaces.retentionPeriod", env: "CRABBOX_GITHUB_CODESPACES_RETENTION_PERIOD", flag: "--github-codespaces-retention-period", default: "1h" },
  { key: "githubCodespaces.deleteOnRelease", env: "CRABBOX_GITHUB_CODESPACES_DELETE_ON_RELEASE", flag: "--github-codespaces-delete-on-release", default: "true" },
  { key: "githubCodespaces.ghPath", env: "CRABBOX_GITHUB_CODESPACES_GH_PATH, CRABBOX_GITHUB_CODESPACES_GH", flag: "--github-codespaces-gh-path, --github-codespaces-gh", default: "gh" },
  { key: "githubCodespaces.workRoot", env: "CRABBOX_GITHUB_CODESPACES_WORK_ROOT", flag: "--github-codespaces-work-root", default: "" },
  { key: "githubCodespaces.apiUrl", env: "CRABBOX_GITHUB_CODESPACES_API_URL", flag: "--github-codespaces-api-url", default: "https://api.github.com" },
] as const;
