/**
 * node:fs/promises, loaded on first use: the module costs start-up time, and
 * a warm `run --id` makes no asynchronous file call (its small reads and
 * writes are synchronous; see fsutil.ts).
 */
type Fsp = typeof import("node:fs/promises");

let loaded: Fsp | undefined;

export function fsp(): Fsp {
  loaded ??= require("node:fs/promises") as Fsp;
  return loaded;
}
