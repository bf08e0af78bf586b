/**
 * The trust rule. A repository's own `.crabbox.yaml` comes with the code you
 * cloned: anyone who can push to the repository wrote it. It may describe the
 * workspace (ref, devcontainer, work root) but must not choose which
 * repository we create codespaces in, which API host receives our token, which
 * program we execute locally, which machine type you pay for, or how long a
 * codespace (billed to you) lives and whether it is deleted. Those keys are
 * ignored with a warning. (The file itself is read as YAML data only, never
 * through a link: see readYamlFile in load.ts.)
 */
import type { ConfigLayer, FileGithubCodespaces } from "./schema.ts";

/** githubCodespaces.* keys a repository-local file may not set. */
export const UNTRUSTED_REPO_KEYS: readonly (keyof FileGithubCodespaces)[] = [
  "repo",
  "apiUrl",
  "ghPath",
  "machine",
  "idleTimeout",
  "retentionPeriod",
  "deleteOnRelease",
];

const WHERE_INSTEAD: Record<string, string> = {
  repo: "CRABBOX_GITHUB_CODESPACES_REPO or --github-codespaces-repo",
  apiUrl: "CRABBOX_GITHUB_CODESPACES_API_URL or --github-codespaces-api-url",
  ghPath: "CRABBOX_GITHUB_CODESPACES_GH_PATH or --github-codespaces-gh-path",
  machine: "CRABBOX_GITHUB_CODESPACES_MACHINE, --github-codespaces-machine or --type",
  idleTimeout: "CRABBOX_GITHUB_CODESPACES_IDLE_TIMEOUT or --github-codespaces-idle-timeout",
  retentionPeriod: "CRABBOX_GITHUB_CODESPACES_RETENTION_PERIOD or --github-codespaces-retention-period",
  deleteOnRelease: "CRABBOX_GITHUB_CODESPACES_DELETE_ON_RELEASE or --[no-]github-codespaces-delete-on-release",
};

/**
 * Drop the keys a repository-local file may not set. Returns the trusted
 * layer and one warning per dropped key, naming the key and the file.
 * `rawKeys` lets the warning use the spelling found in the file (gh vs ghPath).
 */
export function applyTrustRule(
  layer: ConfigLayer,
  file: string,
  userConfigHint = "your user config file",
  rawKeys: readonly string[] = [],
): { layer: ConfigLayer; warnings: string[] } {
  const warnings: string[] = [];
  const gc = layer.githubCodespaces;
  if (!gc) return { layer, warnings };
  const kept: FileGithubCodespaces = { ...gc };
  for (const key of UNTRUSTED_REPO_KEYS) {
    if (kept[key] === undefined) continue;
    delete kept[key];
    const spelled = key === "ghPath" && rawKeys.includes("gh") && !rawKeys.includes("ghPath") ? "gh" : key;
    warnings.push(
      `ignored githubCodespaces.${spelled} in ${file}: a repository's own config file cannot set it (trust rule); ` +
        `set it in ${userConfigHint}, ${WHERE_INSTEAD[key]}`,
    );
  }
  const out: ConfigLayer = { ...layer };
  if (Object.keys(kept).length > 0) out.githubCodespaces = kept;
  else delete out.githubCodespaces;
  return { layer: out, warnings };
}
