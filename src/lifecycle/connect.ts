/**
 * Bringing a bound lease to "ready": wait until the codespace is Available
 * (starting it when it is stopped), fetch the OpenSSH config from gh, write
 * it per lease, and prove the box usable with one readiness round trip.
 * This is where the control plane (GitHub API) meets the data plane (ssh).
 */
import { elapsed } from "../output/format.ts";
import { stepClock } from "../output/steps.ts";
import { CrabboxError, Exit } from "../errors.ts";
import type { Codespace } from "../github/schemas.ts";
import { type Claim, usableAsIs } from "../leases/claim.ts";
import { writeLeaseConfig } from "../ssh/config.ts";
import { checkMaster, openMaster, runRemote, type RemoteExit, type RunRemoteInput } from "../ssh/exec.ts";
import { RUNS_DIR, runNonce } from "../ssh/quote.ts";
import { assertReady, probe } from "../ssh/readiness.ts";
import { leaseRef, seen } from "./claims.ts";
import { assertIdentity } from "./identity.ts";
import type { Services } from "./services.ts";
import { waitForCodespace } from "./wait.ts";
import { existsSync } from "node:fs";

export interface BringUpOptions {
  timeoutMs: number;
  /** Fetch the ssh config from gh again even if we have one (after a failed connection). */
  refreshConfig?: boolean;
  /**
   * false: no readiness probe. The caller's own first session proves the box
   * (a one-shot run that syncs: the sync's session creates the work root), and
   * the ControlMaster is opened in the background instead (`master`).
   */
  probe?: boolean;
  /** The codespace as the create call answered it: already Available, gh's config is fetched beside the first poll. */
  created?: Codespace;
}

export interface BroughtUp {
  claim: Claim;
  codespace: Codespace;
  /** Without a probe: the ControlMaster being opened (true once it is up). */
  master?: Promise<boolean>;
}

/** Wait for Available (starting a stopped codespace), refresh the ssh config, probe, mark ready. Caller holds the lease lock. */
export async function bringUp(svc: Services, claim: Claim, opts: BringUpOptions): Promise<BroughtUp> {
  const { runtime, log } = svc.ctx;
  if (!claim.codespace) throw new Error(`lease ${claim.leaseId} has no codespace bound`);
  const api = await svc.api();
  const me = await svc.me();
  let started = false;
  const step = stepClock(log, runtime.now);
  // Created Available: gh's config is asked for now, while the codespace is read back.
  let early: Promise<string> | undefined;
  if (opts.created?.state === "Available" && opts.created.name === claim.codespace.name) {
    log.debug(`fetching ssh config: ${svc.ctx.config.githubCodespaces.ghPath} codespace ssh --config -c ${claim.codespace.name}`);
    early = svc.gh.sshConfig(claim.codespace.name);
    early.catch(() => {});
  }
  const cs = await waitForCodespace(svc, {
    name: claim.codespace.name,
    target: "Available",
    timeoutMs: opts.timeoutMs,
    leaseRef: leaseRef(claim),
    start: async (c) => {
      assertIdentity(claim, c, me, svc.ctx.config.githubCodespaces.apiUrl);
      log.info(`starting stopped codespace ${c.name}`);
      await api.startCodespace(c.name);
      started = true;
    },
  });
  assertIdentity(claim, cs, me, svc.ctx.config.githubCodespaces.apiUrl);
  step.mark(`codespace ${cs.name} Available`);
  let next = seen(claim, cs, runtime.now());
  // The config names the codespace, not an address: it stays valid while the codespace lives.
  // Fetch it when we have none, and again after a resume (as gh may rotate the tunnel setup).
  if (early || started || opts.refreshConfig || !next.sshConfigPath || !existsSync(next.sshConfigPath)) {
    next = await refreshSshConfig(svc, next, started ? undefined : early);
    step.mark("ssh config from gh");
  }
  let master: Promise<boolean> | undefined;
  if (opts.probe === false) {
    // The tunnel handshake is paid in the background while the caller does its local work.
    const t0 = runtime.now();
    master = openMaster(runtime, next.sshConfigPath!, next.sshHost!).then((up) => {
      log.debug(`step: ssh master (in the background, ${up ? "up" : "failed"}) in ${elapsed(runtime.now() - t0)}`);
      return up;
    });
    master.catch(() => {});
    log.debug("no readiness probe: the first session proves the codespace; opening the ControlMaster in the background");
  } else {
    await probeLease(svc, next);
    step.mark("ssh probe");
  }
  next = { ...next, state: "ready", failure: null };
  await svc.store.write(next);
  return { claim: next, codespace: cs, master };
}

