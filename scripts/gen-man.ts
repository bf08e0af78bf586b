/**
 * Generate the man page crabbox-cs.1 (roff, man macros) from the definitions help is rendered from:
 * the command table in src/commands/index.ts, each command's `meta` and `args`, the shared flag sets in
 * src/config/flags.ts, the config key rows in src/config/keys.ts and the exit codes in src/errors.ts.
 * Each command's usage line (and its examples, when its help has an EXAMPLES section) is taken
 * from its rendered --help, so the man page says what --help says.
 *
 *   bun scripts/gen-man.ts           write crabbox-cs.1 (`npm run man`)
 *   bun scripts/gen-man.ts --check   exit 1 if crabbox-cs.1 is not current
 *
 * tests/install/man.test.ts fails when the checked-in page differs from a fresh rendering.
 */
import type { ArgsDef, Command } from "../src/commands/argv.ts";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pkg from "../package.json" with { type: "json" };
import { COMMANDS } from "../src/commands/index.ts";
import { globalArgs, providerArgs } from "../src/config/flags.ts";
import { allKeys } from "../src/config/keys.ts";
import { Exit } from "../src/errors.ts";
import { type ArgLike, EXIT_MEANING, renderCommandHelp } from "../src/output/help.ts";

export const MAN_PATH = join(import.meta.dir, "..", "crabbox-cs.1");

