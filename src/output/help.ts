/**
 * Per-command help, rendered from the same arg definitions the parser uses (so
 * help and parsing cannot disagree), laid out to fit 80 columns.
 */
import type { Command } from "../commands/argv.ts";
import { globalArgs, providerArgs } from "../config/flags.ts";
import { Exit } from "../errors.ts";

/** The fields of an arg definition that help, completion and the man page read. */
export interface ArgLike {
  type?: string;
  description?: string;
  valueHint?: string;
  default?: unknown;
  alias?: string | string[];
  negativeDescription?: string;
  required?: boolean;
}

const WIDTH = 80;
const COL = 30;

function wrap(text: string, indent: number, width = WIDTH): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line && indent + line.length + 1 + w.length > width) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines;
}

function flagLines(name: string, def: ArgLike): string[] {
  const aliases = (Array.isArray(def.alias) ? def.alias : def.alias ? [def.alias] : []).map((a) => (a.length === 1 ? `-${a}` : `--${a}`));
  const hint = def.type === "string" || def.type === "enum" ? ` <${def.valueHint ?? "value"}>` : "";
  const head = `  ${[...aliases, `--${name}`].join(", ")}${hint}`;
  let desc = def.description ?? "";
  if (def.default !== undefined && def.type !== "boolean") desc += ` (default ${String(def.default)})`;
  const body = wrap(desc, COL);
  const out: string[] = [];
  if (head.length < COL - 1 && body.length) {
    out.push(head.padEnd(COL) + body[0]);
    for (const l of body.slice(1)) out.push(" ".repeat(COL) + l);
  } else {
    out.push(head);
    for (const l of body) out.push(" ".repeat(COL) + l);
  }
  if (def.type === "boolean" && (def.default === true || def.negativeDescription)) {
    const neg = `  --no-${name}`;
    const nd = wrap(def.negativeDescription ?? `Turn off --${name}`, COL);
    if (neg.length < COL - 1) {
      out.push(neg.padEnd(COL) + (nd[0] ?? ""));
      for (const l of nd.slice(1)) out.push(" ".repeat(COL) + l);
    } else {
      out.push(neg);
      for (const l of nd) out.push(" ".repeat(COL) + l);
    }
  }
  return out;
}

/** Where a binary holder reads more: no repository paths (they may have only the binary). */
export const LEARN_MORE = "crabbox-cs help <command> · man crabbox-cs · crabbox-cs help exit-codes";

/** The USAGE lines of a command (without indentation): its own, or generated from its args. */
export function usageLines(cmd: Command): string[] {
  if (cmd.usage?.length) return cmd.usage.map((u) => `crabbox-cs ${u}`);
  const positionals = Object.entries(cmd.args).filter(([, d]) => (d as ArgLike).type === "positional");
  return [`crabbox-cs ${cmd.meta.name}${positionals.map(([n]) => ` [${n.toUpperCase()}]`).join("")} [flags]${cmd.passthrough ? ` [-- ${cmd.passthrough}]` : ""}`];
}

/**
 * A command's --help. Provider flags (GitHub Codespaces settings every command
 * takes) are listed only with `all` (--help-all); the short help names them in one line.
 */
export function renderCommandHelp(cmd: Command, opts: { all?: boolean } = {}): string {
  const { meta, args } = cmd;
  const name = meta.name;
  const positionals = Object.entries(args).filter(([, d]) => (d as ArgLike).type === "positional");
  const own: string[] = [];
  const global: string[] = [];
  const provider: string[] = [];
  for (const [n, d] of Object.entries(args)) {
    if ((d as ArgLike).type === "positional") continue;
    const lines = flagLines(n, d as ArgLike);
    if (n in providerArgs) provider.push(...lines);
    else if (n in globalArgs) global.push(...lines);
    else own.push(...lines);
  }
  const out = [...wrap(`crabbox-cs ${name} — ${meta.description}`, 0), "", "USAGE", ...usageLines(cmd).map((u) => `  ${u}`)];
  for (const note of cmd.notes ?? []) out.push("", ...wrap(note, 2).map((l) => `  ${l}`));
  if (positionals.length) {
    out.push("", "ARGUMENTS");
    for (const [n, d] of positionals) out.push(`  ${n.toUpperCase().padEnd(COL - 2)}${(d as ArgLike).description ?? ""}`);
  }
  if (own.length) out.push("", "FLAGS", ...own);
  if (global.length) out.push("", "GLOBAL FLAGS", ...global);
  if (provider.length) {
    const count = Object.keys(args).filter((n) => n in providerArgs).length;
    if (opts.all) out.push("", "PROVIDER FLAGS (also settable in config files and CRABBOX_* variables)", ...provider);
    else out.push("", "PROVIDER FLAGS", ...wrap(`${count} --github-codespaces-* and --pool-* flags (repository, machine, ref, timeouts, pool limits...): crabbox-cs ${name} --help-all`, 2).map((l) => `  ${l}`));
  }
  if (cmd.examples?.length) out.push("", "EXAMPLES", ...cmd.examples.map((e) => `  ${e}`));
  out.push("", "LEARN MORE", `  ${LEARN_MORE}`);
  return out.join("\n");
}

/** What each exit code means (help exit-codes, the man page); a new code without a line fails type-checking. */
export const EXIT_MEANING: Record<keyof typeof Exit, string> = {
  ok: "success",
  unexpected: "unexpected failure",
  usage: "usage or invalid configuration",
  auth: "GitHub authentication or permission",
  notFound: "lease or codespace not found",
  refused: "refused by a safety rule",
  timeout: "timed out waiting",
  sshUnusable: "the codespace is not usable over SSH",
  api: "GitHub API error after retries",
  sshConnect: "ssh itself failed to connect",
};

/** `crabbox-cs help exit-codes`. */
export function renderExitCodes(): string {
  const rows = (Object.entries(Exit) as [keyof typeof Exit, number][]).map(([k, code]) => `  ${String(code).padStart(3)}  ${EXIT_MEANING[k]}`);
  return ["crabbox-cs exit codes", "", ...rows, "", "  run and ssh -- command exit with the remote command's own status (128+n for a signal n)."].join("\n");
}
