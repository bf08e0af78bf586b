/** Human rendering helpers: aligned tables, relative times, durations. */

/**
 * "in 1h 30m", "2d 3h ago", "45s ago": two units from an hour up, to the
 * nearest minute (a 90-minute TTL reads "in 1h 30m", not "in 1h").
 */
export function relativeTime(iso: string | null | undefined, now: number): string {
  if (!iso) return "-";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return "-";
  const d = t - now;
  const abs = Math.abs(d);
  if (abs < 1000) return "just now";
  let text: string;
  if (abs < 60_000) text = `${Math.floor(abs / 1000)}s`;
  else {
    const minutes = Math.round(abs / 60_000);
    const two = (big: number, bigUnit: string, small: number, smallUnit: string) => (small ? `${big}${bigUnit} ${small}${smallUnit}` : `${big}${bigUnit}`);
    if (minutes < 60) text = `${minutes}m`;
    else if (minutes < 1440) text = two(Math.floor(minutes / 60), "h", minutes % 60, "m");
    else text = two(Math.floor(minutes / 1440), "d", Math.floor((minutes % 1440) / 60), "h");
  }
  return d < 0 ? `${text} ago` : `in ${text}`;
}

/** When a lease expires, for people: a kept lease never does (cleanup leaves it alone). */
export function expiryText(view: { keep: boolean; expiresAt: string }, now: number): string {
  return view.keep ? "never (kept)" : relativeTime(view.expiresAt, now);
}

/** The codespace's git state in words that cannot contradict each other. */
export function gitStatusText(g: { hasUncommittedChanges: boolean; hasUnpushedChanges: boolean; ahead: number }): string {
  const unpushed = g.hasUnpushedChanges || g.ahead > 0;
  if (!g.hasUncommittedChanges && !unpushed) return "clean (nothing uncommitted or unpushed)";
  const commits = g.ahead > 0 ? `${g.ahead} unpushed commit${g.ahead === 1 ? "" : "s"}` : "unpushed commits";
  if (g.hasUncommittedChanges && unpushed) return `uncommitted changes and ${commits}`;
  return g.hasUncommittedChanges ? "uncommitted changes" : `all changes committed; ${commits}`;
}

/**
 * `stop`'s outcome in words, each fact said once: "stopped, not deleted (kept
 * lease)", not "stopped (not deleted) — kept lease: stopped, not deleted".
 */
export function releaseText(outcome: { action: string; reason: string }): string {
  const { action, reason } = outcome;
  switch (action) {
    case "deleted":
      return "deleted (it had no unsaved work)";
    case "stopped":
      return reason.startsWith("kept lease") ? "stopped, not deleted (kept lease)" : `stopped, not deleted (${reason})`;
    case "kept-dirty":
      return `stopped, not deleted (${reason})`;
    case "would-delete":
      return `would delete (${reason})`;
    case "would-stop":
      return reason.startsWith("kept lease") ? "would stop, not delete (kept lease)" : `would stop (${reason})`;
    default:
      return `${action} (${reason})`;
  }
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
