import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgv } from "../../src/commands/argv.ts";
import { commonArgs } from "../../src/config/flags.ts";
import { findRepoRoot, loadConfig, userConfigPath, validateRepo } from "../../src/config/load.ts";
import { normalizeApiUrl } from "../../src/github/api-url.ts";
import { CrabboxError, Exit } from "../../src/errors.ts";
import { createRuntime, type Env } from "../../src/runtime.ts";

let root: string;
let repo: string;
let home: string;
let userFile: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "crabbox-config-"));
  repo = join(root, "checkout");
  home = join(root, "home");
  mkdirSync(join(repo, ".git"), { recursive: true });
  mkdirSync(join(repo, "sub", "dir"), { recursive: true });
  mkdirSync(join(home, ".config", "crabbox"), { recursive: true });
  userFile = join(home, ".config", "crabbox", "config.yaml");
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function rt(env: Env = {}, cwd = repo) {
  return createRuntime({ env, homeDir: home, cwd });
}

/** Parse argv exactly as a command would, then load. */
function load(argv: string[] = [], env: Env = {}, cwd = repo) {
  return loadConfig(rt(env, cwd), parseArgv(argv, commonArgs).values);
}

async function loadError(argv: string[] = [], env: Env = {}, cwd = repo): Promise<CrabboxError> {
  try {
    await load(argv, env, cwd);
  } catch (e) {
    expect(e).toBeInstanceOf(CrabboxError);
    return e as CrabboxError;
  }
  throw new Error("expected loadConfig to fail");
}

function errorText(e: CrabboxError): string {
  return JSON.stringify(e.toJSON()) + String(e.message);
}

describe("defaults", () => {
  test("no files, no env, no flags", async () => {
    const c = await load();
    expect(c.provider).toBe("github-codespaces");
    expect(c.target).toBe("linux");
    expect(c.class).toBe("standard");
    expect(c.githubCodespaces).toEqual({
      repo: "",
      ref: "",
      machine: "",
      devcontainerPath: "",
      workingDirectory: "",
      geo: "",
      idleTimeoutMinutes: 30,
      retentionPeriodMinutes: 60,
      deleteOnRelease: true,
      ghPath: "gh",
      workRoot: "",
      apiUrl: "https://api.github.com",
    });
    expect(c.warnings).toEqual([]);
    expect(Object.values(c.sources).every((s) => s === "default")).toBe(true);
    expect(c.sources["githubCodespaces.idleTimeoutMinutes"]).toBe("default");
    expect(c.files).toEqual({ repo: null, user: null });
  });
});