/** Escape text for roff: backslashes, minus signs, non-ASCII, and a leading control character. */
export function roff(text: string): string {
  let s = text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}]`);
  if (/^[.']/.test(s)) s = `\\&${s}`;
  return s;
}

function aliasesOf(d: ArgLike): string[] {
  const list = Array.isArray(d.alias) ? d.alias : d.alias ? [d.alias] : [];
  return list.map((a) => (a.length === 1 ? `-${a}` : `--${a}`));
}

/** One flag as .TP entries (plus its --no- form where help shows one). */
function flagEntry(name: string, d: ArgLike): string[] {
  const names = [...aliasesOf(d), `--${name}`].map((n) => `\\fB${roff(n)}\\fR`).join(", ");
  const hint = d.type === "string" || d.type === "enum" ? ` \\fI${roff(d.valueHint ?? "value")}\\fR` : "";
  let desc = d.description ?? "";
  if (d.default !== undefined && d.type !== "boolean") desc += ` (default ${String(d.default)})`;
  const out = [".TP", `${names}${hint}`, roff(desc)];
  if (d.type === "boolean" && (d.default === true || d.negativeDescription)) {
    out.push(".TP", `\\fB${roff(`--no-${name}`)}\\fR`, roff(d.negativeDescription ?? `Turn off --${name}`));
  }
  return out;
}

/** The usage line and EXAMPLES lines of a command's rendered --help. */
function fromHelp(name: string, help: string): { usage: string; examples: string[] } {
  const lines = help.split("\n");
  const usageRe = new RegExp(`^\\s*(?:usage:?\\s+)?(crabbox-cs ${name}(?:\\s.*)?)$`, "i");
  const usage = lines.slice(1).map((l) => usageRe.exec(l)?.[1]).find((u) => u !== undefined) ?? `crabbox-cs ${name} [flags]`;
  const examples: string[] = [];
  const start = lines.findIndex((l) => /^examples?:?$/i.test(l.trim()));
  if (start !== -1) {
    for (const l of lines.slice(start + 1)) {
      if (l.trim() === "" && examples.length === 0) continue;
      if (!/^\s/.test(l) && l.trim() !== "") break;
      examples.push(l.replace(/^ {2}/, ""));
    }
    while (examples.length && examples[examples.length - 1]!.trim() === "") examples.pop();
  }
  return { usage: usage.trim(), examples };
}

function commonFlagsLine(args: ArgsDef): string | undefined {
  const takes = (set: object) => Object.keys(set).filter((n) => n in args);
  const parts: string[] = [];
  for (const [label, set] of [["global", globalArgs], ["provider", providerArgs]] as const) {
    const names = takes(set);
    if (names.length === Object.keys(set).length) parts.push(`all ${label} flags`);
    else if (names.length) parts.push(`the ${label} flags ${names.map((n) => `--${n}`).join(", ")}`);
  }
  return parts.length ? `Also takes ${parts.join(" and ")} (below).` : undefined;
}

async function commandSection(name: string, cmd: Command<any>): Promise<{ synopsis: string; body: string[] }> {
  const { meta, args } = cmd;
  const { usage, examples } = fromHelp(name, renderCommandHelp(cmd, { all: true }));
  const body = [".SS " + `"${roff(name)}"`, ".nf", `\\fB${roff(usage)}\\fR`, ".fi", ".PP", roff(meta.description)];
  for (const note of cmd.notes ?? []) body.push(".PP", roff(note));
  const entries = Object.entries(args) as [string, ArgLike][];
  for (const [n, d] of entries.filter(([, d]) => d.type === "positional")) {
    body.push(".TP", `\\fI${roff(n.toUpperCase())}\\fR`, roff(d.description ?? ""));
  }
  for (const [n, d] of entries) {
    if (d.type === "positional" || n in globalArgs || n in providerArgs) continue;
    body.push(...flagEntry(n, d));
  }
  const common = commonFlagsLine(args);
  if (common) body.push(".PP", roff(common));
  if (examples.length) body.push(".PP", "Examples:", ".PP", ".RS 4", ".nf", ...examples.map(roff), ".fi", ".RE");
  return { synopsis: usage, body };
}

export async function renderManPage(): Promise<string> {
  const sections = [];
  for (const [name, load] of Object.entries(COMMANDS)) sections.push(await commandSection(name, await load()));
  const tagline = pkg.description.replace(/\.$/, "");
  const out: string[] = [
    `.\\" Generated by scripts/gen-man.ts from the command definitions; do not edit. Regenerate: npm run man`,
    `.TH CRABBOX\\-CS 1 "" "${roff(`crabbox-cs ${pkg.version}`)}" "User Commands"`,
    ".nh",
    ".ad l",
    ".SH NAME",
    `crabbox\\-cs \\- ${roff(tagline.charAt(0).toLowerCase() + tagline.slice(1))}`,
    ".SH SYNOPSIS",
    ".nf",
    ...sections.map((s) => `\\fB${roff(s.synopsis)}\\fR`),
    `\\fBcrabbox\\-cs \\-\\-help\\fR | \\fBcrabbox\\-cs\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR`,
    `\\fBcrabbox\\-cs help\\fR [\\fIcommand\\fR | \\fBexit\\-codes\\fR] | \\fBcrabbox\\-cs\\fR \\fIcommand\\fR \\fB\\-\\-help\\-all\\fR`,
    `\\fBcrabbox\\-cs \\-\\-version\\fR`,
    ".fi",
    ".SH DESCRIPTION",
    roff(`${pkg.description}`),
    ".PP",
    roff("Data goes to stdout; progress, warnings and errors go to stderr. With --json every command prints exactly one JSON document on stdout, on failure too."),
    ".SH COMMANDS",
    ...sections.flatMap((s) => s.body),
    ".SH GLOBAL FLAGS",
    ...Object.entries(globalArgs).flatMap(([n, d]) => flagEntry(n, d as ArgLike)),
    ".TP",
    "\\fB\\-h\\fR, \\fB\\-\\-help\\fR",
    roff("Show help (also: crabbox-cs <command> --help)"),
    ".TP",
    "\\fB\\-\\-version\\fR",
    roff("Show the version and the commit it was built from"),
    ".SH PROVIDER FLAGS",
    roff("Also settable in config files and CRABBOX_GITHUB_CODESPACES_* and CRABBOX_POOL_* variables (see ENVIRONMENT)."),
    ...Object.entries(providerArgs).flatMap(([n, d]) => flagEntry(n, d as ArgLike)),
    ".SH ENVIRONMENT",
    ...allKeys()
      .filter(({ row }) => row.env)
      .flatMap(({ key, row }) => {
        const envs = [row.env!, row.synonym?.env].filter((e): e is string => Boolean(e));
        const flags = [row.flag, row.synonym?.flag, row.globalFlag?.flag].filter((f): f is string => Boolean(f)).map((f) => `--${f}`);
        return [".TP", envs.map((e) => `\\fB${roff(e)}\\fR`).join(", "), roff(`Same as ${flags.join(", ")}; config key ${key}${row.default !== "" ? ` (default ${String(row.default)})` : ""}`)];
      }),
    ".TP",
    "\\fBGH_TOKEN\\fR, \\fBGITHUB_TOKEN\\fR",
    roff("GitHub token, in this order; otherwise `gh auth token` is asked. Needs the codespace scope."),
    ".TP",
    "\\fBCRABBOX_HOME\\fR",
    roff("Local state: lease claims and SSH configs (default ~/.crabbox)."),
    ".TP",
    "\\fBCRABBOX_CONFIG\\fR",
    roff("User config file (default $XDG_CONFIG_HOME/crabbox/config.yaml or ~/.config/crabbox/config.yaml)."),
    ".TP",
    "\\fBNO_COLOR\\fR",
    roff("When set and not empty, no colour."),
    ".SH FILES",
    ".TP",
    "\\fI~/.crabbox/claims/\\fR",
    roff("One claim file per lease, written before its codespace is created."),
    ".TP",
    "\\fI~/.config/crabbox/config.yaml\\fR",
    roff("User configuration."),
    ".SH EXIT STATUS",
    ...(Object.entries(Exit) as [keyof typeof Exit, number][]).flatMap(([k, code]) => {
      const meaning = EXIT_MEANING[k];
      if (!meaning) throw new Error(`scripts/gen-man.ts: no meaning for exit code ${k} (${code}); add one to EXIT_MEANING`);
      return [".TP", `\\fB${code}\\fR`, roff(meaning)];
    }),
    ".PP",
    roff("run and ssh -- command exit with the remote command's own status (128+n for a signal n)."),
    ".SH SEE ALSO",
    `\\fBgh\\fR(1), \\fBssh\\fR(1), \\fBrsync\\fR(1)`,
  ];
  const homepage = (pkg as { homepage?: string }).homepage;
  if (homepage) out.push(".PP", roff(homepage));
  return `${out.join("\n")}\n`;
}

if (import.meta.main) {
  const page = await renderManPage();
  if (process.argv.includes("--check")) {
    const current = readFileSync(MAN_PATH, "utf8");
    if (current !== page) {
      console.error("crabbox-cs.1 is not current: run npm run man");
      process.exit(1);
    }
    console.error("crabbox-cs.1 is current");
  } else {
    writeFileSync(MAN_PATH, page);
    console.error(`wrote ${MAN_PATH}`);
  }
}
