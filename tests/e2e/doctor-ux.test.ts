/**
 * Issue #14 item 10, doctor as a newcomer meets it: dependent checks say
 * `skip` and why, lines fit 80 columns, a YAML syntax error is a failed
 * check with line and column (the other checks still run), CRABBOX_HOME is
 * checked for real writability, and every config value shows its source.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

/** A token GitHub refuses (401): auth fails, everything that needs it cannot run. */
const NO_AUTH = { GH_TOKEN: "ghp_thisisnotavalidtokenatall1234567890" };

function rows(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const l of stdout.split("\n")) {
    const r = /^(ok|FAIL|skip) +(\S+) /.exec(l);
    if (r) m.set(r[2]!, r[1]!);
  }
  return m;
}

test("no auth: one FAIL (auth); the checks that need it say skip and why", async () => {
  const r = await h.run(["doctor"], { env: NO_AUTH });
  expect(r.code).toBe(3);
  const status = rows(r.stdout);
  expect(status.get("auth")).toBe("FAIL");
  for (const c of ["repository", "codespaces", "machines", "permissions"]) expect({ c, s: status.get(c) }).toEqual({ c, s: "skip" });
  expect(r.stdout).toMatch(/^skip {2}repository {3}needs auth, which failed$/m);
  expect([...status.values()].filter((s) => s === "FAIL")).toEqual(["FAIL"]);
  const json = (await h.run(["doctor", "--json"], { env: NO_AUTH })).json();
  expect(json.find((c: any) => c.check === "machines").code).toBe("skipped");
});

test("every line fits 80 columns, even with long details and paths", async () => {
  const deep = join(h.tmp, "a-rather-long-directory-name-for-the-state", "and-another-level-below-it", "crabbox");
  for (const env of [{}, NO_AUTH, { CRABBOX_HOME: deep }]) {
    const r = await h.run(["doctor", "--github-codespaces-working-directory", "/workspaces/hello-world/some/very/long/working/directory/path"], { env });
    for (const l of r.stdout.split("\n")) expect({ l, fits: l.length <= 80 }).toEqual({ l, fits: true });
  }
});

test("a YAML syntax error is a failed config check with line and column; the other checks still run", async () => {
  mkdirSync(join(h.tmp, "badcfg"), { recursive: true });
  const file = join(h.tmp, "badcfg", "config.yaml");
  writeFileSync(file, "githubCodespaces:\n  machine: basicLinux32gb\n   geo: [UsEast\n");
  const r = await h.run(["doctor"], { env: { CRABBOX_CONFIG: file } });
  expect(r.code).toBe(2);
  const flat = r.stdout.replace(/\n {19}/g, " ");
  expect(flat).toMatch(/^FAIL {2}config {7}cannot parse config file \S+ at line 3, column 7: bad indentation/m);
  expect(rows(r.stdout).get("auth")).toBe("ok");
  expect(rows(r.stdout).get("machines")).toBe("ok");
  const j = await h.run(["doctor", "--json"], { env: { CRABBOX_CONFIG: file } });
  const cfg = j.json().find((c: any) => c.check === "config");
  expect(cfg.ok).toBe(false);
  expect(cfg.code).toBe("config_parse");
  // Other commands still refuse a broken file, with the line and column too.
  const list = await h.run(["list"], { env: { CRABBOX_CONFIG: file } });
  expect(list.code).toBe(2);
  expect(list.stderr).toContain("at line 3, column 7");
});

test("an unwritable CRABBOX_HOME fails the claims check", async () => {
  const r = await h.run(["doctor", "--json"], { env: { CRABBOX_HOME: "/sys/crabbox" } });
  const claims = r.json().find((c: any) => c.check === "claims");
  expect(claims.ok).toBe(false);
  expect(claims.code).toBe("state_dir_unwritable");
  expect(claims.detail).toContain("/sys is not writable");
  expect(r.code).toBe(2);
  const ok = (await h.run(["doctor", "--json"])).json().find((c: any) => c.check === "claims");
  expect(ok.ok).toBe(true);
  expect(ok.detail).toContain("(writable)");
});

test("every config value with its source", async () => {
  const r = await h.run(["doctor", "--type", "premiumLinux"]);
  expect(r.stdout).toContain("config  githubCodespaces.machine = premiumLinux from --type\n");
  expect(r.stdout).toContain('config  githubCodespaces.ref = "" (default)\n');
  expect(r.stdout).toContain("config  githubCodespaces.idleTimeoutMinutes = 30m (default)\n");
});
