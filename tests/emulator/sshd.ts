/**
 * The emulator's SSH side: key pairs, the sshd_config that `sshd -i` runs
 * with, and a probe for private mount namespaces (so /workspaces can be the
 * codespace's own directory). No HTTP here.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const SSHD_PATH = "/usr/sbin/sshd";

export interface SshFiles {
  /** Client private key: what `IdentityFile` points at (like ~/.ssh/codespaces.auto). */
  clientKey: string;
  hostKey: string;
  authorizedKeys: string;
  sshdConfig: string;
  /** "unshare": /workspaces is bind-mounted per tunnel; "plain": sessions get $CODESPACE_DIR only. */
  mountMode: "unshare" | "plain";
}

async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderr = await new Response(p.stderr).text();
  return { code: await p.exited, stderr };
}

async function keygen(path: string, comment: string): Promise<void> {
  if (existsSync(path)) return;
  const r = await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed for ${path}: ${r.stderr.trim()}`);
}

/** Can we give each tunnel a private mount namespace with /workspaces bind-mounted? */
async function probeUnshare(stateDir: string): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    mkdirSync("/workspaces", { recursive: true });
  } catch {
    return false;
  }
  const r = await run([
    "unshare",
    "-m",
    "--propagation",
    "private",
    "sh",
    "-c",
    'mount --bind "$1" /workspaces',
    "sh",
    stateDir,
  ]);
  return r.code === 0;
}

export async function prepareSsh(stateDir: string): Promise<SshFiles> {
  const clientKey = join(stateDir, "codespaces.auto");
  const hostKey = join(stateDir, "ssh_host_ed25519_key");
  const authorizedKeys = join(stateDir, "authorized_keys");
  const sshdConfig = join(stateDir, "sshd_config");
  await Promise.all([keygen(clientKey, "codespaces.auto"), keygen(hostKey, "crabbox-emulator-host")]);
  writeFileSync(authorizedKeys, readFileSync(`${clientKey}.pub`, "utf8"), { mode: 0o600 });
  chmodSync(clientKey, 0o600);
  if (process.getuid?.() === 0) {
    // Debian's sshd refuses to start without its privilege-separation directory.
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  }
  writeFileSync(
    sshdConfig,
    [
      "# crabbox-cs Codespaces emulator: sshd in inetd mode (sshd -i) behind the gh stand-in",
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      "StrictModes no",
      "UsePAM no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "PidFile none",
      "LogLevel ERROR",
      "PrintMotd no",
      "PrintLastLog no",
      "X11Forwarding no",
      "MaxSessions 64",
      "Subsystem sftp internal-sftp",
      "",
    ].join("\n"),
  );
  const mountMode = (await probeUnshare(stateDir)) ? "unshare" : "plain";
  return { clientKey, hostKey, authorizedKeys, sshdConfig, mountMode };
}

/** argv that serves one SSH connection on stdin/stdout for a codespace whose disk is `dir` and whose user's home is `home`. */
export function sshdArgv(files: Pick<SshFiles, "sshdConfig" | "mountMode">, dir: string, home: string): string[] {
  // sshd applies SetEnv after its own HOME, so the session's shell reads `home`'s rc files.
  const setEnv = ["-o", `SetEnv=CODESPACE_DIR=${dir} HOME=${home}`];
  if (files.mountMode === "unshare") {
    return [
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount --bind "$1" /workspaces && shift && exec "$@"',
      "sh",
      dir,
      SSHD_PATH,
      "-i",
      "-f",
      files.sshdConfig,
      ...setEnv,
    ];
  }
  return [SSHD_PATH, "-i", "-f", files.sshdConfig, ...setEnv];
}
