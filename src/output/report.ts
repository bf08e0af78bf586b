/** Turn any failure into one clear, redacted message (+ a JSON document with --json) and an exit code. */
import { CrabboxError, Exit } from "../errors.ts";
import { isatty } from "../runtime.ts";
import { redact, redactValue } from "../redact.ts";
import { useColor } from "./log.ts";
import { stripControls } from "./sanitize.ts";
import { writeStderr, writeStdout } from "./write.ts";

function normalize(e: unknown): CrabboxError {
  if (e instanceof CrabboxError) return e;
  const err = e as { name?: string; code?: string; message?: string };
  if (err?.name === "CLIError") {
    return new CrabboxError({ code: "usage", message: String(err.message).replace(/\u001b\[[0-9;]*m/g, ""), hint: "see: crabbox-cs <command> --help", exit: Exit.usage });
  }
  return new CrabboxError({
    code: "unexpected",
    message: `unexpected failure: ${err?.message ?? String(e)}`,
    hint: "re-run with --verbose and report it if it persists",
    exit: Exit.unexpected,
    cause: e,
  });
}

export function formatError(raw: CrabboxError, color: boolean): string {
  const error = { message: stripControls(raw.message), why: raw.why && stripControls(raw.why), hint: raw.hint && stripControls(raw.hint) };
  const red = (s: string) => (color ? `\u001b[31m${s}\u001b[39m` : s);
  const dim = (s: string) => (color ? `\u001b[2m${s}\u001b[22m` : s);
  const lines = [`${red("error:")} ${error.message}`];
  if (error.why) lines.push(`  ${dim("why:")} ${error.why.split("\n").join("\n       ")}`);
  if (error.hint) lines.push(`  ${dim("fix:")} ${error.hint.split("\n").join("\n       ")}`);
  return redact(lines.join("\n"));
}

export function reportError(e: unknown, opts: { json: boolean; env?: Record<string, string | undefined> }): number {
  const error = normalize(e);
  const env = opts.env ?? process.env;
  writeStderr(`${formatError(error, useColor(env, isatty(2)))}\n`);
  if (env.CRABBOX_DEBUG && error.cause) writeStderr(`${redact(String((error.cause as Error)?.stack ?? error.cause))}\n`);
  if (opts.json) writeStdout(`${JSON.stringify(redactValue({ error: error.toJSON() }), null, 2)}\n`);
  return error.exit;
}
