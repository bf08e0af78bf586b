/**
 * Shared helpers for the security suite: the e2e harness (compiled binary
 * against the emulator) plus
 *  - a canary user whose token is the only credential in the environment,
 *  - recording wrappers for ssh, rsync, git and gh first on PATH (argv and
 *    environment of every child process we spawn, one file pair per call),
 *  - leak scanners (stdout/stderr, every file under CRABBOX_HOME, child argv/env),
 *  - claim/orphan bookkeeping against the emulator.
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createHarness, type Harness, type RunResult } from "../e2e/harness.ts";
import type { EmulatorOptions } from "../emulator/index.ts";

export { git, ROOT, BIN, type Harness, type RunResult } from "../e2e/harness.ts";

export const GH_SCRIPT = resolve(import.meta.dir, "../emulator/gh.ts");

export interface Invocation {
  tool: string;
  argv: string[];
  env: Record<string, string>;
  file: string;
}

export interface SecHarness extends Harness {
  /** The canary user's token: the only GitHub credential in the binary's environment. */
  canary: string;
  login: string;
  /** Directory of the recording wrappers (first on PATH). */
  wrapDir: string;
  logDir: string;
  /** Every recorded child invocation so far. */
  invocations(): Invocation[];
  clearInvocations(): void;
  claimFiles(): string[];
  claims(): any[];
  live(): any[];
  /** Live codespaces of the canary user that no claim holds. */
  orphans(): string[];
  /** Release everything the test left (stop --delete each claim, then delete any orphan behind our back). */
  reset(): Promise<void>;
}

function sh(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Write a recording wrapper `<dir>/<tool>` that logs argv (NUL-separated) and env, then execs `target`. */
function recorder(dir: string, logDir: string, tool: string, execLine: string, extra = ""): void {
  const path = join(dir, tool);
  writeFileSync(
    path,
    [
      "#!/bin/sh",
      `f=${sh(logDir)}/${tool}.$$.$(date +%s%N)`,
      `printf '%s\\0' "$@" > "$f.argv"`,
      `cat /proc/$$/environ > "$f.env" 2>/dev/null`,
      extra,
      execLine,
      "",
    ].join("\n"),
  );
  chmodSync(path, 0o755);
}

export async function secHarness(opts: EmulatorOptions & { repo?: string } = {}): Promise<SecHarness> {
  const h = await createHarness(opts);
  const login = `canary${Math.random().toString(36).slice(2, 8)}`;
  const user = h.emu.control.addUser(login);
  const canary = user.token;
  h.env.GH_TOKEN = canary;
  delete h.env.GH_ENTERPRISE_TOKEN;
  delete h.env.GITHUB_TOKEN;

  const wrapDir = join(h.tmp, "wrap");
  const logDir = join(h.tmp, "calls");
  mkdirSync(wrapDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  recorder(wrapDir, logDir, "ssh", `exec /usr/bin/ssh "$@"`);
  recorder(wrapDir, logDir, "rsync", `exec /usr/bin/rsync "$@"`);
  recorder(wrapDir, logDir, "git", `exec /usr/bin/git "$@"`);
  // gh: record, then run the emulator's stand-in with this wrapper as the gh it
  // names in ProxyCommand (so the tunnel's `gh cs ssh --stdio` is recorded too).
  // CRABBOX_SEC_GH_MODE=garbage makes `codespace ssh --config` print garbage.
  const ghWrapper = join(wrapDir, "gh");
  recorder(
    wrapDir,
    logDir,
    "gh",
    [
      `CRABBOX_EMULATOR_URL=${sh(h.emu.url)}`,
      `CRABBOX_EMULATOR_STATE_DIR=${sh(h.emu.stateDir)}`,
      `CRABBOX_EMULATOR_GH=${sh(ghWrapper)}`,
      "export CRABBOX_EMULATOR_URL CRABBOX_EMULATOR_STATE_DIR CRABBOX_EMULATOR_GH",
      // Real gh is a Go binary: the stand-in must not read bunfig.toml, .env or tsconfig.json from
      // the caller's working directory (it never uses its cwd), so it runs from its own.
      `cd ${sh(dirname(GH_SCRIPT))} && exec ${sh(process.execPath)} --no-env-file ${sh(GH_SCRIPT)} "$@"`,
    ].join("\n"),
    [
      `if [ "$CRABBOX_SEC_GH_MODE" = garbage ]; then case " $* " in *" --config "*) printf '\\033[31mHello %s\\n<html>not a config</html>\\n\\0\\377\\n' "$$"; exit 0;; esac; fi`,
      `if [ "$CRABBOX_SEC_GH_MODE" = hostblock ]; then case " $* " in *" --config "*) cat "$CRABBOX_SEC_GH_BLOCK"; exit 0;; esac; fi`,
    ].join("\n"),
  );
  h.env.PATH = `${wrapDir}:${h.env.PATH}`;

  const claimsDir = join(h.home, "claims");
  const claimFiles = () => (existsSync(claimsDir) ? readdirSync(claimsDir).filter((f) => /^cbx_[a-z2-7]{12}\.json$/.test(f)) : []);
  const claims = () =>
    claimFiles().flatMap((f) => {
      try {
        return [JSON.parse(readFileSync(join(claimsDir, f), "utf8"))];
      } catch {
        return [];
      }
    });
  const live = () => h.emu.control.codespaces();
  const orphans = () => {
    const held = new Set(claims().map((c) => c.codespace?.name));
    return live()
      .filter((c: any) => c.owner.login === login && !held.has(c.name))
      .map((c: any) => c.name);
  };

  const invocations = (): Invocation[] => {
    if (!existsSync(logDir)) return [];
    const out: Invocation[] = [];
    for (const f of readdirSync(logDir).filter((n) => n.endsWith(".argv")).sort()) {
      const base = f.slice(0, -".argv".length);
      const argv = readFileSync(join(logDir, f), "utf8").split("\0").slice(0, -1);
      const env: Record<string, string> = {};
      try {
        for (const kv of readFileSync(join(logDir, `${base}.env`), "utf8").split("\0")) {
          const i = kv.indexOf("=");
          if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
        }
      } catch {}
      out.push({ tool: base.split(".")[0]!, argv, env, file: join(logDir, f) });
    }
    return out;
  };

  const sec: SecHarness = {
    ...h,
    canary,
    login,
    wrapDir,
    logDir,
    invocations,
    clearInvocations() {
      Bun.spawnSync(["sh", "-c", `rm -f ${sh(logDir)}/*`]);
    },
    claimFiles,
    claims,
    live,
    orphans,
    async reset() {
      h.emu.control.clearErrors();
      h.emu.control.stickProvisioning(false);
      h.emu.control.deleteNeverCompletes(false);
      for (const c of claims()) {
        if (c.codespace?.name) {
          try {
            h.emu.control.setDirty(c.codespace.name, { uncommitted: false, unpushed: false });
          } catch {}
        }
        await h.run(["stop", c.leaseId, "--delete", "--timeout", "20s"], { timeoutMs: 60_000 });
      }
      for (const n of orphans()) h.emu.control.deleteBehindBack(n);
    },
  };
  return sec;
}

// ------------------------------------------------------------------ leaks

/** The strings whose presence counts as a leak of `secret` (whole, and any 16-char slice of its body). */
export function leakNeedles(secret: string): string[] {
  const body = secret.replace(/^gh[pousr]_/, "");
  const needles = [secret];
  for (let i = 0; i + 16 <= body.length; i += 8) needles.push(body.slice(i, i + 16));
  return needles;
}

export function containsSecret(text: string, secret: string): boolean {
  return leakNeedles(secret).some((n) => text.includes(n));
}

/** Every regular file under `dir` (recursively) whose bytes contain the secret. Sockets etc. skipped. */
export function filesContaining(dir: string, secret: string): string[] {
  const hits: string[] = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) {
        try {
          if (containsSecret(readFileSync(p, "latin1"), secret)) hits.push(p);
        } catch {}
      }
    }
  };
  walk(dir);
  return hits;
}

