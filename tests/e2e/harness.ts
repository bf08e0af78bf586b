/**
 * End-to-end harness: the compiled binary (dist/crabbox-cs) against the
 * Codespaces emulator, with real ssh, rsync and sshd. Each test gets its own
 * CRABBOX_HOME, HOME and a git work tree whose origin is the emulated repo.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as v from "valibot";
import type { Codespace } from "../../src/github/schemas.ts";
import { ClaimSchema } from "../../src/leases/claim.ts";
import { newLeaseId, newNonce } from "../../src/leases/ids.ts";
import { bindCodespace } from "../../src/lifecycle/claims.ts";
import { startEmulator, type Emulator, type EmulatorOptions } from "../emulator/index.ts";

export const ROOT = resolve(import.meta.dir, "../..");
export const BIN = join(ROOT, "dist/crabbox-cs");

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = any>(): T;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

export interface Harness {
  emu: Emulator;
  /** CRABBOX_HOME of this harness. */
  home: string;
  /** A git work tree whose origin is github.com/octo-org/hello-world. */
  work: string;
  tmp: string;
  env: Record<string, string>;
  run(args: string[], opts?: RunOptions): Promise<RunResult>;
  /** Start the binary without waiting (for signal tests). */
  spawn(args: string[], opts?: RunOptions): Bun.Subprocess<"ignore", "pipe", "pipe">;
  close(): Promise<void>;
}

export function requireBinary(): void {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm test\` (it builds first) or \`bun build.ts\``);
}

