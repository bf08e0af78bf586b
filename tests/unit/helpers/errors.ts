/** Assertions over CrabboxError shapes shared by unit tests. */
import { expect } from "bun:test";
import { CrabboxError, Exit } from "../../../src/errors.ts";

/** Run `fn`, expect it to throw a usage error (exit 2), and return that error. */
export function usageErrorOf(fn: () => unknown): CrabboxError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CrabboxError);
    expect((e as CrabboxError).exit).toBe(Exit.usage);
    return e as CrabboxError;
  }
  throw new Error("expected a usage error");
}
