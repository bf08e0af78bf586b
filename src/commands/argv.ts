/**
 * The one argv parser. A command's arg definitions (citty's ArgDef shape,
 * plus `multiple` for a repeatable flag) drive parsing, --help
 * (output/help.ts) and shell completion (commands/completion.ts), so the
 * three cannot disagree.
 *
 * Rules: `--flag value` and `--flag=value` (a string flag takes the next
 * word, whatever it looks like); `--no-flag` and `--flag=true|false` for
 * on/off flags; `--camelCase` is `--camel-case`; a repeatable flag collects
 * every value (and splits commas), another string flag keeps its last value.
 * Unknown flags, extra positionals and words after `--` for a command without
 * a passthrough are refused with exit 2. Everything after the first bare `--`
 * is the passthrough, never inspected.
 */
import type { ArgDef, ArgsDef } from "../config/flags.ts";
import { CrabboxError, Exit, usageError } from "../errors.ts";
import { suggest } from "../util/suggest.ts";

export type { ArgDef, ArgsDef };

/** The typed values of a set of arg definitions: one spelling per flag, as defined. */
export type ArgValues<A extends ArgsDef> = {
  -readonly [K in keyof A]: A[K] extends { multiple: true }
    ? string[]
    : A[K] extends { type: "boolean" }
      ? A[K] extends { default: boolean } ? boolean : boolean | undefined
      : A[K] extends { default: string } ? string : string | undefined;
};

export interface Command<A extends ArgsDef = ArgsDef> {
  meta: { name: string; description: string };
  args: A;
  /** Words after `--` are a remote command (shown in usage as this placeholder). */
  passthrough?: string;
  /** USAGE lines without "crabbox-cs " (default: generated from args); docs/commands.md shows the same. */
  usage?: string[];
  /** EXAMPLES in --help and the man page: 2–4 real command lines, each optionally with "  # comment". */
  examples?: string[];
  /** Short paragraphs --help prints after USAGE (a rule the user must know). */
  notes?: string[];
  run(input: { args: ArgValues<A>; passthrough: string[] }): Promise<number>;
}

export function defineCommand<const A extends ArgsDef>(cmd: Command<A>): Command<A> {
  return cmd;
}

export function camelToKebab(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1-$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1-$2")
    .toLowerCase();
}

function unknownFlag(flag: string, suggestion: string | undefined, why?: string): CrabboxError {
  return new CrabboxError({
    code: "unknown_flag",
    message: `unknown flag ${flag}`,
    why,
    hint: suggestion ? `did you mean ${suggestion}?` : "run with --help to list the flags; put a remote command's own flags after --",
    exit: Exit.usage,
    details: { flag, ...(suggestion ? { suggestion } : {}) },
  });
}

/** The closest defined flag (suggest: distance ≤ 2 or prefix), or one that ends in "-<name>" (--repo -> --github-codespaces-repo). */
function suggestFlag(name: string, defs: ArgsDef): string | undefined {
  const flags = Object.entries(defs).filter(([, d]) => d.type !== "positional").map(([f]) => f);
  const close = suggest(name, flags) ?? (name.length >= 3 ? flags.find((f) => f.endsWith(`-${name}`)) : undefined);
  return close ? `--${close}` : undefined;
}

/** A flag whose one-letter alias is this letter in the other case (-V -> --version). */
function suggestShort(letter: string, defs: ArgsDef): string | undefined {
  for (const [flag, def] of Object.entries(defs)) {
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases = Array.isArray(alias) ? alias : alias ? [alias] : [];
    if (aliases.some((a) => a.length === 1 && a.toLowerCase() === letter.toLowerCase())) return `--${flag}`;
  }
  return undefined;
}

const BOOL_WORDS: Record<string, boolean> = { true: true, "1": true, yes: true, false: false, "0": false, no: false };

/** The flag definition a long option names ("--foo", "--foo=x", "--no-foo", camelCase), or an error. */
function lookup(arg: string, defs: ArgsDef): { name: string; def: ArgDef; inline: string | undefined; negated: boolean } {
  const eq = arg.indexOf("=");
  const written = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
  const inline = eq === -1 ? undefined : arg.slice(eq + 1);
  const name = camelToKebab(written);
  const def = defs[name];
  if (def && def.type !== "positional") return { name, def, inline, negated: false };
  const base = name.startsWith("no-") ? name.slice(3) : undefined;
  const baseDef = base === undefined ? undefined : defs[base];
  if (base !== undefined && baseDef && baseDef.type !== "positional") {
    if (baseDef.type === "boolean" && inline === undefined) return { name: base, def: baseDef, inline, negated: true };
    throw unknownFlag(`--${written}`, undefined, baseDef.type === "boolean" ? `--no-${base} takes no value` : `--${base} takes a value; only on/off flags have a --no- form`);
  }
  throw unknownFlag(`--${written}`, suggestFlag(name, defs));
}

