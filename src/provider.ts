/**
 * The provider we are, and the other names that mean the same (config `provider`, CRABBOX_PROVIDER).
 * Its own module: a claim names it, and reading a claim must not load the configuration's key table.
 */
export const PROVIDER = "github-codespaces" as const;
export const PROVIDER_NAMES = [PROVIDER, "codespaces", "gh-codespaces"] as const;
