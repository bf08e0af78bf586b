/** Issue 10 item 6: secrets never leave the laptop by sync; outside git only with --sync-all; never $HOME or /. Issue 17 item 5: doctor shows rsync versions. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHarness, git, type Harness, closeWithLease, warmKeptLease } from "./harness.ts";

let h: Harness;
let lease: any;
const remote = (...parts: string[]) => join(h.emu.control.codespaceDir(lease.codespace.name), ".crabbox", "hello-world", ...parts);

function plantSecrets(dir: string) {
  for (const d of [".ssh", ".aws", ".gnupg", ".config/gh", "sub/.ssh"]) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, ".ssh", "id_ed25519"), "PRIVATE KEY\n");
  writeFileSync(join(dir, "sub", ".ssh", "id_rsa"), "PRIVATE KEY\n");
  writeFileSync(join(dir, ".aws", "credentials"), "aws_secret_access_key=x\n");
  writeFileSync(join(dir, ".gnupg", "secring"), "gpg\n");
  writeFileSync(join(dir, ".config", "gh", "hosts.yml"), "oauth_token: gho_x\n");
  writeFileSync(join(dir, ".netrc"), "machine x password y\n");
  writeFileSync(join(dir, ".git-credentials"), "https://u:t@github.com\n");
  writeFileSync(join(dir, ".env"), "TOKEN=1\n");
  writeFileSync(join(dir, ".env.local"), "TOKEN=2\n");
  writeFileSync(join(dir, ".npmrc"), "//registry.npmjs.org/:_authToken=npm_x\n");
  mkdirSync(join(dir, "pub"), { recursive: true });
  writeFileSync(join(dir, "pub", ".npmrc"), "save-exact=true\n");
  writeFileSync(join(dir, "main.sh"), "echo hi\n");
}
const SECRETS = [".ssh/id_ed25519", "sub/.ssh/id_rsa", ".aws/credentials", ".gnupg/secring", ".config/gh/hosts.yml", ".netrc", ".git-credentials", ".env", ".env.local", ".npmrc"];

beforeAll(async () => {
  h = await createHarness();
  lease = await warmKeptLease(h);
});
afterAll(async () => {
  await closeWithLease(h, lease);
});

describe("secrets and sync roots", () => {
  test("in a git checkout, secrets are never sent, even tracked ones, and stderr says so", async () => {
    plantSecrets(h.work);
    git(h.work, "add", "-f", ".env", "main.sh");
    git(h.work, "commit", "-qm", "tracked env");
    const r = await h.run(["run", "--id", lease.slug, "--", "true"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("not sent (secrets are never synced");
    expect(readFileSync(remote("main.sh"), "utf8")).toBe("echo hi\n");
    expect(readFileSync(remote("pub", ".npmrc"), "utf8")).toBe("save-exact=true\n");
    for (const s of SECRETS) expect({ s, exists: existsSync(remote(s)) }).toEqual({ s, exists: false });
  });

  test("outside git: refused with exit 2 and a fix line, unless --sync-all; with it, secrets stay home", async () => {
    const dir = join(h.tmp, "plain dir");
    mkdirSync(dir, { recursive: true });
    plantSecrets(dir);
    const refused = await h.run(["run", "--id", lease.slug, "--", "true"], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("not inside a git work tree");
    expect(refused.stderr).toContain("--sync-all");
    const ok = await h.run(["run", "--id", lease.slug, "--sync-all", "--", "sh", "-c", "cat main.sh; ls -A"], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("hi");
    for (const s of SECRETS) expect({ s, exists: existsSync(remote(s)) }).toEqual({ s, exists: false });
  });

  test("a one-shot run from a tree it may not sync is refused before any codespace is made", async () => {
    const dir = join(h.tmp, "plain dir 2");
    mkdirSync(dir, { recursive: true });
    const before = h.emu.control.codespaces().length;
    h.emu.control.resetCounts();
    const refused = await h.run(["run", "--", "true"], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("not inside a git work tree");
    expect(h.emu.control.codespaces().length).toBe(before);
    expect(Object.keys(h.emu.control.counts()).filter((route) => route.startsWith("POST"))).toEqual([]);
    expect(readdirSync(join(h.home, "claims")).filter((f) => f.endsWith(".json"))).toEqual([`${lease.leaseId}.json`]);
  });

  test("$HOME itself is never synced, not even with --sync-all", async () => {
    const home = h.env.HOME!;
    writeFileSync(join(home, "x.txt"), "x\n");
    const r = await h.run(["run", "--id", lease.slug, "--sync-all", "--", "true"], { cwd: home });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("refusing to sync your home directory");
    expect(existsSync(remote("x.txt"))).toBe(false);
  });

  test("doctor reports the local rsync, and the lease's with --id", async () => {
    const r = await h.run(["doctor", "--json", "--id", lease.slug]);
    const checks = r.json<any[]>();
    const local = checks.find((c) => c.check === "rsync");
    const rem = checks.find((c) => c.check === "remote-rsync");
    expect(local.ok).toBe(true);
    expect(local.detail).toMatch(/local rsync \d+\.\d+\.\d+/);
    expect(rem.ok).toBe(true);
    expect(rem.detail).toMatch(/rsync \d+\.\d+\.\d+ in /);
  });
});
