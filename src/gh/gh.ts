/**
 * The GitHub CLI as a subprocess (through runtime.exec): its version, and the
 * OpenSSH config block it prints for a codespace. We never run remote
 * commands through `gh codespace ssh -- <cmd>` (see docs: it fails where
 * plain `ssh -F` works).
 */
import { CrabboxError, Exit } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import { mentionsMissingSshServer, sshServerMissingError } from "../ssh/diagnose.ts";
import { tail } from "../util/text.ts";

export { SSHD_FEATURE_SNIPPET } from "../ssh/diagnose.ts";

const GH_TIMEOUT_MS = 120_000;

function ghEnv(runtime: Runtime): Record<string, string | undefined> {
  // Never let gh wait for an answer on a prompt nobody sees.
  return { ...runtime.env, GH_PROMPT_DISABLED: "1" };
}

export function ghNotFoundError(ghPath: string, why?: string): CrabboxError {
  return new CrabboxError({
    code: "gh_not_found",
    message: `the GitHub CLI (${ghPath}) could not be run`,
    why,
    hint: "Install gh (https://cli.github.com, or `sudo apt-get install gh`), or point --github-codespaces-gh at it",
    exit: Exit.usage,
  });
}

/** `gh --version` → "2.23.0", or null when gh is missing or prints something else. */
export async function ghVersion(runtime: Runtime, ghPath: string): Promise<string | null> {
  const r = await runtime.exec([ghPath, "--version"], { env: ghEnv(runtime), passTokens: true, timeoutMs: 30_000 });
  if (r.spawnError || r.code !== 0) return null;
  const m = /gh version (\d+\.\d+\.\d+\S*)/.exec(r.stdout);
  return m ? m[1]! : null;
}

/** `gh codespace ssh --config -c <name>`: the raw Host block text (parse with ssh/config.ts). */
/** Names GitHub generates: letters, digits, `-`, `_`, `.`. Anything else never reaches a command line. */
export const SAFE_CODESPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

export async function ghSshConfig(runtime: Runtime, ghPath: string, codespaceName: string): Promise<string> {
  if (!SAFE_CODESPACE_NAME.test(codespaceName)) {
    throw new CrabboxError({
      code: "unsafe_codespace_name",
      message: `refusing to pass the codespace name ${JSON.stringify(codespaceName)} to gh`,
      why: "GitHub returned a name with characters its generated names never contain",
      hint: "release the lease with crabbox-cs stop (API only), and report this",
      exit: Exit.api,
    });
  }
  const r = await runtime.exec([ghPath, "codespace", "ssh", "--config", "-c", codespaceName], {
    env: ghEnv(runtime),
    passTokens: true,
    timeoutMs: GH_TIMEOUT_MS,
  });
  if (r.spawnError) throw ghNotFoundError(ghPath, r.spawnError);
  const output = `${r.stderr}\n${r.stdout}`;
  if (r.timedOut) {
    throw new CrabboxError({
      code: "gh_timeout",
      message: `gh codespace ssh --config -c ${codespaceName} did not finish within ${GH_TIMEOUT_MS / 1000}s`,
      why: tail(r.stderr) || undefined,
      hint: `Run \`gh codespace ssh --config -c ${codespaceName}\` by hand to see where it stops.`,
      exit: Exit.timeout,
    });
  }
  if (r.code !== 0) {
    if (mentionsMissingSshServer(output)) throw sshServerMissingError(output, codespaceName);
    if (/codespace.{0,20}scope|gh auth (login|refresh)|HTTP 401|not logged in|authentication/i.test(output)) {
      throw new CrabboxError({
        code: "gh_auth",
        message: "gh is not authorized to reach this codespace",
        why: tail(r.stderr) || undefined,
        hint: "gh auth refresh -h github.com -s codespace",
        exit: Exit.auth,
      });
    }
    throw new CrabboxError({
      code: "gh_ssh_config_failed",
      message: `gh codespace ssh --config -c ${codespaceName} failed (exit ${r.code})`,
      why: tail(r.stderr) || tail(r.stdout) || undefined,
      hint: `Run \`gh codespace ssh --config -c ${codespaceName}\` by hand; check that the codespace is Available.`,
      exit: Exit.sshUnusable,
    });
  }
  if (!/^\s*Host\s/im.test(r.stdout)) {
    throw new CrabboxError({
      code: "gh_ssh_config_failed",
      message: `gh codespace ssh --config -c ${codespaceName} printed no Host block`,
      why: tail(r.stderr) || undefined,
      hint: "Upgrade gh (`gh --version`; 2.x prints an OpenSSH Host block).",
      exit: Exit.sshUnusable,
    });
  }
  return r.stdout;
}

/** The gh binary as the product uses it: a port, so that lifecycle tests can pass a fake. */
export interface Gh {
  /** `gh --version` → "2.23.0", or null. */
  version(): Promise<string | null>;
  /** The OpenSSH Host block gh prints for a codespace. */
  sshConfig(codespaceName: string): Promise<string>;
}

export function createGh(runtime: Runtime, ghPath: string): Gh {
  return {
    version: () => ghVersion(runtime, ghPath),
    sshConfig: (name) => ghSshConfig(runtime, ghPath, name),
  };
}
