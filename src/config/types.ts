/** The resolved configuration every command works from. */
export interface GithubCodespacesConfig {
  /** owner/name; "" = from the current directory's GitHub remote. */
  repo: string;
  /** Branch or ref; "" = repository default branch. */
  ref: string;
  /** Machine type name, e.g. basicLinux32gb; "" = smallest offered. */
  machine: string;
  devcontainerPath: string;
  workingDirectory: string;
  geo: string;
  /** Minutes. */
  idleTimeoutMinutes: number;
  /** Minutes. */
  retentionPeriodMinutes: number;
  deleteOnRelease: boolean;
  ghPath: string;
  /** Remote sync root; "" = /workspaces/.crabbox/<repo-name>. */
  workRoot: string;
  /** REST base URL, no trailing slash. */
  apiUrl: string;
}

export interface Config {
  provider: "github-codespaces";
  target: "linux";
  class: string;
  githubCodespaces: GithubCodespacesConfig;
  /** Where each value came from, for `doctor` and --verbose: key -> source. */
  sources: Record<string, ConfigSource>;
  /** Warnings produced while loading (e.g. untrusted keys ignored). */
  warnings: string[];
  /** The config files that were read (null = none). Set by loadConfig. */
  files?: { repo: string | null; user: string | null };
}

export type ConfigSource = "default" | "repo" | "user" | "env" | "flag";
