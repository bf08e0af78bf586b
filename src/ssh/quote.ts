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
  /** Variables to export remotely (only names the user listed). Their values appear in the command. */
  env?: Record<string, string>;
  /** A remote file of `export` lines to source (and delete) first: values stay off the command line. */
  envFile?: string;
}

/** `export NAME='value'` lines for an env file. */
export function exportLines(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([name, value]) => {
      if (!ENV_NAME_RE.test(name)) throw new CrabboxError({ code: "usage", message: `Invalid environment variable name: ${JSON.stringify(name)}`, exit: Exit.usage });
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
    throw new CrabboxError({ code: "usage", message: "The remote work root is empty", exit: Exit.usage });
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
        message: `Invalid environment variable name: ${JSON.stringify(name)}`,
        hint: "Names must match [A-Za-z_][A-Za-z0-9_]*",
        exit: Exit.usage,
      });
    }
    parts.push(`export ${name}=${shQuote(value)}`);
  }
  if (input.argv.length === 0) {
    parts.push(`exec "\${SHELL:-/bin/sh}" -l`);
    return parts.join(" && ");
  }
  parts.push(input.argv.map(shQuote).join(" "));
  return `${parts.join(" && ")}; exit $?`;
}
