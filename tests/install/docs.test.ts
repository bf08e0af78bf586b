/**
 * What a newcomer reads first says what works: README's setup line installs what CI installs (plus
 * Node), names the install routes, the emulator README starts with a command that works after
 * `npm ci` and links nothing outside the repository, and the files a project is expected to have
 * exist and agree with package.json.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import pkg from "../../package.json" with { type: "json" };

const ROOT = resolve(import.meta.dir, "../..");
const read = (p: string) => readFileSync(join(ROOT, p), "utf8");

/** Relative link targets of a markdown file that point outside the repository or to nothing. */
function badLinks(file: string): string[] {
  const text = read(file);
  const bad: string[] = [];
  for (const m of text.matchAll(/\]\(([^)\s]+)\)|`(\.\.\/[^`\s]+)`/g)) {
    const target = (m[1] ?? m[2])!.split("#")[0]!;
    if (!target || /^[a-z]+:/.test(target)) continue;
    const abs = resolve(dirname(join(ROOT, file)), target);
    if (relative(ROOT, abs).startsWith("..") || !existsSync(abs)) bad.push(target);
  }
  return bad;
}

describe("README", () => {
  const readme = read("README.md");
  const aptLine = readme.split("\n").find((l) => l.startsWith("apt-get update && apt-get install")) ?? "";
  const aptPackages = new Set(aptLine.replace(/&&.*?install -y/, "").split(/\s+/));

  test("says what Crabbox is", () => {
    expect(readme).toMatch(/^Crabbox is a command-line tool/m);
  });

  test("the setup line installs Node and npm, and everything CI installs", () => {
    const ci = /for p in ([^;]+); do/.exec(read(".ci/run"))?.[1]?.split(/\s+/) ?? [];
    expect(ci).toContain("rsync"); // not vacuous
    const missing = [...ci, "nodejs", "npm"].filter((p) => !aptPackages.has(p) && p !== "openssh-client");
    expect(missing).toEqual([]);
    expect(readme).toContain("Node 20 or newer");
    expect(readme).toMatch(/`jq`, `zsh` and `fish` are needed\s+only by the tests/);
  });

  test("names the npm and install.sh routes and keeps npm test as the test command", () => {
    expect(readme).toContain("npm install -g crabbox-cs");
    expect(readme).toContain("sh install.sh");
    expect(readme).toMatch(/^npm test$/m);
  });

  test("links resolve inside the repository", () => {
    expect(badLinks("README.md")).toEqual([]);
    expect(badLinks("CONTRIBUTING.md")).toEqual([]);
  });
});

describe("tests/emulator/README.md", () => {
  const text = read("tests/emulator/README.md");

  test("starts with a command that works after npm ci (bun is not on PATH)", () => {
    const firstBlock = /```sh\n([^`]*)```/.exec(text)?.[1] ?? "";
    expect(firstBlock).toContain("npm run emulator");
    expect(text.indexOf("```sh")).toBeLessThan(text.indexOf("## "));
    expect(pkg.scripts.emulator).toBe("bun tests/emulator/main.ts");
    expect(text).toContain("npx bun tests/emulator/main.ts");
    expect(text).not.toMatch(/(?<!npx )(?<![\w<])bun tests\/emulator/); // bare bun: not on PATH
  });

  test("links nothing outside the repository and has no leftover process wording", () => {
    expect(badLinks("tests/emulator/README.md")).toEqual([]);
    expect(text).not.toContain("../shared");
    expect(text).not.toMatch(/\bhelpers?\b|in parallel/i);
  });
});

describe("project files", () => {
  test("LICENSE is the MIT licence package.json names", () => {
    expect(pkg.license).toBe("MIT");
    expect(read("LICENSE")).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} crabbox-cs contributors\n/);
  });

  test("CHANGELOG.md follows Keep a Changelog, from 0.1.0, with an Unreleased section", () => {
    const log = read("CHANGELOG.md");
    expect(log).toContain("[Keep a Changelog](https://keepachangelog.com/");
    const versions = [...log.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    expect(versions).toEqual(["Unreleased", pkg.version]);
    expect(versions.at(-1)).toBe("0.1.0");
  });

  test("CONTRIBUTING.md says how to run the emulator, the tests and the bench", () => {
    const c = read("CONTRIBUTING.md");
    for (const s of ["npm run emulator", "npm test", "npm run bench", "npm run man"]) expect(c).toContain(s);
  });
});
