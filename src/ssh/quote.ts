/**
 * POSIX shell quoting for the one command string ssh hands to the remote
 * login shell. What the user typed (an argv) is what runs remotely: every
 * element is single-quoted unless it is made only of characters no POSIX
 * shell treats specially.
 */
import { CrabboxError, Exit } from "../errors.ts";

/** Characters that never need quoting. `=` is excluded so `A=b` can never become an assignment. */
const SAFE = /^[A-Za-z0-9_@%+:,./-]+$/;

export const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Quote one word for a POSIX shell; the shell reads it back byte for byte. */
export function shQuote(s: string): string {
  if (s !== "" && SAFE.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The remote work root as a shell word. `~` and `~/rest` mean the remote
 * user's home (expanded remotely through "$HOME"); anything else is quoted.
 */
export function quoteWorkRoot(workRoot: string): string {
  if (workRoot === "~") return `"$HOME"`;
  if (workRoot.startsWith("~/")) {
    const rest = workRoot.slice(2);
    return rest === "" ? `"$HOME"` : `"$HOME"/${shQuote(rest)}`;
  }
  return shQuote(workRoot);
}

export interface RemoteCommandInput {
  workRoot: string;
  /** The command and its arguments, as the user typed them. Empty: an interactive login shell. */
  argv: string[];
  /**
   * A command line the remote shell parses itself (OpenSSH's rule for
   * `ssh host -- words...`: the words joined with spaces), run with `eval`
   * after the cd. Set, it replaces argv's exact-argv quoting.
   */
  shell?: string;
  /** Variables to export remotely (only names the user listed). Their values appear in the command. */
  env?: Record<string, string>;
  /** A remote file of `export` lines to source (and delete) first: values stay off the command line. */
  envFile?: string;
  /**
   * This run's nonce ([a-z0-9], see `runNonce`): the command then runs at most
   * once per nonce and announces itself with markers (see `exactlyOnce`).
   */
  nonce?: string;
  /**
   * A shell line run first, before the nonce is claimed (the in-session sync,
   * src/sync/remote.ts): when it fails, the session ends and nothing ran.
   */
  preamble?: string;
}

/** `export NAME='value'` lines for an env file. */
export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => {
      if (!ENV_NAME_RE.test(name)) throw new CrabboxError({ code: "usage", message: `invalid environment variable name: ${JSON.stringify(name)}`, exit: Exit.usage });
      return `export ${name}=${shQuote(value)}\n`;
    })
    .join("");
}

/**
 * The single string passed to `ssh ... <alias> -- <string>`:
 *
 *     cd -- <workRoot> && export NAME=<value> && <argv...>; exit $?
 *
 * The trailing `; exit $?` keeps the remote shell alive around the command
 * (no exec), so a command killed by signal N reports 128+N like a local shell
 * would, instead of OpenSSH's 255 for "remote killed by signal".
 */
export function remoteCommand(input: RemoteCommandInput): string {
  if (input.workRoot === "") {
    throw new CrabboxError({ code: "usage", message: "the remote work root is empty", exit: Exit.usage });
  }
  const parts: string[] = [];
  if (input.envFile) {
    // Source then delete, whatever happens; fail if it could not be sourced.
    const f = shQuote(input.envFile);
    parts.push(`{ . ${f}; s=$?; rm -f ${f}; [ $s = 0 ]; }`);
  }
  parts.push(`cd -- ${quoteWorkRoot(input.workRoot)}`);
  for (const [name, value] of Object.entries(input.env ?? {})) {
    if (!ENV_NAME_RE.test(name)) {
      throw new CrabboxError({
        code: "usage",
        message: `invalid environment variable name: ${JSON.stringify(name)}`,
        hint: "Names must match [A-Za-z_][A-Za-z0-9_]*",
        exit: Exit.usage,
      });
    }
    parts.push(`export ${name}=${shQuote(value)}`);
  }
  if (input.shell !== undefined) parts.push(`eval ${shQuote(input.shell)}`);
  else if (input.argv.length === 0) {
    parts.push(`exec "\${SHELL:-/bin/sh}" -l`);
    return parts.join(" && ");
  } else parts.push(input.argv.map(shQuote).join(" "));
  if (!input.nonce) return `${parts.join(" && ")}; exit $?`;
  // A run that will not start (its nonce was claimed before) must not leave the env file behind.
  const once = exactlyOnce(input.nonce, parts.join(" && "), input.envFile ? `rm -f ${shQuote(input.envFile)}; ` : "");
  if (!input.preamble) return once;
  return `${input.preamble} || { ${input.envFile ? `rm -f ${shQuote(input.envFile)}; ` : ""}exit 3; }\n${once}`;
}

