import { describe, expect, test } from "bun:test";
import { type ArgsDef, parseArgv } from "../../src/commands/argv.ts";
import { commonArgs, flagOverrides, globalArgs, normalizeProvider, PROVIDER_NAMES, providerArgs } from "../../src/config/flags.ts";
import { usageErrorOf } from "./helpers/errors.ts";

/** What a command does: parse, then map. */
function overrides(argv: string[], def: ArgsDef = commonArgs) {
  return flagOverrides(parseArgv(argv, def).values).layer;
}


describe("arg definitions", () => {
  test("every seed flag exists with a description", () => {
    const seed = [
      "repo", "ref", "machine", "devcontainer-path", "working-directory", "geo", "idle-timeout",
      "retention-period", "delete-on-release", "gh", "work-root", "gh-path", "api-url",
    ];
    for (const s of seed) {
      const def = providerArgs[`github-codespaces-${s}`];
      expect(def).toBeDefined();
      expect(def!.description?.length ?? 0).toBeGreaterThan(5);
    }
    expect(providerArgs["github-codespaces-delete-on-release"]!.type).toBe("boolean");
    for (const [name, def] of Object.entries(globalArgs as ArgsDef)) {
      expect(def.description, name).toBeTruthy();
      // No defaults: an absent flag must not override a lower layer.
      expect((def as { default?: unknown }).default, name).toBeUndefined();
    }
    for (const def of Object.values(providerArgs as ArgsDef)) expect((def as { default?: unknown }).default).toBeUndefined();
  });
});

describe("flagOverrides", () => {
  test("no flags -> empty layer", () => {
    expect(overrides([])).toEqual({});
  });

  test("maps every provider flag to its config key", () => {
    const layer = overrides([
      "--github-codespaces-repo", "octo/cat",
      "--github-codespaces-ref=main",
      "--github-codespaces-machine", "basicLinux32gb",
      "--github-codespaces-devcontainer-path", ".devcontainer/x/devcontainer.json",
      "--github-codespaces-working-directory", "/workspaces/cat",
      "--github-codespaces-geo", "EuropeWest",
      "--github-codespaces-idle-timeout", "45m",
      "--github-codespaces-retention-period", "2h",
      "--github-codespaces-gh", "/opt/gh",
      "--github-codespaces-work-root", "/workspaces/cat/crabbox",
      "--github-codespaces-api-url", "http://127.0.0.1:9999/",
      "--class", "large",
      "--target", "linux",
    ]);
    expect(layer).toEqual({
      class: "large",
      target: "linux",
      githubCodespaces: {
        repo: "octo/cat",
        ref: "main",
        machine: "basicLinux32gb",
        devcontainerPath: ".devcontainer/x/devcontainer.json",
        workingDirectory: "/workspaces/cat",
        geo: "EuropeWest",
        idleTimeout: "45m",
        retentionPeriod: "2h",
        ghPath: "/opt/gh",
        workRoot: "/workspaces/cat/crabbox",
        apiUrl: "http://127.0.0.1:9999/",
      },
    });
  });

  test("camelCase spellings work like kebab-case", () => {
    expect(overrides(["--githubCodespacesRepo", "a/b"]).githubCodespaces?.repo).toBe("a/b");
  });

  test("--github-codespaces-gh-path is the same as --github-codespaces-gh", () => {
    expect(overrides(["--github-codespaces-gh-path", "/x/gh"]).githubCodespaces?.ghPath).toBe("/x/gh");
    expect(overrides(["--github-codespaces-gh-path", "/x/gh", "--github-codespaces-gh", "/x/gh"]).githubCodespaces?.ghPath).toBe("/x/gh");
    usageErrorOf(() => overrides(["--github-codespaces-gh-path", "/x/gh", "--github-codespaces-gh", "/y/gh"]));
  });

  test("delete-on-release: on, off, --no- form, =false", () => {
    expect(overrides(["--github-codespaces-delete-on-release"]).githubCodespaces?.deleteOnRelease).toBe(true);
    expect(overrides(["--no-github-codespaces-delete-on-release"]).githubCodespaces?.deleteOnRelease).toBe(false);
    expect(overrides(["--github-codespaces-delete-on-release=false"]).githubCodespaces?.deleteOnRelease).toBe(false);
    expect(overrides([]).githubCodespaces?.deleteOnRelease).toBeUndefined();
  });

  test("--type sets the machine", () => {
    expect(overrides(["--type", "premiumLinux"]).githubCodespaces?.machine).toBe("premiumLinux");
    expect(overrides(["--type", "x", "--github-codespaces-machine", "x"]).githubCodespaces?.machine).toBe("x");
    const err = usageErrorOf(() => overrides(["--type", "x", "--github-codespaces-machine", "y"]));
    expect(err.message).toContain("--type");
  });

  test("provider aliases normalise; others are usage errors listing the names", () => {
    for (const name of PROVIDER_NAMES) expect(overrides(["--provider", name]).provider).toBe("github-codespaces");
    expect(overrides(["--provider", "Codespaces"]).provider).toBe("github-codespaces");
    const err = usageErrorOf(() => overrides(["--provider", "aws"]));
    expect(err.message).toContain("aws");
    for (const name of PROVIDER_NAMES) expect(err.hint).toContain(name);
    usageErrorOf(() => normalizeProvider("", "test"));
  });

  test("a negated string flag is refused", () => {
    usageErrorOf(() => overrides(["--no-github-codespaces-repo"]));
  });
});
