/**
 * `crabbox-cs completion <bash|zsh|fish>`: print a shell completion script.
 *
 * The script is generated from the command table (commands/index.ts) and each
 * command's arg definitions (the same ones the parser and --help use), so
 * completion cannot drift from what the CLI accepts. Lease ids and slugs are
 * completed from the local claim files (no network, no token).
 */
import { usageError } from "../errors.ts";
import { PROVIDER_NAMES, globalArgs } from "../config/flags.ts";
import { type Command, defineCommand } from "./argv.ts";
import { writeStdout } from "../output/write.ts";

export const SHELLS = ["bash", "zsh", "fish"] as const;
export type Shell = (typeof SHELLS)[number];

/** How the value of a flag (or a positional) is completed. */
export type ValueKind = "none" | "lease" | "file" | "env" | "words";

export interface FlagSpec {
  /** Without the leading dashes, e.g. "github-codespaces-repo" or "no-sync". */
  name: string;
  description: string;
  /** A string flag: the next word is its value. */
  takesValue: boolean;
  kind: ValueKind;
  /** Fixed candidates when kind is "words". */
  words: string[];
}

export interface CommandSpec {
  name: string;
  description: string;
  flags: FlagSpec[];
  /** The first positional argument, if the command takes one. */
  positional: { name: string; description: string; kind: ValueKind; words: string[] } | null;
  /** Everything after `--` is a remote command (run, ssh). */
  passthrough: boolean;
}

interface ArgLike {
  type?: string;
  description?: string;
  valueHint?: string;
  default?: unknown;
  negativeDescription?: string;
  alias?: string | string[];
}

/** Machine types GitHub offers most repositories (the live list comes from `doctor`). */
const MACHINES = ["basicLinux32gb", "standardLinux32gb", "premiumLinux", "largePremiumLinux"];
const GEOS = ["EuropeWest", "SoutheastAsia", "UsEast", "UsWest"];

function valueKind(flag: string, def: ArgLike): { kind: ValueKind; words: string[] } {
  switch (flag) {
    case "provider":
      return { kind: "words", words: [...PROVIDER_NAMES] };
    case "target":
      return { kind: "words", words: ["linux"] };
    case "type":
    case "github-codespaces-machine":
      return { kind: "words", words: MACHINES };
    case "github-codespaces-geo":
      return { kind: "words", words: GEOS };
    case "id":
      return { kind: "lease", words: [] };
    case "env":
      return { kind: "env", words: [] };
  }
  if (def.valueHint === "lease") return { kind: "lease", words: [] };
  // Remote paths (work root, working directory) are not local files.
  if (def.valueHint === "path" && /(^|-)(gh|gh-path|devcontainer-path)$/.test(flag)) return { kind: "file", words: [] };
  return { kind: "none", words: [] };
}

/** The completion model of one command, from its arg definitions. */
export function commandSpec(cmd: Pick<Command, "meta" | "args" | "passthrough">): CommandSpec {
  const { meta, args } = cmd;
  const flags: FlagSpec[] = [];
  let positional: CommandSpec["positional"] = null;
  for (const [flag, raw] of Object.entries(args)) {
    const def = raw as ArgLike;
    if (def.type === "positional") {
      if (!positional) {
        // A positional with fixed words says so in its valueHint ("list|drain"); otherwise it is a lease.
        const v =
          flag === "shell" ? { kind: "words" as const, words: [...SHELLS] }
          : def.valueHint?.includes("|") ? { kind: "words" as const, words: def.valueHint.split("|") }
          : { kind: "lease" as const, words: [] };
        positional = { name: flag, description: def.description ?? "", ...v };
      }
      continue;
    }
    const takesValue = def.type !== "boolean";
    const v = takesValue ? valueKind(flag, def) : { kind: "none" as const, words: [] };
    flags.push({ name: flag, description: def.description ?? "", takesValue, ...v });
    if (def.type === "boolean" && (def.default === true || def.negativeDescription)) {
      flags.push({ name: `no-${flag}`, description: def.negativeDescription ?? `Turn off --${flag}`, takesValue: false, kind: "none", words: [] });
    }
  }
  flags.push({ name: "help", description: "Show help for this command", takesValue: false, kind: "none", words: [] });
  flags.push({ name: "help-all", description: "Show help with every flag (provider flags too)", takesValue: false, kind: "none", words: [] });
  return { name: meta.name, description: meta.description, flags, positional, passthrough: Boolean(cmd.passthrough) };
}