export function outputLeaks(r: RunResult, secret: string): string[] {
  const out: string[] = [];
  if (containsSecret(r.stdout, secret)) out.push("stdout");
  if (containsSecret(r.stderr, secret)) out.push("stderr");
  return out;
}

/** Invocations whose argv contains the secret. */
export function argvLeaks(calls: Invocation[], secret: string): Invocation[] {
  return calls.filter((c) => c.argv.some((a) => containsSecret(a, secret)));
}

/** Invocations of `tools` whose environment holds the secret (under any variable name). */
export function envLeaks(calls: Invocation[], secret: string, tools: string[]): { tool: string; vars: string[]; argv: string[] }[] {
  return calls
    .filter((c) => tools.includes(c.tool))
    .map((c) => ({ tool: c.tool, vars: Object.entries(c.env).filter(([, v]) => containsSecret(v, secret)).map(([k]) => k), argv: c.argv }))
    .filter((x) => x.vars.length > 0);
}

// ------------------------------------------------------------------ misc

export async function waitFor(pred: () => boolean, ms = 20_000, step = 10): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await Bun.sleep(step);
  }
  return true;
}

export function mode(path: string): number {
  return lstatSync(path).mode & 0o777;
}

export function octal(n: number): string {
  return `0${n.toString(8)}`;
}

/** Control characters other than \n and \t (terminal-injection check on human output). */
export const CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f\u009b]/;

/** Print a figure for the final report (grep "SECURITY-FIGURE"). */
export function figure(name: string, value: unknown): void {
  console.log(`SECURITY-FIGURE ${name}=${typeof value === "string" ? value : JSON.stringify(value)}`);
}
