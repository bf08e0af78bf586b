/**
 * Running things over `ssh -F <lease config> <alias>`: argv construction, the
 * streamed remote command, and the ControlMaster (check / exit).
 *
 * Exit status: `runRemote` returns ssh's own status, which is the remote
 * command's status, or 255 when ssh failed. OpenSSH also exits 255 when the
 * remote process dies from a signal (it does not map `exit-signal` to 128+n);
 * `remoteCommand` avoids that by keeping the remote shell around the command
 * (`...; exit $?`), so a remote command killed by SIGKILL reports 137.
 */
import type { Child, ChildExit, Runtime, SpawnOptions } from "../runtime.ts";
import { CrabboxError, Exit } from "../errors.ts";
import { tail } from "../util/text.ts";
import { MarkerFilter, pumpThrough, writeAllSync } from "./markers.ts";
import { cancelScript, exportLines, remoteCommand } from "./quote.ts";

export interface SshArgsInput {
  configPath: string;
  alias: string;
  /** Allocate a remote pty (`-t`) or not (`-T`). */
  tty: boolean;
  /** The single command string (already quoted); omitted: a login shell. */
  command?: string;
  /** Extra ssh options placed before the alias, e.g. ["-o", "BatchMode=no"]. */
  options?: string[];
}

/** `ssh -F <cfg> -t|-T [options] <alias> -- <command>` */
export function sshArgs(input: SshArgsInput): string[] {
  const argv = ["ssh", "-F", input.configPath, input.tty ? "-t" : "-T", ...(input.options ?? []), input.alias];
  if (input.command !== undefined) argv.push("--", input.command);
  return argv;
}

/** `-t` only when both local stdin and stdout are terminals. */
export function wantTty(runtime: Runtime): boolean {
  return runtime.tty.stdin && runtime.tty.stdout;
}

export interface RunRemoteInput {
  configPath: string;
  alias: string;
  workRoot: string;
  argv: string[];
  /** A command line for the remote shell instead of argv (ssh's OpenSSH rule; see RemoteCommandInput.shell). */
  shell?: string;
  /** Variables to export remotely: only names the user listed. */
  env?: Record<string, string>;
  /** Default: wantTty(runtime). */
  tty?: boolean;
  /**
   * This run's nonce (`runNonce()`): the command runs at most once per nonce,
   * ssh runs in its own session, its marker stream is filtered, and aborting
   * cancels the remote command (see below). Without one: a plain ssh.
   */
  nonce?: string;
  /**
   * Aborting (reason: a signal name, e.g. "SIGINT") stops the command. With a
   * nonce, the remote process group is signalled over a new session (the
   * command's own ssh is never in our process group, so a terminal's Ctrl-C
   * cannot cut its connection first); without one, ssh gets the signal.
   */
  signal?: AbortSignal;
  /** Receives the ssh child as soon as it exists (to forward signals, say). */
  onSpawn?: (child: Child) => void;
  /** Send the command's stdout to our stderr (for --json, where stdout carries our summary). */
  stdoutToStderr?: boolean;
  /** Receive the command's output instead of our stdout/stderr (shard: prefixed lines). Implies no TTY. */
  sink?: { stdout(bytes: Uint8Array): void; stderr(bytes: Uint8Array): void };
  /** Variables exported inline in the remote command (not secret: their values are on its command line). */
  exports?: Record<string, string>;
  /**
   * A change set sent in this session (src/sync/sync.ts SessionSync; needs a
   * nonce, no tty, no sink): its remote script runs before the nonce is
   * claimed. The local check's verdict is the first line on the session's
   * stdin (`N`, `W` or `A`); after `W` the report arrives as a framed marker
   * and the answer goes on stdin; then our own stdin follows to the command.
   */
  preamble?: {
    command(nonce: string): string;
    verdict(): Promise<"N" | "W" | "A">;
    /** After W: the first part of the change set (what changed here), written before the report is answered (null: none). */
    first(): Promise<Uint8Array | null>;
    /** The first part (or `R`) is written: work that holds the thread may start. */
    partWritten(): void;
    exchange(report: Buffer): Promise<Uint8Array>;
    started(): void;
  };
  /** A session a head start opened for this run (`openSession`): used if it is exactly this input's, else ended unused. */
  opened?: OpenedSession | null;
}

