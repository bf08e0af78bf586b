/**
 * Per-command help, rendered from the same arg definitions the parser uses (so
 * help and parsing cannot disagree), laid out to fit 80 columns.
 */
import type { Command } from "../commands/argv.ts";
import { globalArgs, providerArgs } from "../config/flags.ts";

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

export function renderCommandHelp(cmd: Command): string {
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
  const usage = `crabbox-cs ${name}${positionals.map(([n]) => ` [${n.toUpperCase()}]`).join("")} [flags]${cmd.passthrough ? ` [-- ${cmd.passthrough}]` : ""}`;
  const out = [...wrap(`crabbox-cs ${name} — ${meta.description}`, 0), "", "USAGE", `  ${usage}`];
  if (positionals.length) {
    out.push("", "ARGUMENTS");
    for (const [n, d] of positionals) out.push(`  ${n.toUpperCase().padEnd(COL - 2)}${(d as ArgLike).description ?? ""}`);
  }
  if (own.length) out.push("", "FLAGS", ...own);
  if (global.length) out.push("", "GLOBAL FLAGS", ...global);
  if (provider.length) out.push("", "PROVIDER FLAGS (also: config files, CRABBOX_GITHUB_CODESPACES_* and CRABBOX_POOL_* variables)", ...provider);
  out.push("", `Docs: docs/commands.md#${name}`);
  return out.join("\n");
}
