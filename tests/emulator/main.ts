/**
 * Standalone emulator:
 *
 *   bun tests/emulator/main.ts [--port N] [--handshake-delay MS] [--state-dir DIR]
 *                              [--realistic-delays] [--create-delay MS] [--start-delay MS] [--stop-delay MS]
 *
 * Prints the lines to paste into a shell (the token itself is never printed:
 * GH_TOKEN is read from the gh stand-in), then runs until SIGINT/SIGTERM.
 */
import { parseArgs } from "node:util";
import { REALISTIC_DELAYS, startEmulator, type Delays } from "./index.ts";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    port: { type: "string" },
    "handshake-delay": { type: "string" },
    "state-dir": { type: "string" },
    "realistic-delays": { type: "boolean" },
    "create-delay": { type: "string" },
    "start-delay": { type: "string" },
    "stop-delay": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  process.stdout.write(
    "usage: bun tests/emulator/main.ts [--port N] [--handshake-delay MS] [--state-dir DIR]\n" +
      "                                  [--realistic-delays] [--create-delay MS] [--start-delay MS] [--stop-delay MS]\n",
  );
  process.exit(0);
}

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number.parseInt(v, 10);
  if (!Number.isInteger(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative integer, got ${JSON.stringify(v)}\n`);
    process.exit(2);
  }
  return n;
}

const delays: Partial<Delays> = values["realistic-delays"] ? { ...REALISTIC_DELAYS } : {};
for (const [flag, key] of [["create-delay", "provisionMs"], ["start-delay", "startMs"], ["stop-delay", "stopMs"]] as const) {
  const ms = int(flag, values[flag]);
  if (ms !== undefined) delays[key] = ms;
}

const emu = await startEmulator({
  delays,
  port: int("port", values.port),
  handshakeDelayMs: int("handshake-delay", values["handshake-delay"]),
  stateDir: values["state-dir"],
});

const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
process.stderr.write(
  `Codespaces emulator listening on ${emu.url} (user ${emu.user.login}, repo octo-org/hello-world, state ${emu.stateDir})\n` +
    "Paste into a shell:\n",
);
process.stdout.write(
  [
    `export GITHUB_API_URL=${q(emu.url)} CRABBOX_GITHUB_CODESPACES_API_URL=${q(emu.url)}`,
    `export PATH=${q(emu.ghDir)}:"$PATH"`,
    `export GH_TOKEN="$(GH_TOKEN= GITHUB_TOKEN= ${q(emu.ghPath)} auth token)"`,
    `export GH_ENTERPRISE_TOKEN="$GH_TOKEN"`,
    "",
  ].join("\n"),
);
process.stderr.write(`Control surface: curl -s ${emu.url}/_emulator/codespaces | jq . ; Ctrl-C to stop.\n`);

let stopping = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    await emu.stop();
    process.exit(0);
  });
}
