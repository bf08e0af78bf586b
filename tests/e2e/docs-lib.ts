/**
 * Parsers shared by the docs and completion tests: docs/commands.md by its
 * format contract, `--help` output, and jq one-liners quoted in markdown.
 */
// ------------------------------------------------------------------ docs/commands.md

export interface DocumentedCommand {
  /** Flags from the section's "flag" table(s). */
  own: Set<string>;
  /** "all" = every flag of "## Common flags"; else the flags named on the "Common flags:" line. */
  common: "all" | Set<string>;
  saysNoOwnFlags: boolean;
}

const FLAG_RE = /--[a-z0-9][a-z0-9-]*/g;

function cells(row: string): string[] {
  return row.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map((c) => c.trim());
}

/** Flags in the first column of every table whose header's first cell is "flag". */
function flagTables(lines: string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.trim().startsWith("|")) continue;
    const table: string[] = [];
    while (i < lines.length && lines[i]!.trim().startsWith("|")) table.push(lines[i++]!);
    if (cells(table[0]!)[0]?.toLowerCase() !== "flag") continue;
    for (const row of table.slice(2)) for (const f of cells(row)[0]!.match(FLAG_RE) ?? []) out.add(f);
  }
  return out;
}

/**
 * Parse docs/commands.md by its format contract (the HTML comment at its top):
 * "## <name>" sections; a "flag" table per section; a "Common flags:" line.
 */
export function parseCommandsDoc(md: string): { commands: Map<string, DocumentedCommand>; common: Set<string> } {
  const noComments = md.replace(/<!--[\s\S]*?-->/g, "");
  // Drop fenced code blocks: their lines are examples, not documentation structure.
  const text = noComments.replace(/^```[\s\S]*?^```/gm, "");
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split("\n")) {
    const h = /^## (.+)$/.exec(line);
    if (h) {
      current = [];
      sections.set(h[1]!.trim(), current);
    } else current?.push(line);
  }
  const commonLines = sections.get("Common flags");
  if (!commonLines) throw new Error('docs/commands.md has no "## Common flags" section');
  const common = flagTables(commonLines);
  const commands = new Map<string, DocumentedCommand>();
  for (const [name, lines] of sections) {
    if (name === "Common flags") continue;
    const commonLine = lines.find((l) => /^Common flags:/.test(l));
    if (!commonLine) throw new Error(`docs/commands.md section "${name}" has no "Common flags:" line`);
    const rest = commonLine.replace(/^Common flags:\s*/, "");
    commands.set(name, {
      own: flagTables(lines),
      common: /^all\b/.test(rest) ? "all" : new Set(rest.match(FLAG_RE) ?? []),
      saysNoOwnFlags: lines.some((l) => l.trim() === "No flags of its own."),
    });
  }
  return { commands, common };
}

/** `crabbox-cs <cmd> --help` → own flags (FLAGS) and common ones (GLOBAL FLAGS, PROVIDER FLAGS). */
export function parseHelp(help: string): { own: Set<string>; common: Set<string> } {
  const own = new Set<string>();
  const common = new Set<string>();
  let into: Set<string> | undefined;
  for (const line of help.split("\n")) {
    if (line === "FLAGS") into = own;
    else if (line.startsWith("GLOBAL FLAGS") || line.startsWith("PROVIDER FLAGS")) into = common;
    else if (/^[A-Z]/.test(line)) into = undefined;
    else if (into) {
      const m = /^ {2}(?:-[A-Za-z], )*(--[a-z0-9][a-z0-9-]*)/.exec(line);
      if (m) into.add(m[1]!);
    }
  }
  return { own, common };
}

/** The example lease every doc uses; replaced by the real one before running. */
export const EXAMPLE = { leaseId: "cbx_7hq2m4xk9p3a", slug: "amber-crab", codespace: "monalisa-hello-world-g4w7rqx5v2" };
export const JQ_LINE_RE = /^crabbox-cs\s.*--json.*\|\s*jq\s/;

export interface Transcript {
  file: string;
  command: string;
  /** Expected stdout; null when the doc gives none (a one-liner outside a console block). */
  expected: string | null;
}

/**
 * jq one-liners in markdown: in ```console blocks, "$ cmd" lines followed by their output;
 * in other fenced blocks, bare lines (their output is not stated: they must merely run).
 */
export function jqTranscripts(file: string, md: string): Transcript[] {
  const out: Transcript[] = [];
  const blocks = md.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm);
  for (const [, lang, body] of blocks) {
    const lines = body!.replace(/\n$/, "").split("\n");
    if (lang === "console") {
      for (let i = 0; i < lines.length; i++) {
        const cmd = lines[i]!.startsWith("$ ") ? lines[i]!.slice(2) : undefined;
        if (!cmd) continue;
        const output: string[] = [];
        while (i + 1 < lines.length && !lines[i + 1]!.startsWith("$ ")) output.push(lines[++i]!);
        if (JQ_LINE_RE.test(cmd)) out.push({ file, command: cmd, expected: output.join("\n") });
      }
    } else {
      for (const line of lines) {
        const cmd = line.replace(/\s+#.*$/, "").trim();
        if (JQ_LINE_RE.test(cmd)) out.push({ file, command: cmd, expected: null });
      }
    }
  }
  return out;
}

