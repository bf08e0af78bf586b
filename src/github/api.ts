/**
 * The Codespaces API as the product uses it: a narrow port over the
 * endpoint functions of operations.ts, bound to one GithubClient (ofetch).
 * Lifecycle code calls it through `svc.api()`; unit tests pass an in-memory
 * fake (tests/unit/helpers/fakes.ts).
 */
import type { GithubClient } from "./client.ts";
import * as ops from "./operations.ts";
import type {
  Codespace,
  CreateCodespaceBody,
  CreatePullRequestCodespaceBody,
  MachineList,
  PermissionsCheck,
  RepoDefaults,
  Repository,
  SimpleUser,
} from "./schemas.ts";

export interface CodespacesApi {
  /** GET /user */
  authenticatedUser(): Promise<SimpleUser>;
  getRepository(repo: string): Promise<Repository>;
  getRepoDefaults(repo: string, opts?: { ref?: string }): Promise<RepoDefaults>;
  listRepoMachines(repo: string, opts?: { ref?: string }): Promise<MachineList>;
  checkPermissions(repo: string, opts: { ref: string; devcontainerPath: string }): Promise<PermissionsCheck>;
  listMyCodespaces(): Promise<Codespace[]>;
  listRepoCodespaces(repo: string): Promise<Codespace[]>;
  /** null when GitHub answers 404 (gone, or never existed). */
  getCodespaceOrNull(name: string): Promise<Codespace | null>;
  /** Never retried: a lost answer raises `create_outcome_unknown`. */
  createCodespace(repo: string, body: CreateCodespaceBody): Promise<Codespace>;
  createPullRequestCodespace(repo: string, pullNumber: number, body: CreatePullRequestCodespaceBody): Promise<Codespace>;
  startCodespace(name: string): Promise<Codespace>;
  stopCodespace(name: string): Promise<Codespace>;
  /** Asynchronous on GitHub's side: confirm with getCodespaceOrNull → null. */
  deleteCodespace(name: string): Promise<number>;
}

export function codespacesApi(client: GithubClient): CodespacesApi {
  return {
    authenticatedUser: () => ops.getAuthenticatedUser(client),
    getRepository: (repo) => ops.getRepository(client, repo),
    getRepoDefaults: (repo, opts) => ops.getRepoDefaults(client, repo, opts),
    listRepoMachines: (repo, opts) => ops.listRepoMachines(client, repo, opts),
    checkPermissions: (repo, opts) => ops.checkPermissions(client, repo, opts),
    listMyCodespaces: () => ops.listMyCodespaces(client),
    listRepoCodespaces: (repo) => ops.listRepoCodespaces(client, repo),
    getCodespaceOrNull: (name) => ops.getCodespaceOrNull(client, name),
    createCodespace: (repo, body) => ops.createCodespace(client, repo, body),
    createPullRequestCodespace: (repo, pr, body) => ops.createPullRequestCodespace(client, repo, pr, body),
    startCodespace: (name) => ops.startCodespace(client, name),
    stopCodespace: (name) => ops.stopCodespace(client, name),
    deleteCodespace: (name) => ops.deleteCodespace(client, name),
  };
}