describe("precedence: flags > env > user file > repo file > defaults", () => {
  test("each layer wins over the ones below it, key by key", async () => {
    writeFileSync(
      join(repo, ".crabbox.yaml"),
      [
        "class: repo-class",
        "githubCodespaces:",
        "  ref: repo-ref",
        "  geo: repo-geo",
        "  devcontainerPath: .devcontainer/repo.json",
        "  workRoot: /workspaces/repo",
      ].join("\n"),
    );
    writeFileSync(
      userFile,
      ["githubCodespaces:", "  machine: user-machine", "  geo: user-geo", "  workRoot: /workspaces/user", "  repo: user/repo"].join("\n"),
    );
    const env = {
      CRABBOX_GITHUB_CODESPACES_GEO: "env-geo",
      CRABBOX_GITHUB_CODESPACES_WORK_ROOT: "/workspaces/env",
      CRABBOX_GITHUB_CODESPACES_REPO: "env/repo",
    };
    const c = await load(["--github-codespaces-work-root", "/workspaces/flag"], env, join(repo, "sub", "dir"));
    const gc = c.githubCodespaces;
    expect(gc.ref).toBe("repo-ref");
    expect(gc.devcontainerPath).toBe(".devcontainer/repo.json");
    expect(c.class).toBe("repo-class");
    expect(gc.machine).toBe("user-machine");
    expect(gc.geo).toBe("env-geo");
    expect(gc.repo).toBe("env/repo");
    expect(gc.workRoot).toBe("/workspaces/flag");
    expect(gc.apiUrl).toBe("https://api.github.com");
    expect(c.sources).toMatchObject({
      class: "repo",
      "githubCodespaces.ref": "repo",
      "githubCodespaces.machine": "user",
      "githubCodespaces.geo": "env",
      "githubCodespaces.repo": "env",
      "githubCodespaces.workRoot": "flag",
      "githubCodespaces.apiUrl": "default",
      provider: "default",
    });
    expect(c.files?.repo).toBe(join(repo, ".crabbox.yaml"));
    expect(c.files?.user).toBe(userFile);
    expect(c.warnings).toEqual([]);
  });

  test("repo file found from a subdirectory via .git; .crabbox.yml accepted", async () => {
    writeFileSync(join(repo, ".crabbox.yml"), "githubCodespaces:\n  ref: from-yml\n");
    expect(findRepoRoot(join(repo, "sub", "dir"))).toBe(repo);
    const c = await load([], {}, join(repo, "sub", "dir"));
    expect(c.githubCodespaces.ref).toBe("from-yml");
  });

  test("both .crabbox.yaml and .crabbox.yml: .yaml wins, with a warning", async () => {
    writeFileSync(join(repo, ".crabbox.yaml"), "githubCodespaces:\n  ref: yaml\n");
    writeFileSync(join(repo, ".crabbox.yml"), "githubCodespaces:\n  ref: yml\n");
    const c = await load();
    expect(c.githubCodespaces.ref).toBe("yaml");
    expect(c.warnings.join("\n")).toContain(".crabbox.yml");
  });

  test("without a .git, the repo file is looked up in cwd only", async () => {
    const plain = join(root, "plain", "deep");
    mkdirSync(plain, { recursive: true });
    writeFileSync(join(root, "plain", ".crabbox.yaml"), "githubCodespaces:\n  ref: parent\n");
    writeFileSync(join(plain, ".crabbox.yaml"), "githubCodespaces:\n  ref: here\n");
    expect(findRepoRoot(plain)).toBeNull();
    expect((await load([], {}, plain)).githubCodespaces.ref).toBe("here");
  });

  test("flags beat env for the provider's durations and booleans", async () => {
    const env = {
      CRABBOX_GITHUB_CODESPACES_IDLE_TIMEOUT: "1h",
      CRABBOX_GITHUB_CODESPACES_RETENTION_PERIOD: "2h",
      CRABBOX_GITHUB_CODESPACES_DELETE_ON_RELEASE: "false",
    };
    const fromEnv = await load([], env);
    expect(fromEnv.githubCodespaces.idleTimeoutMinutes).toBe(60);
    expect(fromEnv.githubCodespaces.retentionPeriodMinutes).toBe(120);
    expect(fromEnv.githubCodespaces.deleteOnRelease).toBe(false);
    expect(fromEnv.sources["githubCodespaces.deleteOnRelease"]).toBe("env");
    const fromFlags = await load(
      ["--github-codespaces-idle-timeout", "1h30m", "--github-codespaces-delete-on-release"],
      env,
    );
    expect(fromFlags.githubCodespaces.idleTimeoutMinutes).toBe(90);
    expect(fromFlags.githubCodespaces.deleteOnRelease).toBe(true);
    expect(fromFlags.sources["githubCodespaces.idleTimeoutMinutes"]).toBe("flag");
    expect(fromFlags.githubCodespaces.retentionPeriodMinutes).toBe(120);
  });

  test("user file beats repo file for allowed keys", async () => {
    writeFileSync(join(repo, ".crabbox.yaml"), "githubCodespaces:\n  machine: small\n");
    writeFileSync(userFile, "githubCodespaces:\n  machine: big\n");
    const c = await load();
    expect(c.githubCodespaces.machine).toBe("big");
    expect(c.sources["githubCodespaces.machine"]).toBe("user");
  });

  test("--no-github-codespaces-delete-on-release beats a user file", async () => {
    writeFileSync(userFile, "githubCodespaces:\n  deleteOnRelease: true\n");
    const c = await load(["--no-github-codespaces-delete-on-release"]);
    expect(c.githubCodespaces.deleteOnRelease).toBe(false);
    expect(c.sources["githubCodespaces.deleteOnRelease"]).toBe("flag");
  });

  test("--type sets the machine over env", async () => {
    const c = await load(["--type", "premiumLinux"], { CRABBOX_GITHUB_CODESPACES_MACHINE: "basicLinux32gb" });
    expect(c.githubCodespaces.machine).toBe("premiumLinux");
    expect(c.sources["githubCodespaces.machine"]).toBe("flag");
    const err = await loadError(["--type", "a", "--github-codespaces-machine", "b"]);
    expect(err.exit).toBe(Exit.usage);
  });

  test("empty env variables count as unset", async () => {
    writeFileSync(userFile, "githubCodespaces:\n  ref: user-ref\n");
    const c = await load([], { CRABBOX_GITHUB_CODESPACES_REF: "" });
    expect(c.githubCodespaces.ref).toBe("user-ref");
  });

  test("GH and GH_PATH env vars both set the gh path; disagreeing is an error", async () => {
    expect((await load([], { CRABBOX_GITHUB_CODESPACES_GH: "/a/gh" })).githubCodespaces.ghPath).toBe("/a/gh");
    expect((await load([], { CRABBOX_GITHUB_CODESPACES_GH_PATH: "/b/gh" })).githubCodespaces.ghPath).toBe("/b/gh");
    const err = await loadError([], { CRABBOX_GITHUB_CODESPACES_GH: "/a/gh", CRABBOX_GITHUB_CODESPACES_GH_PATH: "/b/gh" });
    expect(err.exit).toBe(Exit.usage);
  });

  test("DELETE_ON_RELEASE accepts true/false/1/0 only", async () => {
    for (const [v, want] of [["true", true], ["1", true], ["FALSE", false], ["0", false]] as const) {
      expect((await load([], { CRABBOX_GITHUB_CODESPACES_DELETE_ON_RELEASE: v })).githubCodespaces.deleteOnRelease).toBe(want);
    }
    const err = await loadError([], { CRABBOX_GITHUB_CODESPACES_DELETE_ON_RELEASE: "maybe" });
    expect(err.exit).toBe(Exit.usage);
    expect(err.message).toContain("CRABBOX_GITHUB_CODESPACES_DELETE_ON_RELEASE");
  });

  test("CRABBOX_PROVIDER accepts aliases and rejects others", async () => {
    expect((await load([], { CRABBOX_PROVIDER: "gh-codespaces" })).sources.provider).toBe("env");
    const err = await loadError([], { CRABBOX_PROVIDER: "hetzner" });
    expect(err.exit).toBe(Exit.usage);
    expect(err.hint).toContain("github-codespaces");
    expect(err.message).toContain("CRABBOX_PROVIDER");
  });
});

