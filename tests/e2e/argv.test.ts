/**
 * Issue 11 §2 through the binary: one strict parse per invocation. Extra
 * positionals, words after `--` for a command that runs no remote command,
 * and unknown flags are refused (exit 2) before anything is touched; global
 * value flags may come before the command; repeatable --env and negatable
 * booleans work.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

const apiCalls = () => Object.values(h.emu.control.counts() as Record<string, number>).reduce((a, b) => a + b, 0);

describe("usage refusals (exit 2, nothing touched)", () => {
  test.each([
    [["stop", "a", "b"], /unexpected argument "b"/],
    [["status", "a", "b"], /unexpected argument "b"/],
    [["ssh", "a", "b"], /unexpected argument "b"/],
    [["list", "extra"], /unexpected argument "extra"/],
    [["doctor", "extra"], /unexpected argument "extra"/],
    [["cleanup", "--dry-run", "now"], /unexpected argument "now"/],
    [["warmup", "x"], /unexpected argument "x"/],
    [["run", "echo", "hi"], /unexpected argument "echo"/],
    [["completion", "bash", "zsh"], /unexpected argument "zsh"/],
    [["list", "--", "x"], /unexpected arguments after --/],
    [["stop", "a", "--", "--delete"], /unexpected arguments after --/],
    [["list", "-x"], /unknown flag -x/],
    [["run", "--no-id", "--", "true"], /unknown flag --no-id/],
    [["run", "--sync=maybe", "--", "true"], /on\/off flag/],
  ])("%p", async (args, message) => {
    h.emu.control.resetCounts();
    const r = await h.run(args as string[]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr.split("\n")[0]).toMatch(/^error: /);
    expect(apiCalls()).toBe(0);
  });

  test("--json: the refusal is one JSON document", async () => {
    const r = await h.run(["list", "extra", "--json"]);
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe("usage");
  });
});

describe("what is accepted", () => {
  test("global value flags before the command; camelCase; --flag=value", async () => {
    const r = await h.run(["--provider", "codespaces", "list", "--json", "--githubCodespacesGeo=UsEast"]);
    expect(r.code).toBe(0);
    expect(r.json()).toEqual([]);
  });

  test("repeatable --env (repeated and comma-separated) and --no-sync, after a lease named by --id", async () => {
    const w = await h.run(["warmup", "--json", "--keep"]);
    expect(w.code).toBe(0);
    const lease = w.json();
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--env", "AA", "--env=BB,CC", "--", "sh", "-c", 'echo "$AA $BB $CC" -- "$@"', "x", "--json"], {
      env: { AA: "1", BB: "2", CC: "3" },
    });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "1 2 3 -- --json\n" });
    expect((await h.run(["stop", lease.slug, "--delete"])).code).toBe(0);
  });
});

describe("where each setting came from (Config.sources, shown as the docs promise)", () => {
  test("doctor prints one config line per setting with its source, defaults too (#14 item 10); --verbose prints them on stderr", async () => {
    const d = await h.run(["doctor", "--github-codespaces-geo", "UsEast"], { env: { CRABBOX_GITHUB_CODESPACES_REF: "main" } });
    expect(d.code).toBe(0);
    expect(d.stdout).toContain("config  githubCodespaces.geo = UsEast from --github-codespaces-geo\n");
    expect(d.stdout).toContain("config  githubCodespaces.ref = main from CRABBOX_GITHUB_CODESPACES_REF\n");
    expect(d.stdout).toContain('config  githubCodespaces.machine = "" (default)\n');

    const l = await h.run(["list", "--verbose", "--type", "premiumLinux"]);
    expect(l.code).toBe(0);
    expect(l.stderr).toContain("githubCodespaces.machine = premiumLinux from --type");
    expect((await h.run(["list"])).stderr).not.toContain("githubCodespaces.");
  });
});
