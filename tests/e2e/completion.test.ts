/**
 * `crabbox-cs completion <bash|zsh|fish>`: the scripts complete exactly the
 * commands and flags the binary accepts (compared with each command's --help),
 * fixed values, and lease ids/slugs read from real claim files.
 * bash is exercised for real (COMP_WORDS → COMPREPLY); fish too when installed
 * (`complete -C`); zsh is syntax-checked when installed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli.ts";
import { createHarness, requireBinary, type Harness } from "./harness.ts";
import { parseHelp } from "./docs-lib.ts";

let h: Harness;
let lease: { leaseId: string; slug: string };
const scripts: Record<string, string> = {};
const names = [...new Set([...Object.keys(COMMANDS), "completion"])];

beforeAll(async () => {
  requireBinary();
  h = await createHarness();
  const w = await h.run(["warmup", "--keep", "--json"]);
  if (w.code !== 0) throw new Error(`warmup failed: ${w.stderr}`);
  lease = w.json();
  for (const shell of ["bash", "zsh", "fish"]) {
    const r = await h.run(["completion", shell]);
    if (r.code !== 0) throw new Error(`completion ${shell} exited ${r.code}: ${r.stderr}`);
    scripts[shell] = r.stdout;
    writeFileSync(join(h.tmp, `completion.${shell}`), r.stdout);
  }
});
afterAll(async () => {
  if (lease) await h.run(["stop", lease.leaseId, "--delete"]);
  await h?.close();
});

/** The flags `crabbox-cs <cmd> --help-all` lists, plus --help and --help-all themselves. */
async function helpFlags(cmd: string): Promise<string[]> {
  const r = await h.run([cmd, "--help-all"]);
  expect(r.code).toBe(0);
  const { own, common } = parseHelp(r.stdout);
  return [...new Set([...own, ...common, "--help", "--help-all"])].sort();
}

/** Run bash completion for a command line (the cursor at its end). */
function bashComplete(line: string): string[] {
  const script = [
    `source ${JSON.stringify(join(h.tmp, "completion.bash"))}`,
    `COMP_LINE=${JSON.stringify(line)}`,
    'read -ra COMP_WORDS <<<"$COMP_LINE"',
    '[[ "$COMP_LINE" == *" " ]] && COMP_WORDS+=("")',
    "COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))",
    "_crabbox_cs",
    'printf "%s\\n" "${COMPREPLY[@]}"',
  ].join("\n");
  const r = Bun.spawnSync(["bash", "--norc", "--noprofile", "-c", script], { env: { ...h.env, CRABBOX_HOME: h.home } });
  if (r.exitCode !== 0) throw new Error(`bash: ${r.stderr.toString()}`);
  return r.stdout.toString().split("\n").filter(Boolean).sort();
}

