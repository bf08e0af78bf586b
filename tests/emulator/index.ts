/**
 * Local GitHub Codespaces emulator: REST API on 127.0.0.1 (random port), a
 * `gh` stand-in whose `--stdio` tunnel runs `sshd -i`, and a control surface
 * for tests. See tests/emulator/README.md.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { Tunnels, createControl, type EmulatorControl } from "./control.ts";
import { Faults } from "./faults.ts";
import { startServer } from "./http.ts";
import { prepareSsh } from "./sshd.ts";
import { type Delays, Store } from "./store.ts";

export type { EmulatorControl, InjectErrorOptions } from "./control.ts";
export type { AddRepoOptions, Delays, SeedOptions } from "./store.ts";
export { DEFAULT_DELAYS, REALISTIC_DELAYS, scaledDelays } from "./store.ts";

export interface EmulatorOptions {
  /** Delay of the gh stand-in's --stdio path before sshd starts (default 300). */
  handshakeDelayMs?: number;
  /** Default: a fresh mkdtemp dir, removed by stop(). */
  stateDir?: string;
  /** State-machine transition delays, ms. */
  delays?: Partial<Delays>;
  /** Listen port (default 0: random). */
  port?: number;
}

export interface Emulator {
  /** API base, e.g. http://127.0.0.1:43123 (no trailing slash). */
  url: string;
  /** A valid token for the default user. */
  token: string;
  /** Default user, login "monalisa". */
  user: { login: string; id: number };
  /** Directory holding the executable `gh` stand-in; tests prepend it to PATH. */
  ghDir: string;
  /** ghDir + "/gh" */
  ghPath: string;
  stateDir: string;
  /**
   * Env for child processes: base (default process.env) plus GH_TOKEN,
   * GH_ENTERPRISE_TOKEN (so the real gh sends it to 127.0.0.1), GITHUB_API_URL,
   * CRABBOX_GITHUB_CODESPACES_API_URL and PATH with ghDir first.
   */
  env(base?: Record<string, string | undefined>): Record<string, string>;
  control: EmulatorControl;
  /** Stop the server, cut live tunnels, remove the temp state dir if we created it. */
  stop(): Promise<void>;
}

const GH_SCRIPT = resolve(import.meta.dir, "gh.ts");

function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function writeGhWrapper(ghDir: string, url: string, stateDir: string): string {
  mkdirSync(ghDir, { recursive: true });
  const ghPath = join(ghDir, "gh");
  writeFileSync(
    ghPath,
    [
      "#!/bin/sh",
      "# gh stand-in for the crabbox-cs Codespaces emulator (generated; see tests/emulator/gh.ts)",
      `CRABBOX_EMULATOR_URL=${shQuote(url)}`,
      `CRABBOX_EMULATOR_STATE_DIR=${shQuote(stateDir)}`,
      `CRABBOX_EMULATOR_GH=${shQuote(ghPath)}`,
      "export CRABBOX_EMULATOR_URL CRABBOX_EMULATOR_STATE_DIR CRABBOX_EMULATOR_GH",
      // Real gh is a Go binary: the stand-in must not read bunfig.toml, .env or tsconfig.json from
      // the caller's working directory (it never uses its cwd), so it runs from its own.
      `cd ${shQuote(dirname(GH_SCRIPT))} && exec ${shQuote(process.execPath)} --no-env-file ${shQuote(GH_SCRIPT)} "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(ghPath, 0o755);
  return ghPath;
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const ownDir = opts.stateDir === undefined;
  const stateDir = resolve(opts.stateDir ?? mkdtempSync(join(tmpdir(), "crabbox-emu-")));
  mkdirSync(stateDir, { recursive: true });

  const store = new Store(stateDir, opts.delays);
  const user = store.addUser("monalisa");
  store.addRepo({ fullName: "octo-org/hello-world" });
  const faults = new Faults();
  const tunnels = new Tunnels(opts.handshakeDelayMs ?? 300);
  const ssh = await prepareSsh(stateDir);

  let url = "";
  const inflight = { n: 0 };
  const control = createControl(store, faults, tunnels, () => url, () => inflight.n);
  const ghDir = join(stateDir, "bin");
  const ghPath = join(ghDir, "gh");
  const server = startServer(
    { store, faults, tunnels, control, ssh, defaultUser: user, stateDir, ghPath, inflight },
    opts.port ?? 0,
  );
  url = server.url;
  writeGhWrapper(ghDir, url, stateDir);

  let stopped = false;
  return {
    url,
    token: user.token,
    user: { login: user.login, id: user.id },
    ghDir,
    ghPath,
    stateDir,
    env(base = process.env) {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
      out.GH_TOKEN = user.token;
      out.GH_ENTERPRISE_TOKEN = user.token;
      out.GITHUB_API_URL = url;
      out.CRABBOX_GITHUB_CODESPACES_API_URL = url;
      out.PATH = base.PATH ? `${ghDir}:${base.PATH}` : ghDir;
      return out;
    },
    control,
    async stop() {
      if (stopped) return;
      stopped = true;
      tunnels.kill();
      await server.stop();
      if (ownDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
