/**
 * A one-line progress indicator for waits, on a TTY only (stderr). Piped or
 * --quiet: nothing; the state transitions are logged as ordinary lines anyway.
 */
import { elapsed } from "./format.ts";
import { useColor } from "./log.ts";
import type { Env } from "../runtime.ts";

export interface Progress {
  set(text: string): void;
  /** Erase the line (call before printing anything else). */
  clear(): void;
  stop(): void;
}

const FRAMES = ["◐", "◓", "◑", "◒"];

export function createProgress(opts: { env: Env; isTTY: boolean; quiet: boolean; now: () => number }): Progress {
  if (!opts.isTTY || opts.quiet || opts.env.CI) return { set() {}, clear() {}, stop() {} };
  const color = useColor(opts.env, opts.isTTY);
  const started = opts.now();
  let text = "";
  let frame = 0;
  let shown = false;
  const draw = () => {
    if (!text) return;
    const f = FRAMES[frame++ % FRAMES.length]!;
    const line = `${color ? `\u001b[36m${f}\u001b[39m` : f} ${text} (${elapsed(opts.now() - started)})`;
    process.stderr.write(`\r\u001b[K${line.slice(0, (process.stderr.columns || 80) - 1)}`);
    shown = true;
  };
  const timer = setInterval(draw, 120);
  timer.unref?.();
  const clear = () => {
    if (shown) process.stderr.write("\r\u001b[K");
    shown = false;
  };
  return {
    set(t) {
      text = t;
      draw();
    },
    clear,
    stop() {
      clearInterval(timer);
      clear();
    },
  };
}