/** Ask gh for the codespace's OpenSSH config and store it for this lease (0600). */
export async function refreshSshConfig(svc: Services, claim: Claim, fetching?: Promise<string>): Promise<Claim> {
  const { runtime, config, log } = svc.ctx;
  const name = claim.codespace!.name;
  if (!fetching) log.debug(`fetching ssh config: ${config.githubCodespaces.ghPath} codespace ssh --config -c ${name}`);
  const text = await (fetching ?? svc.gh.sshConfig(name));
  const { path, alias } = await writeLeaseConfig(runtime, claim.leaseId, text, name);
  const next = { ...claim, sshConfigPath: path, sshHost: alias };
  await svc.store.write(next);
  return next;
}

export async function probeLease(svc: Services, claim: Claim): Promise<void> {
  const t0 = svc.ctx.runtime.now();
  const result = await probe(svc.ctx.runtime, { configPath: claim.sshConfigPath!, alias: claim.sshHost!, workRoot: claim.workRoot });
  for (const warning of assertReady(result)) svc.ctx.log.warn(warning);
  svc.ctx.log.debug(`readiness probe ok in ${svc.ctx.runtime.now() - t0}ms (git, rsync, tar, ${claim.workRoot} writable)`);
}

function notUsable(claim: Claim): CrabboxError {
  return new CrabboxError({
    code: "lease_not_usable",
    message: `lease ${leaseRef(claim)} is ${claim.state}${claim.codespace ? "" : " and has no codespace"}`,
    why: claim.failure ?? (claim.state === "released" ? "it was stopped and released; only a kept lease (--keep) is started again on use" : claim.state === "releasing" ? "it is being released" : "it never got a codespace"),
    hint: `release it: crabbox-cs stop ${leaseRef(claim)}   or start a new one: crabbox-cs warmup`,
    exit: Exit.refused,
  });
}

/** Under the lease lock: wait/resume, refresh the ssh config if needed, probe (this opens the master). */
async function bringUpLocked(svc: Services, claim: Claim, opts: BringUpOptions): Promise<Claim> {
  return svc.store.withLease(claim.leaseId, async (current) => (await bringUp(svc, current, opts)).claim);
}

/**
 * Make a lease usable without spending anything when it already is: a
 * "ready" lease with its ssh config is used as it is — no API call, no ssh
 * round trip. Anything else (stopped and kept, interrupted warmup) is brought
 * up: waited for, resumed, probed.
 */
export async function prepareLease(svc: Services, claim: Claim, opts: BringUpOptions): Promise<Claim> {
  if (claim.state === "failed" || claim.state === "releasing" || !claim.codespace) throw notUsable(claim);
  // A kept lease that `stop` stopped is started again on use; a released lease that is not kept is not ours to revive.
  if (claim.state === "released" && !claim.keep) throw notUsable(claim);
  if (usableAsIs(claim)) return claim;
  return bringUpLocked(svc, claim, opts);
}

/**
 * Make sure the lease's ControlMaster is up (for rsync and interactive ssh):
 * a live one costs one local check; a dead one is reopened (one tunnel
 * handshake); if that fails, the codespace is checked and brought up.
 */
export async function ensureMaster(svc: Services, claim: Claim, opts: BringUpOptions): Promise<Claim> {
  const { runtime, log } = svc.ctx;
  const cfg = claim.sshConfigPath!;
  const alias = claim.sshHost!;
  if (await checkMaster(runtime, cfg, alias)) return claim;
  if (await openMaster(runtime, cfg, alias)) return claim;
  log.info(`could not connect to ${claim.codespace?.name}: checking the codespace`);
  return bringUpLocked(svc, claim, { ...opts, refreshConfig: true });
}

export interface RunOnLeaseOptions extends BringUpOptions {
  /** A one-shot lease (released right after): said in the connection-lost error. */
  oneShot?: boolean;
}

/**
 * Run the user's command exactly once, optimistically: a live master is
 * reused, and otherwise this very ssh opens the connection (no separate
 * probe). The run carries a nonce: the remote side claims it before starting
 * the command and says so with a start marker (see `exactlyOnce`).
 *
 * When ssh exits 255 without that marker, the command provably did not start:
 * the lease is brought up (a codespace stopped while idle is started again,
 * unless its claim was stopped or released meanwhile) and the command tried
 * once more with the same nonce, so that even a start whose marker was lost
 * cannot run twice. When the marker came and no exit status did, the
 * connection was lost while the command ran: no retry, no bring-up, an error
 * (exit 255). An aborted run (Ctrl-C) is never retried.
 */
