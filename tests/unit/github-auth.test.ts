import { afterEach, describe, expect, test } from "bun:test";
import { resolveToken } from "../../src/github/auth.ts";
import { clearSecrets, redact } from "../../src/redact.ts";
import { createRuntime, type ExecOptions, type ExecResult } from "../../src/runtime.ts";

const TOKEN_A = "ghp_AAAAaaaaAAAAaaaaAAAAaaaa1111";
const TOKEN_B = "ghp_BBBBbbbbBBBBbbbbBBBBbbbb2222";
const TOKEN_GH = "gho_GHGHghghGHGHghghGHGHghgh3333";

function runtimeWith(env: Record<string, string | undefined>, result: Partial<ExecResult>) {
  const execs: Array<{ argv: string[]; opts?: ExecOptions }> = [];
  const runtime = createRuntime({
    env,
    exec: async (argv, opts) => {
      execs.push({ argv, opts });
      return { code: 0, signal: null, stdout: "", stderr: "", ...result };
    },
  });
  return { runtime, execs };
}

afterEach(() => clearSecrets());

describe("resolveToken", () => {
  test("GH_TOKEN wins over GITHUB_TOKEN and gh", async () => {
    const { runtime, execs } = runtimeWith({ GH_TOKEN: TOKEN_A, GITHUB_TOKEN: TOKEN_B }, { stdout: TOKEN_GH });
    expect(await resolveToken(runtime, { ghPath: "gh" })).toEqual({ token: TOKEN_A, source: "GH_TOKEN" });
    expect(execs).toHaveLength(0);
    expect(redact(`x ${TOKEN_A} y`)).not.toContain(TOKEN_A);
  });

  test("GITHUB_TOKEN next; an empty GH_TOKEN is ignored", async () => {
    const { runtime, execs } = runtimeWith({ GH_TOKEN: "  ", GITHUB_TOKEN: ` ${TOKEN_B}\n` }, { stdout: TOKEN_GH });
    expect(await resolveToken(runtime, { ghPath: "gh" })).toEqual({ token: TOKEN_B, source: "GITHUB_TOKEN" });
    expect(execs).toHaveLength(0);
  });

  test("then `gh auth token`, token read from stdout, never on argv, and registered as a secret", async () => {
    const plain = "plainTokenWithoutPrefix123";
    const { runtime, execs } = runtimeWith({}, { stdout: `${plain}\n` });
    expect(await resolveToken(runtime, { ghPath: "/opt/gh/bin/gh" })).toEqual({ token: plain, source: "gh" });
    expect(execs).toHaveLength(1);
    expect(execs[0]!.argv).toEqual(["/opt/gh/bin/gh", "auth", "token"]);
    expect(execs[0]!.argv.join(" ")).not.toContain(plain);
    expect(redact(`token=${plain}`)).toBe("token=[REDACTED]");
  });

  test("a host is passed with -h", async () => {
    const { runtime, execs } = runtimeWith({}, { stdout: TOKEN_GH });
    await resolveToken(runtime, { ghPath: "gh", host: "acme.ghe.com" });
    expect(execs[0]!.argv).toEqual(["gh", "auth", "token", "-h", "acme.ghe.com"]);
  });

  test("gh is asked for the configured API's host, never its default host", async () => {
    const cases: [string, string][] = [
      ["https://api.github.com", "github.com"],
      ["https://api.acme.ghe.com", "acme.ghe.com"],
      ["https://ghe.example.com/api/v3", "ghe.example.com"],
      ["https://ghe.example.com:8443/api/v3", "ghe.example.com:8443"],
      ["http://127.0.0.1:4010", "127.0.0.1:4010"],
    ];
    for (const [apiUrl, host] of cases) {
      const { runtime, execs } = runtimeWith({}, { stdout: TOKEN_GH });
      await resolveToken(runtime, { ghPath: "gh", apiUrl });
      expect(execs[0]!.argv).toEqual(["gh", "auth", "token", "-h", host]);
    }
  });

  test("gh missing (and no GH_TOKEN) → gh_not_found, exit 2, saying why gh was needed", async () => {
    const { runtime } = runtimeWith({}, { code: 127, spawnError: "gh: not found on PATH" });
    const err: any = await resolveToken(runtime, { ghPath: "gh" }).then(() => null, (e) => e);
    expect(err?.exit).toBe(2);
    expect(err?.code).toBe("gh_not_found");
    expect(err?.why).toContain("GH_TOKEN");
  });

  const failures: Array<[string, Partial<ExecResult>]> = [
    ["not logged in", { code: 1, stderr: "no oauth token found for github.com\n" }],
    ["empty output", { code: 0, stdout: "\n" }],
    ["timed out", { code: 143, timedOut: true }],
  ];
  for (const [label, result] of failures) {
    test(`${label} → exit 3 with the login hint`, async () => {
      const { runtime } = runtimeWith({}, result);
      let err: any;
      try {
        await resolveToken(runtime, { ghPath: "gh" });
      } catch (e) {
        err = e;
      }
      expect(err?.exit).toBe(3);
      expect(err?.code).toBe("auth_missing");
      expect(err?.hint).toContain("gh auth login -s codespace");
      expect(err?.hint).toContain("GH_TOKEN");
    });
  }

  test("gh's error text is reported", async () => {
    const { runtime } = runtimeWith({}, { code: 1, stderr: "no oauth token found for github.com\n" });
    let err: any;
    try {
      await resolveToken(runtime, {});
    } catch (e) {
      err = e;
    }
    expect(err.why).toContain("no oauth token found");
  });
});
