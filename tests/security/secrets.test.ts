/**
 * Secrets: a unique canary token in GH_TOKEN must never show up in stdout,
 * stderr, any file under CRABBOX_HOME (claims, ssh configs, proxy logs, sync
 * caches), or the argv of any child process — across every command, on
 * success and failure paths, with --verbose and --json. The environment of
 * git and rsync children must not carry it either; ssh's is reported (its
 * ProxyCommand runs gh, which legitimately needs the token when the user's
 * auth comes from GH_TOKEN). The remote side never receives it unless the
 * user names it with --env.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  argvLeaks,
  containsSecret,
  envLeaks,
  figure,
  filesContaining,
  outputLeaks,
  secHarness,
  type Invocation,
  type RunResult,
  type SecHarness,
} from "./lib.ts";

let h: SecHarness;
const results: { step: string; args: string[]; r: RunResult }[] = [];
let calls: Invocation[] = [];
let matrixDone = false;

beforeAll(async () => {
  h = await secHarness();
});
afterAll(async () => {
  await h?.reset();
  await h?.close();
});

async function step(name: string, args: string[], expectCode: number | number[] | null, env?: Record<string, string | undefined>) {
  const r = await h.run(args, { env, timeoutMs: 90_000 });
  results.push({ step: name, args, r });
  if (expectCode !== null) {
    const codes = Array.isArray(expectCode) ? expectCode : [expectCode];
    if (!codes.includes(r.code)) throw new Error(`${name}: expected exit ${codes.join("|")}, got ${r.code}\n${r.stderr}`);
  }
  return r;
}

describe("canary GH_TOKEN across every command", () => {
  test("the command matrix runs (success and failure paths)", async () => {
    const c = h.emu.control;
    // --- success paths
    await step("doctor --json", ["doctor", "--json"], 0);
    await step("doctor --verbose", ["doctor", "--verbose"], 0);
    const w = await step("warmup --keep --json --verbose", ["warmup", "--keep", "--json", "--verbose"], 0);
    const lease = w.json();
    await step("list", ["list"], 0);
    await step("list --json --verbose", ["list", "--json", "--verbose"], 0);
    await step("status --json", ["status", "--id", lease.slug, "--json"], 0);
    await step("status --verbose", ["status", "--id", lease.slug, "--verbose"], 0);
    // The remote environment: printed to stdout, so a forwarded token would be caught there.
    const remoteEnv = await step("run --id -- env (remote env)", ["run", "--id", lease.slug, "--verbose", "--", "sh", "-c", "env; cat /proc/$$/environ | tr '\\0' '\\n'"], 0);
    expect(remoteEnv.stdout).toContain("CODESPACE_DIR=");
    await step("run --id --json", ["run", "--id", lease.slug, "--json", "--", "true"], 0);
    await step("ssh --id -- env", ["ssh", "--id", lease.slug, "--", "env"], 0);
    await step("ssh --print", ["ssh", "--id", lease.slug, "--print"], 0);
    writeFileSync(join(h.work, "changed.txt"), `${Date.now()}\n`);
    await step("run --id (sync)", ["run", "--id", lease.slug, "--verbose", "--", "true"], 0);
    await step("one-shot run -- env", ["run", "--verbose", "--", "sh", "-c", "env"], 0);
    await step("one-shot run --json", ["run", "--json", "--", "true"], 0);
    await step("cleanup --dry-run --json", ["cleanup", "--dry-run", "--json"], 0);
    await step("cleanup --verbose", ["cleanup", "--verbose"], 0);

    // --- failure paths
    c.injectError({ method: "GET", path: "^/user$", status: 401, times: 20 });
    await step("401 doctor --verbose", ["doctor", "--verbose"], 3);
    await step("401 warmup --json --verbose", ["warmup", "--fresh", "--json", "--verbose"], 3);
    await step("401 stop --verbose", ["stop", lease.slug, "--verbose"], 3);
    c.clearErrors();

    c.injectError({
      path: "/codespaces",
      status: 403,
      times: 20,
      body: { message: "Must have admin rights to Repository.", documentation_url: "https://docs.github.com/rest" },
      headers: { "x-accepted-oauth-scopes": "codespace", "x-oauth-scopes": "repo" },
    });
    await step("403 scope warmup --verbose", ["warmup", "--fresh", "--verbose"], 3);
    await step("403 scope list --json", ["list", "--json"], [0, 3]);
    c.clearErrors();

    c.injectError({
      method: "POST",
      path: "^/repos/[^/]+/[^/]+/codespaces$",
      status: 422,
      body: { message: "Validation Failed", errors: [{ resource: "Codespace", field: "idle_timeout_minutes", code: "invalid" }] },
    });
    await step("422 warmup --json --verbose", ["warmup", "--fresh", "--json", "--verbose"], 2);
    c.clearErrors();

    c.injectError({ method: "GET", path: "^/user/codespaces/", status: 503, times: 20, headers: { "retry-after": "0" } });
    await step("5xx status --verbose", ["status", "--id", lease.slug, "--verbose"], 8);
    await step("5xx stop --json --verbose", ["stop", lease.slug, "--json", "--verbose"], 8);
    c.clearErrors();

    c.stickProvisioning(true);
    await step("timeout warmup --verbose", ["warmup", "--fresh", "--timeout", "1s", "--verbose"], 6);
    c.stickProvisioning(false);

    c.addRepo({ fullName: "octo-org/no-sshd", sshd: false });
    await step("no sshd run --verbose", ["run", "--github-codespaces-repo", "octo-org/no-sshd", "--verbose", "--", "true"], 7);

    // ssh itself fails to connect: gh hands out a Host block whose ProxyCommand dies.
    const block = join(h.tmp, "bad-block");
    writeFileSync(block, "Host cs.broken.main\n\tUser root\n\tProxyCommand sh -c 'echo tunnel refused >&2; exit 1'\n");
    await step("ssh connect failure run --verbose", ["run", "--verbose", "--", "true"], [255, 7], {
      CRABBOX_SEC_GH_MODE: "hostblock",
      CRABBOX_SEC_GH_BLOCK: block,
    });
    await step("unknown lease --json", ["status", "--id", "no-such-lease", "--json", "--verbose"], 4);
    await step("usage error", ["run", "--id", lease.slug, "--env", "1BAD", "--", "true"], 2);

    await step("stop --json --verbose", ["stop", lease.slug, "--delete", "--json", "--verbose"], 0);
    // Anything a failure path left behind.
    await step("cleanup --json (final)", ["cleanup", "--json"], [0, 4, 5, 6, 8]);
    calls = h.invocations();
    figure("secrets.commands", results.length);
    figure("secrets.childCalls", calls.length);
    expect(calls.filter((x) => x.tool === "ssh").length).toBeGreaterThan(0);
    expect(calls.filter((x) => x.tool === "rsync").length).toBeGreaterThan(0);
    expect(calls.filter((x) => x.tool === "git").length).toBeGreaterThan(0);
    expect(calls.filter((x) => x.tool === "gh").length).toBeGreaterThan(0);
    // The tunnel's own `gh cs ssh --stdio` went through our wrapper too.
    expect(calls.some((x) => x.tool === "gh" && x.argv.includes("--stdio"))).toBe(true);
    matrixDone = true;
  }, 300_000);

  test("never in stdout or stderr of any command", () => {
    expect(matrixDone).toBe(true);
    expect(results.length).toBeGreaterThan(20);
    const leaks = results.flatMap((x) => outputLeaks(x.r, h.canary).map((where) => `${x.step}: ${where}`));
    figure("secrets.outputLeaks", leaks.length);
    expect(leaks).toEqual([]);
  });

  test("never in any file under CRABBOX_HOME (claims, ssh configs, proxy logs, sync caches) or HOME", () => {
    expect(matrixDone).toBe(true);
    const hits = [...filesContaining(h.home, h.canary), ...filesContaining(join(h.tmp, "home"), h.canary), ...filesContaining(h.work, h.canary)];
    figure("secrets.fileLeaks", hits.length);
    expect(hits).toEqual([]);
  });

  test("never on the command line of any child process (ssh, rsync, git, gh, the tunnel)", () => {
    expect(matrixDone).toBe(true);
    const hits = argvLeaks(calls, h.canary).map((c) => `${c.tool} ${c.argv.join(" ").slice(0, 120)}`);
    figure("secrets.argvLeaks", hits.length);
    expect(hits).toEqual([]);
  });

  test("git children do not receive the token in their environment", () => {
    expect(matrixDone).toBe(true);
    const hits = envLeaks(calls, h.canary, ["git"]);
    figure("secrets.gitEnvLeaks", hits.length);
    expect(hits.map((x) => `git ${x.argv.join(" ")}: ${x.vars.join(",")}`)).toEqual([]);
  });

  test("rsync children do not receive the token in their environment", () => {
    expect(matrixDone).toBe(true);
    const hits = envLeaks(calls, h.canary, ["rsync"]);
    figure("secrets.rsyncEnvLeaks", hits.length);
    expect(hits.map((x) => `rsync: ${x.vars.join(",")}`)).toEqual([]);
  });

  test("finding: which ssh and gh children carry the token in their environment", () => {
    expect(matrixDone).toBe(true);
    expect(matrixDone).toBe(true);
    const ssh = envLeaks(calls, h.canary, ["ssh"]);
    const sshTotal = calls.filter((c) => c.tool === "ssh").length;
    const ctl = ssh.filter((x) => x.argv.includes("-O"));
    const gh = envLeaks(calls, h.canary, ["gh"]);
    figure("secrets.sshEnvCarriers", `${ssh.length}/${sshTotal} (control -O: ${ctl.length}) vars=${[...new Set(ssh.flatMap((x) => x.vars))].join(",")}`);
    figure("secrets.ghEnvCarriers", `${gh.length}/${calls.filter((c) => c.tool === "gh").length}`);
    // The rule we hold ssh to: the token may ride in ssh's environment only as
    // GH_TOKEN/GITHUB_TOKEN/GH_ENTERPRISE_TOKEN (for the ProxyCommand's gh), never under another name.
    for (const x of ssh) for (const v of x.vars) expect(["GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN"]).toContain(v);
  });

  test("the remote environment never holds the token (no --env)", () => {
    expect(matrixDone).toBe(true);
    const remote = results.filter((x) => / env\b/.test(x.step) && x.r.code === 0);
    expect(remote.length).toBeGreaterThanOrEqual(3);
    for (const x of remote) expect(containsSecret(x.r.stdout, h.canary)).toBe(false);
  });
});

describe("--env forwards a secret only when named, and never on a command line", () => {
  test("--env MY_SECRET arrives remotely, but its value is on no child's argv", async () => {
    const secret = `s3cret-${crypto.randomUUID()}`;
    const w = await h.run(["warmup", "--json", "--keep"]);
    expect(w.code).toBe(0);
    const lease = w.json();
    try {
      const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--env", "MY_SECRET", "--", "sh", "-c", 'test "$MY_SECRET" = "$0" && echo same', secret], {
        env: { MY_SECRET: secret },
      });
      expect(r.stdout.trim()).toBe("same");
      // Now a command line that does not hold the secret itself: whatever carries it is crabbox's doing.
      h.clearInvocations();
      const r2 = await h.run(["run", "--id", lease.slug, "--no-sync", "--env", "MY_SECRET", "--", "sh", "-c", 'printf %s "$MY_SECRET" | wc -c'], {
        env: { MY_SECRET: secret },
      });
      expect(r2.stdout.trim()).toBe(String(secret.length));
      const onArgv = h.invocations().filter((c) => c.argv.some((a) => a.includes(secret)));
      figure("secrets.envValueOnArgv", onArgv.length);
      expect(onArgv.map((c) => `${c.tool}: ${c.argv.find((a) => a.includes(secret))!.slice(0, 100)}`)).toEqual([]);
    } finally {
      await h.run(["stop", lease.slug, "--delete"]);
    }
  }, 120_000);
});

describe("a token that is not GitHub-shaped is still never printed", () => {
  // Needs the emulator to accept a chosen token value: addUser(login, { token }).
  test("custom canary (no ghp_ prefix) through warmup, run, failure, stop", async () => {
    const want = `canary-${crypto.randomUUID()}-not-token-shaped`;
    const u = (h.emu.control.addUser as any)(`plain${Math.random().toString(36).slice(2, 7)}`, { token: want }) as { token: string };
    if (u.token !== want) {
      throw new Error("emulator lacks addUser(login, { token }): a custom token value cannot be registered (see tests/security report)");
    }
    const env = { GH_TOKEN: want };
    const rs: RunResult[] = [];
    const w = await h.run(["warmup", "--json", "--verbose"], { env });
    rs.push(w);
    expect(w.code).toBe(0);
    const lease = w.json();
    rs.push(await h.run(["run", "--id", lease.slug, "--verbose", "--", "env"], { env }));
    h.emu.control.injectError({ method: "GET", path: "^/user/codespaces/", status: 500, times: 20, headers: { "retry-after": "0" } });
    rs.push(await h.run(["status", "--id", lease.slug, "--verbose", "--json"], { env }));
    h.emu.control.clearErrors();
    rs.push(await h.run(["stop", lease.slug, "--json", "--verbose"], { env }));
    for (const r of rs) expect(outputLeaks(r, want)).toEqual([]);
    expect(filesContaining(h.home, want)).toEqual([]);
  }, 120_000);
});
