/**
 * One error type for everything the user can act on. A CrabboxError carries a
 * stable `code`, the exit status the CLI returns, what failed (`message`), why
 * (`why`) and the next step (`hint`). Messages are redacted when printed.
 */

/** Exit codes are a public contract: see docs/exit-codes.md. */
export const Exit = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  refused: 5,
  timeout: 6,
  sshUnusable: 7,
  api: 8,
  sshConnect: 255,
} as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

export interface ErrorInit {
  /** Stable machine-readable code, e.g. "auth_missing_scope". */
  code: string;
  /** What failed, one line. */
  message: string;
  /** Why it failed, one line (optional). */
  why?: string;
  /** The exact next step: a command, a flag, a snippet. */
  hint?: string;
  exit: ExitCode;
  /** Extra structured facts for --json (never secrets). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class CrabboxError extends Error {
  readonly code: string;
  readonly why?: string;
  readonly hint?: string;
  readonly exit: ExitCode;
  readonly details?: Record<string, unknown>;

  constructor(init: ErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "CrabboxError";
    this.code = init.code;
    this.why = init.why;
    this.hint = init.hint;
    this.exit = init.exit;
    this.details = init.details;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.why ? { why: this.why } : {}),
      ...(this.hint ? { hint: this.hint } : {}),
      exitCode: this.exit,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function usageError(message: string, hint?: string, why?: string): CrabboxError {
  return new CrabboxError({ code: "usage", message, why, hint, exit: Exit.usage });
}

export function isCrabboxError(e: unknown): e is CrabboxError {
  return e instanceof CrabboxError;
}