describe("the completion command", () => {
  test("needs a known shell (exit 2)", async () => {
    const none = await h.run(["completion"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("completion needs a shell");
    const bad = await h.run(["completion", "tcsh", "--json"]);
    expect(bad.code).toBe(2);
    expect(bad.json().error.code).toBe("usage");
  });

  test("--json wraps the same script", async () => {
    const r = await h.run(["completion", "bash", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json()).toEqual({ shell: "bash", script: scripts.bash });
  });

  test("is listed by --help", async () => {
    const r = await h.run(["--help"]);
    expect(r.stdout).toMatch(/^ {2}completion\s/m);
  });
});

describe("bash", () => {
  test("is valid bash", () => {
    expect(Bun.spawnSync(["bash", "-n", join(h.tmp, "completion.bash")]).exitCode).toBe(0);
  });

  test("completes the command names", () => {
    expect(bashComplete("crabbox-cs ")).toEqual([...names, "help"].sort());
    expect(bashComplete("crabbox-cs ru")).toEqual(["run"]);
    expect(bashComplete("crabbox-cs he")).toEqual(["help"]);
    // help completes a command name or a topic
    expect(bashComplete("crabbox-cs help ")).toEqual([...names, "exit-codes"].sort());
    expect(bashComplete("crabbox-cs help ex")).toEqual(["exit-codes"]);
    expect(bashComplete("crabbox-cs --json li")).toEqual(["list"]);
    expect(bashComplete("crabbox-cs --")).toEqual(["--help", "--version"]);
  });

  for (const cmd of names) {
    test(`${cmd}: completes exactly the flags --help lists`, async () => {
      expect(bashComplete(`crabbox-cs ${cmd} --`)).toEqual(await helpFlags(cmd));
    });
  }

  test("completes flag values", () => {
    expect(bashComplete("crabbox-cs run --provider ")).toEqual(["codespaces", "gh-codespaces", "github-codespaces"]);
    expect(bashComplete("crabbox-cs warmup --type basic")).toEqual(["basicLinux32gb"]);
    expect(bashComplete("crabbox-cs warmup --github-codespaces-geo Us")).toEqual(["UsEast", "UsWest"]);
    expect(bashComplete("crabbox-cs completion ")).toEqual(["bash", "fish", "zsh"]);
    // A value that is free text: no flags offered in its place.
    expect(bashComplete("crabbox-cs run --ttl ")).toEqual([]);
    expect(bashComplete("crabbox-cs run --env CRABBOX_H")).toContain("CRABBOX_HOME");
  });

  test("completes lease ids and slugs from the claim files", () => {
    const both = [lease.leaseId, lease.slug].sort();
    expect(bashComplete("crabbox-cs stop ")).toEqual(both);
    expect(bashComplete("crabbox-cs run --id ")).toEqual(both);
    expect(bashComplete(`crabbox-cs status ${lease.slug.slice(0, 3)}`)).toEqual([lease.slug]);
    // After --id's value, flags again; after --, nothing (the remote command).
    expect(bashComplete(`crabbox-cs run --id ${lease.slug} --no-s`)).toEqual(["--no-sync"]);
    expect(bashComplete(`crabbox-cs run --id ${lease.slug} -- `)).toEqual([]);
  });
});

describe("zsh", () => {
  test("names every command and every flag", async () => {
    for (const cmd of names) {
      expect(scripts.zsh).toContain(`'${cmd}:`);
      for (const f of await helpFlags(cmd)) if (f !== "--help") expect(scripts.zsh).toContain(`'${f}[`);
    }
  });
  test.skipIf(!Bun.which("zsh"))("is valid zsh and defines the completion function", () => {
    const file = join(h.tmp, "completion.zsh");
    expect(Bun.spawnSync(["zsh", "-n", file]).exitCode).toBe(0);
    const r = Bun.spawnSync(["zsh", "-f", "-c", `autoload -Uz compinit && compinit -u -D; source ${file}; whence -w _crabbox_cs; print -r -- $_comps[crabbox-cs]`]);
    expect(r.stdout.toString()).toContain("_crabbox_cs: function");
    expect(r.stdout.toString()).toContain("_crabbox_cs");
  });
});

describe("fish", () => {
  test("names every command and every flag", async () => {
    for (const cmd of names) {
      expect(scripts.fish).toContain(`-a '${cmd}'`);
      for (const f of await helpFlags(cmd)) expect(scripts.fish).toContain(`__fish_seen_subcommand_from ${cmd}' -l ${f.slice(2)}`);
    }
  });
  test.skipIf(!Bun.which("fish"))("completes commands, flags and leases in fish", () => {
    const fish = (line: string) => {
      const r = Bun.spawnSync(["fish", "--no-config", "-c", `source ${join(h.tmp, "completion.fish")}; complete -C ${JSON.stringify(line)}`], {
        env: { ...h.env, CRABBOX_HOME: h.home },
      });
      if (r.exitCode !== 0) throw new Error(`fish: ${r.stderr.toString()}`);
      return r.stdout.toString().split("\n").filter(Boolean).map((l) => l.split("\t")[0]!).sort();
    };
    expect(fish("crabbox-cs ")).toEqual(expect.arrayContaining(names));
    expect(fish("crabbox-cs stop --dry")).toEqual([]);
    expect(fish("crabbox-cs cleanup --dry")).toEqual(["--dry-run"]);
    expect(fish("crabbox-cs stop --id ")).toEqual([lease.leaseId, lease.slug].sort());
  });
});