describe("user config file location", () => {
  test("CRABBOX_CONFIG wins, relative to cwd", async () => {
    writeFileSync(join(repo, "mine.yaml"), "githubCodespaces:\n  repo: me/mine\n");
    writeFileSync(userFile, "githubCodespaces:\n  repo: me/default\n");
    const c = await load([], { CRABBOX_CONFIG: "mine.yaml" });
    expect(c.githubCodespaces.repo).toBe("me/mine");
    expect(c.sources["githubCodespaces.repo"]).toBe("user");
  });

  test("XDG_CONFIG_HOME is used when set", async () => {
    const xdg = join(root, "xdg");
    mkdirSync(join(xdg, "crabbox"), { recursive: true });
    writeFileSync(join(xdg, "crabbox", "config.yaml"), "githubCodespaces:\n  repo: me/xdg\n");
    writeFileSync(userFile, "githubCodespaces:\n  repo: me/home\n");
    expect((await load([], { XDG_CONFIG_HOME: xdg })).githubCodespaces.repo).toBe("me/xdg");
    expect((await load([])).githubCodespaces.repo).toBe("me/home");
    expect(userConfigPath(rt({ XDG_CONFIG_HOME: xdg })).path).toBe(join(xdg, "crabbox", "config.yaml"));
  });

  test("config.yml is accepted in the default place", async () => {
    writeFileSync(join(home, ".config", "crabbox", "config.yml"), "githubCodespaces:\n  repo: me/yml\n");
    expect((await load()).githubCodespaces.repo).toBe("me/yml");
  });

  test("a missing CRABBOX_CONFIG file is a warning, not an error", async () => {
    const c = await load([], { CRABBOX_CONFIG: join(root, "nope.yaml") });
    expect(c.warnings.join("\n")).toContain("nope.yaml");
  });

  test("CRABBOX_CONFIG must be YAML (we never execute config)", async () => {
    const js = join(root, "evil.ts");
    writeFileSync(js, "throw new Error('executed!')\n");
    const err = await loadError([], { CRABBOX_CONFIG: js });
    expect(err.exit).toBe(Exit.usage);
    expect(err.message).toContain(".yaml");
  });

  test("empty and comment-only files are fine", async () => {
    writeFileSync(join(repo, ".crabbox.yaml"), "");
    writeFileSync(userFile, "# nothing here yet\n---\n");
    const c = await load();
    expect(c.githubCodespaces.apiUrl).toBe("https://api.github.com");
  });

  test("broken YAML is exit 2 naming the file", async () => {
    writeFileSync(userFile, "githubCodespaces:\n  repo: [a\n");
    const err = await loadError();
    expect(err.exit).toBe(Exit.usage);
    expect(err.message).toContain(userFile);
  });
});

