/**
 * In-memory fakes of the lifecycle's ports (not a test file): a Codespaces
 * API over a Map, a gh that must not be called, and Services over a real
 * claim store in a temporary home. No HTTP, no ssh.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Context } from "../../../src/context.ts";
import type { Config } from "../../../src/config/types.ts";
import type { Gh } from "../../../src/gh/gh.ts";
import type { CodespacesApi } from "../../../src/github/api.ts";
import type { Codespace, GithubUser } from "../../../src/github/schemas.ts";
import type { Claim } from "../../../src/leases/claim.ts";
import { newClaim, bindCodespace } from "../../../src/lifecycle/claims.ts";
import { createServices, type Services } from "../../../src/lifecycle/services.ts";
import { createLogger } from "../../../src/output/log.ts";
import { createRuntime } from "../../../src/runtime.ts";

export const API_URL = "https://api.github.com";
export const ME: GithubUser = { login: "octocat", id: 1 };

const EXAMPLE = JSON.parse(readFileSync(join(import.meta.dir, "../../../fixtures/api/github-example-codespace.json"), "utf8")) as Codespace;

/** GitHub's documented example codespace, with overrides. */
export function codespace(o: Partial<Codespace> = {}): Codespace {
  return { ...structuredClone(EXAMPLE), ...o };
}

/** A claim bound to `cs`, made by ME through API_URL. */
export function claimFor(cs: Codespace | null, o: Partial<Claim> = {}): Claim {
  return {
    ...newClaim({
      leaseId: "cbx_aaaaaaaaaaaa",
      slug: "brave-crab",
      state: "ready",
      now: Date.parse("2026-12-01T11:00:00Z"),
      expiresAt: "2026-12-01T11:30:00Z",
      ttlMs: 30 * 60_000,
      keep: false,
      apiUrl: API_URL,
      me: ME,
      repo: "octocat/Hello-World",
      ref: "main",
      pr: null,
      machine: "standardLinux",
      devcontainerPath: "",
      workingDirectory: "",
      workRoot: "/workspaces/.crabbox/Hello-World",
      deleteOnRelease: true,
      recovery: { nonce: "abcdefgh", displayName: "crabbox brave-crab abcdefgh" },
      codespace: cs ? bindCodespace(cs) : null,
    }),
    ...o,
  };
}

export interface FakeApi extends CodespacesApi {
  codespaces: Map<string, Codespace>;
  /** Every mutating call, in order: "stop NAME", "delete NAME", "start NAME", "create". */
  calls: string[];
}

/**
 * A Codespaces API over a Map. stop: ShuttingDown, then Shutdown at the next
 * read; delete: gone at the next read; start: Starting, then Available.
 */
export function fakeApi(initial: Codespace[] = [], me: GithubUser = ME): FakeApi {
  const codespaces = new Map(initial.map((c) => [c.name, structuredClone(c)]));
  const calls: string[] = [];
  const next: Record<string, string> = { ShuttingDown: "Shutdown", Starting: "Available" };
  const deleting = new Set<string>();
  const get = (name: string): Codespace | null => {
    if (deleting.has(name)) {
      codespaces.delete(name);
      deleting.delete(name);
      return null;
    }
    const cs = codespaces.get(name);
    if (!cs) return null;
    const seen = structuredClone(cs);
    if (next[cs.state]) cs.state = next[cs.state]!;
    return seen;
  };
  const must = (name: string): Codespace => {
    const cs = codespaces.get(name);
    if (!cs) throw new Error(`fake: no codespace ${name}`);
    return cs;
  };
  const unused = (what: string) => async (): Promise<never> => {
    throw new Error(`fake api: ${what} not expected in this test`);
  };
  return {
    codespaces,
    calls,
    authenticatedUser: async () => ({ login: me.login, id: me.id }),
    getCodespaceOrNull: async (name) => get(name),
    listMyCodespaces: async () => [...codespaces.values()].map((c) => structuredClone(c)),
    listRepoCodespaces: async (repo) => [...codespaces.values()].filter((c) => c.repository.full_name === repo).map((c) => structuredClone(c)),
    stopCodespace: async (name) => {
      calls.push(`stop ${name}`);
      const cs = must(name);
      if (cs.state !== "Shutdown") cs.state = "ShuttingDown";
      return structuredClone(cs);
    },
    startCodespace: async (name) => {
      calls.push(`start ${name}`);
      must(name).state = "Starting";
      return structuredClone(must(name));
    },
    deleteCodespace: async (name) => {
      calls.push(`delete ${name}`);
      must(name);
      deleting.add(name);
      return 202;
    },
    getRepository: unused("getRepository"),
    getRepoDefaults: unused("getRepoDefaults"),
    listRepoMachines: unused("listRepoMachines"),
    checkPermissions: unused("checkPermissions"),
    createCodespace: unused("createCodespace"),
    createPullRequestCodespace: unused("createPullRequestCodespace"),
  };
}

/** A gh that fails the test when called (release and cleanup never need it). */
export const noGh: Gh = {
  version: async () => {
    throw new Error("fake gh: not expected");
  },
  sshConfig: async () => {
    throw new Error("fake gh: not expected");
  },
};

/** Services over the fakes and a real claim store in `home`; time stands still, sleeps return at once. */
export function fakeServices(home: string, api: CodespacesApi, opts: { now?: number; deleteOnRelease?: boolean; pool?: Partial<Config["pool"]> } = {}): Services {
  const now = opts.now ?? Date.parse("2026-12-01T12:00:00Z");
  let t = now;
  const runtime = createRuntime({
    crabboxHome: home,
    env: { PATH: process.env.PATH },
    now: () => t,
    sleep: async (ms) => {
      t += ms;
    },
  });
  const config = {
    provider: "github-codespaces",
    githubCodespaces: { apiUrl: API_URL, ghPath: "gh-not-used", deleteOnRelease: opts.deleteOnRelease ?? true, workRoot: "", repo: "", ref: "", machine: "" },
    pool: { enabled: false, hydrate: "", stopIdle: false, maxUses: 20, maxAgeMs: 12 * 3_600_000, idleTtlMs: 2 * 3_600_000, ...opts.pool },
    sources: {},
    warnings: [],
  } as unknown as Config;
  const ctx: Context = {
    runtime,
    config,
    log: createLogger({ env: {}, isTTY: false, quiet: true, write: () => undefined }),
    json: false,
    verbose: false,
    quiet: true,
    print: () => undefined,
    printJson: () => undefined,
  };
  return createServices(ctx, { api, gh: noGh });
}
