/** The one argv parser (src/commands/argv.ts): strict, typed, driven by the arg definitions. */
import { describe, expect, test } from "bun:test";
import { type ArgsDef, commandWord, parseArgv } from "../../src/commands/argv.ts";
import { COMMANDS } from "../../src/commands/index.ts";
import { commonArgs, globalArgs } from "../../src/config/flags.ts";
import { usageErrorOf } from "./helpers/errors.ts";


const cmd = {
  ...commonArgs,
  lease: { type: "positional", required: false },
  id: { type: "string" },
  sync: { type: "boolean", default: true },
  "dry-run": { type: "boolean" },
  env: { type: "string", multiple: true },
  ttl: { type: "string", default: "90m" },
} satisfies ArgsDef;
const parse = (argv: string[], passthrough = false) => parseArgv(argv, cmd, passthrough);

describe("values", () => {
  test("defaults, one spelling per flag, typed", () => {
    const { values, passthrough } = parse([]);
    expect(values).toEqual({ sync: true, ttl: "90m", env: [] });
    expect(passthrough).toEqual([]);
  });

  test("--flag value, --flag=value, camelCase, last value wins", () => {
    expect(parse(["--github-codespaces-repo", "a/b"]).values["github-codespaces-repo"]).toBe("a/b");
    expect(parse(["--github-codespaces-repo=a/b"]).values["github-codespaces-repo"]).toBe("a/b");
    const camel = parse(["--githubCodespacesRepo", "a/b", "--dryRun"]).values;
    expect(camel["github-codespaces-repo"]).toBe("a/b");
    expect(camel["dry-run"]).toBe(true);
    expect(camel.dryRun).toBeUndefined();
    expect(camel.githubCodespacesRepo).toBeUndefined();
    expect(parse(["--id", "x", "--id", "y"]).values.id).toBe("y");
  });

  test("a string flag takes the next word, even one that looks like a flag", () => {
    expect(parse(["--id", "--bogus"]).values.id).toBe("--bogus");
  });

  test("negatable booleans: --no-X, --X=false", () => {
    expect(parse(["--no-sync"]).values.sync).toBe(false);
    expect(parse(["--sync=false"]).values.sync).toBe(false);
    expect(parse(["--json=true"]).values.json).toBe(true);
    expect(parse(["--no-json"]).values.json).toBe(false);
    usageErrorOf(() => parse(["--sync=maybe"]));
  });

  test("repeatable flags collect every value and split commas", () => {
    expect(parse(["--env", "A", "--env=B,C", "--env", " D "]).values.env).toEqual(["A", "B", "C", "D"]);
  });

  test("the positional, then -- passthrough kept verbatim", () => {
    const r = parse(["cbx_x", "--json", "--", "ls", "--nope", "-x", "--"], true);
    expect(r.values.lease).toBe("cbx_x");
    expect(r.values.json).toBe(true);
    expect(r.passthrough).toEqual(["ls", "--nope", "-x", "--"]);
  });
});

describe("refusals (exit 2)", () => {
  test("unknown long flag, with a suggestion when close", () => {
    expect(usageErrorOf(() => parse(["--jsno"])).hint).toContain("--json");
    const e = usageErrorOf(() => parse(["--github-codespace-repo=a/b"]));
    expect(e.message).toBe("unknown flag --github-codespace-repo");
    expect(e.code).toBe("unknown_flag");
    expect(e.hint).toContain("--github-codespaces-repo");
    expect(usageErrorOf(() => parse(["--repo", "a/b"])).hint).toContain("--github-codespaces-repo");
    expect(usageErrorOf(() => parse(["--completely-different-thing"])).hint).not.toContain("did you mean");
  });

  test("--no- of a string flag, and of an unknown flag", () => {
    expect(usageErrorOf(() => parse(["--no-github-codespaces-repo"])).message).toContain("--no-github-codespaces-repo");
    usageErrorOf(() => parse(["--no-such-thing"]));
  });

  test("a string flag without a value", () => {
    expect(usageErrorOf(() => parse(["--github-codespaces-repo"])).message).toContain("needs a value");
    usageErrorOf(() => parse(["--class", "--", "x"], true));
  });

  test("short flags are not defined", () => {
    expect(usageErrorOf(() => parse(["-x"])).message).toBe("unknown flag -x");
  });

  test("extra positionals", () => {
    expect(usageErrorOf(() => parse(["a", "b"])).message).toBe('unexpected argument "b"');
    usageErrorOf(() => parseArgv(["extra"], commonArgs));
  });

  test("words after -- for a command without a passthrough", () => {
    usageErrorOf(() => parse(["--", "ls"]));
    expect(parse(["--"]).passthrough).toEqual([]);
  });

  test("flags are checked only before --", () => {
    usageErrorOf(() => parse(["--nope", "--", "--json"], true));
  });
});

describe("the command word", () => {
  test("global value flags may come before the command", () => {
    expect(commandWord(["--provider", "codespaces", "list", "--json"], globalArgs)).toEqual({ name: "list", rest: ["--provider", "codespaces", "--json"] });
    expect(commandWord(["--json", "run", "--", "x"], globalArgs)).toEqual({ name: "run", rest: ["--json", "--", "x"] });
    expect(commandWord(["--json", "--", "run"], globalArgs).name).toBeUndefined();
  });
});

describe("one-letter aliases", () => {
  const defs = { "follow-links": { type: "boolean", alias: "L" }, id: { type: "string", alias: "i" }, src: { type: "positional" } } satisfies ArgsDef;
  test("-L sets the on/off flag whose alias it is; other short words stay refused", () => {
    expect(parseArgv(["-L", "x"], defs).values).toMatchObject({ "follow-links": true, src: "x" });
    expect(usageErrorOf(() => parseArgv(["-i", "x"], defs)).message).toBe("unknown flag -i");
    expect(usageErrorOf(() => parseArgv(["-X"], defs)).message).toBe("unknown flag -X");
  });
});

describe("every command's definitions", () => {
  test("only run, shard and ssh take a passthrough; stop/status/ssh take one positional LEASE; pool takes ACTION and LEASE; cp takes SRC and DEST", async () => {
    const withPassthrough: string[] = [];
    for (const [name, load] of Object.entries(COMMANDS)) {
      const c = await load();
      expect(c.meta.name).toBe(name);
      if (c.passthrough) withPassthrough.push(name);
      const positionals = Object.entries(c.args as ArgsDef).filter(([, d]) => d.type === "positional").map(([n]) => n);
      expect({ name, positionals }).toEqual({ name, positionals: ["ssh", "status", "stop"].includes(name) ? ["lease"] : name === "completion" ? ["shell"] : name === "pool" ? ["action", "lease"] : name === "cp" ? ["src", "dest"] : [] });
    }
    expect(withPassthrough.sort()).toEqual(["run", "shard", "ssh"]);
  });
});

describe("pool's positional ACTION", () => {
  test("completes to its words, list and drain", async () => {
    const { commandSpec } = await import("../../src/commands/completion.ts");
    expect(commandSpec(await COMMANDS.pool!()).positional).toMatchObject({ name: "action", kind: "words", words: ["list", "drain"] });
  });
});
