/**
 * Where the GitHub token comes from: GH_TOKEN, then GITHUB_TOKEN, then
 * `gh auth token` (read from its stdout; the token is never on any argv).
 * Every token found is registered for redaction before it is returned.
 */
import { CrabboxError, Exit } from "../errors.ts";
import { ghNotFoundError } from "../gh/gh.ts";
import { addSecret, redact } from "../redact.ts";
import { ghHostFor } from "./api-url.ts";
import type { Runtime } from "../runtime.ts";

export type TokenSource = "GH_TOKEN" | "GITHUB_TOKEN" | "gh";

export interface ResolvedToken {
  token: string;
  source: TokenSource;
}

export interface ResolveTokenOptions {
  /** The gh program (name on PATH or absolute path). Default "gh". */
  ghPath?: string;
  /** GitHub host for `gh auth token -h HOST` (omit for gh's default host). */
  host?: string;
  /** The configured API URL: gh is asked for this API's host (wins over `host`). */
  apiUrl?: string;
  /** Give up on gh after this long. Default 15 s. */
  timeoutMs?: number;
}

export const LOGIN_HINT = "Run `gh auth login -s codespace`, or set GH_TOKEN to a token with the `codespace` scope.";

export async function resolveToken(runtime: Runtime, opts: ResolveTokenOptions = {}): Promise<ResolvedToken> {
  for (const source of ["GH_TOKEN", "GITHUB_TOKEN"] as const) {
    const value = runtime.env[source]?.trim();
    if (value) {
      addSecret(value);
      return { token: value, source };
    }
  }

  const gh = opts.ghPath ?? "gh";
  // Ask gh for the token of the host we will talk to, never its default host:
  // a github.com token must not be sent to an Enterprise server, nor the reverse.
  const host = opts.apiUrl ? ghHostFor(opts.apiUrl) : opts.host;
  const argv = [gh, "auth", "token", ...(host ? ["-h", host] : [])];
  const fail = (why: string) =>
    new CrabboxError({
      code: "auth_missing",
      exit: Exit.auth,
      message: `no GitHub token: GH_TOKEN and GITHUB_TOKEN are unset and \`gh auth token${host ? ` -h ${host}` : ""}\` gave none`,
      why: redact(why),
      hint: host && host !== "github.com" ? `Run \`gh auth login -h ${host} -s codespace\`, or set GH_TOKEN to a token for ${host} with the \`codespace\` scope.` : LOGIN_HINT,
    });

  const res = await runtime.exec(argv, { timeoutMs: opts.timeoutMs ?? 15_000 });
  const token = res.stdout.trim();
  // Register whatever gh printed before anything else can echo it.
  if (token) addSecret(token);
  if (res.spawnError) throw ghNotFoundError(gh, `GH_TOKEN and GITHUB_TOKEN are unset, so the token must come from \`${gh} auth token\`: ${res.spawnError}`);
  if (res.timedOut) throw fail(`\`${gh} auth token\` did not finish in time`);
  if (res.code !== 0) {
    const err = res.stderr.trim().split("\n")[0] ?? "";
    throw fail(`\`${gh} auth token\` exited ${res.code}${err ? `: ${err}` : ""}`);
  }
  if (!token || /\s/.test(token)) throw fail(`\`${gh} auth token\` printed no usable token`);
  return { token, source: "gh" };
}
