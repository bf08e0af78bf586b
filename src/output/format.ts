/** Human rendering helpers: aligned tables, relative times, durations. */

export function relativeTime(iso: string | null | undefined, now: number): string {
  if (!iso) return "-";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "-";
  const d = t - now;
  const abs = Math.abs(d);
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "m"],
    [1000, "s"],
  ];
  let text = "now";
  for (const [ms, u] of units) {
    if (abs >= ms) {
      text = `${Math.floor(abs / ms)}${u}`;
      break;
    }
  }
  if (text === "now") return "just now";
  return d < 0 ? `${text} ago` : `in ${text}`;
}

export function elapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m}m${String(s).padStart(2, "0")}s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export interface TableOptions {
  /** Keep lines within this many columns (default 80) by shortening column `shrink`. */
  maxWidth?: number;
  /** Index of the column to shorten (with "…") when a line is too wide. */
  shrink?: number;
  /** Wrap the last column onto indented continuation lines instead of overflowing. */
  wrapLast?: boolean;
}

/** Aligned columns that fit `maxWidth`; cells are made single-line. */
export function table(headers: string[], rows: string[][], opts: TableOptions = {}): string {
  const maxWidth = opts.maxWidth ?? 80;
  const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");
  const all = [headers, ...rows.map((r) => r.map(clean))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const last = headers.length - 1;
  const lead = () => widths.slice(0, last).reduce((a, w) => a + w + 2, 0);
  const lastWidth = Math.max(...all.map((r) => (r[last] ?? "").length));
  if (opts.shrink !== undefined && opts.shrink !== last) {
    const over = lead() + (opts.wrapLast ? Math.min(lastWidth, 20) : lastWidth) - maxWidth;
    if (over > 0) widths[opts.shrink] = Math.max(8, widths[opts.shrink]! - over);
  }
  const fit = (c: string, w: number) => (c.length > w ? `${c.slice(0, Math.max(0, w - 1))}…` : c.padEnd(w));
  const out: string[] = [];
  for (const r of all) {
    const head = r.slice(0, last).map((c, i) => fit(c ?? "", widths[i]!)).join("  ");
    const prefix = last > 0 ? `${head}  ` : "";
    let tail = r[last] ?? "";
    const room = maxWidth - prefix.length;
    if (opts.wrapLast && tail.length > room && room >= 20) {
      const lines: string[] = [];
      let line = "";
      for (const word of tail.split(" ")) {
        if (line && line.length + 1 + word.length > room) {
          lines.push(line);
          line = word;
        } else line = line ? `${line} ${word}` : word;
      }
      if (line) lines.push(line);
      out.push(`${prefix}${lines[0] ?? ""}`.trimEnd());
      for (const l of lines.slice(1)) out.push(`${" ".repeat(prefix.length)}${l}`);
      continue;
    }
    out.push(`${prefix}${tail}`.trimEnd());
  }
  return out.join("\n");
}
