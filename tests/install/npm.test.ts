/**
 * The npm distribution (npm/packages.ts, npm/launcher.cjs), end to end: write the main package and the
 * host's platform package from the built binary (the same function `bun build.ts --all` uses for all
 * four platforms), `npm pack` them, `npm install -g` both tarballs into a temporary prefix with no
 * registry at all (--offline, an empty cache, an unreachable registry URL), then run the installed
 * `crabbox-cs`, and run it through `npx --package <tarball>` the same way. Cross-compiling the other
 * three platforms is left to `npm run pack`: too slow here.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { TARGETS, hostTarget, mainManifest, npmPack, platformManifest, platformPackageName, writeNpmPackages } from "../../npm/packages.ts";
import { BIN, ROOT, requireBinary } from "../e2e/harness.ts";

function run(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = Bun.spawnSync(argv, { cwd: opts.cwd, env: { ...process.env, NO_COLOR: "1", ...opts.env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

describe("package manifests", () => {
  test("the main package has a bin launcher, the man page, and every platform as an optional dependency at its own version", () => {
    const m = mainManifest() as { name: string; version: string; bin: Record<string, string>; man: string[]; optionalDependencies: Record<string, string>; dependencies?: unknown };
    expect(m.name).toBe("crabbox-cs");
    expect(m.version).toBe(pkg.version);
    expect(m.bin).toEqual({ "crabbox-cs": "bin/crabbox-cs.cjs" });
    expect(m.man).toEqual(["./crabbox-cs.1"]);
    expect(m.dependencies).toBeUndefined();
    expect(m.optionalDependencies).toEqual({
      "@crabbox-cs/linux-x64": pkg.version,
      "@crabbox-cs/linux-arm64": pkg.version,
      "@crabbox-cs/darwin-x64": pkg.version,
      "@crabbox-cs/darwin-arm64": pkg.version,
    });
  });

  test("each platform package names its os and cpu, so npm installs only the matching one", () => {
    const got = TARGETS.map((t) => {
      const m = platformManifest(t) as { name: string; version: string; os: string[]; cpu: string[] };
      return [m.name, m.version, m.os, m.cpu];
    });
    expect(got).toEqual([
      ["@crabbox-cs/linux-x64", pkg.version, ["linux"], ["x64"]],
      ["@crabbox-cs/linux-arm64", pkg.version, ["linux"], ["arm64"]],
      ["@crabbox-cs/darwin-x64", pkg.version, ["darwin"], ["x64"]],
      ["@crabbox-cs/darwin-arm64", pkg.version, ["darwin"], ["arm64"]],
    ]);
  });
});

describe("npm pack + npm install -g, offline", () => {
  let tmp: string;
  let prefix: string;
  let tarballs: string[];
  const host = hostTarget();

  beforeAll(() => {
    requireBinary();
    if (!host) throw new Error(`no platform package for ${process.platform}-${process.arch}`);
    tmp = mkdtempSync(join(tmpdir(), "crabbox-npm-"));
    prefix = join(tmp, "prefix");
    const dirs = writeNpmPackages(join(tmp, "pkgs"), { [host]: BIN });
    tarballs = npmPack(dirs, join(tmp, "tgz"));
    const r = run(
      [
        "npm", "install", "-g", "--prefix", prefix, "--offline", "--cache", join(tmp, "cache"),
        "--registry", "http://127.0.0.1:9/", "--no-audit", "--no-fund", "--loglevel", "error", ...tarballs,
      ],
      { cwd: tmp },
    );
    if (r.code !== 0) throw new Error(`npm install -g failed (${r.code}):\n${r.stdout}\n${r.stderr}`);
  });
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test("the main tarball is small: the binary is only in the platform package", () => {
    expect(tarballs.map((t) => t.slice(t.lastIndexOf("/") + 1))).toEqual([`crabbox-cs-${pkg.version}.tgz`, `crabbox-cs-${host}-${pkg.version}.tgz`]);
    expect(statSync(tarballs[0]!).size).toBeLessThan(100_000);
    expect(statSync(tarballs[1]!).size).toBeGreaterThan(10_000_000);
  });

  test("<prefix>/bin/crabbox-cs --version prints the version", () => {
    const r = run([join(prefix, "bin/crabbox-cs"), "--version"]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(r.stdout).toStartWith(`crabbox-cs ${pkg.version} (`);
  });

  test("the platform package holds the built binary, executable", () => {
    const installed = join(prefix, "lib/node_modules", platformPackageName(host!), "bin/crabbox-cs");
    expect(readFileSync(installed).equals(readFileSync(BIN))).toBe(true);
    expect(statSync(installed).mode & 0o111).toBe(0o111);
  });

  test("exit codes and stderr pass through (a usage error exits 2)", () => {
    const r = run([join(prefix, "bin/crabbox-cs"), "no-such-command"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error:");
  });

  test("npx runs it from the same tarballs, offline, exit code included", () => {
    const npx = (args: string[]) =>
      run(["npx", "--yes", "--offline", "--cache", join(tmp, "npx-cache"), "--registry", "http://127.0.0.1:9/", ...tarballs.flatMap((t) => ["--package", t]), "--", "crabbox-cs", ...args], { cwd: tmp });
    const v = npx(["--version"]);
    expect({ code: v.code, stderr: v.stderr }).toEqual({ code: 0, stderr: "" });
    expect(v.stdout).toStartWith(`crabbox-cs ${pkg.version} (`);
    expect(npx(["no-such-command"]).code).toBe(2);
  });

  test("the man page is installed with the main package", () => {
    const man = join(prefix, "share/man/man1/crabbox-cs.1");
    expect(existsSync(man)).toBe(true);
    expect(readFileSync(man, "utf8")).toBe(readFileSync(join(ROOT, "crabbox-cs.1"), "utf8"));
  });
});
