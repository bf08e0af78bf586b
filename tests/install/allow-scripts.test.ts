/**
 * A clean `npm ci` is quiet: npm 11 warns about every dependency install script that package.json's
 * `allowScripts` does not cover ("bun@1.4.4 (postinstall: node install.js)"). Each one must be
 * decided there. bun's postinstall is needed: without it node_modules/.bin/bun is a 450-byte
 * placeholder that prints "Bun's postinstall script was not run" and exits 1 (checked by hand with
 * `"allowScripts": {"bun": false}` in a copy of package.json + package-lock.json).
 *
 * Entries are by name, not `bun@1.4.4`: our lockfile has no "resolved" URLs (omit-lockfile-registry-resolved),
 * so npm cannot match a pinned entry and keeps warning. The version is pinned by devDependencies.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8"));

function withInstallScripts(): string[] {
  return Object.entries(lock.packages as Record<string, { hasInstallScript?: boolean }>)
    .filter(([path, p]) => path !== "" && p.hasInstallScript)
    .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
}

test("every dependency with an install script is decided in allowScripts", () => {
  const names = withInstallScripts();
  expect(names).toContain("bun"); // not vacuous: the lockfile does have one
  const allow = (pkg.allowScripts ?? {}) as Record<string, boolean>;
  const undecided = names.filter((n) => typeof allow[n] !== "boolean");
  expect(undecided).toEqual([]);
});

test("bun's postinstall is allowed (node_modules/.bin/bun is a placeholder without it)", () => {
  expect(pkg.allowScripts?.bun).toBe(true);
});