describe("trust rule for the repository's .crabbox.yaml", () => {
  const forbidden: Record<string, string> = {
    repo: "evil/repo",
    apiUrl: "https://evil.example.com",
    ghPath: "/tmp/evil-gh",
    idleTimeout: "240m",
    retentionPeriod: "720h",
    deleteOnRelease: "false",
  };

  // Spelled out here (not imported) so that dropping a key from the rule fails a test.
  for (const key of Object.keys(forbidden)) {
    test(`githubCodespaces.${key} is ignored with a warning`, async () => {
      const file = join(repo, ".crabbox.yaml");
      writeFileSync(file, `githubCodespaces:\n  ${key}: ${forbidden[key]}\n  ref: allowed-ref\n`);
      const c = await load();
      const warning = c.warnings.find((w) => w.includes(`githubCodespaces.${key}`));
      expect(warning).toBeDefined();
      expect(warning).toContain(file);
      expect(c.githubCodespaces.ref).toBe("allowed-ref");
      expect(c.sources["githubCodespaces.ref"]).toBe("repo");
      expect(c.githubCodespaces.repo).toBe("");
      expect(c.githubCodespaces.apiUrl).toBe("https://api.github.com");
      expect(c.githubCodespaces.ghPath).toBe("gh");
      expect(c.githubCodespaces.idleTimeoutMinutes).toBe(30);
      expect(c.githubCodespaces.retentionPeriodMinutes).toBe(60);
      expect(c.githubCodespaces.deleteOnRelease).toBe(true);
      expect(Object.entries(c.sources).filter(([, s]) => s === "repo").map(([k]) => k)).toEqual(["githubCodespaces.ref"]);
    });
  }

  test("the short gh key is also refused, warned under its own name", async () => {
    writeFileSync(join(repo, ".crabbox.yaml"), "githubCodespaces:\n  gh: /tmp/evil-gh\n");
    const c = await load();
    expect(c.githubCodespaces.ghPath).toBe("gh");
    expect(c.warnings.some((w) => w.includes("githubCodespaces.gh ") || w.includes("githubCodespaces.gh in"))).toBe(true);
  });

  test("the same keys are honoured from the user file", async () => {
    writeFileSync(
      userFile,
      [
        "githubCodespaces:",
        "  repo: me/project",
        "  apiUrl: https://ghe.example.com/api/v3/",
        "  ghPath: /opt/gh",
        "  idleTimeout: 2h",
        "  retentionPeriod: 168h",
        "  deleteOnRelease: false",
      ].join("\n"),
    );
    const c = await load();
    expect(c.githubCodespaces).toMatchObject({
      repo: "me/project",
      apiUrl: "https://ghe.example.com/api/v3",
      ghPath: "/opt/gh",
      idleTimeoutMinutes: 120,
      retentionPeriodMinutes: 168 * 60,
      deleteOnRelease: false,
    });
    expect(c.warnings).toEqual([]);
  });

  test("allowed repo keys are applied: ref, devcontainerPath, workingDirectory, geo, workRoot, class, target, provider", async () => {
    writeFileSync(
      join(repo, ".crabbox.yaml"),
      [
        "provider: codespaces",
        "target: linux",
        "class: beefy",
        "githubCodespaces:",
        "  ref: r",
        "  devcontainerPath: d",
        "  workingDirectory: w",
        "  geo: UsWest",
        "  workRoot: /workspaces/x",
      ].join("\n"),
    );
    const c = await load();
    expect(c.warnings).toEqual([]);
    expect(c.class).toBe("beefy");
    expect(c.githubCodespaces).toMatchObject({ ref: "r", devcontainerPath: "d", workingDirectory: "w", geo: "UsWest", workRoot: "/workspaces/x" });
    expect(c.sources.provider).toBe("repo");
  });

  test("the machine type (billing) is not the repository's to choose: ignored with a warning that says where to set it", async () => {
    writeFileSync(join(repo, ".crabbox.yaml"), "githubCodespaces:\n  machine: premiumLinux\n  ref: r\n");
    const c = await load();
    expect(c.githubCodespaces.machine).toBe("");
    expect(c.githubCodespaces.ref).toBe("r");
    expect(c.sources["githubCodespaces.machine"]).toBe("default");
    expect(c.warnings).toHaveLength(1);
    expect(c.warnings[0]).toContain(`ignored githubCodespaces.machine in ${join(repo, ".crabbox.yaml")}`);
    expect(c.warnings[0]).toContain("CRABBOX_GITHUB_CODESPACES_MACHINE, --github-codespaces-machine or --type");
    expect(c.warnings[0]).toContain(userFile);
    // The user's own file may still choose it.
    writeFileSync(userFile, "githubCodespaces:\n  machine: basicLinux32gb\n");
    expect((await load()).githubCodespaces.machine).toBe("basicLinux32gb");
  });
});

