/**
 * The test-facing control surface (in-process methods, also served as JSON
 * under /_emulator/<method>), plus the bookkeeping of gh stand-in tunnels.
 */
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { CreateDropMode } from "./api.ts";
import type { Faults, HoldOptions, InjectErrorOptions, RequestEvent } from "./faults.ts";
import type { AddRepoOptions, Delays, SeedOptions, Store } from "./store.ts";

export type { InjectErrorOptions } from "./faults.ts";

export interface EmulatorControl {
  /** Add (or update) a user; `token` registers a chosen token value (e.g. a canary). */
  addUser(login: string, opts?: { scopes?: string[]; token?: string }): { login: string; id: number; token: string };
  addRepo(opts: AddRepoOptions): { fullName: string; id: number; ownerId: number };
  setDelays(partial: Partial<Delays>): Delays;
  setHandshakeDelay(ms: number): void;
  injectError(opts: InjectErrorOptions): void;
  clearErrors(): void;
  /** The next create makes the codespace (plus `duplicates` look-alikes with the same display name) but the answer is lost. */
  dropNextCreate(mode: CreateDropMode, opts?: { duplicates?: number }): void;
  /** New codespaces (of that repo, or all with `true`) stay in Provisioning; `false` clears. */
  stickProvisioning(repo: string | boolean): void;
  setDirty(name: string, dirty: { uncommitted?: boolean; unpushed?: boolean }): void;
  /**
   * Serve git_status without these keys (recomputed otherwise, so setDirty still applies):
   * for one codespace, or with `true` for every codespace that has no setting of its own
   * (also ones created later). `[]` serves all keys again.
   */
  omitGitStatus(name: string | true, keys: string[]): void;
  seedCodespace(opts: SeedOptions): Record<string, unknown>;
  mutateCodespace(name: string, patch: Record<string, unknown>): Record<string, unknown>;
  deleteBehindBack(name: string): void;
  /**
   * Cut the live ssh connections of a codespace (its `--stdio` tunnels: the gh
   * stand-in and its sshd), as a network drop would. Clients see the
   * connection go; a command started without a pty keeps running (nothing
   * sends it SIGHUP), as on GitHub. Returns how many tunnels were cut.
   */
  cutConnections(name: string): number;
  /** How many `--stdio` tunnels of that codespace (or all) are open now. */
  liveTunnels(name?: string): number;
  /** DELETE answers 202 but the codespace stays forever (that one, or all with `true`; `false` clears). */
  deleteNeverCompletes(name: string | boolean): void;
  counts(): Record<string, number>;
  resetCounts(): void;
  /**
   * Hold API requests (or stand-in calls) matching `path` until an event matching `until` starts
   * (or `timeoutMs` passes): makes "were these in flight together?" observable by order, not time.
   */
  holdUntil(opts: HoldOptions): void;
  clearHolds(): void;
  /** Start and end of every API request and stand-in call since the last resetEvents(), in order. */
  events(): RequestEvent[];
  resetEvents(): void;
  stdioCount(name?: string): number;
  configCount(name?: string): number;
  codespaces(): Record<string, unknown>[];
  codespaceDir(name: string): string;
  /** The remote user's $HOME in this codespace (a small fixed rc; not the test machine's home). */
  codespaceHome(name: string): string;
  /** API requests received and not yet answered (a killed client's request still lands while this is > 0). */
  pendingRequests(): number;
}

/** Names callable over HTTP as POST /_emulator/<name> with a JSON array of arguments. */
export const CONTROL_METHODS = [
  "addUser",
  "addRepo",
  "setDelays",
  "setHandshakeDelay",
  "injectError",
  "clearErrors",
  "dropNextCreate",
  "stickProvisioning",
  "setDirty",
  "omitGitStatus",
  "seedCodespace",
  "mutateCodespace",
  "deleteBehindBack",
  "cutConnections",
  "liveTunnels",
  "deleteNeverCompletes",
  "counts",
  "resetCounts",
  "holdUntil",
  "clearHolds",
  "events",
  "resetEvents",
  "stdioCount",
  "configCount",
  "codespaces",
  "codespaceDir",
  "codespaceHome",
  "pendingRequests",
] as const satisfies readonly (keyof EmulatorControl)[];

/** Live `--stdio` tunnels (gh stand-in pid and its sshd pid), per codespace. */
export class Tunnels {
  private readonly stdio = new Map<string, number>();
  private readonly config = new Map<string, number>();
  private readonly live = new Map<number, { name: string; childPid?: number }>();
  handshakeDelayMs: number;

  constructor(handshakeDelayMs: number) {
    this.handshakeDelayMs = handshakeDelayMs;
  }

  countStdio(name: string): void {
    this.stdio.set(name, (this.stdio.get(name) ?? 0) + 1);
  }

  countConfig(name: string): void {
    this.config.set(name, (this.config.get(name) ?? 0) + 1);
  }

  stdioCount(name?: string): number {
    return name === undefined ? sum(this.stdio) : this.stdio.get(name) ?? 0;
  }

  configCount(name?: string): number {
    return name === undefined ? sum(this.config) : this.config.get(name) ?? 0;
  }