export function git(cwd: string, ...args: string[]): string {
  const r = Bun.spawnSync(["git", ...args], {
    cwd,
    env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" },
  });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

export async function createHarness(opts: EmulatorOptions & { repo?: string } = {}): Promise<Harness> {
  requireBinary();
  const emu = await startEmulator({ handshakeDelayMs: 20, ...opts });
  const tmp = mkdtempSync(join(tmpdir(), "crabbox-e2e-"));
  const home = join(tmp, "crabbox-home");
  const userHome = join(tmp, "home");
  const work = join(tmp, "work");
  mkdirSync(userHome, { recursive: true });
  mkdirSync(work, { recursive: true });
  git(work, "init", "-q", "-b", "main");
  git(work, "remote", "add", "origin", `https://github.com/${opts.repo ?? "octo-org/hello-world"}.git`);
  writeFileSync(join(work, "README.md"), "# hello\n");
  writeFileSync(join(work, ".gitignore"), "ignored.txt\nnode_modules/\n");
  git(work, "add", ".");
  git(work, "commit", "-q", "-m", "init");

  const env: Record<string, string> = {
    ...emu.env({ PATH: process.env.PATH }),
    HOME: userHome,
    XDG_CONFIG_HOME: join(userHome, ".config"),
    CRABBOX_HOME: home,
    NO_COLOR: "1",
    LANG: "C.UTF-8",
  };

  const fullEnv = (extra?: Record<string, string | undefined>) => {
    const e: Record<string, string> = { ...env };
    for (const [k, v] of Object.entries(extra ?? {})) {
      if (v === undefined) delete e[k];
      else e[k] = v;
    }
    return e;
  };

  const spawn = (args: string[], o: RunOptions = {}) =>
    Bun.spawn([BIN, ...args], { cwd: o.cwd ?? work, env: fullEnv(o.env), stdin: "ignore", stdout: "pipe", stderr: "pipe" });

  return {
    emu,
    home,
    work,
    tmp,
    env,
    spawn,
    async run(args, o = {}) {
      const proc = Bun.spawn([BIN, ...args], {
        cwd: o.cwd ?? work,
        env: fullEnv(o.env),
        stdin: o.input === undefined ? "ignore" : new TextEncoder().encode(o.input),
        stdout: "pipe",
        stderr: "pipe",
      });
      const timer = setTimeout(() => proc.kill("SIGKILL"), o.timeoutMs ?? 60_000);
      const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      clearTimeout(timer);
      return {
        code,
        stdout,
        stderr,
        json() {
          try {
            return JSON.parse(stdout);
          } catch {
            throw new Error(`stdout is not one JSON document (exit ${code}):\n${stdout}\n--- stderr:\n${stderr}`);
          }
        },
      };
    },
    async close() {
      // Close any ControlMaster this test left behind, then the emulator.
      Bun.spawnSync(["sh", "-c", `for f in "${home}"/ssh/*.config; do [ -f "$f" ] && ssh -F "$f" -O exit "$(awk '/^Host /{print $2; exit}' "$f")" 2>/dev/null; done; true`]);
      await emu.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** `warmup --keep --json`: the kept lease a suite works on (throws with warmup's stderr if it fails). */
export async function warmKeptLease(h: Harness): Promise<any> {
  const r = await h.run(["warmup", "--json", "--keep"]);
  if (r.code !== 0) throw new Error(`warmup failed (exit ${r.code}):\n${r.stderr}`);
  return r.json();
}

/** Delete a suite's kept lease (if it got one) and close the harness. */
export async function closeWithLease(h: Harness | undefined, lease: { leaseId: string } | undefined): Promise<void> {
  if (h && lease) await h.run(["stop", lease.leaseId, "--delete"]);
  await h?.close();
}

/**
 * Put a recording `rsync` first on the harness's PATH. `calls()` lists every
 * invocation: "version" for `rsync --version`, "transfer <args>" otherwise.
 */
export function recordRsync(h: Harness): { calls(): string[]; transfers(): number } {
  const wrapDir = join(h.tmp, "wrap");
  const log = join(h.tmp, "rsync.log");
  mkdirSync(wrapDir, { recursive: true });
  writeFileSync(
    join(wrapDir, "rsync"),
    `#!/bin/sh\nif [ "$1" = --version ]; then echo version >> '${log}'; else echo "transfer $*" >> '${log}'; fi\nexec /usr/bin/rsync "$@"\n`,
    { mode: 0o755 },
  );
  h.env.PATH = `${wrapDir}:${h.env.PATH}`;
  const calls = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []);
  return { calls, transfers: () => calls().filter((c) => c.startsWith("transfer ")).length };
}

/**
 * A recording `ssh` first on PATH (for the env given back, or for the harness with `install`):
 * each invocation's arguments (newlines as spaces) in a file of its own, so that ssh runs started
 * at the same moment (a report beside an rsync) never share or split a record. `calls()` lists
 * them in the order they started.
 */
export function recordSsh(h: Harness, tag: string): { env: Record<string, string>; calls(): string[]; clear(): void } {
  const dir = join(h.tmp, `ssh-wrap-${tag}`);
  const logDir = join(h.tmp, `ssh-calls-${tag}`);
  mkdirSync(dir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  writeFileSync(join(dir, "ssh"), `#!/bin/sh
printf '%s' "$*" | tr '\\n' ' ' > '${logDir}'/"$(date +%s%N)-$$"
exec '${Bun.which("ssh")}' "$@"
`, { mode: 0o755 });
  const clear = () => {
    for (const f of readdirSync(logDir)) rmSync(join(logDir, f), { force: true });
  };
  clear();
  return {
    env: { PATH: `${dir}:${h.env.PATH}` },
    calls: () => readdirSync(logDir).sort().map((f) => readFileSync(join(logDir, f), "utf8")),
    clear,
  };
}

/**
 * Write `count` more valid claims, each bound (as warmup would bind it) to a
 * freshly seeded emulated codespace, cloned from an existing lease's claim.
 */
export function seedLeases(h: Harness, templateLeaseId: string, count: number, seed: (i: number) => Record<string, unknown> = () => ({})): void {
  const template = JSON.parse(readFileSync(join(h.home, "claims", `${templateLeaseId}.json`), "utf8"));
  for (let i = 0; i < count; i++) {
    const cs = h.emu.control.seedCodespace({ repo: "octo-org/hello-world", ...seed(i) }) as unknown as Codespace;
    const leaseId = newLeaseId();
    const claim = v.parse(ClaimSchema, {
      ...template,
      leaseId,
      slug: `seeded-lease-${i}`,
      createdAt: new Date(Date.now() + i).toISOString(),
      codespace: bindCodespace(cs),
      recovery: { nonce: newNonce(), displayName: cs.display_name ?? "" },
      sshConfigPath: null,
      sshHost: null,
      lastSync: null,
    });
    writeFileSync(join(h.home, "claims", `${leaseId}.json`), JSON.stringify(claim), { mode: 0o600 });
  }
}