/** Every command of the CLI, in the order `crabbox-cs --help` lists them. */
export async function completionSpecs(): Promise<CommandSpec[]> {
  const { COMMANDS, loadCommands } = await import("./index.ts");
  const specs = (await loadCommands()).map(commandSpec);
  // `help` is the CLI's own (src/cli.ts), not a command file: it completes a command name or a topic.
  const topics = [...Object.keys(COMMANDS), "exit-codes"];
  specs.push({ name: "help", description: "Show help for a command, or a topic (exit-codes)", flags: [], positional: { name: "topic", description: "a command or exit-codes", kind: "words", words: topics }, passthrough: false });
  return specs;
}

// ---------------------------------------------------------------- bash

/** Only [A-Za-z0-9_-./] and friends reach generated code unquoted; descriptions never do in bash. */
function bashWords(words: string[]): string {
  return words.map((w) => w.replace(/[^A-Za-z0-9_./:-]/g, "")).join(" ");
}

const LEASES_SH = `  local dir="\${CRABBOX_HOME:-$HOME/.crabbox}/claims" f
  [ -d "$dir" ] || return 0
  for f in "$dir"/cbx_*.json; do
    [ -f "$f" ] || continue
    f=\${f##*/}
    printf '%s\\n' "\${f%.json}"
    sed -n 's/^  "slug": "\\([a-z0-9-]*\\)",\\{0,1\\}$/\\1/p' "$dir/$f" 2>/dev/null
  done`;

export function bashScript(specs: CommandSpec[]): string {
  const valueFlags = new Set<string>();
  for (const c of specs) for (const f of c.flags) if (f.takesValue) valueFlags.add(`--${f.name}`);
  const lines: string[] = [
    "# bash completion for crabbox-cs. Generated by: crabbox-cs completion bash",
    "# Install: crabbox-cs completion bash > ~/.local/share/bash-completion/completions/crabbox-cs",
    "#      or: source <(crabbox-cs completion bash)",
    "",
    "_crabbox_cs_leases() {",
    LEASES_SH,
    "}",
    "",
    "_crabbox_cs() {",
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmd="" i w skip=0',
    '  [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"',
    "  COMPREPLY=()",
    "  for ((i = 1; i < COMP_CWORD; i++)); do",
    '    w="${COMP_WORDS[i]}"',
    '    if [ "$skip" = 1 ]; then skip=0; continue; fi',
    '    case "$w" in',
    "      --) return 0 ;;",
    `      ${[...valueFlags].sort().join("|")}) skip=1 ;;`,
    "      -*) ;;",
    '      *) [ -z "$cmd" ] && cmd="$w" ;;',
    "    esac",
    "  done",
    '  if [ -z "$cmd" ]; then',
    '    case "$cur" in',
    `      -*) COMPREPLY=($(compgen -W "--help --version" -- "$cur")) ;;`,
    `      *) COMPREPLY=($(compgen -W "${bashWords(specs.map((c) => c.name))}" -- "$cur")) ;;`,
    "    esac",
    "    return 0",
    "  fi",
    '  case "$prev" in',
  ];
  // Values of flags (the same flag has the same meaning in every command).
  const seen = new Set<string>();
  for (const c of specs) {
    for (const f of c.flags) {
      if (!f.takesValue || seen.has(f.name)) continue;
      seen.add(f.name);
      let action: string;
      if (f.kind === "words") action = `COMPREPLY=($(compgen -W "${bashWords(f.words)}" -- "$cur"))`;
      else if (f.kind === "lease") action = `COMPREPLY=($(compgen -W "$(_crabbox_cs_leases)" -- "$cur"))`;
      else if (f.kind === "file") action = `COMPREPLY=($(compgen -f -- "$cur"))`;
      else if (f.kind === "env") action = `COMPREPLY=($(compgen -e -- "$cur"))`;
      else action = ":";
      lines.push(`    --${f.name}) ${action}; return 0 ;;`);
    }
  }
  lines.push("  esac", '  case "$cmd" in');
  for (const c of specs) {
    const flags = bashWords(c.flags.map((f) => `--${f.name}`));
    let positional = ":";
    if (c.positional?.kind === "lease") positional = `COMPREPLY=($(compgen -W "$(_crabbox_cs_leases)" -- "$cur"))`;
    else if (c.positional?.kind === "words") positional = `COMPREPLY=($(compgen -W "${bashWords(c.positional.words)}" -- "$cur"))`;
    lines.push(
      `    ${bashWords([c.name])})`,
      '      case "$cur" in',
      `        -*) COMPREPLY=($(compgen -W "${flags}" -- "$cur")) ;;`,
      `        *) ${positional} ;;`,
      "      esac",
      "      ;;",
    );
  }
  lines.push("  esac", "  return 0", "}", "", "complete -F _crabbox_cs crabbox-cs", "");
  return lines.join("\n");
}

