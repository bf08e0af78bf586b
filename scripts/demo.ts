/**
 * The offline demo (`npm run demo`): start the Codespaces emulator, then walk
 *
 *   warmup → run → list → stop
 *
 * with the compiled binary in a throw-away git checkout whose origin is
 * github.com/octo-org/hello-world, printing each command and its output.
 * Exits non-zero as soon as a step fails. Nothing outside a temp directory is
 * touched: CRABBOX_HOME, HOME and the config directory are all temporary, and
 * CRABBOX_* variables from your shell are ignored.
 *
 *   bun scripts/demo.ts            build dist/crabbox-cs if missing or older than src/, then run
 *   bun scripts/demo.ts --build    always rebuild first
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startEmulator } from "../tests/emulator/index.ts";

const ROOT = resolve(import.meta.dir, "..");
const BIN = process.env.CRABBOX_DEMO_BIN ? resolve(process.env.CRABBOX_DEMO_BIN) : join(ROOT, "dist/crabbox-cs");
const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const bold = (s: string) => (color ? `\u001b[1m${s}\u001b[22m` : s);
const dim = (s: string) => (color ? `\u001b[2m${s}\u001b[22m` : s);

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBinary(): void {
  if (process.env.CRABBOX_DEMO_BIN) {
    if (!existsSync(BIN)) throw new Error(`CRABBOX_DEMO_BIN=${BIN} does not exist`);
    return;
  }
  const stale = !existsSync(BIN) || statSync(BIN).mtimeMs < newestMtime(join(ROOT, "src"));
  if (!stale && !process.argv.includes("--build")) return;
  process.stdout.write(dim(`building ${BIN} …\n`));
  const r = Bun.spawnSync([process.execPath, "build.ts"], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error(`build failed (exit ${r.exitCode})`);
}

function git(cwd: string, ...args: string[]): void {
  const r = Bun.spawnSync(["git", ...args], {
    cwd,
    env: { ...process.env, GIT_AUTHOR_NAME: "demo", GIT_AUTHOR_EMAIL: "demo@example.com", GIT_COMMITTER_NAME: "demo", GIT_COMMITTER_EMAIL: "demo@example.com" },
  });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString()}`);
}

class StepFailed extends Error {}

async function main(): Promise<number> {
  ensureBinary();
  const emu = await startEmulator({ handshakeDelayMs: 300 });
  const tmp = mkdtempSync(join(tmpdir(), "crabbox-demo-"));
  try {
    const work = join(tmp, "hello-world");
    const home = join(tmp, "home");
    mkdirSync(work, { recursive: true });
    mkdirSync(home, { recursive: true });
    git(work, "init", "-q", "-b", "main");
    git(work, "remote", "add", "origin", "https://github.com/octo-org/hello-world.git");
    writeFileSync(join(work, "README.md"), "# hello-world\n");
    writeFileSync(join(work, "test.sh"), "#!/bin/sh\necho \"testing on $(uname -s) as $(id -un), in $(pwd)\"\nls\n");
    git(work, "add", ".");
    git(work, "commit", "-q", "-m", "hello");

    // Your shell's crabbox settings must not leak into the demo (nor it into them).
    const base: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("CRABBOX_") && k !== "GITHUB_TOKEN") base[k] = v;
    const env = {
      ...emu.env(base),
      HOME: home,
      XDG_CONFIG_HOME: join(home, ".config"),
      CRABBOX_HOME: join(home, ".crabbox"),
      ...(color ? {} : { NO_COLOR: "1" }),
    };

    process.stdout.write(
      `${bold("crabbox-cs offline demo")}: a local Codespaces emulator at ${emu.url} stands in for GitHub\n` +
        dim(`(user ${emu.user.login}, repository octo-org/hello-world, checkout ${work})\n`),
    );

    const step = async (args: string[]): Promise<string> => {
      process.stdout.write(`\n${bold(`$ crabbox-cs ${args.join(" ")}`)}\n`);
      const proc = Bun.spawn([BIN, ...args], { cwd: work, env, stdin: "ignore", stdout: "pipe", stderr: "inherit" });
      const out = await new Response(proc.stdout).text();
      const code = await proc.exited;
      process.stdout.write(out);
      if (code !== 0) throw new StepFailed(`step failed: crabbox-cs ${args.join(" ")} exited ${code}`);
      return out;
    };

    const warm = await step(["warmup"]);
    const slug = /^slug\s+(\S+)/m.exec(warm)?.[1];
    if (!slug) throw new StepFailed("warmup printed no slug");
    const ran = await step(["run", "--id", slug, "--", "sh", "test.sh"]);
    if (!ran.includes("testing on")) throw new StepFailed("run did not print the test script's output");
    const listed = await step(["list"]);
    if (!listed.includes(slug)) throw new StepFailed(`list does not show ${slug}`);
    await step(["stop", slug]);
    const left = emu.control.codespaces().length;
    if (left !== 0) throw new StepFailed(`${left} codespace(s) left on the emulator after stop`);
    process.stdout.write(`\n${bold("done")}: leased, synced, ran, listed and released a codespace; nothing left behind.\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`\ndemo: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await emu.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

process.exitCode = await main();
