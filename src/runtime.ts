/**
 * Everything with a side effect that the rest of the code needs: HTTP, child
 * processes, the clock, the environment and the paths we own. Commands receive
 * a Runtime; tests build one with `createRuntime({...overrides})`.
 */
import { homedir } from "node:os";
import { join } from "node:path";

export type Env = Record<string, string | undefined>;

/** Where a GitHub token may sit in the environment. */
export const TOKEN_ENV = ["GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"] as const;

export interface ExecOptions {
  cwd?: string;
  /** Full environment of the child (defaults to runtime.env). */
  env?: Env;
  /**
   * Children never see GitHub tokens in their environment unless they need
   * them: gh, and ssh when it may open a tunnel (its ProxyCommand runs gh).
   */
  passTokens?: boolean;
  /** Bytes written to the child's stdin, then closed. Default: no stdin. */
  input?: string | Uint8Array;
  /** Kill the child (SIGTERM) after this long. */
  timeoutMs?: number;
  /** Kill the child (SIGTERM) when this aborts (before it ends). */
  signal?: AbortSignal;
  /** Start the child in its own session (setsid): a terminal's Ctrl-C reaches only us, not it. */
  detached?: boolean;
}

export interface ExecResult {
  /** Exit status; 128+n when killed by signal n; 127 when the program could not be started. */
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
  timedOut?: boolean;
}

/** A stdio mode, or a file descriptor number (e.g. 2 to send a child's stdout to our stderr). */
export type Stdio = "inherit" | "pipe" | "ignore" | number;

export interface SpawnOptions {
  cwd?: string;
  env?: Env;
  /** See ExecOptions.passTokens. */
  passTokens?: boolean;
  stdin?: Stdio;
  stdout?: Stdio;
  stderr?: Stdio;
  /**
   * Start the child in its own session (setsid; Bun's `detached`): signals a
   * terminal sends to our process group (Ctrl-C, SIGHUP) do not reach it or
   * its children, so the caller decides what to forward. The caller must end
   * it before exiting (it is not killed with us).
   */
  detached?: boolean;
}

export interface ChildExit {
  code: number | null;
  signal: string | null;
}

export interface Child {
  pid: number;
  exited: Promise<ChildExit>;
  kill(signal?: NodeJS.Signals | number): void;
  stdout: ReadableStream<Uint8Array> | null;
  stderr: ReadableStream<Uint8Array> | null;
  /** The child's stdin when spawned with `stdin: "pipe"` (write, then end). */
  stdin?: { write(chunk: string | Uint8Array): unknown; end(): unknown } | null;
}

export interface Runtime {
  env: Env;
  cwd: string;
  /** The OS user's home directory. */
  homeDir: string;
  /** Root of our state: $CRABBOX_HOME or ~/.crabbox. */
  crabboxHome: string;
  fetch: typeof globalThis.fetch;
  /** Milliseconds since the epoch. */
  now(): number;
  sleep(ms: number): Promise<void>;
  /** Run a program to completion, capturing its output. argv[0] is looked up on env.PATH. */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Start a program with streamed or inherited stdio. Throws when it cannot be started. */
  spawn(argv: string[], opts?: SpawnOptions): Child;
  /** Absolute path of a program on env.PATH, or null. */
  which(program: string): string | null;
  tty: { stdin: boolean; stdout: boolean; stderr: boolean };
  /** --verbose: receives one line per child process started and ended (the logger redacts it). */
  trace?: (line: string) => void;
}

/**
 * An argv as one readable line for traces: words with spaces or quotes are
 * single-quoted; a script (a word with a newline, or over 100 characters) is
 * shown by its start and length.
 */
export function argvLine(argv: readonly string[]): string {
  return argv
    .map((a) => {
      const word = a.includes("\n") || a.length > 100 ? `${a.split("\n")[0]!.slice(0, 60)}…[${a.length} chars]` : a;
      return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
    })
    .join(" ");
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15, SIGABRT: 6, SIGSEGV: 11, SIGUSR1: 10, SIGUSR2: 12,
};

export function signalNumber(signal: string | null | undefined): number | undefined {
  return signal ? SIGNALS[signal] : undefined;
}

function cleanEnv(env: Env, passTokens = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  if (!passTokens) for (const k of TOKEN_ENV) delete out[k];
  return out;
}

function resolveProgram(program: string, env: Env): string | null {
  if (program.includes("/")) return program;
  return Bun.which(program, { PATH: env.PATH ?? "" });
}

/**
 * Whether a file descriptor is a terminal. Bun's own binding answers without
 * building process.stdin/stdout/stderr (each a node stream: several ms of
 * start-up) or loading node:tty (which loads node:net); node:tty only if the
 * binding is missing.
 */
export function isatty(fd: number): boolean {
  try {
    const binding = (process as unknown as { binding(name: string): { isTTY?: (fd: number) => boolean } }).binding("tty_wrap");
    if (typeof binding.isTTY === "function") return Boolean(binding.isTTY(fd));
  } catch {
    // no such binding in this runtime
  }
  return (require("node:tty") as typeof import("node:tty")).isatty(fd);
}

