/**
 * The emulator's world: users, repositories, codespaces and their lifecycle.
 * States are computed lazily from timestamps (a per-codespace timeline), so
 * no timers run and 500 codespaces cost nothing. No HTTP, no SSH here.
 */
import { mkdirSync, writeFileSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  type Account,
  type RepoFacts,
  STANDARD_MACHINES,
  codespaceName,
  machineJson,
  machineSpec,
  minimalRepository,
  randomAlnum,
  randomDisplayName,
  simpleUser,
} from "./objects.ts";

export interface Delays {
  provisionMs: number;
  stopMs: number;
  startMs: number;
  deleteMs: number;
  /** How long a create request takes before the codespace exists and the answer is sent. */
  createResponseMs: number;
  /**
   * A synthetic cost added to every ssh session's login (the rc sleeps this long), to model a
   * codespace whose login files are slow. 0: a session costs what sshd and sh cost.
   */
  sessionMs: number;
}

export const DEFAULT_DELAYS: Delays = { provisionMs: 150, stopMs: 100, startMs: 100, deleteMs: 100, createResponseMs: 0, sessionMs: 0 };

/** What GitHub takes, roughly (for benchmarks, never for tests): create 45 s, start 8 s, stop 4 s, delete 2 s. */
export const REALISTIC_DELAYS: Delays = { provisionMs: 45_000, stopMs: 4_000, startMs: 8_000, deleteMs: 2_000, createResponseMs: 0, sessionMs: 0 };

/** The realistic delays scaled by `factor` (0.1: create 4.5 s, start 0.8 s, stop 0.4 s), for benchmarks that must stay short. */
export function scaledDelays(factor: number): Delays {
  const out = { ...REALISTIC_DELAYS };
  for (const k of Object.keys(out) as (keyof Delays)[]) out[k] = Math.round(out[k] * factor);
  return out;
}

export interface User {
  login: string;
  id: number;
  token: string;
  scopes: string[];
  createdAt: string;
}

export interface DevcontainerSpec {
  path: string;
  name?: string;
}

export interface PullSpec {
  number: number;
  headRef: string;
}

export interface AddRepoOptions {
  fullName: string;
  defaultBranch?: string;
  private?: boolean;
  /** false: the caller has no Codespaces access for this repo (create/defaults/machines → 403). */
  entitled?: boolean;
  permissionsAccepted?: boolean;
  /** false: the image has no SSH server (gh ssh fails like the real one). */
  sshd?: boolean;
  machines?: string[];
  devcontainers?: DevcontainerSpec[];
  pulls?: PullSpec[];
}

export interface Repo extends RepoFacts {
  entitled: boolean;
  permissionsAccepted: boolean;
  sshd: boolean;
  machines: string[];
  devcontainers: DevcontainerSpec[];
  pulls: PullSpec[];
}

export interface TimelineStep {
  state: string;
  at: number;
}

export interface CodespaceRecord {
  id: number;
  name: string;
  environmentId: string;
  ownerLogin: string;
  repoKey: string;
  displayName: string;
  machine: string | null;
  devcontainerPath: string | null;
  ref: string;
  location: string;
  idleTimeoutMinutes: number;
  retentionPeriodMinutes: number;
  workingDirectory: string | null;
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number;
  pullNumber: number | null;
  recentFolders: string[];
  timeline: TimelineStep[];
  stoppedAt: number | null;
  deleteAt: number | null;
  dirty: { uncommitted: boolean; unpushed: boolean };
  /** git_status keys left out when rendering (null: the store-wide default, omitGitStatusAll). */
  gitStatusOmit: string[] | null;
  /** Raw JSON fields overwritten by mutateCodespace, applied when rendering. */
  overrides: Record<string, unknown>;
  /** Insertion sequence, for a stable newest-first order. */
  seq: number;
}

export interface CreateInput {
  ref?: string;
  machine?: string;
  devcontainerPath?: string;
  location?: string;
  idleTimeoutMinutes?: number;
  retentionPeriodMinutes?: number;
  displayName?: string;
  workingDirectory?: string;
  pullNumber?: number;
}

export interface SeedOptions {
  repo: string;
  owner?: string;
  state?: string;
  displayName?: string;
  machine?: string;
  ref?: string;
}