describe("config files are YAML data, read only from regular files", () => {
  test("a repository .crabbox.yaml that links to JavaScript: exit 2 before anything runs", async () => {
    const marker = join(root, "PWNED");
    writeFileSync(join(repo, "payload.js"), `require("fs").writeFileSync(${JSON.stringify(marker)}, "x");\nexport default {};\n`);
    symlinkSync("payload.js", join(repo, ".crabbox.yaml"));
    const e = await loadError();
    expect(e.exit).toBe(Exit.usage);
    expect(e.code).toBe("config_symlink");
    expect(e.message).toContain(join(repo, ".crabbox.yaml"));
    expect(e.message).toContain("symbolic link");
    expect(existsSync(marker)).toBe(false);
  });

  test("a link to a YAML file, a dangling link and a directory are refused too (repo and user file)", async () => {
    writeFileSync(join(root, "elsewhere.yaml"), "githubCodespaces:\n  ref: r\n");
    symlinkSync(join(root, "elsewhere.yaml"), join(repo, ".crabbox.yml"));
    expect((await loadError()).code).toBe("config_symlink");
    rmSync(join(repo, ".crabbox.yml"));
    symlinkSync(join(root, "nothing-here.yaml"), join(repo, ".crabbox.yaml"));
    expect((await loadError()).code).toBe("config_symlink");
    rmSync(join(repo, ".crabbox.yaml"));
    mkdirSync(join(repo, ".crabbox.yaml"));
    const dir = await loadError();
    expect(dir.exit).toBe(Exit.usage);
    expect(dir.message).toContain("not a regular file");
    rmSync(join(repo, ".crabbox.yaml"), { recursive: true });
    symlinkSync(join(root, "elsewhere.yaml"), userFile);
    const user = await loadError();
    expect(user.code).toBe("config_symlink");
    expect(user.exit).toBe(Exit.usage);
    expect(user.hint).toContain("CRABBOX_CONFIG");
    const explicit = await loadError([], { CRABBOX_CONFIG: userFile });
    expect(explicit.code).toBe("config_symlink");
  });

  test("extends: in a repo file is just an unknown key: nothing is fetched or imported", async () => {
    const marker = join(root, "PWNED-extends");
    writeFileSync(join(repo, "evil.js"), `require("fs").writeFileSync(${JSON.stringify(marker)}, "x");\nexport default {};\n`);
    writeFileSync(join(repo, "base.yaml"), "githubCodespaces:\n  ref: from-base\n");
    for (const target of ["./evil.js", "./base.yaml", "gh:evil-org/config", "https://example.invalid/c.yaml"]) {
      writeFileSync(join(repo, ".crabbox.yaml"), `extends: ${JSON.stringify(target)}\n`);
      const c = await load();
      expect(c.githubCodespaces.ref).toBe("");
      expect(c.warnings.join("\n")).toContain('unknown key "extends" ignored');
    }
    expect(existsSync(marker)).toBe(false);
  });
});

