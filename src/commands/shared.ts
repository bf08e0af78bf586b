/** Arg sets and small helpers shared by several commands. */
import { DurationError, durationErrorFor, parseDuration } from "../config/duration.ts";
import { usageError } from "../errors.ts";
import type { ArgsDef } from "./argv.ts";

export { commonArgs } from "../config/flags.ts";

export const leaseArgs = {
  keep: { type: "boolean", description: "Keep the lease: release stops the codespace instead of deleting it" },
  ttl: { type: "string", description: "How long until cleanup may release the lease (Go duration)", default: "90m", valueHint: "duration" },
  timeout: { type: "string", description: "Give up waiting for the codespace after this long", default: "10m", valueHint: "duration" },
  pr: { type: "string", description: "Create the codespace from this pull request number", valueHint: "number" },
} as const satisfies ArgsDef;

export const idArg = {
  id: { type: "string", description: "Lease id, slug, or claimed codespace name", valueHint: "lease" },
} as const satisfies ArgsDef;

/** A lease named by the positional LEASE or by --id (ssh, status, stop). */
export const leaseRefArgs = {
  lease: { type: "positional", required: false, description: idArg.id.description },
  ...idArg,
} as const satisfies ArgsDef;

/** A duration flag's value in milliseconds; a bad one is the same `bad_duration` error as in config or the environment. */
export function durationArg(name: string, value: unknown): number {
  try {
    return parseDuration(String(value));
  } catch (e) {
    if (e instanceof DurationError) throw durationErrorFor(e, `--${name}`);
    throw e;
  }
}

export function prArg(value: unknown): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw usageError(`bad --pr "${String(value)}": expected a pull request number`);
  return n;
}

/** The lease reference from the positional or --id. */
export function leaseRefArg(args: { id?: string; lease?: string }, command: string): string {
  const ref = args.id || args.lease;
  if (!ref) throw usageError(`${command} needs a lease`, `crabbox-cs ${command} <lease-id-or-slug>   (see: crabbox-cs list)`);
  return ref;
}
