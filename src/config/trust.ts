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
import { GC_KEYS, type GcKey, POOL_KEYS, type PoolKey, whereInstead } from "./keys.ts";
import type { ConfigLayer, FileGithubCodespaces } from "./schema.ts";

/** githubCodespaces.* keys a repository-local file may not set (rows with repoMay: false). */
export const UNTRUSTED_REPO_KEYS = (Object.keys(GC_KEYS) as GcKey[]).filter((k) => !GC_KEYS[k].repoMay);

/** pool.* keys a repository-local file may not set: they decide how long codespaces billed to you are kept. */
export const UNTRUSTED_POOL_KEYS = (Object.keys(POOL_KEYS) as PoolKey[]).filter((k) => !POOL_KEYS[k].repoMay);

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
  const trusted = trustPool(layer, file, userConfigHint, warnings);
  const gc = trusted.githubCodespaces;
  if (!gc) return { layer: trusted, warnings };
  const kept: FileGithubCodespaces = { ...gc };
  for (const key of UNTRUSTED_REPO_KEYS) {
    if (kept[key] === undefined) continue;
    delete kept[key];
    const synonym = (GC_KEYS[key] as { synonym?: { file?: string } }).synonym?.file;
    const spelled = synonym && rawKeys.includes(synonym) && !rawKeys.includes(key) ? synonym : key;
    warnings.push(
      `ignored githubCodespaces.${spelled} in ${file}: a repository's own config file cannot set it (trust rule); ` +
        `set it in ${userConfigHint}, ${whereInstead(GC_KEYS[key])}`,
    );
  }
  const out: ConfigLayer = { ...trusted };
  if (Object.keys(kept).length > 0) out.githubCodespaces = kept;
  else delete out.githubCodespaces;
  return { layer: out, warnings };
}

function trustPool(layer: ConfigLayer, file: string, userConfigHint: string, warnings: string[]): ConfigLayer {
  if (!layer.pool) return layer;
  const kept = { ...layer.pool };
  for (const key of UNTRUSTED_POOL_KEYS) {
    if (kept[key] === undefined) continue;
    delete kept[key];
    warnings.push(
      `ignored pool.${key} in ${file}: a repository's own config file cannot set it (trust rule); set it in ${userConfigHint}, ${whereInstead(POOL_KEYS[key])}`,
    );
  }
  const out: ConfigLayer = { ...layer };
  if (Object.keys(kept).length > 0) out.pool = kept;
  else delete out.pool;
  return out;
}