describe("token-looking values are refused without echoing them", () => {
  const token = `ghp_${"A1b2C3d4E5".repeat(4)}`;
  const pat = `github_pat_${"x9Y8z7".repeat(10)}`;

  test("in a known key of the user file", async () => {
    writeFileSync(userFile, `githubCodespaces:\n  ref: ${token}\n`);
    const err = await loadError();
    expect(err.exit).toBe(Exit.usage);
    expect(err.message).toContain(userFile);
    expect(err.message).toContain("githubCodespaces.ref");
    expect(errorText(err)).not.toContain(token);
    expect(err.hint).toContain("GH_TOKEN");
  });

  test("in an unknown key of the repo file, nested, or embedded in a URL", async () => {
    const file = join(repo, ".crabbox.yaml");
    for (const [yaml, key] of [
      [`token: ${pat}\n`, "token"],
      [`githubCodespaces:\n  secrets:\n    - ${token}\n`, "githubCodespaces.secrets[0]"],
      [`githubCodespaces:\n  apiUrl: https://x:${token}@example.com\n`, "githubCodespaces.apiUrl"],
    ] as const) {
      writeFileSync(file, yaml);
      const err = await loadError();
      expect(err.exit).toBe(Exit.usage);
      expect(err.message).toContain(file);
      expect(err.message).toContain(key);
      expect(errorText(err)).not.toContain(token);
      expect(errorText(err)).not.toContain(pat);
    }
  });

  test("in broken YAML the parse error does not echo the token", async () => {
    writeFileSync(userFile, `githubCodespaces:\n  ref: [${token}\n`);
    const err = await loadError();
    expect(errorText(err)).not.toContain(token);
  });
});

