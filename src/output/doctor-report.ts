/**
 * `doctor`'s human report, within 80 columns: one row per check (`ok`,
 * `FAIL` or `skip`), its detail and `fix:` wrapped under it, then where each
 * setting comes from.
 */
const WIDTH = 80;

export interface ReportCheck {
  check: string;
  ok: boolean;
  detail: string;
  hint: string | null;
  code: string | null;
}

/** Words of `text` in lines of at most `width` columns; a word longer than a line is cut. */
export function wrapHard(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (let word of text.split(/\s+/).filter(Boolean)) {
    while ([...word].length > width) {
      if (line) {
        lines.push(line);
        line = "";
      }
      lines.push([...word].slice(0, width).join(""));
      word = [...word].slice(width).join("");
    }
    if (!word) continue;
    if (line && [...line].length + 1 + [...word].length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

export function doctorReport(checks: ReportCheck[], sources: string[]): string {
  const name = Math.max(...checks.map((c) => c.check.length));
  const indent = 6 + name + 2;
  const room = WIDTH - indent;
  const out: string[] = [];
  for (const c of checks) {
    const status = c.ok ? "ok" : c.code === "skipped" ? "skip" : "FAIL";
    // "skip" already says it: the reason follows ("needs auth, which failed").
    const detail = wrapHard(status === "skip" ? c.detail.replace(/^skipped: /, "") : c.detail, room);
    out.push(`${status.padEnd(6)}${c.check.padEnd(name)}  ${detail[0] ?? ""}`.trimEnd());
    for (const l of detail.slice(1)) out.push(" ".repeat(indent) + l);
    if (c.hint) {
      const fix = wrapHard(`fix: ${c.hint}`, room - 5);
      for (const [i, l] of fix.entries()) out.push(" ".repeat(indent + (i ? 5 : 0)) + l);
    }
  }
  // Where each setting comes from (a file, a variable, a flag, or the default).
  for (const line of sources) {
    const [first, ...rest] = wrapHard(line, WIDTH - 8);
    out.push(`config  ${first ?? ""}`);
    for (const l of rest) out.push(`        ${l}`);
  }
  return out.join("\n");
}