export function createRuntime(overrides: Partial<Runtime> = {}): Runtime {
  const env: Env = overrides.env ?? process.env;
  const homeDir = overrides.homeDir ?? homedir();
  const crabboxHome = overrides.crabboxHome ?? (env.CRABBOX_HOME ? env.CRABBOX_HOME : join(homeDir, ".crabbox"));

  const runtime: Runtime = {
    env,
    cwd: process.cwd(),
    homeDir,
    crabboxHome,
    fetch: globalThis.fetch.bind(globalThis),
    now: () => Date.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    which: (program) => resolveProgram(program, runtime.env),

    async exec(argv, opts = {}) {
      const childEnv = cleanEnv(opts.env ?? runtime.env, opts.passTokens);
      const program = resolveProgram(argv[0] ?? "", childEnv);
      if (!program) {
        return { code: 127, signal: null, stdout: "", stderr: "", spawnError: `${argv[0]}: not found on PATH` };
      }
      let proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
      try {
        proc = Bun.spawn([program, ...argv.slice(1)], {
          cwd: opts.cwd ?? runtime.cwd,
          env: childEnv,
          stdin: "pipe",
          stdout: "pipe",
          stderr: "pipe",
          ...(opts.detached ? { detached: true } : {}),
        });
      } catch (e) {
        return { code: 127, signal: null, stdout: "", stderr: "", spawnError: `${argv[0]}: ${(e as Error).message}` };
      }
      if (opts.input !== undefined) proc.stdin.write(opts.input);
      proc.stdin.end();
      let timedOut = false;
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            proc.kill("SIGTERM");
          }, opts.timeoutMs)
        : undefined;
      const abort = () => proc.kill("SIGTERM");
      if (opts.signal?.aborted) abort();
      else opts.signal?.addEventListener("abort", abort, { once: true });
      const [stdout, stderr] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", abort);
      const signal = proc.signalCode == null ? null : String(proc.signalCode);
      const code = proc.exitCode ?? 128 + (signalNumber(signal) ?? 0);
      return { code, signal, stdout, stderr, ...(timedOut ? { timedOut } : {}) };
    },

    spawn(argv, opts = {}) {
      const childEnv = cleanEnv(opts.env ?? runtime.env, opts.passTokens);
      const program = resolveProgram(argv[0] ?? "", childEnv);
      if (!program) throw Object.assign(new Error(`${argv[0]}: not found on PATH`), { code: "ENOENT" });
      const proc = Bun.spawn([program, ...argv.slice(1)], {
        cwd: opts.cwd ?? runtime.cwd,
        env: childEnv,
        stdin: opts.stdin ?? "inherit",
        stdout: opts.stdout ?? "inherit",
        stderr: opts.stderr ?? "inherit",
        ...(opts.detached ? { detached: true } : {}),
      });
      return {
        pid: proc.pid,
        exited: proc.exited.then(() => ({ code: proc.exitCode, signal: proc.signalCode == null ? null : String(proc.signalCode) })),
        kill: (signal) => proc.kill(signal),
        stdout: (proc.stdout instanceof ReadableStream ? proc.stdout : null) as ReadableStream<Uint8Array> | null,
        stderr: (proc.stderr instanceof ReadableStream ? proc.stderr : null) as ReadableStream<Uint8Array> | null,
        stdin: opts.stdin === "pipe" ? (proc.stdin as unknown as { write(chunk: string | Uint8Array): unknown; end(): unknown }) : null,
      };
    },

    tty: { stdin: isatty(0), stdout: isatty(1), stderr: isatty(2) },
    ...overrides,
  };
  if (overrides.env === undefined) runtime.env = env;
  traceChildren(runtime);
  return runtime;
}

/** --verbose: every child started through exec/spawn is traced (argv, then exit and time) when runtime.trace is set. */
function traceChildren(runtime: Runtime): void {
  const { exec, spawn } = runtime;
  runtime.exec = async (argv, opts) => {
    if (!runtime.trace) return exec(argv, opts);
    const started = Date.now();
    runtime.trace(`exec: ${argvLine(argv)}`);
    const result = await exec(argv, opts);
    runtime.trace?.(`exec: ${argv[0]} exited ${result.code}${result.timedOut ? " (timed out)" : ""} in ${Date.now() - started}ms`);
    return result;
  };
  runtime.spawn = (argv, opts) => {
    const child = spawn(argv, opts);
    if (runtime.trace) {
      const started = Date.now();
      runtime.trace(`spawn: ${argvLine(argv)} (pid ${child.pid})`);
      void child.exited.then((e) => runtime.trace?.(`spawn: ${argv[0]} (pid ${child.pid}) exited ${e.code ?? e.signal} in ${Date.now() - started}ms`));
    }
    return child;
  };
}
