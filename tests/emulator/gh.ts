/**
 * The `gh` stand-in. Run through the wrapper `<stateDir>/bin/gh`, which bakes
 * in CRABBOX_EMULATOR_URL, CRABBOX_EMULATOR_GH and CRABBOX_EMULATOR_STATE_DIR.
 *
 *   gh --version
 *   gh auth token [-h HOST]          GH_TOKEN if set (like real gh), else the emulator's token
 *   gh auth status [-h HOST]
 *   gh codespace|cs ssh --config -c NAME
 *   gh codespace|cs ssh -c NAME --stdio [-- ssh-args...]
 *
 * Everything else exits 1 with "unknown command".
 */
import { userInfo } from "node:os";
import { parseArgs } from "node:util";

const EMULATOR = process.env.CRABBOX_EMULATOR_URL ?? "";
const GH_PATH = process.env.CRABBOX_EMULATOR_GH ?? "gh";

const SSHD_HINT = `If the docker image being used for the codespace does not have an SSH server,
install it in your Dockerfile or, for codespaces that use Debian-based images,
you can add the following to your devcontainer.json:

"features": {
	"ghcr.io/devcontainers/features/sshd:1": {
		"version": "latest"
	}
}`;

function fail(message: string, code = 1): never {
  process.stderr.write(message.endsWith("\n") ? message : `${message}\n`);
  process.exit(code);
}

/** The OS user name (Bun's os.userInfo() can say "unknown"; ask id(1) then). */
function osUser(): string {
  const name = userInfo().username;
  if (name && name !== "unknown") return name;
  const r = Bun.spawnSync(["id", "-un"], { stdout: "pipe", stderr: "ignore" });
  return r.stdout.toString().trim() || process.env.USER || "root";
}

function token(): string | undefined {
  const t = process.env.GH_TOKEN || process.env.GITHUB_TOKEN;
  return t ? t : undefined;
}

/** POST /_emulator/<path>. `quiet`: bookkeeping calls that must never change our exit status. */
async function call(path: string, body: unknown = {}, quiet = false): Promise<Record<string, unknown>> {
  if (!EMULATOR) fail("gh stand-in: CRABBOX_EMULATOR_URL is not set (run it through the generated wrapper)");
  if (quiet) {
    try {
      const res = await fetch(`${EMULATOR}/_emulator/${path}`, { method: "POST", body: JSON.stringify(body) });
      return (await res.json()) as Record<string, unknown>;
    } catch {
      return {};
    }
  }
  const headers: Record<string, string> = { "content-type": "application/json" };
  const t = token();
  if (t) headers.authorization = `token ${t}`;
  let res: Response;
  try {
    res = await fetch(`${EMULATOR}/_emulator/${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  } catch (e) {
    fail(`error connecting to the Codespaces emulator at ${EMULATOR}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return (await res.json()) as Record<string, unknown>;
}

function refusal(r: Record<string, unknown>): never {
  const msg = String(r.message ?? "unknown error");
  fail(msg.startsWith("error getting ssh server details") ? `${msg}\n${SSHD_HINT}` : msg);
}

async function version(): Promise<void> {
  process.stdout.write("gh version 2.99.0-emulator (2026-01-01)\nhttps://github.com/cli/cli/releases/tag/v2.99.0-emulator\n");
}

async function auth(args: string[]): Promise<void> {
  const { positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: false,
    options: { hostname: { type: "string", short: "h" }, "show-token": { type: "boolean", short: "t" } },
  });
  const sub = positionals[0];
  if (sub === "token") {
    const t = token() ?? String((await call("gh/token")).token ?? "");
    if (!t) fail("no oauth token found for github.com");
    process.stdout.write(`${t}\n`);
    return;
  }
  if (sub === "status") {
    const t = token() ?? String((await call("gh/token")).token ?? "");
    const res = await fetch(`${EMULATOR}/user`, { headers: { authorization: `token ${t}` } });
    if (res.status !== 200) {
      fail(`github.com\n  X github.com: authentication failed\n  - The token in ${token() ? "GH_TOKEN" : "the emulator"} is invalid.`);
    }
    const me = (await res.json()) as { login: string };
    const source = token() ? "GH_TOKEN" : "emulator";
    process.stderr.write(
      `github.com\n  ✓ Logged in to github.com as ${me.login} (${source})\n  ✓ Token: ${t.slice(0, 4)}${"*".repeat(Math.max(0, t.length - 4))}\n  ✓ Token scopes: ${res.headers.get("x-oauth-scopes") ?? ""}\n`,
    );
    return;
  }
  fail(`unknown command "${sub ?? ""}" for "gh auth"`);
}

async function ssh(args: string[]): Promise<void> {
  const dash = args.indexOf("--");
  const own = dash === -1 ? args : args.slice(0, dash);
  const { values } = parseArgs({
    args: own,
    allowPositionals: true,
    strict: false,
    options: {
      codespace: { type: "string", short: "c" },
      config: { type: "boolean" },
      stdio: { type: "boolean" },
      profile: { type: "string" },
      "server-port": { type: "string" },
      repo: { type: "string", short: "R" },
      "repo-owner": { type: "string" },
      debug: { type: "boolean", short: "d" },
    },
  });
  const name = typeof values.codespace === "string" ? values.codespace : "";
  if (!name) fail("gh stand-in: -c NAME is required (interactive selection is not emulated)");

  if (values.config) {
    const r = await call("gh/config", { name });
    if (r.ok !== true) refusal(r);
    const ref = String(r.ref ?? "").replaceAll("/", "-");
    const key = String(r.identityFile);
    process.stdout.write(
      [
        `Host cs.${name}.${ref}`,
        `\tUser ${osUser()}`,
        `\tProxyCommand ${GH_PATH} cs ssh -c ${name} --stdio -- -i ${key}`,
        "\tUserKnownHostsFile=/dev/null",
        "\tStrictHostKeyChecking no",
        "\tLogLevel quiet",
        "\tControlMaster auto",
        `\tIdentityFile ${key}`,
        "",
        "",
      ].join("\n"),
    );
    return;
  }

  if (values.stdio) {
    const r = await call("gh/stdio", { name, pid: process.pid });
    if (r.ok !== true) refusal(r);
    const delay = Number(r.delayMs ?? 0);
    if (delay > 0) await Bun.sleep(delay);
    const argv = r.argv as string[];
    const child = Bun.spawn(argv, {
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
      env: { ...process.env, CODESPACE_DIR: String(r.dir) },
    });
    const forward = (sig: NodeJS.Signals) => () => {
      try {
        child.kill(sig);
      } catch {
        // gone
      }
    };
    for (const sig of ["SIGTERM", "SIGHUP", "SIGINT"] as const) process.on(sig, forward(sig));
    await call("gh/child", { pid: process.pid, childPid: child.pid }, true);
    const code = await child.exited;
    await call("gh/closed", { pid: process.pid }, true);
    process.exit(child.signalCode ? 255 : code);
  }

  fail("gh stand-in: only `ssh --config -c NAME` and `ssh -c NAME --stdio` are emulated");
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === "--version" || cmd === "version") return version();
  if (cmd === "auth") return auth(rest);
  if ((cmd === "codespace" || cmd === "cs") && rest[0] === "ssh") return ssh(rest.slice(1));
  fail(`unknown command "${argv.join(" ")}" for "gh" (emulator stand-in)`);
}

await main(process.argv.slice(2));
