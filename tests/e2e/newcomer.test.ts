/**
 * Issue #14 through the compiled binary against the emulator: the points a
 * newcomer tripped over (durations, contradictions, local-path remotes,
 * CRABBOX_HOME being a file, ...).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHarness, git, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("durations (item 5): one error wherever the value came from", () => {
  test("--ttl 1d, CRABBOX_API_TIMEOUT=1d, an idle timeout of 1d from env, flag and config: same why, same hint, bad_duration", async () => {
    mkdirSync(join(h.tmp, "cfg"), { recursive: true });
    const cfg = join(h.tmp, "cfg", "config.yaml");
    writeFileSync(cfg, "githubCodespaces:\n  idleTimeout: 1d\n");
    const cases: [string[], Record<string, string>, string][] = [
      [["warmup", "--ttl", "1d", "--json"], {}, "--ttl"],
      [["run", "--timeout", "1d", "--json", "--", "true"], {}, "--timeout"],
      [["warmup", "--json"], { CRABBOX_API_TIMEOUT: "1d" }, "CRABBOX_API_TIMEOUT"],
      [["list", "--json"], { CRABBOX_GITHUB_CODESPACES_IDLE_TIMEOUT: "1d" }, "CRABBOX_GITHUB_CODESPACES_IDLE_TIMEOUT"],
      [["list", "--json", "--github-codespaces-idle-timeout", "1d"], {}, "--github-codespaces-idle-timeout"],
      [["list", "--json"], { CRABBOX_CONFIG: cfg }, cfg],
    ];
    const seen = new Set<string>();
    for (const [args, env, subject] of cases) {
      const r = await h.run(args, { env });
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      const e = r.json().error;
      expect(e.code).toBe("bad_duration");
      expect(e.message).toStartWith('invalid duration "1d" for ');
      expect(e.message).toContain(subject);
      expect(e.hint).toBe("write 24h instead");
      seen.add(`${e.why}|${e.hint}`);
      expect(r.stderr).toContain("fix: write 24h instead");
    }
    expect(seen.size).toBe(1);
  });
});

describe("contradictions (item 6)", () => {
  test("--quiet --verbose is refused (exit 2)", async () => {
    for (const cmd of [["list"], ["doctor"], ["status", "x"]]) {
      const r = await h.run([...cmd, "--quiet", "--verbose"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("error: --quiet and --verbose contradict each other");
      expect(r.stderr).toContain("fix: ");
    }
  });

  test("--sync-only --no-sync has a fix: line", async () => {
    const r = await h.run(["run", "--sync-only", "--no-sync"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: --sync-only and --no-sync contradict each other");
    expect(r.stderr).toMatch(/^ {2}fix: \S/m);
  });
});

describe("local-path remotes (item 14)", () => {
  test.each([["/work/x"], ["../x"], ["file:///work/x"]])("an origin of %p is no repository", async (url) => {
    const work = join(h.tmp, `local-${url.replace(/\W/g, "")}`);
    mkdirSync(work, { recursive: true });
    git(work, "init", "-q", "-b", "main");
    git(work, "remote", "add", "origin", url);
    const before = h.emu.control.counts();
    const r = await h.run(["warmup", "--json"], { cwd: work });
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe("repo_unknown");
    expect(r.stderr).toContain("error: no GitHub remote; pass `--github-codespaces-repo`");
    expect(r.stderr).not.toContain("work/x");
    expect(h.emu.control.counts()).toEqual(before);
    const doctor = await h.run(["doctor"], { cwd: work });
    expect(doctor.stdout).toMatch(/repository.*no GitHub remote/);
  });

  test("the configured GitHub Enterprise host counts as a GitHub remote", async () => {
    const work = join(h.tmp, "ghe");
    mkdirSync(work, { recursive: true });
    git(work, "init", "-q", "-b", "main");
    const apiHost = new URL(h.env.CRABBOX_GITHUB_CODESPACES_API_URL!).host;
    git(work, "remote", "add", "origin", `http://${apiHost}/octo-org/hello-world.git`);
    const r = await h.run(["doctor", "--json"], { cwd: work });
    const repo = r.json().find((c: { check: string }) => c.check === "repository");
    expect(repo.ok).toBe(true);
    expect(repo.detail).toContain("octo-org/hello-world");
  });
});

describe("CRABBOX_HOME is a file (item 15a)", () => {
  test("one clear error and a fix, for list, status and warmup", async () => {
    const file = join(h.tmp, "afile");
    writeFileSync(file, "");
    for (const args of [["list"], ["status", "x"], ["stop", "x"]]) {
      const r = await h.run(args, { env: { CRABBOX_HOME: file } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("error: CRABBOX_HOME is a file, not a directory");
      expect(r.stderr).toContain("fix: point CRABBOX_HOME at a directory");
      expect(r.stderr).not.toContain("EEXIST");
    }
    const below = await h.run(["list", "--json"], { env: { CRABBOX_HOME: join(file, "sub") } });
    expect(below.code).toBe(2);
    expect(below.json().error.message).toContain(`is below ${file}, which is a file`);
  });
});