export interface RemoteExit extends ChildExit {
  /** The start marker arrived: the command started (with a nonce only). */
  started: boolean;
  /** The nonce was already claimed remotely: an earlier attempt started (or a cancel claimed it); nothing ran now. */
  alreadyStarted: boolean;
  /** The command's own status from the end marker (it finished), else null. */
  finished: number | null;
  /** Aborted through `signal`. */
  cancelled: boolean;
  /** With a preamble: it did not complete (declined or failed), so the command did not start. */
  declined?: boolean;
}

/** After W, when no part goes before the report (remote.ts IN_SESSION_SCRIPT). */
const NO_PART = new Uint8Array(Buffer.from("R\n", "latin1"));

/** How long a cancel may take before we give up on the remote side and end our ssh. */
const CANCEL_TIMEOUT_MS = 20_000;

/** What runRemote spawns for an input: the ssh command line, its stdio, and how its output is read. */
interface SessionPlan {
  argv: string[];
  options: SpawnOptions;
  tty: boolean;
  preamble: RunRemoteInput["preamble"];
  /** The stream that carries the markers (a pty merges the remote stderr into stdout). */
  filtered: "stdout" | "stderr" | null;
}

function planSession(runtime: Runtime, input: RunRemoteInput, envFile: string | undefined): SessionPlan {
  const { nonce, sink } = input;
  const tty = sink ? false : (input.tty ?? wantTty(runtime));
  const preamble = nonce && !tty && !sink ? input.preamble : undefined;
  const command = remoteCommand({ workRoot: input.workRoot, argv: input.argv, shell: input.shell, envFile, nonce, env: input.exports, preamble: preamble?.command(nonce!) });
  const filtered = nonce ? (tty ? "stdout" : "stderr") : null;
  const options: SpawnOptions = {
    stdin: sink ? "ignore" : preamble ? "pipe" : "inherit",
    stdout: sink || filtered === "stdout" ? "pipe" : input.stdoutToStderr ? 2 : "inherit",
    stderr: sink || filtered === "stderr" ? "pipe" : "inherit",
    // ssh may have to open the tunnel (master gone): its ProxyCommand runs gh, which may need the token.
    passTokens: true,
    detached: Boolean(nonce),
  };
  return { argv: sshArgs({ configPath: input.configPath, alias: input.alias, tty, command }), options, tty, preamble, filtered };
}

/**
 * The gate of a session opened ahead of its run (`openSession`): before the
 * nonce is claimed, the session reads one line from its stdin and goes on
 * only if it is `N`. Anything else, or the end of stdin (our process gone),
 * ends it with nothing run (exit 3, as any preamble that fails).
 */
const GATE: NonNullable<RunRemoteInput["preamble"]> = {
  command: () => `IFS= read -r v && [ "$v" = N ]`,
  verdict: async () => "N",
  first: async () => null,
  partWritten: () => {},
  exchange: async () => {
    throw new Error("a gated session takes no change set");
  },
  started: () => {},
};

/**
 * A run's session, spawned before the run has decided everything
 * (lifecycle/head-start.ts): behind the gate, so that nothing runs until
 * runRemote adopts it, which it does only when it is exactly the session that
 * runRemote would spawn for its own input (the same argv and stdio), and
 * otherwise ends it (`declineSession`).
 */
export interface OpenedSession {
  nonce: string;
  plan: SessionPlan;
  child: Child;
  env: Runtime["env"];
  cwd: string;
}

/** Spawn `input`'s session now, behind the gate (input: no preamble, no --env; null with a terminal on stdin). */
export function openSession(runtime: Runtime, input: RunRemoteInput & { nonce: string }): OpenedSession | null {
  if (runtime.tty.stdin) return null; // our stdin goes through the session after the gate: never a terminal's
  const plan = planSession(runtime, { ...input, preamble: GATE }, undefined);
  if (plan.preamble !== GATE) return null; // a pty (-t) or a sink: no gate
  return { nonce: input.nonce, plan, child: runtime.spawn(plan.argv, plan.options), env: runtime.env, cwd: runtime.cwd };
}

/** An opened session that no run takes: it gets no `N`; its ssh is ended (the command never started). */
export function declineSession(s: OpenedSession): void {
  try {
    s.child.stdin?.write("A\n");
    s.child.stdin?.end();
  } catch {}
  try {
    s.child.kill("SIGTERM");
  } catch {}
}

