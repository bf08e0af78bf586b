/**
 * Progress, warnings and errors go to stderr through consola; stdout is for
 * data only. Everything printed is redacted. Colour only on a TTY without
 * NO_COLOR (and never when TERM=dumb).
 */
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { redact } from "../redact.ts";
import { stripControls } from "./sanitize.ts";
import type { Env } from "../runtime.ts";
import { writeStderr } from "./write.ts";

export type Logger = ConsolaInstance;

export interface LogOptions {
  env: Env;
  isTTY: boolean;
  verbose?: boolean;
  quiet?: boolean;
  write?: (text: string) => void;
}

export function useColor(env: Env, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0") return true;
  return isTTY;
}

const ICONS: Record<string, [string, string]> = {
  // type: [symbol, ansi colour]
  error: ["✖", "31"],
  fatal: ["✖", "31"],
  warn: ["⚠", "33"],
  success: ["✔", "32"],
  ready: ["✔", "32"],
  start: ["◐", "36"],
  info: ["ℹ", "36"],
  debug: ["⚙", "90"],
  trace: ["→", "90"],
  fail: ["✖", "31"],
};

const PLAIN_PREFIX: Record<string, string> = {
  error: "error: ",
  fatal: "error: ",
  fail: "error: ",
  warn: "warning: ",
  debug: "debug: ",
  trace: "trace: ",
};

/** util.format's text for log arguments; node:util (slow to load) only for something other than one string. */
function format(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === "string") return args[0];
  return (require("node:util") as typeof import("node:util")).formatWithOptions({ colors: false }, ...args);
}

export function createLogger(opts: LogOptions): Logger {
  const color = useColor(opts.env, opts.isTTY);
  const write = opts.write ?? writeStderr;
  const level = opts.quiet ? 1 : opts.verbose ? 4 : 3;
  return createConsola({
    level,
    reporters: [
      {
        log(obj: LogObject) {
          const text = stripControls(redact(format(obj.args)));
          let line: string;
          if (color) {
            const icon = ICONS[obj.type];
            line = icon ? `\u001b[${icon[1]}m${icon[0]}\u001b[39m ${text}` : text;
          } else {
            line = `${PLAIN_PREFIX[obj.type] ?? ""}${text}`;
          }
          write(line.endsWith("\n") ? line : `${line}\n`);
        },
      },
    ],
  });
}
