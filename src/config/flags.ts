/**
 * Command-line flags shared by every command, the mapping from parsed flags to
 * a config layer, and the unknown-flag check citty does not do itself.
 *
 * citty 0.2.2 facts this module relies on (node_modules/citty/dist/index.mjs):
 * - every arg name is also reachable in camelCase and kebab-case;
 * - `--no-X` is stripped before parsing and sets X (and its aliases) to false,
 *   whatever X's type;
 * - a string flag without a value becomes "" (and otherwise consumes the next
 *   argument, even one starting with "-"); a boolean flag given "=false" is false;
 * - unknown flags are silently accepted; parsing stops at a bare "--".
 */
import type { ArgDef, ArgsDef } from "citty";
import { CrabboxError, Exit } from "../errors.ts";
import type { ConfigLayer, FileGithubCodespaces } from "./schema.ts";

/** Provider names we answer to; all mean the same provider. */
export const PROVIDER_NAMES = ["github-codespaces", "codespaces", "gh-codespaces"] as const;
export const PROVIDER = "github-codespaces" as const;

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

export const globalArgs = {
  json: { type: "boolean", description: "Print exactly one JSON document on stdout" },
  verbose: { type: "boolean", description: "Show more detail on stderr (config sources, API calls)" },
  quiet: { type: "boolean", description: "Only print errors on stderr" },
  provider: {
    type: "string",
    description: `Provider: ${PROVIDER_NAMES.join(", ")} (all the same; default github-codespaces)`,
    valueHint: "name",
  },
  target: { type: "string", description: "Target OS; only linux is supported", valueHint: "os" },
  class: { type: "string", description: "Machine class (default standard)", valueHint: "class" },
  type: {
    type: "string",
    description: "Exact machine type, e.g. basicLinux32gb (same as --github-codespaces-machine)",
    valueHint: "machine",
  },
} as const satisfies ArgsDef;

export const providerArgs = {
  "github-codespaces-repo": {
    type: "string",
    description: "Repository owner/name to create codespaces in (default: this checkout's GitHub remote)",
    valueHint: "owner/name",
  },
  "github-codespaces-ref": {
    type: "string",
    description: "Branch or ref to create the codespace from (default: the repository's default branch)",
    valueHint: "ref",
  },
  "github-codespaces-machine": {
    type: "string",
    description: "Machine type, e.g. basicLinux32gb (default: the smallest the repository offers)",
    valueHint: "machine",
  },
  "github-codespaces-devcontainer-path": {
    type: "string",
    description: "Path of the devcontainer.json to use, e.g. .devcontainer/crabbox/devcontainer.json",
    valueHint: "path",
  },
  "github-codespaces-working-directory": {
    type: "string",
    description: "Working directory of the codespace",
    valueHint: "path",
  },
  "github-codespaces-geo": {
    type: "string",
    description: "Requested geographic area: EuropeWest, SoutheastAsia, UsEast, UsWest",
    valueHint: "geo",
  },
  "github-codespaces-idle-timeout": {
    type: "string",
    description: "Stop the codespace after this much inactivity, 5m..240m (default 30m)",
    valueHint: "duration",
  },
  "github-codespaces-retention-period": {
    type: "string",
    description: "Delete a stopped codespace after this long, 0..720h (default 1h)",
    valueHint: "duration",
  },
  "github-codespaces-delete-on-release": {
    type: "boolean",
    description: "Delete the codespace on release when it has no unsaved work (default true)",
    negativeDescription: "Only stop the codespace on release; keep it for reuse",
  },
  "github-codespaces-gh": {
    type: "string",
    description: "Path of the GitHub CLI executable (default gh on PATH)",
    valueHint: "path",
  },
  "github-codespaces-gh-path": {
    type: "string",
    description: "Same as --github-codespaces-gh",
    valueHint: "path",
  },
  "github-codespaces-work-root": {
    type: "string",
    description: "Remote directory the working tree is synced to (default /workspaces/.crabbox/<repo-name>)",
    valueHint: "path",
  },
  "github-codespaces-api-url": {
    type: "string",
    description: "GitHub REST API base URL (default https://api.github.com)",
    valueHint: "url",
  },
} as const satisfies ArgsDef;

/** Both sets together, for commands that take everything. */
export const configArgs = { ...globalArgs, ...providerArgs } as const satisfies ArgsDef;