// ---------------------------------------------------------------- zsh

/** A single-quoted zsh word. */
function zq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Text inside an _arguments spec's [description] or a _describe "name:description" item. */
function zdesc(s: string): string {
  return s.replace(/\s+/g, " ").replace(/[\\[\]:]/g, (m) => `\\${m}`);
}

export function zshScript(specs: CommandSpec[]): string {
  const lines: string[] = [
    "#compdef crabbox-cs",
    "# zsh completion for crabbox-cs. Generated by: crabbox-cs completion zsh",
    "# Install: crabbox-cs completion zsh > \"${fpath[1]}/_crabbox-cs\"   (then restart zsh)",
    "#      or: source <(crabbox-cs completion zsh)",
    "",
    "_crabbox_cs_leases() {",
    "  local -a leases",
    "  leases=(${(f)\"$(",
    LEASES_SH,
    ')"})',
    "  compadd -a leases",
    "}",
    "",
    "_crabbox_cs() {",
    "  local curcontext=\"$curcontext\" state line",
    "  typeset -A opt_args",
    "  local -a commands",
    "  commands=(",
    ...specs.map((c) => `    ${zq(`${c.name.replace(/:/g, "\\:")}:${zdesc(c.description)}`)}`),
    "  )",
    "  _arguments -C \\",
    "    '(- *)'{-h,--help}'[Show help]' \\",
    "    '(- *)'{-v,--version}'[Show version]' \\",
    "    '1:command:->command' \\",
    "    '*::argument:->argument'",
    "  case $state in",
    "    command) _describe -t commands 'crabbox-cs command' commands ;;",
    "    argument)",
    "      case $line[1] in",
  ];
  for (const c of specs) {
    const specsOf: string[] = [];
    for (const f of c.flags) {
      if (f.name === "help") continue;
      let action = "";
      if (f.takesValue) {
        if (f.kind === "words") action = `:${f.name}:(${f.words.join(" ")})`;
        else if (f.kind === "lease") action = ":lease:_crabbox_cs_leases";
        else if (f.kind === "file") action = ":file:_files";
        else if (f.kind === "env") action = ":variable:_parameters -g '*export*'";
        else action = `:${f.name}: `;
      }
      specsOf.push(zq(`--${f.name}[${zdesc(f.description)}]${action}`));
    }
    specsOf.push(zq("(- *)--help[Show help for this command]"));
    if (c.positional) {
      const act = c.positional.kind === "words" ? `(${c.positional.words.join(" ")})` : "_crabbox_cs_leases";
      specsOf.push(zq(`1:${c.positional.name}:${act}`));
    }
    if (c.passthrough) specsOf.push(zq("*::remote command:_normal"));
    lines.push(`        ${c.name.replace(/[^A-Za-z0-9_-]/g, "")})`, `          _arguments -s \\`, ...specsOf.map((s, i) => `            ${s}${i < specsOf.length - 1 ? " \\" : ""}`), "          ;;");
  }
  lines.push(
    "      esac",
    "      ;;",
    "  esac",
    "}",
    "",
    'if [ "$funcstack[1]" = "_crabbox-cs" ]; then',
    '  _crabbox_cs "$@"',
    "else",
    "  compdef _crabbox_cs crabbox-cs",
    "fi",
    "",
  );
  return lines.join("\n");
}