const LOCATIONS = new Set(["EastUs", "SouthEastAsia", "WestEurope", "WestUs2"]);
const GEO_TO_LOCATION: Record<string, string> = {
  EuropeWest: "WestEurope",
  SoutheastAsia: "SouthEastAsia",
  UsEast: "EastUs",
  UsWest: "WestUs2",
};

export function locationFor(location?: string, geo?: string): string {
  if (location && LOCATIONS.has(location)) return location;
  if (geo && GEO_TO_LOCATION[geo]) return GEO_TO_LOCATION[geo] as string;
  return "WestUs2";
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export class Store {
  readonly users = new Map<string, User>(); // by lowercase login
  readonly tokens = new Map<string, User>();
  readonly accounts = new Map<string, Account>(); // lowercase login → account (users and orgs)
  readonly repos = new Map<string, Repo>(); // lowercase full name
  readonly codespaces = new Map<string, CodespaceRecord>();
  delays: Delays;
  /** true: every new codespace sticks in Provisioning; a Set: only those repos (lowercase). */
  stickAll = false;
  /** git_status keys left out for every codespace without its own setting (omitGitStatus(true, keys)). */
  gitStatusOmitAll: string[] = [];
  readonly stickRepos = new Set<string>();
  deleteNeverAll = false;
  readonly deleteNever = new Set<string>();
  private nextUserId = 583231;
  private nextOrgId = 9919;
  private nextRepoId = 1296269;
  private nextCodespaceId = 1;
  private seq = 0;
  private readonly startedAt = Date.now();

  constructor(
    readonly stateDir: string,
    delays: Partial<Delays> = {},
    readonly now: () => number = Date.now,
  ) {
    this.delays = { ...DEFAULT_DELAYS, ...delays };
  }

  // ---------------------------------------------------------------- accounts

  addUser(login: string, opts: { scopes?: string[]; token?: string } = {}): User {
    const key = login.toLowerCase();
    const existing = this.users.get(key);
    if (existing) {
      if (opts.scopes) existing.scopes = [...opts.scopes];
      if (opts.token) {
        existing.token = opts.token;
        this.tokens.set(opts.token, existing);
      }
      return existing;
    }
    const acct = this.accounts.get(key);
    const id = acct?.type === "User" ? acct.id : this.nextUserId++;
    const user: User = {
      login,
      id,
      token: opts.token ?? `ghp_${randomAlnum(36, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")}`,
      scopes: opts.scopes ? [...opts.scopes] : ["codespace", "repo"],
      createdAt: iso(this.startedAt - 86_400_000 * 365),
    };
    this.users.set(key, user);
    this.tokens.set(user.token, user);
    this.accounts.set(key, { login, id, type: "User" });
    return user;
  }

  account(login: string): Account {
    const key = login.toLowerCase();
    let a = this.accounts.get(key);
    if (!a) {
      a = { login, id: this.nextOrgId++, type: "Organization" };
      this.accounts.set(key, a);
    }
    return a;
  }

  userByToken(token: string): User | undefined {
    return this.tokens.get(token);
  }

  // ------------------------------------------------------------------- repos

  addRepo(opts: AddRepoOptions): Repo {
    const parts = opts.fullName.split("/");
    if (parts.length !== 2 || !parts[0] || !parts[1]) {
      throw new Error(`addRepo: fullName must be "owner/name", got ${JSON.stringify(opts.fullName)}`);
    }
    const [ownerLogin, name] = parts as [string, string];
    for (const m of opts.machines ?? []) {
      if (!machineSpec(m)) throw new Error(`addRepo: unknown machine ${m}`);
    }
    const key = opts.fullName.toLowerCase();
    const prev = this.repos.get(key);
    const repo: Repo = {
      id: prev?.id ?? this.nextRepoId++,
      name,
      fullName: `${ownerLogin}/${name}`,
      owner: this.account(ownerLogin),
      private: opts.private ?? prev?.private ?? false,
      defaultBranch: opts.defaultBranch ?? prev?.defaultBranch ?? "main",
      createdAt: prev?.createdAt ?? iso(this.startedAt - 86_400_000 * 30),
      entitled: opts.entitled ?? prev?.entitled ?? true,
      permissionsAccepted: opts.permissionsAccepted ?? prev?.permissionsAccepted ?? true,
      sshd: opts.sshd ?? prev?.sshd ?? true,
      machines: opts.machines ?? prev?.machines ?? STANDARD_MACHINES.map((m) => m.name),
      devcontainers: opts.devcontainers ?? prev?.devcontainers ?? [{ path: ".devcontainer/devcontainer.json" }],
      pulls: opts.pulls ?? prev?.pulls ?? [],
    };
    this.repos.set(key, repo);
    return repo;
  }

  repo(fullName: string): Repo | undefined {
    return this.repos.get(fullName.toLowerCase());
  }

  repoById(id: number): Repo | undefined {
    for (const r of this.repos.values()) if (r.id === id) return r;
    return undefined;
  }

  // -------------------------------------------------------------- lifecycle

  /** Current state; purges codespaces whose deletion completed. */
  stateOf(cs: CodespaceRecord, now = this.now()): string {
    let state = cs.timeline[0]?.state ?? "Unknown";
    for (const step of cs.timeline) {
      if (step.at <= now) state = step.state;
      else break;
    }
    return state;
  }

  private gone(cs: CodespaceRecord, now: number): boolean {
    return cs.deleteAt !== null && cs.deleteAt <= now;
  }

  /** The live record, or undefined if it does not exist (or its deletion finished). */
  get(name: string): CodespaceRecord | undefined {
    const cs = this.codespaces.get(name);
    if (!cs) return undefined;
    if (this.gone(cs, this.now())) {
      this.codespaces.delete(name);
      return undefined;
    }
    return cs;
  }

  /** Live codespaces, newest first; optional filter. Purges finished deletions. */
  list(filter?: (cs: CodespaceRecord) => boolean): CodespaceRecord[] {
    const now = this.now();
    const out: CodespaceRecord[] = [];
    for (const cs of this.codespaces.values()) {
      if (this.gone(cs, now)) {
        this.codespaces.delete(cs.name);
        continue;
      }
      if (!filter || filter(cs)) out.push(cs);
    }
    return out.sort((a, b) => b.seq - a.seq);
  }

  private isStuck(repoKey: string): boolean {
    return this.stickAll || this.stickRepos.has(repoKey);
  }

  create(user: User, repo: Repo, input: CreateInput): CodespaceRecord {
    const now = this.now();
    const repoKey = repo.fullName.toLowerCase();
    const timeline: TimelineStep[] = [{ state: "Provisioning", at: now }];
    if (!this.isStuck(repoKey)) timeline.push({ state: "Available", at: now + this.delays.provisionMs });
    const cs = this.insert({
      ownerLogin: user.login,
      repo,
      displayName: input.displayName,
      machine: input.machine ?? repo.machines[0] ?? null,
      ref: input.ref ?? repo.defaultBranch,
      devcontainerPath: input.devcontainerPath ?? repo.devcontainers[0]?.path ?? null,
      location: input.location ?? "WestUs2",
      idleTimeoutMinutes: input.idleTimeoutMinutes ?? 30,
      retentionPeriodMinutes: input.retentionPeriodMinutes ?? 43200,
      workingDirectory: input.workingDirectory ?? null,
      pullNumber: input.pullNumber ?? null,
      timeline,
    });
    this.ensureDir(cs);
    return cs;
  }

  seed(opts: SeedOptions): CodespaceRecord {
    const repo = this.repo(opts.repo) ?? this.addRepo({ fullName: opts.repo });
    const ownerLogin = opts.owner ?? "monalisa";
    if (!this.users.has(ownerLogin.toLowerCase())) this.addUser(ownerLogin);
    const state = opts.state ?? "Available";
    const now = this.now();
    const cs = this.insert({
      ownerLogin: this.users.get(ownerLogin.toLowerCase())?.login ?? ownerLogin,
      repo,
      displayName: opts.displayName,
      machine: opts.machine ?? repo.machines[0] ?? null,
      ref: opts.ref ?? repo.defaultBranch,
      devcontainerPath: repo.devcontainers[0]?.path ?? null,
      location: "WestUs2",
      idleTimeoutMinutes: 30,
      retentionPeriodMinutes: 43200,
      workingDirectory: null,
      pullNumber: null,
      timeline: [{ state, at: now }],
    });
    if (state === "Shutdown") cs.stoppedAt = now;
    return cs;
  }

  private insert(p: {
    ownerLogin: string;
    repo: Repo;
    displayName?: string;
    machine: string | null;
    ref: string;
    devcontainerPath: string | null;
    location: string;
    idleTimeoutMinutes: number;
    retentionPeriodMinutes: number;
    workingDirectory: string | null;
    pullNumber: number | null;
    timeline: TimelineStep[];
  }): CodespaceRecord {
    const now = this.now();
    let name = codespaceName(p.ownerLogin, p.repo.name);
    while (this.codespaces.has(name)) name = codespaceName(p.ownerLogin, p.repo.name);
    const cs: CodespaceRecord = {
      id: this.nextCodespaceId++,
      name,
      environmentId: crypto.randomUUID(),
      ownerLogin: p.ownerLogin,
      repoKey: p.repo.fullName.toLowerCase(),
      displayName: p.displayName ?? randomDisplayName(),
      machine: p.machine,
      devcontainerPath: p.devcontainerPath,
      ref: p.ref,
      location: p.location,
      idleTimeoutMinutes: p.idleTimeoutMinutes,
      retentionPeriodMinutes: p.retentionPeriodMinutes,
      workingDirectory: p.workingDirectory,
      createdAt: now,
      updatedAt: now,
      lastUsedAt: now,
      pullNumber: p.pullNumber,
      recentFolders: [],
      timeline: p.timeline,
      stoppedAt: null,
      deleteAt: null,
      dirty: { uncommitted: false, unpushed: false },
      gitStatusOmit: null,
      overrides: {},
      seq: this.seq++,
    };
    this.codespaces.set(name, cs);
    return cs;
  }

  /** Host directory mounted as /workspaces for this codespace. */
  dirOf(name: string): string {
    return join(this.stateDir, "codespaces", name);
  }

  /**
   * The remote user's home in this codespace (outside /workspaces, as on GitHub), with a small
   * fixed rc: sessions cost what an ssh session costs, never what the test machine's own login
   * files cost (a host ~/.bashrc may run pyenv init, ~600 ms), and what the product leaves in $HOME
   * (run nonces, sync stamps) stays with the codespace.
   */
  homeOf(name: string): string {
    return join(this.stateDir, "homes", name);
  }

  /** Apply delays.sessionMs to one home (the rc reads `.session-delay`). */
  writeSessionDelay(home: string): void {
    const file = join(home, ".session-delay");
    if (this.delays.sessionMs > 0) writeFileSync(file, `${(this.delays.sessionMs / 1000).toFixed(3)}\n`);
    else rmSync(file, { force: true });
  }

  ensureDir(cs: CodespaceRecord): string {
    const home = this.homeOf(cs.name);
    if (!existsSync(home)) {
      mkdirSync(home, { recursive: true });
      // Builtins only, unless the synthetic session delay is set (then one sleep).
      const rc = '# emulated codespace: a small fixed rc\nexport EMULATED_CODESPACE=1\nif [ -f "$HOME/.session-delay" ]; then read d < "$HOME/.session-delay"; sleep "$d"; fi\n';
      for (const f of [".bashrc", ".profile"]) writeFileSync(join(home, f), rc);
    }
    this.writeSessionDelay(home);
    const dir = this.dirOf(cs.name);
    const repo = this.repos.get(cs.repoKey);
    const repoName = repo?.name ?? cs.repoKey.split("/")[1] ?? "repo";
    const repoDir = join(dir, repoName);
    if (!existsSync(repoDir)) {
      mkdirSync(repoDir, { recursive: true });
      writeFileSync(
        join(repoDir, "README.md"),
        `# ${repoName}\n\nEmulated codespace ${cs.name} for ${repo?.fullName ?? cs.repoKey} at ${cs.ref}.\n`,
      );
    }
    return dir;
  }

  /** POST .../stop. Returns "ok" (transition started or already stopped). */
  stop(cs: CodespaceRecord): "ok" {
    const now = this.now();
    const state = this.stateOf(cs, now);
    if (state === "Shutdown" || state === "ShuttingDown") return "ok";
    cs.timeline = [
      { state: "ShuttingDown", at: now },
      { state: "Shutdown", at: now + this.delays.stopMs },
    ];
    cs.stoppedAt = now + this.delays.stopMs;
    cs.updatedAt = now;
    return "ok";
  }

  /** POST .../start. "conflict" when the codespace is in a state that cannot start. */
  start(cs: CodespaceRecord): "ok" | "conflict" {
    const now = this.now();
    const state = this.stateOf(cs, now);
    if (state === "Available" || state === "Starting") return "ok";
    if (state !== "Shutdown") return "conflict";
    cs.timeline = [
      { state: "Starting", at: now },
      { state: "Available", at: now + this.delays.startMs },
    ];
    cs.stoppedAt = null;
    cs.updatedAt = now;
    cs.lastUsedAt = now;
    return "ok";
  }

  delete(cs: CodespaceRecord): void {
    if (cs.deleteAt !== null) return;
    if (this.deleteNeverAll || this.deleteNever.has(cs.name)) {
      cs.deleteAt = Number.POSITIVE_INFINITY;
      return;
    }
    cs.deleteAt = this.now() + this.delays.deleteMs;
  }

  /** Render a codespace exactly as the REST API returns it. */
  render(cs: CodespaceRecord, base: string): Record<string, unknown> {
    const now = this.now();
    const state = this.stateOf(cs, now);
    const repo = this.repos.get(cs.repoKey);
    const owner = this.accounts.get(cs.ownerLogin.toLowerCase()) ?? {
      login: cs.ownerLogin,
      id: 0,
      type: "User" as const,
    };
    const spec = cs.machine ? machineSpec(cs.machine) : undefined;
    const u = `${base}/user/codespaces/${cs.name}`;
    const ahead = cs.dirty.unpushed ? 1 : 0;
    const out: Record<string, unknown> = {
      id: cs.id,
      name: cs.name,
      display_name: cs.displayName,
      environment_id: cs.environmentId,
      owner: simpleUser(owner, base),
      billable_owner: simpleUser(owner, base),
      repository: repo ? minimalRepository(repo, base) : null,
      machine: spec ? machineJson(spec) : null,
      devcontainer_path: cs.devcontainerPath,
      prebuild: false,
      created_at: iso(cs.createdAt),
      updated_at: iso(Math.max(cs.updatedAt, cs.timeline.filter((s) => s.at <= now).at(-1)?.at ?? 0)),
      last_used_at: iso(cs.lastUsedAt),
      state,
      url: u,
      git_status: omitKeys(
        {
          ahead,
          behind: 0,
          has_unpushed_changes: cs.dirty.unpushed,
          has_uncommitted_changes: cs.dirty.uncommitted,
          ref: cs.ref,
        },
        cs.gitStatusOmit ?? this.gitStatusOmitAll,
      ),
      location: cs.location,
      idle_timeout_minutes: cs.idleTimeoutMinutes,
      web_url: `https://${cs.name}.github.dev`,
      machines_url: `${u}/machines`,
      start_url: `${u}/start`,
      stop_url: `${u}/stop`,
      publish_url: `${u}/publish`,
      pulls_url: cs.pullNumber !== null && repo ? `${base}/repos/${repo.fullName}/pulls/${cs.pullNumber}` : null,
      recent_folders: [...cs.recentFolders],
      runtime_constraints: { allowed_port_privacy_settings: ["private", "org", "public"] },
      pending_operation: false,
      pending_operation_disabled_reason: null,
      idle_timeout_notice: null,
      retention_period_minutes: cs.retentionPeriodMinutes,
      retention_expires_at:
        state === "Shutdown" && cs.stoppedAt !== null
          ? iso(cs.stoppedAt + cs.retentionPeriodMinutes * 60_000)
          : null,
      last_known_stop_notice: null,
      template: null,
    };
    return { ...out, ...cs.overrides };
  }

  /** Overwrite rendered fields; `state` restarts the timeline in that state; `name` renames. */
  mutate(name: string, patch: Record<string, unknown>): CodespaceRecord {
    const cs = this.get(name);
    if (!cs) throw new Error(`mutateCodespace: no codespace ${name}`);
    const { state, name: newName, ...rest } = patch;
    if (typeof state === "string") {
      cs.timeline = [{ state, at: this.now() }];
      if (state === "Shutdown") cs.stoppedAt = this.now();
    }
    if (typeof newName === "string" && newName !== cs.name) {
      this.codespaces.delete(cs.name);
      cs.name = newName;
      this.codespaces.set(newName, cs);
    }
    Object.assign(cs.overrides, rest);
    return cs;
  }

  machinesFor(repo: Repo): Record<string, unknown>[] {
    return repo.machines.map((m) => machineJson(machineSpec(m)!));
  }
}

/** A copy of `o` without `keys` (the served JSON then really lacks them). */
function omitKeys(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!keys.includes(k)) out[k] = v;
  return out;
}
