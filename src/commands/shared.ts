/** Flag sets and small helpers shared by several commands. */
import type { ArgsDef } from "citty";
import { globalArgs, providerArgs } from "../config/flags.ts";
import { parseDuration } from "../config/duration.ts";
import { usageError } from "../errors.ts";

export const commonArgs = { ...globalArgs, ...providerArgs } satisfies ArgsDef;

export const leaseArgs = {
  keep: { type: "boolean", description: "Keep the lease: release stops the codespace instead of deleting it" },
  ttl: { type: "string", description: "How long until cleanup may release the lease (Go duration)", default: "90m", valueHint: "duration" },
  timeout: { type: "string", description: "Give up waiting for the codespace after this long", default: "10m", valueHint: "duration" },
  pr: { type: "string", description: "Create the codespace from this pull request number", valueHint: "number" },
} satisfies ArgsDef;

export const idArg = {
  id: { type: "string", description: "Lease id, slug, or claimed codespace name", valueHint: "lease" },
} satisfies ArgsDef;

export function durationArg(name: string, value: unknown): number {
  try {
    return parseDuration(String(value));
  } catch (e) {
    throw usageError(`bad --${name} "${String(value)}": ${(e as Error).message}`, `use a Go duration such as 30m, 1h, 90s`);
  }
}

export function prArg(value: unknown): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw usageError(`bad --pr "${String(value)}": expected a pull request number`);
  return n;
}

/** The words after the first bare "--". */
export function passthrough(rawArgs: string[]): string[] {
  const i = rawArgs.indexOf("--");
  return i === -1 ? [] : rawArgs.slice(i + 1);
}

/** All values of a repeatable string flag (`--env A --env B,C`), before "--". */
export function repeated(rawArgs: string[], flag: string): string[] {
  const out: string[] = [];
  const end = rawArgs.indexOf("--");
  const args = end === -1 ? rawArgs : rawArgs.slice(0, end);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === `--${flag}`) {
      const v = args[i + 1];
      if (v === undefined) throw usageError(`--${flag} needs a value`);
      out.push(...v.split(","));
      i++;
    } else if (a.startsWith(`--${flag}=`)) {
      out.push(...a.slice(flag.length + 3).split(","));
    }
  }
  return out.map((s) => s.trim()).filter(Boolean);
}

/** The lease reference from a positional or --id. */
export function leaseRefArg(args: { id?: unknown; lease?: unknown }, command: string): string {
  const ref = (args.id as string | undefined) || (args.lease as string | undefined);
  if (!ref) throw usageError(`${command} needs a lease`, `crabbox-cs ${command} <lease-id-or-slug>   (see: crabbox-cs list)`);
  return ref;
}
