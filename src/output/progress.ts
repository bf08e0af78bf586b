/**
 * A one-line progress indicator for waits, on a TTY only (stderr). Piped or
 * --quiet: nothing; the state transitions are logged as ordinary lines anyway.
 */
import { elapsed } from "./format.ts";
import { useColor } from "./log.ts";
import type { Env } from "../runtime.ts";
import { writeStderr } from "./write.ts";

export interface Progress {
  /** Show `text`; `shorten` is the part of it (a long name) to shorten first when the line is too wide. */
  set(text: string, opts?: { shorten?: string }): void;
  /** Erase the line (call before printing anything else). */
  clear(): void;
  stop(): void;
}

const FRAMES = ["◐", "◓", "◑", "◒"];

const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** Columns a string takes on a terminal: ANSI escape sequences take none; one per code point otherwise. */
export function visibleWidth(s: string): number {
  return [...s.replace(ANSI, "")].length;
}

export interface ProgressLineInput {
  /** The spinner frame, possibly wrapped in colour codes. */
  frame: string;
  text: string;
  /** The part of `text` to shorten first (a codespace name): the state and elapsed time are kept. */
  shorten?: string;
  elapsed: string;
  /** Terminal width; the line uses at most columns - 1 (no wrap in the last column). */
  columns: number;
}

/**
 * `◐ waiting for <name> to be Available: Provisioning (3.2s)` within the
 * terminal's width, measured without colour codes. Too wide: the name is
 * shortened (with "…") first; only if that is not enough does the start of
 * the text give way ("…be Available: Provisioning (3.2s)"). The end of the
 * text (the state) and the elapsed time are never cut.
 */
export function progressLine(input: ProgressLineInput): string {
  const max = Math.max(10, input.columns - 1);
  const build = (text: string) => `${input.frame} ${text} (${input.elapsed})`;
  let text = input.text;
  let over = visibleWidth(build(text)) - max;
  if (over <= 0) return build(text);
  const name = input.shorten;
  if (name && text.includes(name)) {
    const chars = [...name];
    const keep = Math.max(4, chars.length - over - 1);
    if (keep < chars.length) text = text.replace(name, `${chars.slice(0, keep).join("")}…`);
    over = visibleWidth(build(text)) - max;
    if (over <= 0) return build(text);
  }
  const chars = [...text];
  return build(`…${chars.slice(Math.min(chars.length, over + 1)).join("")}`);
}

/** `since`: when the wait began (default: now); the elapsed time counts from it. */
export function createProgress(opts: { env: Env; isTTY: boolean; quiet: boolean; now: () => number; since?: number }): Progress {
  if (!opts.isTTY || opts.quiet || opts.env.CI) return { set() {}, clear() {}, stop() {} };
  const color = useColor(opts.env, opts.isTTY);
  const started = opts.since ?? opts.now();
  let text = "";
  let shorten: string | undefined;
  let frame = 0;
  let shown = false;
  const draw = () => {
    if (!text) return;
    const f = FRAMES[frame++ % FRAMES.length]!;
    const line = progressLine({
      frame: color ? `\u001b[36m${f}\u001b[39m` : f,
      text,
      shorten,
      elapsed: elapsed(opts.now() - started),
      columns: process.stderr.columns || 80,
    });
    writeStderr(`\r\u001b[K${line}`);
    shown = true;
  };
  const timer = setInterval(draw, 120);
  timer.unref?.();
  const clear = () => {
    if (shown) writeStderr("\r\u001b[K");
    shown = false;
  };
  return {
    set(t, o) {
      text = t;
      shorten = o?.shorten;
      draw();
    },
    clear,
    stop() {
      clearInterval(timer);
      clear();
    },
  };
}