function samePlan(a: SessionPlan, b: SessionPlan): boolean {
  const o = a.options;
  const p = b.options;
  return (
    a.argv.length === b.argv.length &&
    a.argv.every((w, i) => w === b.argv[i]) &&
    o.stdin === p.stdin && o.stdout === p.stdout && o.stderr === p.stderr && o.passTokens === p.passTokens && o.detached === p.detached
  );
}

/** The session for `input`: `opened` when it is exactly that session behind the gate, else a new one (and `opened` is declined). */
function sessionFor(runtime: Runtime, input: RunRemoteInput, envFile: string | undefined, opened: OpenedSession | null | undefined): { plan: SessionPlan; child: Child } {
  if (opened) {
    const gated = !input.preamble && !envFile && input.nonce === opened.nonce ? planSession(runtime, { ...input, preamble: GATE }, undefined) : null;
    if (gated && gated.preamble === GATE && samePlan(gated, opened.plan) && runtime.env === opened.env && runtime.cwd === opened.cwd) {
      runtime.trace?.(`ssh: the session opened ahead of the run is this run's (pid ${opened.child.pid})`);
      return { plan: gated, child: opened.child };
    }
    declineSession(opened);
  }
  const plan = planSession(runtime, input, envFile);
  return { plan, child: runtime.spawn(plan.argv, plan.options) };
}

/** Run the user's command remotely, streamed and unbuffered. */
export async function runRemote(runtime: Runtime, input: RunRemoteInput): Promise<RemoteExit> {
  const envFile = input.env && Object.keys(input.env).length > 0 ? await uploadEnv(runtime, input.configPath, input.alias, input.env) : undefined;
  const nonce = input.nonce;
  const sink = input.sink;
  const { plan, child } = sessionFor(runtime, input, envFile, input.opened);
  const { tty, preamble, filtered } = plan;
  const out = { started: false, alreadyStarted: false, finished: null as number | null, cancelled: false };
  const outFd = input.stdoutToStderr ? 2 : 1;
  input.onSpawn?.(child);
  const stdinPump = preamble ? new StdinPump(child) : null;
  if (preamble && stdinPump) {
    preamble.verdict().then(
      (v) => {
        stdinPump.verdict(v);
        if (v !== "W") return;
        // The part goes as soon as it is packed, and all of it is handed to ssh before the report
        // is answered (so that no planning here holds the bytes the codespace waits for).
        // Either way a line goes before the report: the part, or `R` (none: report now).
        stdinPump.part = preamble
          .first()
          .then(
            async (frame) => {
              if (!frame) return stdinPump.writeAll(NO_PART);
              await stdinPump.writeAll(frame);
              runtime.trace?.(`ssh: change set part sent (${frame.length} bytes, ${frameHead(frame)})`);
            },
            () => stdinPump.writeAll(NO_PART),
          )
          .finally(() => preamble.partWritten());
      },
      () => stdinPump.verdict("A"),
    );
  }
  let pumping: Promise<void> = Promise.resolve();
  const unfiltered = sink ? (filtered === "stdout" ? child.stderr : child.stdout) : null;
  if (sink && unfiltered) pumping = pumpRaw(unfiltered, filtered === "stdout" ? sink.stderr : sink.stdout);
  if (nonce && filtered) {
    const fd = filtered === "stdout" ? outFd : 2;
    const write = sink ? (filtered === "stdout" ? sink.stdout : sink.stderr) : (b: Uint8Array) => writeAllSync(fd, b);
    const filter = new MarkerFilter(
      nonce,
      write,
      (kind, value) => {
        if (kind === "started") out.started = true;
        else if (kind === "again") out.alreadyStarted = true;
        else if (kind === "exit") out.finished = value;
        if (kind === "started" || kind === "again") preamble?.started();
      },
      preamble && stdinPump
        ? (report) => {
            // One frame per session, before the start, and only once we asked for the report (W).
            // Anything else is a remote speaking out of turn: no frame goes into the command's stdin.
            const inTurn = !(out.started || out.alreadyStarted || stdinPump.answered || !stdinPump.asked);
            runtime.trace?.(`ssh: sync report received (${report.length} bytes)${inTurn ? "" : ", not asked for: ignored"}`);
            if (!inTurn) return;
            stdinPump.answered = true;
            stdinPump.part.then(() => preamble.exchange(report)).then(
              (frame) => stdinPump.send(frame, frame.length > 2),
              () => stdinPump.send(new Uint8Array(Buffer.from("A\n")), false),
            );
          }
        : undefined,
    );
    const stream = filtered === "stdout" ? child.stdout : child.stderr;
    if (stream) pumping = Promise.all([pumping, pumpThrough(stream, filter)]).then(() => {});
  }
  // A detached ssh does not get the terminal's window-size changes: pass them on.
  const onWinch = () => {
    try {
      child.kill("SIGWINCH");
    } catch {}
  };
  if (nonce && tty) process.on("SIGWINCH", onWinch);

  let cancelling: Promise<void> = Promise.resolve();
  const onAbort = () => {
    const reason: unknown = input.signal?.reason;
    const sig = typeof reason === "string" && reason.startsWith("SIG") ? (reason as NodeJS.Signals) : "SIGTERM";
    out.cancelled = true;
    if (!nonce) {
      child.kill(sig);
      return;
    }
    // Not started (as far as we know): stop connecting. The cancel claims the nonce so it never starts.
    if (!out.started) child.kill("SIGTERM");
    cancelling = cancelRemote(runtime, input.configPath, input.alias, nonce, sig).then(async (said) => {
      // The remote side's word on whether the command had started (its marker may have died with our ssh).
      if (said === "stopped" || said === "finished") out.started = true;
      // The remote group is gone, so ssh ends by itself; if it does not, end it.
      const t = setTimeout(() => {
        try {
          child.kill("SIGTERM");
        } catch {}
      }, 3000);
      await child.exited;
      clearTimeout(t);
    });
  };
  if (input.signal) {
    if (input.signal.aborted) onAbort();
    else input.signal.addEventListener("abort", onAbort, { once: true });
  }
  try {
    const [exit] = await Promise.all([child.exited, pumping]);
    stdinPump?.stop();
    await cancelling;
    const declined = Boolean(preamble) && !out.started && !out.alreadyStarted && !out.cancelled && exit.code !== 255;
    return { ...exit, ...out, ...(preamble ? { declined } : {}) };
  } finally {
    input.signal?.removeEventListener("abort", onAbort);
    process.off("SIGWINCH", onWinch);
  }
}

