import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import { createRuntime } from "../../src/runtime.ts";
import { ghSshConfig, ghVersion, SSHD_FEATURE_SNIPPET } from "../../src/gh/gh.ts";
import { parseHostBlock } from "../../src/ssh/config.ts";
import { addSecret } from "../../src/redact.ts";

let dir: string;
const rt = () => createRuntime({ env: { ...process.env } });

/** A fake gh: records its argv, prints `stdout`/`stderr`, exits `code`. */
function fakeGh(name: string, script: string): string {
  const p = join(dir, name);
  writeFileSync(p, `#!/bin/sh\nprintf '%s\\n' "$@" > ${JSON.stringify(`${p}.args`)}\n${script}\n`);
  chmodSync(p, 0o755);
  return p;
}
async function rejection(p: Promise<unknown>): Promise<CrabboxError> {
  try {
    await p;
  } catch (e) {
    return e as CrabboxError;
  }
  throw new Error("did not reject");
}

beforeAll(() => {
  dir = mkdtempSync("/tmp/cbx-gh-");
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("ghSshConfig", () => {
  test("runs `gh codespace ssh --config -c NAME` and returns its Host block", async () => {
    const gh = fakeGh("ok", `cat <<'EOF'\nHost cs.name-1.main\n\tUser vscode\n\tProxyCommand gh cs ssh -c name-1 --stdio\nEOF`);
    const out = await ghSshConfig(rt(), gh, "name-1");
    expect(readFileSync(`${gh}.args`, "utf8")).toBe("codespace\nssh\n--config\n-c\nname-1\n");
    expect(parseHostBlock(out).alias).toBe("cs.name-1.main");
  });

  test("gh missing → gh_not_found (exit 2) with an install hint", async () => {
    const e = await rejection(ghSshConfig(rt(), join(dir, "no-such-gh"), "x"));
    expect(e.code).toBe("gh_not_found");
    expect(e.exit).toBe(2);
    expect(e.hint).toContain("--github-codespaces-gh");
  });

  test("no SSH server → ssh_server_missing (exit 7) with the exact devcontainer snippet", async () => {
    const gh = fakeGh("nosshd", `echo 'error getting ssh server details: failed to start SSH server: Please check if an SSH server is installed in the container.' >&2; exit 1`);
    const e = await rejection(ghSshConfig(rt(), gh, "name-1"));
    expect(e.code).toBe("ssh_server_missing");
    expect(e.exit).toBe(7);
    expect(e.hint).toContain(SSHD_FEATURE_SNIPPET);
    expect(SSHD_FEATURE_SNIPPET).toBe(
      '{\n  "features": {\n    "ghcr.io/devcontainers/features/sshd:1": {\n      "version": "latest"\n    }\n  }\n}',
    );
  });

  test("missing scope → gh_auth (exit 3) with the refresh command", async () => {
    const gh = fakeGh("auth", `echo 'error getting codespace: HTTP 403: Must have admin rights; try gh auth refresh -h github.com -s codespace' >&2; exit 1`);
    const e = await rejection(ghSshConfig(rt(), gh, "n"));
    expect(e.exit).toBe(3);
    expect(e.hint).toBe("gh auth refresh -h github.com -s codespace");
  });

  test("other failures → exit 7 with gh's stderr, redacted", async () => {
    const token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8";
    const secret = "my-registered-secret-value";
    addSecret(secret);
    const gh = fakeGh("other", `echo 'codespace is not running (${token}) ${secret}' >&2; exit 1`);
    const e = await rejection(ghSshConfig(rt(), gh, "n"));
    expect(e.exit).toBe(7);
    expect(e.code).toBe("gh_ssh_config_failed");
    expect(e.why).toContain("codespace is not running");
    expect(e.why).not.toContain(token);
    expect(e.why).not.toContain(secret);
    expect(JSON.stringify(e.toJSON())).not.toContain(token);
  });

  test("success without a Host block → exit 7", async () => {
    const gh = fakeGh("empty", `echo ''`);
    expect((await rejection(ghSshConfig(rt(), gh, "n"))).exit).toBe(7);
  });
});

describe("ghVersion", () => {
  test("parses `gh --version`", async () => {
    const gh = fakeGh("ver", `echo 'gh version 2.23.0 (2023-02-14)'; echo 'https://github.com/cli/cli/releases/tag/v2.23.0'`);
    expect(await ghVersion(rt(), gh)).toBe("2.23.0");
    expect(readFileSync(`${gh}.args`, "utf8")).toBe("--version\n");
  });
  test("null when gh is missing or broken", async () => {
    expect(await ghVersion(rt(), join(dir, "missing"))).toBeNull();
    expect(await ghVersion(rt(), fakeGh("bad", "exit 3"))).toBeNull();
  });
  test("the real gh, when installed, reports a version", async () => {
    const real = Bun.which("gh");
    if (!real) return;
    expect(await ghVersion(rt(), real)).toMatch(/^\d+\.\d+\.\d+/);
  });
});
