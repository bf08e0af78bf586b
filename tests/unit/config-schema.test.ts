import { describe, expect, test } from "bun:test";
import { containsToken, parseFileConfig, rejectTokens } from "../../src/config/schema.ts";
import { applyTrustRule, UNTRUSTED_REPO_KEYS } from "../../src/config/trust.ts";
import { CrabboxError, Exit } from "../../src/errors.ts";

const token = `gho_${"Z".repeat(36)}`;

describe("parseFileConfig", () => {
  test("maps a full file to a layer, dropping nulls and folding gh into ghPath", () => {
    const { layer, warnings } = parseFileConfig(
      {
        provider: "github-codespaces",
        class: null,
        githubCodespaces: { repo: "a/b", ref: null, gh: "/bin/gh", idleTimeout: "1h", deleteOnRelease: false },
      },
      "f.yaml",
    );
    expect(warnings).toEqual([]);
    expect(layer).toEqual({
      provider: "github-codespaces",
      githubCodespaces: { repo: "a/b", ghPath: "/bin/gh", idleTimeout: "1h", deleteOnRelease: false },
    });
  });

  test("gh and ghPath disagreeing is exit 2", () => {
    expect(() => parseFileConfig({ githubCodespaces: { gh: "/a", ghPath: "/b" } }, "f.yaml")).toThrow(CrabboxError);
    expect(parseFileConfig({ githubCodespaces: { gh: "/a", ghPath: "/a" } }, "f.yaml").layer.githubCodespaces?.ghPath).toBe("/a");
  });

  test("empty input is an empty layer", () => {
    expect(parseFileConfig(undefined, "f").layer).toEqual({});
    expect(parseFileConfig(null, "f").layer).toEqual({});
    expect(parseFileConfig({}, "f").layer).toEqual({});
  });

  test("type errors never echo the value", () => {
    try {
      parseFileConfig({ githubCodespaces: { repo: 12345678 } }, "f.yaml");
      throw new Error("not thrown");
    } catch (e) {
      const err = e as CrabboxError;
      expect(err.exit).toBe(Exit.usage);
      expect(err.message).toContain("githubCodespaces.repo");
      expect(err.message).not.toContain("12345678");
    }
  });
});

describe("token detection", () => {
  test("whole and embedded tokens", () => {
    expect(containsToken(token)).toBe(true);
    expect(containsToken(`https://x:${token}@h`)).toBe(true);
    expect(containsToken("ghp_short")).toBe(false);
    expect(containsToken("octocat/hello-world")).toBe(false);
  });

  test("a token used as a key is refused without naming it", () => {
    try {
      rejectTokens({ githubCodespaces: { [token]: "x" } }, "f.yaml");
      throw new Error("not thrown");
    } catch (e) {
      const err = e as CrabboxError;
      expect(err.code).toBe("config_token");
      expect(JSON.stringify(err.toJSON())).not.toContain(token);
    }
  });
});

describe("applyTrustRule", () => {
  test("drops exactly the untrusted keys", () => {
    const { layer, warnings } = applyTrustRule(
      {
        class: "c",
        githubCodespaces: {
          repo: "a/b",
          apiUrl: "https://x",
          ghPath: "/x",
          machine: "premiumLinux",
          idleTimeout: "1h",
          retentionPeriod: "1h",
          deleteOnRelease: false,
          ref: "main",
          workRoot: "/w",
        },
      },
      "/r/.crabbox.yaml",
    );
    expect(layer).toEqual({ class: "c", githubCodespaces: { ref: "main", workRoot: "/w" } });
    expect(warnings).toHaveLength(UNTRUSTED_REPO_KEYS.length);
    for (const w of warnings) expect(w).toContain("/r/.crabbox.yaml");
  });

  test("a layer with only untrusted keys loses its githubCodespaces section", () => {
    expect(applyTrustRule({ githubCodespaces: { repo: "a/b" } }, "f").layer).toEqual({});
  });
});
