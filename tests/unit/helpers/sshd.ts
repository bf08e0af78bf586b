/**
 * A real OpenSSH server for unit tests, with no listening port: the client's
 * ProxyCommand runs `sshd -i` (inetd mode: SSH over stdin/stdout), exactly as
 * gh's `--stdio` tunnel does for a codespace. Keys are generated per harness.
 * Each proxy invocation is logged, so tests can count new connections.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { createRuntime, type Runtime } from "../../../src/runtime.ts";
import { shQuote } from "../../../src/ssh/quote.ts";

export interface HarnessOptions {
  /** Remote PATH is restricted to a dir holding only these programs (plus sh, bash). */
  remotePrograms?: string[];
  /** The proxy prints gh's "no SSH server" error instead of starting sshd. */
  noSshServer?: boolean;
  /** The proxy fails with a generic error (a dead tunnel). */
  brokenProxy?: boolean;
  /** Alias printed on the Host line. */
  alias?: string;
}

export interface Recorded {
  kind: "exec" | "spawn";
  argv: string[];
}

export interface Harness {
  dir: string;
  /** CRABBOX_HOME for the test. */
  home: string;
  /** What `gh codespace ssh --config -c NAME` would print for this "codespace". */
  ghOutput: string;
  alias: string;
  /** Runtime with exec/spawn recorded in `calls`. */
  runtime: Runtime;
  calls: Recorded[];
  /** Number of times the proxy (one SSH connection each) was started. */
  proxyStarts(): number;
  /** A scratch directory standing for the codespace's disk. */
  remoteDir: string;
  cleanup(): Promise<void>;
}

async function run(argv: string[]): Promise<void> {
  const p = Bun.spawn(argv, { stdout: "ignore", stderr: "pipe" });
  const code = await p.exited;
  if (code !== 0) throw new Error(`${argv.join(" ")} failed: ${await new Response(p.stderr).text()}`);
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const dir = mkdtempSync("/tmp/cbx-");
  const home = join(dir, "home");
  const remoteDir = join(dir, "remote");
  mkdirSync(home, { recursive: true });
  mkdirSync(remoteDir, { recursive: true });
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "host_key")]);
  await run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", join(dir, "client_key")]);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "client_key.pub")));

  const sshdLines = [
    `HostKey ${join(dir, "host_key")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "StrictModes no",
    "UsePAM no",
    "PidFile none",
    "LogLevel ERROR",
    "PermitRootLogin prohibit-password",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PrintMotd no",
  ];
  if (opts.remotePrograms) {
    const bin = join(dir, "rbin");
    mkdirSync(bin);
    for (const p of ["sh", "bash", ...opts.remotePrograms]) {
      const target = Bun.which(p);
      if (target && !existsSync(join(bin, p))) symlinkSync(target, join(bin, p));
    }
    sshdLines.push(`SetEnv PATH=${bin}`);
  }
  const sshdConfig = join(dir, "sshd_config");
  writeFileSync(sshdConfig, `${sshdLines.join("\n")}\n`);

  const log = join(dir, "proxy.log");
  const proxy = join(dir, "proxy.sh");
  let body = `exec /usr/sbin/sshd -i -f ${shQuote(sshdConfig)}`;
  if (opts.noSshServer) {
    body = `echo 'error getting ssh server details: failed to start SSH server: Please check if an SSH server is installed in the container.' >&2\nexit 1`;
  } else if (opts.brokenProxy) {
    body = `echo 'error connecting to codespace: tunnel closed unexpectedly' >&2\nexit 1`;
  }
  writeFileSync(proxy, `#!/bin/sh\necho start >> ${shQuote(log)}\n${body}\n`);
  chmodSync(proxy, 0o755);

  const alias = opts.alias ?? "cs.fuzzy-crab-q7x9.main";
  const ghOutput = [
    `Host ${alias}`,
    `\tUser root`,
    `\tProxyCommand ${proxy} cs ssh -c fuzzy-crab-q7x9 --stdio -- -i ${join(dir, "client_key")}`,
    `\tUserKnownHostsFile=/dev/null`,
    `\tStrictHostKeyChecking no`,
    `\tLogLevel quiet`,
    `\tControlMaster auto`,
    `\tIdentityFile ${join(dir, "client_key")}`,
    "",
  ].join("\n");

  const calls: Recorded[] = [];
  const base = createRuntime({ crabboxHome: home, env: { ...process.env, CRABBOX_HOME: home } });
  const runtime: Runtime = {
    ...base,
    exec: (argv, o) => {
      calls.push({ kind: "exec", argv });
      return base.exec(argv, o);
    },
    spawn: (argv, o) => {
      calls.push({ kind: "spawn", argv });
      return base.spawn(argv, o);
    },
  };

  return {
    dir,
    home,
    ghOutput,
    alias,
    runtime,
    calls,
    remoteDir,
    proxyStarts: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0),
    async cleanup() {
      // Stop any ControlMaster started with a config under this harness.
      const sshDir = join(runtime.crabboxHome, "ssh");
      if (existsSync(sshDir)) {
        for (const f of new Bun.Glob("*.config").scanSync(sshDir)) {
          const host = /^Host (\S+)/m.exec(readFileSync(join(sshDir, f), "utf8"))?.[1];
          if (!host) continue;
          const p = Bun.spawn(["ssh", "-F", join(sshDir, f), "-O", "exit", host], { stdout: "ignore", stderr: "pipe" });
          const code = await p.exited;
          if (process.env.CBX_DEBUG) console.error("cleanup", f, code, await new Response(p.stderr).text());
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