describe("validation", () => {
  test("wrong types are exit 2 naming the key and the file", async () => {
    for (const [yaml, key] of [
      ["githubCodespaces:\n  deleteOnRelease: \"no\"\n", "githubCodespaces.deleteOnRelease"],
      ["githubCodespaces:\n  idleTimeout: 30\n", "githubCodespaces.idleTimeout"],
      ["githubCodespaces:\n  repo: [a, b]\n", "githubCodespaces.repo"],
      ["githubCodespaces: yes-please\n", "githubCodespaces"],
      ["class: 3\n", "class"],
    ] as const) {
      writeFileSync(userFile, yaml);
      const err = await loadError();
      expect(err.exit).toBe(Exit.usage);
      expect(err.message).toContain(userFile);
      expect(err.message).toContain(key);
    }
  });

  test("a file that is not a mapping is exit 2", async () => {
    writeFileSync(userFile, "- a\n- b\n");
    const err = await loadError();
    expect(err.exit).toBe(Exit.usage);
    expect(err.message).toContain("mapping");
  });

  test("bad duration in a file names the key", async () => {
    writeFileSync(userFile, "githubCodespaces:\n  retentionPeriod: 1d\n");
    const err = await loadError();
    expect(err.message).toContain("githubCodespaces.retentionPeriod");
    // The same bad_duration error as from a flag or a variable (#14 item 5): the hint says what to write.
    expect(err.code).toBe("bad_duration");
    expect(err.hint).toBe("write 24h instead");
  });

  test("unknown keys warn but do not fail", async () => {
    writeFileSync(userFile, "colour: blue\ngithubCodespaces:\n  machnie: x\n  idletimeout: 10m\n");
    const c = await load();
    expect(c.warnings.some((w) => w.includes('"colour"') && w.includes(userFile))).toBe(true);
    expect(c.warnings.some((w) => w.includes("githubCodespaces.machnie"))).toBe(true);
    expect(c.warnings.some((w) => w.includes('did you mean "githubCodespaces.idleTimeout"'))).toBe(true);
    expect(c.githubCodespaces.machine).toBe("");
  });

  test("null values mean unset", async () => {
    writeFileSync(join(repo, ".crabbox.yaml"), "githubCodespaces:\n  ref: from-repo\n");
    writeFileSync(userFile, "githubCodespaces:\n  ref:\n  machine: ~\n");
    const c = await load();
    expect(c.githubCodespaces.ref).toBe("from-repo");
  });

  test("bad repo syntax is exit 2", async () => {
    for (const bad of ["justname", "a/b/c", "own er/x", "-own/x", "owner/", "/name", "o/..", `${"a".repeat(40)}/x`, `o/${"n".repeat(101)}`]) {
      const err = await loadError([], { CRABBOX_GITHUB_CODESPACES_REPO: bad });
      expect(err.exit).toBe(Exit.usage);
      expect(err.message).toContain("bad repo syntax");
      expect(err.message).toContain("CRABBOX_GITHUB_CODESPACES_REPO");
    }
    for (const good of ["octocat/hello-world", "a/b", "My-Org/repo.name_2", `${"a".repeat(39)}/${"n".repeat(100)}`]) {
      expect(validateRepo(good, "test")).toBe(good);
    }
    expect(validateRepo("", "test")).toBe("");
  });

  test("bad repo from a flag names the flag", async () => {
    const err = await loadError(["--github-codespaces-repo", "nope"]);
    expect(err.message).toContain("--github-codespaces-repo");
  });

  test("idle timeout must be within 5m..240m", async () => {
    for (const ok of ["5m", "240m", "4h", "1h30m"]) {
      await load(["--github-codespaces-idle-timeout", ok]);
    }
    for (const bad of ["4m", "241m", "5h", "0s"]) {
      const err = await loadError(["--github-codespaces-idle-timeout", bad]);
      expect(err.exit).toBe(Exit.usage);
      expect(err.code).toBe("bad_idle_timeout");
    }
    const garbage = await loadError(["--github-codespaces-idle-timeout", "soon"]);
    expect(garbage.code).toBe("bad_duration");
    expect(garbage.message).toContain("--github-codespaces-idle-timeout");
  });

  test("retention must be within 0..720h and whole minutes", async () => {
    expect((await load(["--github-codespaces-retention-period", "0s"])).githubCodespaces.retentionPeriodMinutes).toBe(0);
    expect((await load(["--github-codespaces-retention-period", "720h"])).githubCodespaces.retentionPeriodMinutes).toBe(43200);
    expect((await loadError(["--github-codespaces-retention-period", "721h"])).code).toBe("bad_retention_period");
    expect((await loadError(["--github-codespaces-retention-period", "90s"])).code).toBe("bad_duration");
    expect((await loadError([], { CRABBOX_GITHUB_CODESPACES_RETENTION_PERIOD: "-1h" })).message).toContain(
      "CRABBOX_GITHUB_CODESPACES_RETENTION_PERIOD",
    );
  });

  test("target must be linux", async () => {
    expect((await load(["--target", "Linux"])).target).toBe("linux");
    const err = await loadError(["--target", "macos"]);
    expect(err.exit).toBe(Exit.usage);
    expect(err.message).toContain("macos");
    writeFileSync(join(repo, ".crabbox.yaml"), "target: windows\n");
    expect((await loadError()).message).toContain(join(repo, ".crabbox.yaml"));
  });

  test("unknown provider in a file names the file", async () => {
    writeFileSync(userFile, "provider: aws\n");
    const err = await loadError();
    expect(err.message).toContain(userFile);
  });

  test("workRoot must be absolute and not /", async () => {
    expect((await loadError(["--github-codespaces-work-root", "relative/dir"])).exit).toBe(Exit.usage);
    expect((await loadError(["--github-codespaces-work-root", "/"])).exit).toBe(Exit.usage);
  });

  test("control characters are refused", async () => {
    const err = await loadError([], { CRABBOX_GITHUB_CODESPACES_MACHINE: "basic\nProxyCommand evil" });
    expect(err.exit).toBe(Exit.usage);
  });

  test("empty ghPath is refused", async () => {
    expect((await loadError(["--github-codespaces-gh="])).exit).toBe(Exit.usage);
  });
});

