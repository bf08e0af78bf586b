/**
 * crabbox-cs entry point: dispatch to a command, map every failure to one
 * clear message on stderr (and one JSON document on stdout with --json) and
 * a documented exit code. Commands are imported lazily so that --version and
 * --help load almost nothing.
 */
import type { CommandDef } from "citty";
import { globalArgs, providerArgs } from "./config/flags.ts";
import { VERSION, COMMIT } from "./version.ts";

type LazyCommand = () => Promise<CommandDef<any>>;

export const COMMANDS: Record<string, { description: string; load: LazyCommand }> = {
  warmup: { description: "Lease a codespace and make it ready for commands", load: () => import("./commands/warmup.ts").then((m) => m.default) },
  run: { description: "Sync the working tree and run a command on a codespace", load: () => import("./commands/run.ts").then((m) => m.default) },
  ssh: { description: "Open an SSH session (or run one command) on a lease", load: () => import("./commands/ssh.ts").then((m) => m.default) },
  list: { description: "List leases with their live codespace state", load: () => import("./commands/list.ts").then((m) => m.default) },
  status: { description: "Show one lease and its codespace", load: () => import("./commands/status.ts").then((m) => m.default) },
  stop: { description: "Release a lease: stop, and delete when safe", load: () => import("./commands/stop.ts").then((m) => m.default) },
  cleanup: { description: "Release expired leases; report unclaimed look-alikes", load: () => import("./commands/cleanup.ts").then((m) => m.default) },
  doctor: { description: "Check gh, auth, repository, Codespaces access and local state", load: () => import("./commands/doctor.ts").then((m) => m.default) },
  completion: { description: "Print a shell completion script (bash, zsh or fish)", load: () => import("./commands/completion.ts").then((m) => m.default) },
};

/** Flags that take a value, so that `crabbox-cs --provider codespaces list` finds "list" as the command. */
const VALUE_FLAGS = new Set(
  Object.entries({ ...globalArgs, ...providerArgs })
    .filter(([, d]) => d.type === "string")
    .map(([n]) => `--${n}`),
);

function mainUsage(): string {
  const names = Object.keys(COMMANDS);
  const width = Math.max(...names.map((n) => n.length));
  return [
    `crabbox-cs ${VERSION} — GitHub Codespaces as short-lived Linux boxes`,
    "",
    "USAGE crabbox-cs <command> [flags] [-- command...]",
    "",
    "COMMANDS",
    "",
    ...names.map((n) => `  ${n.padEnd(width)}  ${COMMANDS[n]!.description}`),
    "",
    "FLAGS",
    "",
    "  -h, --help     Show help (also: crabbox-cs <command> --help)",
    "  -v, --version  Show version",
    "",
    "Docs: docs/commands.md · Exit codes: docs/exit-codes.md",
  ].join("\n");
}

/** Split argv into the command name and its arguments (flags may come before the command). */
export function splitCommand(argv: string[]): { name: string | undefined; rest: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a.startsWith("-")) {
      if (VALUE_FLAGS.has(a)) i++;
      continue;
    }
    if (a in COMMANDS) return { name: a, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    return { name: a, rest: argv.slice(i + 1) };
  }
  return { name: undefined, rest: argv };
}

function beforeDashDash(argv: string[]): string[] {
  const i = argv.indexOf("--");
  return i === -1 ? argv : argv.slice(0, i);
}

export async function main(argv: string[]): Promise<number> {
  const { name, rest } = splitCommand(argv);
  const flags = beforeDashDash(rest);
  if (!name) {
    if (flags.includes("--version") || flags.includes("-v")) {
      process.stdout.write(`crabbox-cs ${VERSION} (${COMMIT})\n`);
      return 0;
    }
    process.stdout.write(`${mainUsage()}\n`);
    return flags.length === 0 || flags.includes("--help") || flags.includes("-h") ? 0 : 2;
  }
  const entry = COMMANDS[name];
  const json = flags.includes("--json");
  if (!entry) {
    const { reportError } = await import("./output/report.ts");
    const { usageError } = await import("./errors.ts");
    const guess = Object.keys(COMMANDS).find((c) => c.startsWith(name.slice(0, 2)));
    return reportError(
      usageError(`unknown command "${name}"`, guess ? `did you mean: crabbox-cs ${guess}` : "run: crabbox-cs --help"),
      { json },
    );
  }
  const cmd = await entry.load();
  if (flags.includes("--help") || flags.includes("-h")) {
    const { renderCommandHelp } = await import("./output/help.ts");
    process.stdout.write(`${await renderCommandHelp(name, cmd)}\n`);
    return 0;
  }
  const { runCommand } = await import("citty");
  const { checkUnknownFlags } = await import("./config/flags.ts");
  const { reportError } = await import("./output/report.ts");
  try {
    const args = typeof cmd.args === "function" ? await cmd.args() : await cmd.args;
    checkUnknownFlags(rest, args ?? {});
    const { result } = await runCommand(cmd, { rawArgs: rest });
    return typeof result === "number" ? result : 0;
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
