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
import type { Child, ChildExit, Runtime } from "../runtime.ts";
import { CrabboxError, Exit } from "../errors.ts";
import { tail } from "./diagnose.ts";
import { exportLines, remoteCommand } from "./quote.ts";

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
  /** Variables to export remotely: only names the user listed. */
  env?: Record<string, string>;
  /** Default: wantTty(runtime). */
  tty?: boolean;
  /** Aborting sends SIGTERM (or the abort reason, if it is a signal name) to ssh. */
  signal?: AbortSignal;
  /** Receives the ssh child as soon as it exists (to forward signals, say). */
  onSpawn?: (child: Child) => void;
  /** Send the command's stdout to our stderr (for --json, where stdout carries our summary). */
  stdoutToStderr?: boolean;
}

/** Run the user's command remotely with inherited (streamed, unbuffered) stdio. */
export async function runRemote(runtime: Runtime, input: RunRemoteInput): Promise<ChildExit> {
  const envFile = input.env && Object.keys(input.env).length > 0 ? await uploadEnv(runtime, input.configPath, input.alias, input.env) : undefined;
  const command = remoteCommand({ workRoot: input.workRoot, argv: input.argv, envFile });
  const tty = input.tty ?? wantTty(runtime);
  const argv = sshArgs({ configPath: input.configPath, alias: input.alias, tty, command });
  // ssh may have to open the tunnel (master gone): its ProxyCommand runs gh, which may need the token.
  const child = runtime.spawn(argv, { stdin: "inherit", stdout: input.stdoutToStderr ? 2 : "inherit", stderr: "inherit", passTokens: true });
  input.onSpawn?.(child);
  const onAbort = () => {
    const reason: unknown = input.signal?.reason;
    child.kill(typeof reason === "string" && reason.startsWith("SIG") ? (reason as NodeJS.Signals) : "SIGTERM");
  };
  if (input.signal) {
    if (input.signal.aborted) onAbort();
    else input.signal.addEventListener("abort", onAbort, { once: true });
  }
  try {
    return await child.exited;
  } finally {
    input.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Put forwarded variables in a private remote temp file (sent on stdin), so
 * that their values never appear on a command line, locally or remotely.
 * Returns the remote path; the command sources and deletes it.
 */
export async function uploadEnv(runtime: Runtime, configPath: string, alias: string, env: Record<string, string>): Promise<string> {
  const script = `umask 077 && f=$(mktemp "\${TMPDIR:-/tmp}/crabbox-env.XXXXXXXX") && cat > "$f" && printf '%s' "$f"`;
  const r = await runtime.exec(sshArgs({ configPath, alias, tty: false, command: script }), { input: exportLines(env), passTokens: true, timeoutMs: 60_000 });
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

/**
 * Forward SIGINT/SIGTERM/SIGHUP received by this process to `child` while it
 * runs (without them, Bun would die and leave ssh behind). Returns the undo.
 */
export function forwardSignals(child: Child, signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"]): () => void {
  const handlers = signals.map((sig) => {
    const h = () => {
      try {
        child.kill(sig);
      } catch {}
    };
    process.on(sig, h);
    return [sig, h] as const;
  });
  return () => {
    for (const [sig, h] of handlers) process.off(sig, h);
  };
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
  });
  const r = await child.exited;
  return r.code === 0;
}

/** Stop the lease's ControlMaster (`ssh -O exit`). True when one was running. */
export async function closeMaster(runtime: Runtime, configPath: string, alias: string): Promise<boolean> {
  const r = await runtime.exec(["ssh", "-F", configPath, "-O", "exit", alias], { timeoutMs: 15_000 });
  return r.code === 0;
}