  open(pid: number, name: string): void {
    this.live.set(pid, { name });
  }

  child(pid: number, childPid: number): void {
    const t = this.live.get(pid);
    if (t) t.childPid = childPid;
  }

  close(pid: number): void {
    this.live.delete(pid);
  }

  liveCount(name?: string): number {
    let n = 0;
    for (const t of this.live.values()) if (name === undefined || t.name === name) n++;
    return n;
  }

  /** Cut the tunnels of one codespace (or all): SIGTERM the stand-in and its sshd. Returns how many. */
  kill(name?: string): number {
    let n = 0;
    for (const [pid, t] of this.live) {
      if (name !== undefined && t.name !== name) continue;
      for (const [p, marker] of [
        [pid, "gh.ts"],
        [t.childPid, "sshd"],
        [t.childPid, "unshare"],
      ] as const) {
        if (p === undefined || !isProcess(p, marker)) continue;
        try {
          process.kill(p, "SIGTERM");
        } catch {
          // already gone
        }
      }
      this.live.delete(pid);
      n++;
    }
    return n;
  }
}

/** Is `pid` alive and still the process we think (guards against PID reuse)? */
function isProcess(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker);
  } catch {
    return false;
  }
}

function sum(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

export function createControl(store: Store, faults: Faults, tunnels: Tunnels, base: () => string, pending: () => number = () => 0): EmulatorControl {
  const need = (name: string) => {
    const cs = store.get(name);
    if (!cs) throw new Error(`no codespace named ${name}`);
    return cs;
  };
  return {
    addUser(login, opts) {
      const u = store.addUser(login, opts);
      return { login: u.login, id: u.id, token: u.token };
    },
    addRepo(opts) {
      const r = store.addRepo(opts);
      return { fullName: r.fullName, id: r.id, ownerId: r.owner.id };
    },
    setDelays(partial) {
      for (const [k, v] of Object.entries(partial)) {
        if (!(k in store.delays)) throw new Error(`setDelays: unknown delay ${k}`);
        if (typeof v !== "number" || v < 0) throw new Error(`setDelays: ${k} must be a non-negative number`);
      }
      Object.assign(store.delays, partial);
      if ("sessionMs" in partial) {
        const homes = join(store.stateDir, "homes");
        for (const name of existsSync(homes) ? readdirSync(homes) : []) store.writeSessionDelay(join(homes, name));
      }
      return { ...store.delays };
    },
    setHandshakeDelay(ms) {
      if (typeof ms !== "number" || ms < 0) throw new Error("setHandshakeDelay: ms must be a non-negative number");
      tunnels.handshakeDelayMs = ms;
    },
    injectError(opts) {
      faults.inject(opts);
    },
    clearErrors() {
      faults.clear();
    },
    dropNextCreate(mode, opts) {
      faults.dropNextCreate(mode, opts);
    },
    stickProvisioning(repo) {
      if (repo === true) store.stickAll = true;
      else if (repo === false) {
        store.stickAll = false;
        store.stickRepos.clear();
      } else store.stickRepos.add(repo.toLowerCase());
    },
    setDirty(name, dirty) {
      const cs = need(name);
      if (dirty.uncommitted !== undefined) cs.dirty.uncommitted = dirty.uncommitted;
      if (dirty.unpushed !== undefined) cs.dirty.unpushed = dirty.unpushed;
    },
    seedCodespace(opts) {
      return store.render(store.seed(opts), base());
    },
    omitGitStatus(name, keys) {
      if (name === true) store.gitStatusOmitAll = [...keys];
      else need(name).gitStatusOmit = [...keys];
    },
    mutateCodespace(name, patch) {
      return store.render(store.mutate(name, patch), base());
    },
    deleteBehindBack(name) {
      need(name);
      store.codespaces.delete(name);
      tunnels.kill(name);
    },
    cutConnections(name) {
      need(name);
      return tunnels.kill(name);
    },
    liveTunnels: (name) => tunnels.liveCount(name),
    deleteNeverCompletes(name) {
      if (name === true) store.deleteNeverAll = true;
      else if (name === false) {
        store.deleteNeverAll = false;
        store.deleteNever.clear();
      } else {
        store.deleteNever.add(name);
        const cs = store.get(name);
        if (cs && cs.deleteAt !== null) cs.deleteAt = Number.POSITIVE_INFINITY;
      }
    },
    counts: () => faults.counts(),
    resetCounts: () => faults.resetCounts(),
    holdUntil: (o) => faults.holdUntil(o),
    clearHolds: () => faults.clearHolds(),
    events: () => faults.events(),
    resetEvents: () => faults.resetEvents(),
    stdioCount: (name) => tunnels.stdioCount(name),
    configCount: (name) => tunnels.configCount(name),
    codespaces: () => store.list().map((cs) => store.render(cs, base())),
    codespaceDir(name) {
      return store.ensureDir(need(name));
    },
    codespaceHome(name) {
      store.ensureDir(need(name));
      return store.homeOf(name);
    },
    pendingRequests: () => pending(),
  };
}
