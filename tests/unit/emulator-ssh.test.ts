/**
 * The emulator's data plane and gh fidelity: the gh stand-in's `ssh --config`
 * block drives REAL ssh and rsync into `sshd -i`, and the REAL GitHub CLI
 * lists the emulator's codespaces.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Emulator, startEmulator } from "../emulator/index.ts";

type Json = Record<string, any>;

let emu: Emulator;
let work: string;

beforeAll(async () => {
  emu = await startEmulator({ handshakeDelayMs: 50, delays: { provisionMs: 0 } });
  work = mkdtempSync(join(tmpdir(), "crabbox-emu-test-"));
});
afterAll(async () => {
  await emu.stop();
  rmSync(work, { recursive: true, force: true });
});

async function run(argv: string[], env: Record<string, string> = emu.env()): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn(argv, { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

async function create(repo = "octo-org/hello-world", body: Json = {}): Promise<string> {
  const res = await fetch(`${emu.url}/repos/${repo}/codespaces`, {
    method: "POST",
    headers: { authorization: `Bearer ${emu.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(201);
  const cs = (await res.json()) as Json;
  return cs.name as string;
}

/** `gh cs ssh --config -c NAME` → a config file; returns [file, alias]. */
async function sshConfig(name: string): Promise<[string, string]> {
  const r = await run(["gh", "cs", "ssh", "--config", "-c", name]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  const alias = /^Host (\S+)$/m.exec(r.stdout)?.[1];
  expect(alias).toBeDefined();
  const file = join(work, `${name}.config`);
  writeFileSync(file, r.stdout, { mode: 0o600 });
  return [file, alias as string];
}

describe("gh stand-in", () => {
  test("--version, auth token (GH_TOKEN wins, like real gh), unknown command", async () => {
    const v = await run(["gh", "--version"]);
    expect(v.code).toBe(0);
    expect(v.stdout).toStartWith("gh version 2.99.0-emulator (2026-01-01)\n");
    expect(v.stdout.trim().split("\n")).toHaveLength(2);

    const mine = await run(["gh", "auth", "token", "-h", "github.com"], emu.env({ PATH: process.env.PATH }));
    expect(mine.stdout).toBe(`${emu.token}\n`);
    const noEnv = emu.env({ PATH: process.env.PATH });
    delete noEnv.GH_TOKEN;
    const fromEmulator = await run(["gh", "auth", "token"], noEnv);
    expect(fromEmulator.stdout).toBe(`${emu.token}\n`);
    const other = await run(["gh", "auth", "token"], { ...noEnv, GH_TOKEN: "ghp_someoneelse" });
    expect(other.stdout).toBe("ghp_someoneelse\n");

    const status = await run(["gh", "auth", "status"]);
    expect(status.code).toBe(0);
    expect(status.stderr).toContain("Logged in to github.com as monalisa");
    expect(status.stderr).not.toContain(emu.token);

    const bad = await run(["gh", "repo", "view"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("unknown command");
  });

  test("ssh --config prints a block shaped like the real one, flags in any order", async () => {
    const name = await create();
    const a = await run(["gh", "codespace", "ssh", "--config", "-c", name]);
    const b = await run(["gh", "cs", "ssh", "-c", name, "--config"]);
    expect(a.code).toBe(0);
    expect(b.stdout).toBe(a.stdout);
    const user = (await run(["id", "-un"])).stdout.trim();
    const key = join(emu.stateDir, "codespaces.auto");
    expect(a.stdout).toBe(
      [
        `Host cs.${name}.main`,
        `\tUser ${user}`,
        `\tProxyCommand ${emu.ghPath} cs ssh -c ${name} --stdio -- -i ${key}`,
        "\tUserKnownHostsFile=/dev/null",
        "\tStrictHostKeyChecking no",
        "\tLogLevel quiet",
        "\tControlMaster auto",
        `\tIdentityFile ${key}`,
        "",
        "",
      ].join("\n"),
    );
    expect(emu.control.configCount(name)).toBe(2);

    const missing = await run(["gh", "cs", "ssh", "--config", "-c", "monalisa-nope-0000000000"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("404");
  });
});

describe("data plane through real ssh and rsync", () => {
  test("ssh reads the codespace's /workspaces; rsync lands files in codespaceDir", async () => {
    const name = await create();
    const [file, alias] = await sshConfig(name);
    const before = emu.control.stdioCount(name);
    const r = await run(["ssh", "-F", file, "-o", "BatchMode=yes", alias, "cat /workspaces/hello-world/README.md; echo USER=$USER"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Emulated codespace ${name}`);
    expect(r.stdout).toContain(`USER=${(await run(["id", "-un"])).stdout.trim()}`);
    expect(emu.control.stdioCount(name)).toBe(before + 1);

    const local = join(work, "src");
    mkdirSync(join(local, "sub"), { recursive: true });
    writeFileSync(join(local, "hello.txt"), "hello from the laptop\n");
    writeFileSync(join(local, "sub", "deep.txt"), "deep\n");
    const sync = await run(["rsync", "-a", "-e", `ssh -F ${file}`, `${local}/`, `${alias}:/workspaces/hello-world/x/`]);
    expect(sync.stderr).toBe("");
    expect(sync.code).toBe(0);
    const landed = join(emu.control.codespaceDir(name), "hello-world", "x");
    expect(readFileSync(join(landed, "hello.txt"), "utf8")).toBe("hello from the laptop\n");
    expect(readFileSync(join(landed, "sub", "deep.txt"), "utf8")).toBe("deep\n");

    const exit = await run(["ssh", "-F", file, alias, "exit 42"]);
    expect(exit.code).toBe(42);
  });

  test("each codespace has its own HOME with a small fixed rc (never the test machine's login files)", async () => {
    const name = await create();
    const [file, alias] = await sshConfig(name);
    const r = await run(["ssh", "-F", file, "-o", "BatchMode=yes", alias, "echo HOME=$HOME; echo EMU=$EMULATED_CODESPACE; touch ~/left-here"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`HOME=${emu.control.codespaceHome(name)}\n`);
    expect(r.stdout).toContain("EMU=1\n");
    expect(existsSync(join(emu.control.codespaceHome(name), "left-here"))).toBe(true);
    expect(emu.control.codespaceHome(name)).not.toBe(process.env.HOME);
  });

  test("the synthetic session delay knob: every session's rc sleeps delays.sessionMs (off by default)", async () => {
    const name = await create();
    const [file, alias] = await sshConfig(name);
    const off = await run(["ssh", "-F", file, "-o", "BatchMode=yes", alias, 'echo "d=$d"']);
    expect(off.stdout).toBe("d=\n");
    emu.control.setDelays({ sessionMs: 40 });
    try {
      // The rc read the delay (into $d) before it slept and ran the command.
      const on = await run(["ssh", "-F", file, "-o", "BatchMode=yes", alias, 'echo "d=$d"']);
      expect(on.code).toBe(0);
      expect(on.stdout).toBe("d=0.040\n");
    } finally {
      emu.control.setDelays({ sessionMs: 0 });
    }
    expect((await run(["ssh", "-F", file, "-o", "BatchMode=yes", alias, 'echo "d=$d"'])).stdout).toBe("d=\n");
  });

  test("each codespace sees only its own disk at /workspaces", async () => {
    const a = await create();
    const b = await create();
    writeFileSync(join(emu.control.codespaceDir(a), "hello-world", "only-a.txt"), "a\n");
    const [fileB, aliasB] = await sshConfig(b);
    const r = await run(["ssh", "-F", fileB, aliasB, "ls /workspaces/hello-world"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("README.md");
    expect(r.stdout).not.toContain("only-a.txt");
  });

  test("a ControlMaster connection pays the --stdio handshake once", async () => {
    const name = await create();
    const [file, alias] = await sshConfig(name);
    const ctl = join(work, `cm-${name.slice(-10)}`);
    const opts = ["-F", file, "-o", `ControlPath=${ctl}`, "-o", "ControlPersist=30"];
    const before = emu.control.stdioCount(name);
    for (let i = 0; i < 3; i++) expect((await run(["ssh", ...opts, alias, "true"])).code).toBe(0);
    expect(emu.control.stdioCount(name)).toBe(before + 1);
    await run(["ssh", ...opts, "-O", "exit", alias]);
  });

  test("a repo whose image has no sshd: --config and ssh both fail with gh's sshd message", async () => {
    emu.control.addRepo({ fullName: "octo-org/bare", sshd: false });
    const name = await create("octo-org/bare");
    const cfg = await run(["gh", "cs", "ssh", "--config", "-c", name]);
    expect(cfg.code).toBe(1);
    expect(cfg.stdout).toBe("");
    expect(cfg.stderr).toContain(
      "error getting ssh server details: failed to start SSH server: Please check if an SSH server is installed in the container.",
    );
    expect(cfg.stderr).toContain("ghcr.io/devcontainers/features/sshd:1");

    // A config obtained earlier (or written by hand) still cannot connect.
    const good = await create();
    const [file] = await sshConfig(good);
    const bareFile = join(work, "bare.config");
    writeFileSync(bareFile, readFileSync(file, "utf8").replaceAll(good, name));
    const alias = `cs.${name}.main`;
    const before = emu.control.stdioCount(name);
    const r = await run(["ssh", "-F", bareFile, "-o", "BatchMode=yes", alias, "true"]);
    expect(r.code).toBe(255);
    expect(r.stderr).toContain("failed to start SSH server");
    expect(emu.control.stdioCount(name)).toBe(before + 1);
  });

  test("stopping a codespace cuts its live tunnel and refuses new ones", async () => {
    const name = await create();
    const [file, alias] = await sshConfig(name);
    const ctl = join(work, `cut-${name.slice(-10)}`);
    const opts = ["-F", file, "-o", `ControlPath=${ctl}`, "-o", "ControlPersist=30", "-o", "BatchMode=yes"];
    expect((await run(["ssh", ...opts, alias, "true"])).code).toBe(0);
    const stop = await fetch(`${emu.url}/user/codespaces/${name}/stop`, {
      method: "POST",
      headers: { authorization: `Bearer ${emu.token}` },
    });
    expect(stop.status).toBe(200);
    await Bun.sleep(200);
    const after = await run(["ssh", ...opts, alias, "true"]);
    expect(after.code).toBe(255);
    expect(existsSync(ctl)).toBe(false);
  });
});

describe("the real GitHub CLI against the emulator", () => {
  const realGh = "/usr/bin/gh";
  test.skipIf(!existsSync(realGh))("`gh codespace list --json` lists the emulator's codespaces (skipped without /usr/bin/gh)", async () => {
    const u = emu.control.addUser("gh-lister");
    emu.control.addRepo({ fullName: "gh-org/listed", defaultBranch: "trunk" });
    const names = new Set<string>();
    for (let i = 0; i < 120; i++) {
      names.add(String(emu.control.seedCodespace({ repo: "gh-org/listed", owner: "gh-lister", state: i % 2 ? "Shutdown" : "Available" }).name));
    }
    emu.control.resetCounts();
    const env = {
      ...emu.env({ PATH: process.env.PATH }),
      HOME: work,
      GH_TOKEN: u.token,
      GH_ENTERPRISE_TOKEN: u.token,
      GH_NO_UPDATE_NOTIFIER: "1",
    };
    const r = await run([realGh, "codespace", "list", "--limit", "200", "--json", "name,state,repository,gitStatus"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const listed = JSON.parse(r.stdout) as Json[];
    expect(new Set(listed.map((c) => c.name))).toEqual(names);
    expect(listed.every((c) => c.repository === "gh-org/listed")).toBe(true);
    expect(listed.filter((c) => c.state === "Shutdown")).toHaveLength(60);
    expect(listed[0]?.gitStatus.ref).toBe("trunk");
    // gh followed our Link header to page 2
    expect(emu.control.counts()["GET /user/codespaces"]).toBeGreaterThanOrEqual(2);
  });
});