type Value = string | boolean | string[] | undefined;

/** The on/off flag whose `alias` is this one letter, if any. */
function shortFlag(letter: string, defs: ArgsDef): string | undefined {
  for (const [name, def] of Object.entries(defs)) {
    if (def.type !== "boolean") continue;
    const aliases = Array.isArray(def.alias) ? def.alias : def.alias ? [def.alias] : [];
    if (aliases.includes(letter)) return name;
  }
  return undefined;
}

export interface Parsed {
  values: Record<string, Value>;
  passthrough: string[];
}

/**
 * Parse a command's arguments (the command word already removed) against
 * its definitions. `passthrough`: whether words after `--` are allowed.
 */
export function parseArgv(argv: readonly string[], defs: ArgsDef, passthrough = false): Parsed {
  const values: Record<string, Value> = {};
  const positionals = Object.entries(defs).filter(([, d]) => d.type === "positional").map(([n]) => n);
  for (const [name, def] of Object.entries(defs)) {
    if (def.multiple) values[name] = [];
    else if (def.default !== undefined) values[name] = def.default as Value;
  }
  const dash = argv.indexOf("--");
  const words = dash === -1 ? argv : argv.slice(0, dash);
  const rest = dash === -1 ? [] : argv.slice(dash + 1);
  let p = 0;
  for (let i = 0; i < words.length; i++) {
    const arg = words[i]!;
    if (arg.startsWith("--")) {
      const { name, def, inline, negated } = lookup(arg, defs);
      if (def.type === "boolean") {
        if (inline === undefined) values[name] = !negated;
        else if (inline.toLowerCase() in BOOL_WORDS) values[name] = BOOL_WORDS[inline.toLowerCase()];
        else throw usageError(`--${name} is an on/off flag: ${JSON.stringify(inline)} is not true or false`, `--${name} or --no-${name}`);
        continue;
      }
      let value = inline;
      if (value === undefined) {
        if (i + 1 >= words.length) throw new CrabboxError({ code: "usage", message: `flag --${name} needs a value`, hint: `--${name} <value> or --${name}=<value>`, exit: Exit.usage });
        value = words[++i]!;
      }
      if (def.multiple) (values[name] as string[]).push(...value.split(",").map((s) => s.trim()).filter(Boolean));
      else values[name] = value;
    } else if (/^-[A-Za-z]$/.test(arg) && shortFlag(arg[1]!, defs)) {
      // A one-letter alias of an on/off flag (cp -L).
      values[shortFlag(arg[1]!, defs)!] = true;
    } else if (arg.startsWith("-") && arg !== "-") {
      throw unknownFlag(arg.slice(0, 2), suggestShort(arg.slice(1, 2), defs));
    } else {
      const name = positionals[p++];
      if (name === undefined) {
        throw new CrabboxError({
          code: "usage",
          message: `unexpected argument ${JSON.stringify(arg)}`,
          why: positionals.length === 0 ? "this command takes no arguments besides flags" : `this command takes at most ${positionals.length}`,
          hint: passthrough ? "put the remote command after --" : "run with --help to see what it takes",
          exit: Exit.usage,
        });
      }
      values[name] = arg;
    }
  }
  if (dash !== -1 && !passthrough && rest.length > 0) {
    throw new CrabboxError({ code: "usage", message: `unexpected arguments after --: ${rest.join(" ")}`, why: "this command runs no remote command", hint: "remove the words after --", exit: Exit.usage });
  }
  return { values, passthrough: rest };
}

/**
 * Find the command word: the first word that is neither a flag nor the value
 * of a string flag in `globals` (so `crabbox-cs --provider codespaces list`
 * finds "list"). Returns the word and the other arguments.
 */
export function commandWord(argv: readonly string[], globals: ArgsDef): { name: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a.startsWith("-")) {
      const def = a.startsWith("--") && !a.includes("=") ? globals[camelToKebab(a.slice(2))] : undefined;
      if (def?.type === "string") i++;
      continue;
    }
    return { name: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
  }
  return { name: undefined, rest: [...argv] };
}
