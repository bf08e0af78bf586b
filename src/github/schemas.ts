/**
 * valibot schemas for the GitHub Codespaces REST API responses we read, field
 * for field after /work/shared/api.md (REST API version 2022-11-28).
 *
 * `v.object` strips unknown keys instead of failing, so GitHub adding a field
 * never breaks us; a missing required field or a wrong type does (api_shape).
 *
 * Deliberate leniencies (each checked against GitHub's own documented examples):
 * - `Codespace.pulls_url` is required in the OpenAPI schema, but GitHub's own
 *   "list codespaces" example omits it; we never use it, so it is nullish.
 * - `Machine.prebuild_availability` is absent from GitHub's machine examples;
 *   nullish, and any string is accepted (new values must not break listing).
 * - `Codespace.state` and `Codespace.location` are plain strings: GitHub
 *   documents enums, but an unknown value must parse (see `isKnownState`).
 */
import * as v from "valibot";

export const SimpleUser = v.object({
  login: v.string(),
  id: v.number(),
  type: v.optional(v.string()),
  name: v.nullish(v.string()),
});
export type SimpleUser = v.InferOutput<typeof SimpleUser>;

/** Who is asking: the authenticated user, as far as a lease cares. */
export interface GithubUser {
  login: string;
  id: number;
}

const Owner = v.object({ login: v.string(), id: v.number() });

export const MinimalRepository = v.object({
  id: v.number(),
  name: v.string(),
  full_name: v.string(),
  owner: Owner,
  private: v.boolean(),
  html_url: v.optional(v.string()),
  default_branch: v.optional(v.string()),
});
export type MinimalRepository = v.InferOutput<typeof MinimalRepository>;

export const Machine = v.object({
  name: v.string(),
  display_name: v.string(),
  operating_system: v.string(),
  storage_in_bytes: v.number(),
  memory_in_bytes: v.number(),
  cpus: v.number(),
  /** Documented values: "none" | "ready" | "in_progress" | null. */
  prebuild_availability: v.nullish(v.string()),
});
export type Machine = v.InferOutput<typeof Machine>;

// The documented states live with their classification (states.ts), which the warm path loads
// without these schemas.
export { CODESPACE_STATES, type CodespaceState, isKnownState } from "./states.ts";

export const GitStatus = v.object({
  ahead: v.optional(v.number()),
  behind: v.optional(v.number()),
  has_unpushed_changes: v.optional(v.boolean()),
  has_uncommitted_changes: v.optional(v.boolean()),
  ref: v.optional(v.string()),
});
export type GitStatus = v.InferOutput<typeof GitStatus>;

export const Codespace = v.object({
  id: v.number(),
  name: v.string(),
  display_name: v.nullish(v.string()),
  environment_id: v.nullable(v.string()),
  owner: SimpleUser,
  billable_owner: SimpleUser,
  repository: MinimalRepository,
  machine: v.nullable(Machine),
  devcontainer_path: v.nullish(v.string()),
  prebuild: v.nullable(v.boolean()),
  created_at: v.string(),
  updated_at: v.string(),
  last_used_at: v.string(),
  state: v.string(),
  url: v.string(),
  git_status: GitStatus,
  location: v.string(),
  idle_timeout_minutes: v.nullable(v.number()),
  web_url: v.string(),
  machines_url: v.string(),
  start_url: v.string(),
  stop_url: v.string(),
  publish_url: v.nullish(v.string()),
  pulls_url: v.nullish(v.string()),
  recent_folders: v.array(v.string()),
  runtime_constraints: v.optional(
    v.object({ allowed_port_privacy_settings: v.nullish(v.array(v.string())) }),
  ),
  pending_operation: v.nullish(v.boolean()),
  pending_operation_disabled_reason: v.nullish(v.string()),
  idle_timeout_notice: v.nullish(v.string()),
  retention_period_minutes: v.nullish(v.number()),
  retention_expires_at: v.nullish(v.string()),
  last_known_stop_notice: v.nullish(v.string()),
});
export type Codespace = v.InferOutput<typeof Codespace>;

export const CodespaceList = v.object({
  total_count: v.number(),
  codespaces: v.array(Codespace),
});
export type CodespaceList = v.InferOutput<typeof CodespaceList>;

export const MachineList = v.object({
  total_count: v.number(),
  machines: v.array(Machine),
});
export type MachineList = v.InferOutput<typeof MachineList>;

export const RepoDefaults = v.object({
  billable_owner: SimpleUser,
  defaults: v.object({
    location: v.string(),
    devcontainer_path: v.nullable(v.string()),
  }),
});
export type RepoDefaults = v.InferOutput<typeof RepoDefaults>;

export const PermissionsCheck = v.object({ accepted: v.boolean() });
export type PermissionsCheck = v.InferOutput<typeof PermissionsCheck>;

export const Devcontainer = v.object({
  path: v.string(),
  name: v.optional(v.string()),
  display_name: v.optional(v.string()),
});
export type Devcontainer = v.InferOutput<typeof Devcontainer>;

export const DevcontainerList = v.object({
  total_count: v.number(),
  devcontainers: v.array(Devcontainer),
});
export type DevcontainerList = v.InferOutput<typeof DevcontainerList>;

export const Repository = v.object({
  id: v.number(),
  name: v.string(),
  full_name: v.string(),
  private: v.boolean(),
  default_branch: v.string(),
  owner: Owner,
  html_url: v.optional(v.string()),
});
export type Repository = v.InferOutput<typeof Repository>;

/** One entry of a 422's `errors[]`: an object or, on some endpoints, a bare string. */
export const ApiErrorDetail = v.union([
  v.string(),
  v.object({
    resource: v.optional(v.string()),
    field: v.optional(v.string()),
    code: v.optional(v.string()),
    message: v.optional(v.string()),
  }),
]);
export type ApiErrorDetail = v.InferOutput<typeof ApiErrorDetail>;

export const ApiErrorBody = v.object({
  message: v.string(),
  documentation_url: v.optional(v.string()),
  errors: v.optional(v.array(ApiErrorDetail)),
  status: v.optional(v.union([v.string(), v.number()])),
});
export type ApiErrorBody = v.InferOutput<typeof ApiErrorBody>;

/** Body of `POST /repos/{owner}/{repo}/codespaces` (api.md). Only defined fields are sent. */
export interface CreateCodespaceBody {
  ref?: string;
  location?: string;
  geo?: string;
  client_ip?: string;
  machine?: string;
  devcontainer_path?: string;
  multi_repo_permissions_opt_out?: boolean;
  working_directory?: string;
  idle_timeout_minutes?: number;
  display_name?: string;
  retention_period_minutes?: number;
}

/** Body of `POST /repos/{owner}/{repo}/pulls/{pull_number}/codespaces`: the same minus `ref`. */
export type CreatePullRequestCodespaceBody = Omit<CreateCodespaceBody, "ref">;

