/**
 * crabbox-cs entry point: find the command, parse its arguments once
 * (commands/argv.ts), run it, and map every failure to one clear message on
 * stderr (and one JSON document on stdout with --json) and a documented exit
 * code. Commands are imported lazily so that --version loads almost nothing.
 */
import { commandWord } from "./commands/argv.ts";
import { COMMANDS } from "./commands/index.ts";
import { VERSION, COMMIT } from "./version.ts";
import { normalJitSoon } from "./util/jit.ts";

export { COMMANDS };

/** Text on stdout (output/write.ts, imported when needed: the entry point stays small). */
async function printOut(text: string): Promise<void> {
  (await import("./output/write.ts")).writeStdout(text);
}

/** Help topics besides the commands (`crabbox-cs help exit-codes`). */
const TOPICS = ["exit-codes"] as const;

async function mainUsage(): Promise<string> {
  const { loadCommands } = await import("./commands/index.ts");
  const { LEARN_MORE } = await import("./output/help.ts");
  const commands = await loadCommands();
  const width = Math.max(...commands.map((c) => c.meta.name.length), "help".length);
  return [
    `crabbox-cs ${VERSION} — GitHub Codespaces as short-lived Linux boxes`,
    "",
    "USAGE crabbox-cs <command> [flags] [-- command...]",
    "",
    "COMMANDS",
    "",
    ...commands.map((c) => `  ${c.meta.name.padEnd(width)}  ${c.meta.description}`),
    `  ${"help".padEnd(width)}  Show help for a command (crabbox-cs help run), or: help exit-codes`,
    "",
    "FLAGS",
    "",
    "  -h, --help     Show help (also: crabbox-cs <command> --help)",
    "  -v, --version  Show version",
    "",
    "LEARN MORE",
    "",
    `  ${LEARN_MORE}`,
  ].join("\n");
}

/** `unknown command "x"`, with the nearest command or topic when one is close. */
async function unknownCommand(name: string, help: boolean) {
  const { CrabboxError, Exit } = await import("./errors.ts");
  const { suggest } = await import("./util/suggest.ts");
  const guess = suggest(name, [...Object.keys(COMMANDS), ...(help ? TOPICS : ["help"])]);
  return new CrabboxError({
    code: "unknown_command",
    message: `unknown ${help ? "help topic" : "command"} "${name}"`,
    hint: guess ? `did you mean: crabbox-cs ${help ? "help " : ""}${guess}` : "list the commands: crabbox-cs help",
    exit: Exit.usage,
    details: { command: name, ...(guess ? { suggestion: guess } : {}) },
  });
}

/** No command word: help, version, or a usage error (unknown flag, or flags without a command). */
async function noCommand(flags: string[], rest: string[]): Promise<Error | "help" | "version"> {
  if (flags.length === 0 && rest.length === 0) return "help";
  if (flags.includes("--help") || flags.includes("-h")) return "help";
  if (flags.includes("--version") || flags.includes("-v")) return "version";
  const { parseArgv } = await import("./commands/argv.ts");
  const { usageError } = await import("./errors.ts");
  const { globalArgs } = await import("./config/flags.ts");
  try {
    parseArgv(rest, { ...globalArgs, version: { type: "boolean", alias: "v" }, help: { type: "boolean", alias: "h" } }, true);
  } catch (e) {
    return e as Error;
  }
  return usageError("no command given", "crabbox-cs <command> [flags]; list the commands: crabbox-cs help");
}


export async function main(argv: string[]): Promise<number> {
  // `--version` alone loads nothing else (the flag table pulls in the config schemas), and prints
  // with console.log: touching process.stdout builds a node stream, which costs more than the rest.
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    console.log(`crabbox-cs ${VERSION} (${COMMIT})`);
    return 0;
  }
  normalJitSoon();
  // `run …`: its git status starts first of all (lifecycle/head-start.ts; the flags are the words
  // before `--`), and one still running when the run ends is ended with it.
  if (argv[0] === "run") {
    const early = await import("./lifecycle/head-start.ts");
    const end = argv.indexOf("--");
    await early.headStart(argv.slice(1, end === -1 ? argv.length : end), end === -1 ? [] : argv.slice(end + 1));
    try {
      return await dispatch(argv);
    } finally {
      early.endRunStatuses();
    }
  }
  return dispatch(argv);
}

/** The command word, then its help, or its parsed arguments and its run; every failure reported. */
async function dispatch(argv: string[]): Promise<number> {
  const { globalArgs } = await import("./config/flags.ts");
  const { name, rest } = commandWord(argv, globalArgs);
  const dash = rest.indexOf("--");
  const flags = dash === -1 ? rest : rest.slice(0, dash);
  const json = flags.includes("--json");
  const { reportError } = await import("./output/report.ts");
  if (!name) {
    const what = await noCommand(flags, rest);
    if (what === "version") {
      await printOut(`crabbox-cs ${VERSION} (${COMMIT})\n`);
      return 0;
    }
    if (what === "help") {
      await printOut(`${await mainUsage()}\n`);
      return 0;
    }
    return reportError(what, { json });
  }
  if (name === "help") return help(rest, json);
  const load = COMMANDS[name];
  if (!load) return reportError(await unknownCommand(name, false), { json });
  const cmd = await load();
  const all = flags.includes("--help-all");
  if (all || flags.includes("--help") || flags.includes("-h")) {
    const { renderCommandHelp } = await import("./output/help.ts");
    await printOut(`${renderCommandHelp(cmd, { all })}\n`);
    return 0;
  }
  try {
    const { parseArgv } = await import("./commands/argv.ts");
    const { values, passthrough } = parseArgv(rest, cmd.args, Boolean(cmd.passthrough));
    return await cmd.run({ args: values, passthrough });
  } catch (e) {
    return reportError(e, { json });
  }
}

/** `crabbox-cs help [COMMAND|TOPIC] [--all]`, as in gh. */
async function help(rest: string[], json: boolean): Promise<number> {
  const { reportError } = await import("./output/report.ts");
  const { parseArgv } = await import("./commands/argv.ts");
  let topic: string | undefined;
  let all = false;
  try {
    const parsed = parseArgv(rest, { topic: { type: "positional", required: false }, all: { type: "boolean" }, json: { type: "boolean" } });
    topic = parsed.values.topic as string | undefined;
    all = Boolean(parsed.values.all);
  } catch (e) {
    return reportError(e, { json });
  }
  const { renderCommandHelp, renderExitCodes } = await import("./output/help.ts");
  if (!topic) await printOut(`${await mainUsage()}\n`);
  else if (topic === "exit-codes") await printOut(`${renderExitCodes()}\n`);
  else if (COMMANDS[topic]) await printOut(`${renderCommandHelp(await COMMANDS[topic]!(), { all })}\n`);
  else return reportError(await unknownCommand(topic, true), { json });
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    async (e) => {
      const { writeStderr } = await import("./output/write.ts");
      writeStderr(`crabbox-cs: unexpected failure: ${(e as Error)?.message ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