export async function runOnLease(
  svc: Services,
  claim: Claim,
  input: Omit<RunRemoteInput, "configPath" | "alias" | "workRoot" | "nonce">,
  opts: RunOnLeaseOptions,
): Promise<{ claim: Claim; exit: RemoteExit }> {
  const { runtime, log } = svc.ctx;
  // A session opened ahead of the run (lifecycle/head-start.ts) carries its nonce; only the first attempt may take it.
  const nonce = input.opened?.nonce ?? runNonce();
  let opened = input.opened;
  const run = (c: Claim) => {
    const o = opened;
    opened = null;
    return runRemote(runtime, { ...input, opened: o, nonce, configPath: c.sshConfigPath!, alias: c.sshHost!, workRoot: c.workRoot });
  };
  let exit = await run(claim);
  // Its gate did not let the command start (nothing ran, the nonce is unclaimed): once more, as a session of its own.
  if (exit.declined && !input.preamble && !input.signal?.aborted) {
    log.debug("the session opened ahead of the run ended before its command started; opening another");
    exit = await run(claim);
  }
  if (exit.cancelled || (exit.code !== 255 && !exit.alreadyStarted)) return { claim, exit };
  if (!exit.started && !exit.alreadyStarted) {
    log.info(`could not connect to ${claim.codespace?.name}: checking the codespace, then retrying (the command did not start)`);
    claim = await svc.store.withLease(claim.leaseId, async (current) => {
      // Never undo a stop or a release that happened while we were connecting.
      if (current.state !== "ready") throw notUsable(current);
      return (await bringUp(svc, current, { ...opts, refreshConfig: true })).claim;
    });
    if (input.signal?.aborted) return { claim, exit: { ...exit, cancelled: true } };
    exit = await run(claim);
    if (exit.cancelled || (exit.code !== 255 && !exit.alreadyStarted)) return { claim, exit };
    if (!exit.started && !exit.alreadyStarted) return { claim, exit }; // still no connection: ssh said why
  }
  // The command finished and only its exit status was lost on the way: that status is the answer.
  if (exit.finished !== null) return { claim, exit: { ...exit, code: exit.finished, signal: null } };
  // Connected, started, no end marker: either the remote shell was killed by a signal (the
  // connection is fine: ssh reports 255 for that too), or the connection was lost.
  if (!exit.alreadyStarted && (await checkMaster(runtime, claim.sshConfigPath!, claim.sshHost!))) {
    log.warn("the remote shell was killed by a signal (ssh reports that as 255)");
    return { claim, exit };
  }
  throw await connectionLost(svc, claim, nonce, exit, opts);
}

/** The one error for "the command started, then the connection went away". */
async function connectionLost(svc: Services, claim: Claim, nonce: string, exit: RemoteExit, opts: RunOnLeaseOptions): Promise<CrabboxError> {
  const ref = leaseRef(claim);
  const name = claim.codespace?.name ?? "the codespace";
  // One API call on this failure path: is the codespace still up (so the command may be running)?
  let state: string | null = null;
  try {
    const live = claim.codespace ? await (await svc.api()).getCodespaceOrNull(claim.codespace.name) : null;
    state = live ? live.state : "gone";
  } catch {}
  const stillUp = state === null || state === "Available";
  const started = exit.alreadyStarted
    ? `the command had already started on an earlier attempt whose connection was lost (run ${nonce}); crabbox-cs never runs a command twice`
    : `the command started on ${name} (run ${nonce}), then the connection dropped before it finished, so its exit status is unknown`;
  const where = !stillUp
    ? `; the codespace is ${state} now, so the command is no longer running`
    : opts.oneShot
      ? "; without a terminal a dropped connection does not stop it, but this one-shot lease is released now, which stops it"
      : "; without a terminal (-t) a dropped connection does not stop it: it may still be running there";
  const check = `crabbox-cs ssh ${ref} -- sh -c 'cat ~/${RUNS_DIR}/${nonce}'`;
  return new CrabboxError({
    code: "ssh_connection_lost",
    message: "the connection was lost while the command was running",
    why: `${started}${where}`,
    hint: opts.oneShot
      ? "run it again if it must complete: crabbox-cs run -- <command>"
      : !stillUp
        ? `run it again if it must complete: crabbox-cs run --id ${ref} -- <command>`
        : `see whether it finished: ${check}  ("done N": finished with status N; "running PID": started, no exit recorded); run it again only if needed`,
    exit: Exit.sshConnect,
    details: { run: nonce, codespace: name, codespaceState: state },
  });
}
