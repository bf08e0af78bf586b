/**
 * The command table, in the order `crabbox-cs --help` lists them. Commands
 * load lazily, so that --version loads almost nothing; each command's
 * description, args and passthrough live in its own file (its `meta`).
 */
import type { Command } from "./argv.ts";

export const COMMANDS: Record<string, () => Promise<Command<any>>> = {
  warmup: () => import("./warmup.ts").then((m) => m.default),
  run: () => import("./run.ts").then((m) => m.default),
  prewarm: () => import("./prewarm.ts").then((m) => m.default),
  pool: () => import("./pool.ts").then((m) => m.default),
  shard: () => import("./shard.ts").then((m) => m.default),
  ssh: () => import("./ssh.ts").then((m) => m.default),
  cp: () => import("./cp.ts").then((m) => m.default),
  list: () => import("./list.ts").then((m) => m.default),
  status: () => import("./status.ts").then((m) => m.default),
  stop: () => import("./stop.ts").then((m) => m.default),
  cleanup: () => import("./cleanup.ts").then((m) => m.default),
  doctor: () => import("./doctor.ts").then((m) => m.default),
  completion: () => import("./completion.ts").then((m) => m.default),
};

/** Every command, loaded (for --help and completion). */
export async function loadCommands(): Promise<Command<any>[]> {
  return Promise.all(Object.values(COMMANDS).map((load) => load()));
}
