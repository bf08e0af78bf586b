/** The binary's surface: help, version, usage errors, and the read-only commands against the emulator. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

const COMMANDS = ["warmup", "run", "ssh", "list", "status", "stop", "cleanup", "doctor"];

describe("surface", () => {
  test("--help lists the eight commands", async () => {
    const r = await h.run(["--help"]);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^\\s+${c}\\s`, "m"));
  });

  test("each command has --help", async () => {
    for (const c of COMMANDS) {
      const r = await h.run([c, "--help-all"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`crabbox-cs ${c}`);
      expect(r.stdout).toContain("--github-codespaces-repo");
    }
  });

  test("--version prints the package version", async () => {
    const pkg = await Bun.file(join(import.meta.dir, "../../package.json")).json();
    const r = await h.run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(pkg.version);
  });

  test.each([
    [["frobnicate"], /unknown command "frobnicate"/],
    [["list", "--no-such-flag"], /unknown flag --no-such-flag/],
    [["warmup", "--ttl", "ten minutes"], /--ttl/],
    [["list", "--github-codespaces-repo", "not a repo"], /repo/i],
    [["list", "--provider", "aws"], /provider/],
    [["list", "--github-codespaces-idle-timeout", "1d"], /idle/i],
  ])("usage error %p exits 2 with one clear line", async (args, message) => {
    const r = await h.run(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stderr.split("\n")[0]).toMatch(/^error: /);
  });

  test("provider aliases are accepted", async () => {
    for (const p of ["github-codespaces", "codespaces", "gh-codespaces"]) {
      const r = await h.run(["list", "--json", "--provider", p]);
      expect(r.code).toBe(0);
    }
  });

  test("--json errors are one JSON document on stdout", async () => {
    const r = await h.run(["status", "--json", "--id", "no-such-lease"]);
    expect(r.code).toBe(4);
    expect(r.json().error.code).toBe("lease_not_found");
  });
});

describe("doctor", () => {
  test("--json: every check passes against the emulator", async () => {
    const r = await h.run(["doctor", "--json"]);
    const checks = r.json<{ check: string; ok: boolean; detail: string; hint: string | null; code: string | null }[]>();
    expect(checks.map((c) => c.check)).toEqual(["config", "tools", "rsync", "gh", "auth", "repository", "codespaces", "machines", "permissions", "claims"]);
    for (const c of checks) expect(c).toEqual({ check: c.check, ok: true, detail: expect.any(String), hint: null, code: null });
    expect(checks.find((c) => c.check === "auth")!.detail).toContain("monalisa");
    expect(r.code).toBe(0);
  });

  test("a bad token fails the auth check with exit 3 and a hint", async () => {
    const r = await h.run(["doctor", "--json"], { env: { GH_TOKEN: "ghp_thisisnotavalidtokenatall1234567890" } });
    expect(r.code).toBe(3);
    const auth = r.json<any[]>().find((c) => c.check === "auth");
    expect(auth.ok).toBe(false);
    expect(auth.hint).toBeTruthy();
    expect(r.stdout + r.stderr).not.toContain("ghp_thisisnotavalidtokenatall1234567890");
  });

  test("an unoffered machine fails the machines check as warmup would; the repository is read once", async () => {
    h.emu.control.resetCounts();
    const r = await h.run(["doctor", "--json", "--github-codespaces-machine", "gigantic"]);
    expect(r.code).toBe(2);
    const machines = r.json<any[]>().find((c) => c.check === "machines");
    expect(machines.ok).toBe(false);
    expect(machines.code).toBe("machine_not_offered");
    const repoReads = Object.entries(h.emu.control.counts()).filter(([k]) => /^GET \/repos\/[^/]+\/[^/]+$/.test(k) || k === "GET /repos/:owner/:repo");
    expect(repoReads.reduce((a, [, n]) => a + n, 0)).toBe(1);
  });

  test("doctor mutates nothing", async () => {
    h.emu.control.resetCounts();
    await h.run(["doctor", "--json"]);
    const mutations = Object.keys(h.emu.control.counts()).filter((k) => !k.startsWith("GET "));
    expect(mutations).toEqual([]);
  });
});

describe("list and status", () => {
  test("list --json with no leases is [] and makes no API call", async () => {
    h.emu.control.resetCounts();
    const r = await h.run(["list", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json()).toEqual([]);
    expect(Object.values(h.emu.control.counts()).reduce((a, b) => a + b, 0)).toBe(0);
  });

  test("warmup, then list/status --json show the lease joined with live state", async () => {
    const w = await h.run(["warmup", "--json"]);
    expect(w.code).toBe(0);
    const lease = w.json();
    expect(lease.leaseId).toMatch(/^cbx_[a-z2-7]{12}$/);
    expect(lease.state).toBe("ready");

    h.emu.control.resetCounts();
    const l = await h.run(["list", "--json"]);
    expect(l.code).toBe(0);
    const rows = l.json<any[]>();
    expect(rows).toHaveLength(1);
    expect(rows[0].leaseId).toBe(lease.leaseId);
    expect(rows[0].live.state).toBe("Available");
    expect(rows[0].codespace.name).toBe(lease.codespace.name);
    expect(h.emu.control.counts()["GET /user/codespaces"]).toBe(1);

    const s = await h.run(["status", "--json", "--id", lease.slug]);
    expect(s.code).toBe(0);
    expect(s.json().leaseId).toBe(lease.leaseId);
    expect(s.json().live.state).toBe("Available");
    const byName = await h.run(["status", "--json", lease.codespace.name]);
    expect(byName.json().leaseId).toBe(lease.leaseId);

    const stop = await h.run(["stop", lease.leaseId]);
    expect(stop.code).toBe(0);
  });

  test("a corrupt claim file is reported and skipped, never fatal", async () => {
    const dir = join(h.home, "claims");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "cbx_aaaaaaaaaaaa.json"), "{ not json", { mode: 0o600 });
    const r = await h.run(["list", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json()).toEqual([]);
    expect(r.stderr).toContain("cbx_aaaaaaaaaaaa.json");
    const d = await h.run(["doctor", "--json"]);
    expect(d.json<any[]>().find((c) => c.check === "claims").ok).toBe(false);
    for (const f of readdirSync(dir)) if (f.startsWith("cbx_aaaa")) Bun.spawnSync(["rm", join(dir, f)]);
  });
});
