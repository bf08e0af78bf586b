/**
 * What every command starts from: the runtime, the logger, the resolved
 * config and output helpers. Built once per invocation.
 */
import { describeSources, loadConfig, type LoadOptions } from "./config/load.ts";
import type { Config } from "./config/types.ts";
import { createLogger, type Logger } from "./output/log.ts";
import { redact, redactValue } from "./redact.ts";
import { usageError } from "./errors.ts";
import { stripControls } from "./output/sanitize.ts";
import { createRuntime, type Runtime } from "./runtime.ts";
import { writeStdout } from "./output/write.ts";

export interface Context {
  runtime: Runtime;
  config: Config;
  log: Logger;
  json: boolean;
  verbose: boolean;
  quiet: boolean;
  /** Print data (not progress) to stdout. */
  print(text: string): void;
  /** Print the one JSON document of this invocation to stdout. */
  printJson(value: unknown): void;
}

export interface ContextArgs {
  json?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  [key: string]: unknown;
}

export async function createContext(args: ContextArgs, runtime: Runtime = createRuntime(), load: LoadOptions = {}): Promise<Context> {
  if (args.quiet && args.verbose) throw usageError("--quiet and --verbose contradict each other", "pass only one of them");
  const log = createLogger({
    env: runtime.env,
    isTTY: runtime.tty.stderr,
    verbose: Boolean(args.verbose),
    quiet: Boolean(args.quiet),
  });
  // --verbose: every child process and API request is traced on stderr (redacted by the logger).
  if (args.verbose) runtime.trace = (line) => log.debug(line);
  const config = await loadConfig(runtime, args, load);
  for (const w of config.warnings) log.warn(w);
  if (args.verbose) {
    log.debug(`config: files read: ${config.files?.repo ?? "no repository file"}, ${config.files?.user ?? "no user file"}`);
    for (const line of describeSources(config, { all: true })) log.debug(`config: ${line}`);
  }
  return {
    runtime,
    config,
    log,
    json: Boolean(args.json),
    verbose: Boolean(args.verbose),
    quiet: Boolean(args.quiet),
    print: (text) => void writeStdout(stripControls(redact(text.endsWith("\n") ? text : `${text}\n`))),
    printJson: (value) => void writeStdout(`${JSON.stringify(redactValue(value), null, 2)}\n`),
  };
}
