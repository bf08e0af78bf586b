/**
 * Turning an ssh (or gh ProxyCommand) failure into the error the user can act
 * on: "the codespace runs no SSH server" (exit 7, with the devcontainer fix)
 * versus "ssh could not connect" (exit 255, with ssh's own words).
 */
import { existsSync, openSync, readSync, closeSync, statSync } from "node:fs";
import { CrabboxError, Exit } from "../errors.ts";
import { tail } from "../util/text.ts";

// Re-exported for the tree-sync modules that still import it from here.

/** The devcontainer.json fragment that adds an SSH server to a codespace image. */
export const SSHD_FEATURE_SNIPPET = `{
  "features": {
    "ghcr.io/devcontainers/features/sshd:1": {
      "version": "latest"
    }
  }
}`;

/** gh's messages when the codespace has no SSH server (and ours from the emulator). */
const SSH_SERVER_MISSING_RE = /failed to start SSH server|SSH server|\bsshd\b/i;

export function mentionsMissingSshServer(text: string): boolean {
  return SSH_SERVER_MISSING_RE.test(text);
}

export function sshServerMissingError(output: string, codespaceName?: string): CrabboxError {
  return new CrabboxError({
    code: "ssh_server_missing",
    message: `the codespace${codespaceName ? ` ${codespaceName}` : ""} does not run an SSH server, so crabbox-cs cannot reach it`,
    why: tail(output) || undefined,
    hint: `Add the SSH server feature to the repository's .devcontainer/devcontainer.json, then rebuild or recreate the codespace:\n${SSHD_FEATURE_SNIPPET}`,
    exit: Exit.sshUnusable,
    details: { devcontainerSnippet: JSON.parse(SSHD_FEATURE_SNIPPET) as unknown },
  });
}

export function sshConnectError(output: string, what = "ssh could not connect to the codespace"): CrabboxError {
  const text = output.trim();
  let hint = "Check that the codespace is Available and that `gh codespace ssh --config -c <name>` works; then retry.";
  if (/permission denied/i.test(text)) {
    hint = "The codespace rejected the key: run `gh codespace ssh -c <name>` once so gh uploads ~/.ssh/codespaces.auto, then retry.";
  } else if (/timed out|timeout/i.test(text)) {
    hint = "The connection timed out: the codespace may still be starting; retry in a minute.";
  }
  return new CrabboxError({
    code: "ssh_connect",
    message: what,
    why: tail(text) || "ssh exited with status 255 and printed nothing",
    hint,
    exit: Exit.sshConnect,
  });
}

/** Classify a failed ssh round trip (exit 255) from ssh's stderr plus the ProxyCommand's log. */
export function classifySshFailure(stderr: string, proxyOutput = "", what?: string): CrabboxError {
  const all = [proxyOutput.trim(), stderr.trim()].filter(Boolean).join("\n");
  if (mentionsMissingSshServer(all)) return sshServerMissingError(all);
  return sshConnectError(all, what);
}

/** Remember the proxy log's size before a connection attempt... */
export function logMark(path: string | undefined): number {
  if (!path) return 0;
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** ...and read what was appended since (at most the last 16 KiB). */
export function readLogSince(path: string | undefined, mark: number): string {
  if (!path || !existsSync(path)) return "";
  try {
    const size = statSync(path).size;
    const start = Math.max(size < mark ? 0 : mark, size - 16384);
    const len = size - start;
    if (len <= 0) return "";
    const buf = Buffer.alloc(len);
    const fd = openSync(path, "r");
    try {
      readSync(fd, buf, 0, len, start);
    } finally {
      closeSync(fd);
    }
    return buf.toString("utf8");
  } catch {
    return "";
  }
}

/** rsync is missing in the codespace: how to add it, for this codespace and for every one. */
export function remoteRsyncMissingError(why: string, details?: Record<string, unknown>): CrabboxError {
  return new CrabboxError({
    code: "remote_missing_rsync",
    message: "rsync is not installed in the codespace",
    why,
    hint:
      "Install it in the codespace: `sudo apt-get update && sudo apt-get install -y rsync`; or for every codespace, add a line to the devcontainer's Dockerfile (`RUN apt-get update && apt-get install -y rsync`) or a devcontainer feature that provides it.",
    exit: Exit.sshUnusable,
    details,
  });
}
