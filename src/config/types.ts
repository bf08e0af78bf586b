/** The resolved configuration every command works from. */
import type { GithubCodespacesConfig, PoolConfig } from "./keys.ts";

export type { GithubCodespacesConfig, PoolConfig };

export interface Config {
  provider: "github-codespaces";
  target: "linux";
  class: string;
  githubCodespaces: GithubCodespacesConfig;
  /** The ready pool (pool.* keys). */
  pool: PoolConfig;
  /** `shard.maxCount`: the most shards one `shard` may fan out to (default 8; a repository's file may only lower it). */
  shard: { maxCount: number };
  /** Where each value came from, for `doctor` and --verbose: Config field path -> source. */
  sources: Record<string, ConfigSource>;
  /** Field path -> the file, variable or flag that set it (absent for defaults). */
  origins: Record<string, string>;
  /** Warnings produced while loading (e.g. untrusted keys ignored). */
  warnings: string[];
  /** The config files that were read (null = none). Set by loadConfig. */
  files?: { repo: string | null; user: string | null };
}

export type ConfigSource = "default" | "repo" | "user" | "env" | "flag";