/** Provider flag (kebab, without the prefix) -> file key under githubCodespaces. */
const PROVIDER_FLAG_KEYS: Record<string, keyof FileGithubCodespaces> = {
  repo: "repo",
  ref: "ref",
  machine: "machine",
  "devcontainer-path": "devcontainerPath",
  "working-directory": "workingDirectory",
  geo: "geo",
  "idle-timeout": "idleTimeout",
  "retention-period": "retentionPeriod",
  "delete-on-release": "deleteOnRelease",
  gh: "ghPath",
  "gh-path": "ghPath",
  "work-root": "workRoot",
  "api-url": "apiUrl",
};

export function kebabToCamel(name: string): string {
  return name.replace(/-+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function camelToKebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1-$2")
    .toLowerCase();
}

/** Read a parsed arg by its kebab name, also trying its camelCase form. */
function readArg(args: Record<string, unknown>, name: string): unknown {
  const v = args[name];
  if (v !== undefined) return v;
  return args[kebabToCamel(name)];
}

function readString(args: Record<string, unknown>, name: string): string | undefined {
  const v = readArg(args, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (Array.isArray(v)) {
    // citty keeps the last value of a repeated flag; a raw object might carry all of them.
    const last = v[v.length - 1];
    return typeof last === "string" ? last : undefined;
  }
  if (v === false) {
    throw new CrabboxError({
      code: "usage",
      message: `--no-${name} is not a flag`,
      why: `--${name} takes a value; it cannot be negated`,
      hint: `to clear it, pass --${name}=""`,
      exit: Exit.usage,
    });
  }
  return String(v);
}

/**
 * Map parsed citty args (from globalArgs/providerArgs) to a config layer with
 * the file schema's shape. Only flags actually given appear. Throws exit 2 for
 * an unknown provider, or when --type and --github-codespaces-machine disagree.
 */
export function flagOverrides(args: Record<string, unknown>): ConfigLayer {
  const layer: ConfigLayer = {};
  const provider = readString(args, "provider");
  if (provider !== undefined) layer.provider = normalizeProvider(provider, "--provider");
  const target = readString(args, "target");
  if (target !== undefined) layer.target = target;
  const cls = readString(args, "class");
  if (cls !== undefined) layer.class = cls;

  const gc: FileGithubCodespaces = {};
  for (const [suffix, key] of Object.entries(PROVIDER_FLAG_KEYS)) {
    const flag = `github-codespaces-${suffix}`;
    if (key === "deleteOnRelease") {
      const v = readArg(args, flag);
      if (v === undefined || v === null) continue;
      gc.deleteOnRelease = typeof v === "string" ? !/^(false|0|no)$/i.test(v) : Boolean(v);
      continue;
    }
    const v = readString(args, flag);
    if (v === undefined) continue;
    const previous = gc[key];
    if (key === "ghPath" && typeof previous === "string" && previous !== v) {
      throw new CrabboxError({
        code: "usage",
        message: "--github-codespaces-gh and --github-codespaces-gh-path disagree",
        why: `one says ${JSON.stringify(previous)}, the other ${JSON.stringify(v)}`,
        hint: "pass only one of them",
        exit: Exit.usage,
      });
    }
    (gc as Record<string, unknown>)[key] = v;
  }

  const type = readString(args, "type");
  if (type !== undefined) {
    if (gc.machine === undefined) gc.machine = type;
    else if (gc.machine !== type) {
      throw new CrabboxError({
        code: "usage",
        message: "--type and --github-codespaces-machine disagree",
        why: `--type ${JSON.stringify(type)} vs --github-codespaces-machine ${JSON.stringify(gc.machine)}`,
        hint: "pass only one of them",
        exit: Exit.usage,
      });
    }
  }
  if (Object.keys(gc).length > 0) layer.githubCodespaces = gc;
  return layer;
}

interface FlagInfo {
  /** Canonical spelling for messages, e.g. "--github-codespaces-repo" or "-j". */
  display: string;
  type: "boolean" | "string";
}

function flagTable(argsDef: ArgsDef): { long: Map<string, FlagInfo>; short: Map<string, FlagInfo> } {
  const long = new Map<string, FlagInfo>();
  const short = new Map<string, FlagInfo>();
  for (const [name, def] of Object.entries(argsDef) as [string, ArgDef][]) {
    if (def.type === "positional") continue;
    const info: FlagInfo = { display: `--${name}`, type: def.type === "boolean" ? "boolean" : "string" };
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    for (const n of [name, kebabToCamel(name), camelToKebab(name)]) if (!long.has(n)) long.set(n, info);
    for (const a of aliases) {
      if (a.length === 1) short.set(a, info);
      else for (const n of [a, kebabToCamel(a), camelToKebab(a)]) if (!long.has(n)) long.set(n, info);
    }
  }
  // citty's built-in help flag is always answered before a command runs.
  if (!long.has("help")) long.set("help", { display: "--help", type: "boolean" });
  if (!short.has("h")) short.set("h", { display: "-h", type: "boolean" });
  return { long, short };
}

function unknownFlag(flag: string, suggestion: string | undefined, extra?: string): CrabboxError {
  return new CrabboxError({
    code: "unknown_flag",
    message: `unknown flag ${flag}`,
    why: extra,
    hint: suggestion
      ? `did you mean ${suggestion}?`
      : "run with --help to list the flags; put a remote command's own flags after --",
    exit: Exit.usage,
    details: { flag, ...(suggestion ? { suggestion } : {}) },
  });
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

function suggest(name: string, long: Map<string, FlagInfo>): string | undefined {
  const lower = camelToKebab(name);
  let best: { display: string; d: number } | undefined;
  const seen = new Set<string>();
  for (const info of long.values()) {
    if (seen.has(info.display)) continue;
    seen.add(info.display);
    const candidate = info.display.slice(2);
    let d = editDistance(lower, candidate);
    // "--repo" for "--github-codespaces-repo": a suffix after the prefix counts as close.
    if (candidate.endsWith(`-${lower}`) && lower.length >= 3) d = Math.min(d, 1);
    if (!best || d < best.d) best = { display: info.display, d };
  }
  if (!best) return undefined;
  const limit = Math.max(2, Math.floor(lower.length / 4));
  return best.d <= limit ? best.display : undefined;
}

/**
 * Refuse flags the command does not define (exit 2), mirroring how citty
 * parses: `--flag`, `--flag=value`, `--flag value` (a string flag consumes the
 * next argument), `--no-flag` (booleans only), camelCase spellings, short
 * aliases (`-x`, grouped `-xy`). Stops at a bare `--`. A string flag given as
 * the last argument with no value is also refused.
 */
export function checkUnknownFlags(rawArgs: readonly string[], argsDef: ArgsDef): void {
  const { long, short } = flagTable(argsDef);
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") return;
    if (arg === "-" || !arg.startsWith("-")) continue;

    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      const hasValue = eq !== -1;
      const info = long.get(name);
      if (info) {
        if (info.type === "string" && !hasValue) {
          if (i + 1 >= rawArgs.length || rawArgs[i + 1] === "--") {
            throw new CrabboxError({
              code: "usage",
              message: `flag ${info.display} needs a value`,
              hint: `${info.display} <value> or ${info.display}=<value>`,
              exit: Exit.usage,
            });
          }
          i++; // the value, whatever it looks like
        }
        continue;
      }
      // citty strips "--no-" first, whatever follows.
      if (name.startsWith("no-") || /^no[A-Z]/.test(name)) {
        const base = name.startsWith("no-") ? name.slice(3) : name[2]!.toLowerCase() + name.slice(3);
        const baseInfo = long.get(base);
        if (baseInfo?.type === "boolean" && !hasValue) continue;
        if (baseInfo) {
          throw unknownFlag(`--${name}`, undefined, `${baseInfo.display} takes a value; only on/off flags have a --no- form`);
        }
      }
      throw unknownFlag(`--${name}`, suggest(name, long));
    }

    // Short flags: "-x", "-xy" (grouped), "-xvalue" for a string short.
    const letters = arg.slice(1);
    for (let k = 0; k < letters.length; k++) {
      const ch = letters[k]!;
      const info = short.get(ch);
      if (!info) throw unknownFlag(`-${ch}`, long.has(ch) ? `--${ch}` : undefined);
      if (info.type === "string") {
        if (k === letters.length - 1) {
          if (i + 1 >= rawArgs.length || rawArgs[i + 1] === "--") {
            throw new CrabboxError({
              code: "usage",
              message: `flag -${ch} (${info.display}) needs a value`,
              exit: Exit.usage,
            });
          }
          i++;
        }
        break; // the rest of the group is the value
      }
    }
  }
}
