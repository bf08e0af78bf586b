/**
 * crabbox-cs entry point: find the command, parse its arguments once
 * (commands/argv.ts), run it, and map every failure to one clear message on
 * stderr (and one JSON document on stdout with --json) and a documented exit
 * code. Commands are imported lazily so that --version loads almost nothing.
 */
import { commandWord } from "./commands/argv.ts";
import { COMMANDS } from "./commands/index.ts";
import { VERSION, COMMIT } from "./version.ts";

export { COMMANDS };

async function mainUsage(): Promise<string> {
  const { loadCommands } = await import("./commands/index.ts");
  const commands = await loadCommands();
  const width = Math.max(...commands.map((c) => c.meta.name.length));
  return [
    `crabbox-cs ${VERSION} — GitHub Codespaces as short-lived Linux boxes`,
    "",
    "USAGE crabbox-cs <command> [flags] [-- command...]",
    "",
    "COMMANDS",
    "",
    ...commands.map((c) => `  ${c.meta.name.padEnd(width)}  ${c.meta.description}`),
    "",
    "FLAGS",
    "",
    "  -h, --help     Show help (also: crabbox-cs <command> --help)",
    "  -v, --version  Show version",
    "",
    "Docs: docs/commands.md · Exit codes: docs/exit-codes.md",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  // `--version` alone loads nothing else (the flag table pulls in the config schemas).
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v")) {
    process.stdout.write(`crabbox-cs ${VERSION} (${COMMIT})\n`);
    return 0;
  }
  const { globalArgs } = await import("./config/flags.ts");
  const { name, rest } = commandWord(argv, globalArgs);
  const dash = rest.indexOf("--");
  const flags = dash === -1 ? rest : rest.slice(0, dash);
  if (!name) {
    if (flags.includes("--version") || flags.includes("-v")) {
      process.stdout.write(`crabbox-cs ${VERSION} (${COMMIT})\n`);
      return 0;
    }
    process.stdout.write(`${await mainUsage()}\n`);
    return flags.length === 0 || flags.includes("--help") || flags.includes("-h") ? 0 : 2;
  }
  const load = COMMANDS[name];
  const json = flags.includes("--json");
  const { reportError } = await import("./output/report.ts");
  if (!load) {
    const { usageError } = await import("./errors.ts");
    const guess = Object.keys(COMMANDS).find((c) => c.startsWith(name.slice(0, 2)));
    return reportError(
      usageError(`unknown command "${name}"`, guess ? `did you mean: crabbox-cs ${guess}` : "run: crabbox-cs --help"),
      { json },
    );
  }
  const cmd = await load();
  if (flags.includes("--help") || flags.includes("-h")) {
    const { renderCommandHelp } = await import("./output/help.ts");
    process.stdout.write(`${renderCommandHelp(cmd)}\n`);
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

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`crabbox-cs: unexpected failure: ${(e as Error)?.message ?? e}\n`);
      process.exitCode = 1;
    },
  );
}