/** Where a run's nonce is claimed remotely: a persistent place outside the work root. */
export const RUNS_DIR = ".cache/crabbox/runs";
/** First byte of every marker line (ASCII unit separator: never part of ordinary output). */
export const MARKER_LEAD = 0x1f;
/** Exit status of the wrapper when the nonce was already claimed (the marker says so too). */
export const ALREADY_STARTED_STATUS = 254;
const NONCE_RE = /^[a-z0-9]{8,64}$/;

/** A fresh run nonce: 16 lowercase base32 characters. */
export function runNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let out = "";
  for (const b of bytes) out += "abcdefghijklmnopqrstuvwxyz234567"[b & 31];
  return out;
}

function assertNonce(nonce: string): void {
  if (!NONCE_RE.test(nonce)) throw new CrabboxError({ code: "usage", message: `invalid run nonce ${JSON.stringify(nonce)}`, exit: Exit.unexpected });
}

/** The marker prefix for a nonce; a marker line is `<prefix><kind>[:<number>]\n` on the remote stderr. */
export function markerPrefix(nonce: string): string {
  return `\x1fcrabbox-cs:${nonce}:`;
}

/**
 * Wrap `body` so that it runs at most once per nonce, and says so:
 *
 * 1. claim the nonce by creating the file `~/.cache/crabbox/runs/<nonce>`
 *    with `running <pid>` in it, under `set -C` (noclobber: the shell opens it
 *    O_CREAT|O_EXCL, so exactly one creator wins, and no program is started
 *    for it: a `mkdir` cost a fork and exec in every run); if it already
 *    exists, this run started before (or was cancelled): print the `again`
 *    marker and exit 254 without running anything;
 * 2. print the `started:<pid>` marker (the pid is the remote shell's, which
 *    sshd made a session and process-group leader: `cancelScript` signals
 *    that group);
 * 3. run the body (noclobber off again); record `done <status>` in the file,
 *    print the `exit:<status>` marker, exit with the body's status (the shell
 *    stays around the command, and traps SIGINT/SIGTERM while it runs, so a
 *    command killed by signal N reports 128+N, not OpenSSH's 255).
 *
 * `mkdir -p` runs only when the runs directory is missing (the first run on a
 * codespace). When the file cannot be made at all (a read-only home), the
 * command still runs, unguarded: the start marker alone still proves a start.
 */
export function exactlyOnce(nonce: string, body: string, onAgain = ""): string {
  assertNonce(nonce);
  const m = `'\\037crabbox-cs:${nonce}:`;
  return [
    `d="$HOME/${RUNS_DIR}/${nonce}"`,
    `set -C`,
    `if { { echo "running $$"; } >"$d"; } 2>/dev/null || { [ ! -e "$d" ] && mkdir -p "\${d%/*}" 2>/dev/null && { { echo "running $$"; } >"$d"; } 2>/dev/null; }; then :`,
    `elif [ -e "$d" ]; then ${onAgain}printf ${m}again\\n' >&2; exit ${ALREADY_STARTED_STATUS}; fi`,
    `set +C`,
    `printf ${m}started:%s\\n' "$$" >&2`,
    // The shell outlives a SIGINT/SIGTERM to its group (a pty's Ctrl-C, our cancel) to report the
    // command's 130/143; a trapped signal is reset to default in the command, which still gets it.
    `trap : INT TERM`,
    `${body}`,
    `rc=$?; { echo "done $rc" >|"$d"; } 2>/dev/null; printf ${m}exit:%s\\n' "$rc" >&2; exit $rc`,
  ].join("\n");
}

/**
 * Stop the run with this nonce, from another session: if the run never
 * started, claim its nonce so that it never will; otherwise signal its
 * process group (`sig`, then SIGTERM, then SIGKILL: gone within about 3 s
 * whatever it ignores). Prints `cancelled`, `stopped` or `finished`.
 */
export function cancelScript(nonce: string, sig: "INT" | "TERM" | "HUP"): string {
  assertNonce(nonce);
  return [
    `d="$HOME/${RUNS_DIR}/${nonce}"`,
    `mkdir -p "\${d%/*}" 2>/dev/null`,
    // The same claim as exactlyOnce's: whoever creates the file first (noclobber) decides.
    `set -C`,
    `if { { echo cancelled; } >"$d"; } 2>/dev/null; then echo cancelled; exit 0; fi`,
    `set +C`,
    `i=0; s=; p=`,
    `while [ $i -lt 30 ]; do { read s p <"$d"; } 2>/dev/null; [ -n "$s" ] && break; sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done`,
    `[ "$s" = running ] && [ -n "$p" ] || { echo finished; exit 0; }`,
    `for g in ${sig} TERM KILL; do kill -$g -$p 2>/dev/null || break; i=0; while [ $i -lt 12 ] && kill -0 -$p 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; kill -0 -$p 2>/dev/null || break; done`,
    `echo stopped`,
  ].join("\n");
}