/**
 * The session's stdin with a preamble: first our frame, then (when the
 * preamble goes on to the command) our own stdin, byte for byte, until it
 * ends (then the command sees end of file) or the session does.
 */
class StdinPump {
  private reader: { read(): Promise<{ value?: Uint8Array; done: boolean }>; cancel(): Promise<void> } | null = null;
  private stopped = false;
  /** The session's one frame was (or is being) answered. */
  answered = false;
  /** The verdict W was sent: a report may come, and only then is one answered. */
  asked = false;
  /** Settles once the change set's first part (if any) is written. */
  part: Promise<void> = Promise.resolve();
  constructor(private readonly child: Child) {}

  /** Bytes that more follow (stdin stays open); settles once ssh has taken all of them (or the session has gone). */
  async writeAll(frame: Uint8Array): Promise<void> {
    try {
      this.child.stdin!.write(frame);
      await (this.child.stdin as { flush?: () => unknown }).flush?.();
    } catch {}
  }

  /** The first line: N (then our stdin follows), W (a frame follows the report) or A (nothing follows). */
  verdict(v: "N" | "W" | "A"): void {
    const line = new Uint8Array(Buffer.from(`${v}\n`, "latin1"));
    if (v === "W") {
      this.asked = true;
      void this.writeAll(line);
      return;
    }
    this.answered = true;
    this.send(line, v === "N");
  }

  send(frame: Uint8Array, thenStdin: boolean): void {
    const sink = this.child.stdin!;
    try {
      sink.write(frame);
      (sink as { flush?: () => unknown }).flush?.();
      if (!thenStdin || this.stopped) {
        sink.end();
        return;
      }
    } catch {
      return;
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    const sink = this.child.stdin!;
    try {
      const reader = (Bun.stdin.stream() as ReadableStream<Uint8Array>).getReader() as unknown as NonNullable<StdinPump["reader"]>;
      this.reader = reader;
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.stopped || !value) break;
        sink.write(value);
        await (sink as { flush?: () => unknown }).flush?.();
      }
    } catch {}
    try {
      sink.end();
    } catch {}
  }

  stop(): void {
    this.stopped = true;
    this.reader?.cancel().catch(() => {});
  }
}