// ---------------------------------------------------------------- fish

/** A single-quoted fish word (inside, only \\ and \' are escapes). */
function fq(s: string): string {
  return `'${s.replace(/\s+/g, " ").replace(/[\\']/g, (m) => `\\${m}`)}'`;
}

export function fishScript(specs: CommandSpec[]): string {
  const names = specs.map((c) => c.name).join(" ");
  const lines: string[] = [
    "# fish completion for crabbox-cs. Generated by: crabbox-cs completion fish",
    "# Install: crabbox-cs completion fish > ~/.config/fish/completions/crabbox-cs.fish",
    "",
    "function __crabbox_cs_leases",
    "    set -l home $HOME/.crabbox",
    "    set -q CRABBOX_HOME; and set home $CRABBOX_HOME",
    "    for f in $home/claims/cbx_*.json",
    "        basename $f .json",
    `        sed -n 's/^  "slug": "\\([a-z0-9-]*\\)",\\{0,1\\}$/\\1/p' $f 2>/dev/null`,
    "    end",
    "end",
    "",
    "complete -c crabbox-cs -f",
    "complete -c crabbox-cs -n __fish_use_subcommand -s h -l help -d 'Show help'",
    "complete -c crabbox-cs -n __fish_use_subcommand -s v -l version -d 'Show version'",
  ];
  for (const c of specs) lines.push(`complete -c crabbox-cs -n __fish_use_subcommand -a ${fq(c.name)} -d ${fq(c.description)}`);
  for (const c of specs) {
    const when = `-n ${fq(`__fish_seen_subcommand_from ${c.name}`)}`;
    lines.push("", `# ${c.name}`);
    for (const f of c.flags) {
      let value = "";
      if (f.takesValue) {
        if (f.kind === "words") value = ` -x -a ${fq(f.words.join(" "))}`;
        else if (f.kind === "lease") value = " -x -a '(__crabbox_cs_leases)'";
        else if (f.kind === "file") value = " -r -F";
        else if (f.kind === "env") value = " -x -a '(set -n -x)'";
        else value = " -x";
      }
      lines.push(`complete -c crabbox-cs ${when} -l ${f.name}${value} -d ${fq(f.description)}`);
    }
    if (c.positional) {
      const a = c.positional.kind === "words" ? fq(c.positional.words.join(" ")) : "'(__crabbox_cs_leases)'";
      lines.push(`complete -c crabbox-cs ${when} -a ${a} -d ${fq(c.positional.description)}`);
    }
  }
  lines.push("", `# commands: ${names}`, "");
  return lines.join("\n");
}

export function completionScript(shell: Shell, specs: CommandSpec[]): string {
  return shell === "bash" ? bashScript(specs) : shell === "zsh" ? zshScript(specs) : fishScript(specs);
}

// ---------------------------------------------------------------- command

const completionCommand = defineCommand({
  meta: { name: "completion", description: "Print a shell completion script (bash, zsh or fish)" },
  usage: ["completion <bash|zsh|fish>"],
  examples: [
    "source <(crabbox-cs completion bash)",
    "crabbox-cs completion zsh > \"${fpath[1]}/_crabbox-cs\"",
    "crabbox-cs completion fish > ~/.config/fish/completions/crabbox-cs.fish",
  ],
  args: {
    shell: { type: "positional", required: false, description: "Shell to print the script for: bash, zsh or fish" },
    json: globalArgs.json,
  },
  async run({ args }) {
    const shell = String(args.shell ?? "").trim().toLowerCase();
    if (!(SHELLS as readonly string[]).includes(shell)) {
      throw usageError(
        shell ? `unknown shell "${String(args.shell)}"` : "completion needs a shell",
        "crabbox-cs completion bash|zsh|fish   e.g.  source <(crabbox-cs completion bash)",
      );
    }
    const script = completionScript(shell as Shell, await completionSpecs());
    if (args.json) writeStdout(`${JSON.stringify({ shell, script }, null, 2)}\n`);
    else writeStdout(script);
    return 0;
  },
});

export default completionCommand;