describe("api URL rules", () => {
  test("https anywhere; trailing slashes stripped", () => {
    expect(normalizeApiUrl("https://api.github.com/", "t")).toBe("https://api.github.com");
    expect(normalizeApiUrl("https://ghe.example.com/api/v3//", "t")).toBe("https://ghe.example.com/api/v3");
    expect(normalizeApiUrl("https://api.acme.ghe.com", "t")).toBe("https://api.acme.ghe.com");
  });

  test("http only on loopback", () => {
    expect(normalizeApiUrl("http://127.0.0.1:8080/", "t")).toBe("http://127.0.0.1:8080");
    expect(normalizeApiUrl("http://localhost:3000", "t")).toBe("http://localhost:3000");
    expect(normalizeApiUrl("http://[::1]:3000/api", "t")).toBe("http://[::1]:3000/api");
    expect(normalizeApiUrl("http://127.5.6.7", "t")).toBe("http://127.5.6.7");
    for (const bad of ["http://api.github.com", "http://10.0.0.1:8080", "http://localhost.evil.com", "http://127.0.0.1.evil.com"]) {
      let caught: unknown;
      try {
        normalizeApiUrl(bad, "t");
      } catch (e) {
        caught = e;
      }
      expect(caught, bad).toBeInstanceOf(CrabboxError);
      expect((caught as CrabboxError).exit).toBe(Exit.usage);
    }
  });

  test("other schemes, garbage, credentials and queries are refused", () => {
    for (const bad of ["ftp://api.github.com", "api.github.com", "not a url", "https://user:pw@api.github.com", "https://api.github.com/?x=1", "https://api.github.com/#f"]) {
      expect(() => normalizeApiUrl(bad, "t"), bad).toThrow(CrabboxError);
    }
  });

  test("through loadConfig: env value validated and normalised", async () => {
    const c = await load([], { CRABBOX_GITHUB_CODESPACES_API_URL: "http://127.0.0.1:4567/" });
    expect(c.githubCodespaces.apiUrl).toBe("http://127.0.0.1:4567");
    expect(c.sources["githubCodespaces.apiUrl"]).toBe("env");
    const err = await loadError(["--github-codespaces-api-url", "http://example.com"]);
    expect(err.message).toContain("--github-codespaces-api-url");
  });
});