async function pumpRaw(stream: ReadableStream<Uint8Array>, write: (b: Uint8Array) => void): Promise<void> {
  for await (const chunk of stream) write(chunk);
}

/**
 * Stop the run with this nonce over a new session (through the master when
 * one is up): it never starts if it has not yet, or its process group is
 * signalled (then SIGTERM, then SIGKILL). Best effort, bounded in time.
 */
export async function cancelRemote(runtime: Runtime, configPath: string, alias: string, nonce: string, sig: NodeJS.Signals): Promise<string> {
  const name = sig === "SIGINT" ? "INT" : sig === "SIGHUP" ? "HUP" : "TERM";
  const r = await runtime.exec(sshArgs({ configPath, alias, tty: false, command: cancelScript(nonce, name), options: ["-o", "ControlMaster=no"] }), {
    passTokens: true,
    timeoutMs: CANCEL_TIMEOUT_MS,
    detached: true,
  });
  return r.code === 0 ? r.stdout.trim() : `failed (ssh exited ${r.code})`;
}

/**
 * Put forwarded variables in a private remote temp file (sent on stdin), so
 * that their values never appear on a command line, locally or remotely.
 * Returns the remote path; the command sources and deletes it.
 */
export async function uploadEnv(runtime: Runtime, configPath: string, alias: string, env: Record<string, string>): Promise<string> {
  const script = `umask 077 && f=$(mktemp "\${TMPDIR:-/tmp}/crabbox-env.XXXXXXXX") && cat > "$f" && printf '%s' "$f"`;
  const r = await runtime.exec(sshArgs({ configPath, alias, tty: false, command: script }), { input: exportLines(env), passTokens: true, timeoutMs: 60_000, detached: true });
  const path = r.stdout.trim();
  if (r.code !== 0 || !/^\/[A-Za-z0-9._\/-]+$/.test(path)) {
    throw new CrabboxError({
      code: "env_upload_failed",
      message: "could not hand the --env variables to the codespace",
      why: tail(r.stderr) || `ssh exited ${r.code}`,
      hint: "retry; if it persists, check that mktemp works in the codespace",
      exit: r.code === 255 ? Exit.sshConnect : Exit.sshUnusable,
    });
  }
  return path;
}

/** True when a ControlMaster for this lease is up (`ssh -O check`). */
export async function checkMaster(runtime: Runtime, configPath: string, alias: string): Promise<boolean> {
  const r = await runtime.exec(["ssh", "-F", configPath, "-O", "check", alias], { timeoutMs: 15_000 });
  return r.code === 0;
}

/**
 * Open the lease's ControlMaster in the background (`ssh -fN`), paying the
 * tunnel handshake without running anything. True when it is up. Its stdio
 * goes nowhere: the backgrounded master must not hold our pipes open.
 */
export async function openMaster(runtime: Runtime, configPath: string, alias: string): Promise<boolean> {
  const child = runtime.spawn(["ssh", "-F", configPath, "-o", "ControlMaster=yes", "-f", "-N", alias], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "ignore",
    passTokens: true, // the ProxyCommand runs gh, which may need the token
    // Its own session: the tunnel (ProxyCommand, started by this ssh before it backgrounds) must not
    // share our process group, or a terminal's Ctrl-C would kill it and every session on the master.
    detached: true,
  });
  const r = await child.exited;
  return r.code === 0;
}

/** Stop the lease's ControlMaster (`ssh -O exit`). True when one was running. */
export async function closeMaster(runtime: Runtime, configPath: string, alias: string): Promise<boolean> {
  const r = await runtime.exec(["ssh", "-F", configPath, "-O", "exit", alias], { timeoutMs: 15_000 });
  return r.code === 0;
}

/** A frame's header line, for the trace (`P <records> <tar> <codec>`). */
function frameHead(frame: Uint8Array): string {
  const nl = frame.indexOf(10);
  return Buffer.from(frame.subarray(0, nl < 0 ? Math.min(frame.length, 40) : nl)).toString("latin1");
}
