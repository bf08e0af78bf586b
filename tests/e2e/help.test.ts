/**
 * Issue #14, help and parsing, through the compiled binary: suggestions for
 * commands and flags, top-level errors (one line, exit 2, a JSON document
 * with --json), `help [COMMAND]`, EXAMPLES, provider flags behind
 * --help-all, usage lines equal to docs/commands.md, no repository paths.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../src/commands/index.ts";
import { BIN, ROOT, requireBinary } from "./harness.ts";

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  requireBinary();
  const p = Bun.spawn([BIN, ...args], { env: { PATH: process.env.PATH, HOME: "/nonexistent", NO_COLOR: "1", CRABBOX_HOME: "/nonexistent/crabbox" }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** The usage error shape: exit 2, "error:" first, at most a why and a fix line, nothing on stdout. */
function expectOneError(r: { code: number; stdout: string; stderr: string }, message: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.stdout).toBe("");
  const lines = r.stderr.trimEnd().split("\n");
  expect(lines[0]).toMatch(/^error: /);
  expect(lines[0]).toMatch(message);
  expect(lines.length).toBeLessThanOrEqual(3);
  expect(r.stderr).not.toContain("USAGE");
}

describe("suggestions (item 1)", () => {
  test.each([
    ["sttop", "stop"],
    ["lst", "list"],
    ["wramup", "warmup"],
    ["stat", "status"],
  ])("%p suggests %p", async (typo, want) => {
    const r = await cli([typo]);
    expectOneError(r, new RegExp(`unknown command "${typo}"`));
    expect(r.stderr).toContain(`fix: did you mean: crabbox-cs ${want}`);
  });

  test("flags: a swap, a prefix, the case of a short flag", async () => {
    expect((await cli(["list", "--jsno"])).stderr).toContain("did you mean --json?");
    expect((await cli(["cleanup", "--dry"])).stderr).toContain("did you mean --dry-run?");
    expect((await cli(["stop", "--reclam", "x"])).stderr).toContain("did you mean --reclaim?");
  });
});

describe("top-level errors (item 2)", () => {
  test("-V and --bogus: one error line, exit 2, no help", async () => {
    const v = await cli(["-V"]);
    expectOneError(v, /unknown flag -V/);
    expect(v.stderr).toContain("did you mean --version?");
    expectOneError(await cli(["--bogus"]), /unknown flag --bogus/);
  });

  test("--json alone and --json with an unknown command or flag: an {error} document", async () => {
    for (const args of [["--json"], ["--json", "bogus"], ["--json", "--bogus"]]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr.split("\n")[0]).toMatch(/^error: /);
      const doc = JSON.parse(r.stdout);
      expect(doc.error.exitCode).toBe(2);
      expect(typeof doc.error.code).toBe("string");
      expect(typeof doc.error.message).toBe("string");
    }
    expect(JSON.parse((await cli(["--json"])).stdout).error.message).toBe("no command given");
    expect(JSON.parse((await cli(["--json", "bogus"])).stdout).error.code).toBe("unknown_command");
  });

  test("no arguments and --help still print help, exit 0", async () => {
    for (const args of [[], ["--help"], ["-h"], ["help"]]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("COMMANDS");
    }
  });

  test("help COMMAND is COMMAND --help; help exit-codes; help of an unknown command", async () => {
    for (const name of Object.keys(COMMANDS)) {
      const a = await cli(["help", name]);
      expect(a.code).toBe(0);
      expect(a.stdout).toBe((await cli([name, "--help"])).stdout);
    }
    const codes = await cli(["help", "exit-codes"]);
    expect(codes.code).toBe(0);
    expect(codes.stdout).toMatch(/^\s+255\s+ssh itself failed to connect$/m);
    const bad = await cli(["help", "stpo"]);
    expectOneError(bad, /unknown help topic "stpo"/);
    expect(bad.stderr).toContain("crabbox-cs help stop");
    expectOneError(await cli(["help", "run", "extra"]), /unexpected argument "extra"/);
  });
});

/** The ```text block right under "## name" in docs/commands.md, as lines. */
function documentedUsage(name: string): string[] {
  const md = readFileSync(join(ROOT, "docs/commands.md"), "utf8");
  const m = new RegExp(`^## ${name}\\n\\n\`\`\`text\\n([\\s\\S]*?)\`\`\``, "m").exec(md);
  if (!m) throw new Error(`docs/commands.md: no usage block under ## ${name}`);
  return m[1]!.trimEnd().split("\n");
}

describe("help text (item 4)", () => {
  for (const name of Object.keys(COMMANDS)) {
    test(`${name}: EXAMPLES (2–4 real lines), usage = docs, short help without provider flags, ≤ 80 columns`, async () => {
      const r = await cli([name, "--help"]);
      expect(r.code).toBe(0);
      const lines = r.stdout.trimEnd().split("\n");
      const ex = lines.indexOf("EXAMPLES");
      expect(ex).toBeGreaterThan(0);
      const examples: string[] = [];
      for (const l of lines.slice(ex + 1)) {
        if (!l.startsWith("  ")) break;
        examples.push(l.trim());
      }
      expect(examples.length).toBeGreaterThanOrEqual(2);
      expect(examples.length).toBeLessThanOrEqual(4);
      for (const e of examples) expect(e).toMatch(/crabbox-cs \S+/);
      const u = lines.indexOf("USAGE");
      const usage: string[] = [];
      for (const l of lines.slice(u + 1)) {
        if (!l.startsWith("  crabbox-cs ")) break;
        usage.push(l.trim());
      }
      expect(usage).toEqual(documentedUsage(name));
      for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
      expect(r.stdout).not.toContain("docs/commands.md");
      expect(r.stdout).toContain("man crabbox-cs");
      if (name !== "completion") {
        expect(r.stdout).not.toContain("--github-codespaces-repo");
        expect(r.stdout).toContain(`crabbox-cs ${name} --help-all`);
        const all = await cli([name, "--help-all"]);
        expect(all.stdout).toContain("--github-codespaces-repo <owner/name>");
        expect(lines.length).toBeLessThan(all.stdout.split("\n").length - 15);
        for (const l of all.stdout.split("\n")) expect(l.length).toBeLessThanOrEqual(80);
      }
    });
  }

  test("the main help points at something a binary holder has", async () => {
    const r = await cli(["--help"]);
    expect(r.stdout).not.toContain("docs/");
    expect(r.stdout).toContain("crabbox-cs help <command>");
    for (const l of r.stdout.split("\n")) expect(l.length).toBeLessThanOrEqual(80);
  });
});
