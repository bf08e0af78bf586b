/**
 * HTTP failures from GitHub → actionable CrabboxErrors. Every text we build is
 * redacted, and `details` only carries the status, the method and the route
 * template (never a URL with its query, never a header): no token can leak.
 *
 * Exit-code choices (docs/exit-codes.md):
 * - 401, missing `codespace` scope, other 403s (entitlement, org policy) and
 *   402 (billing / spending limit): exit 3. None of them is transient; each is
 *   fixed by the user on the account side, like an authentication problem.
 * - 429 and rate-limited 403, 409, 5xx, network failures: exit 8 (API error
 *   after retries): waiting or retrying later can fix them.
 * - 400 and 422: exit 2 (the request we were asked to make is invalid).
 * - 404: exit 4.
 */
import * as v from "valibot";
import { CrabboxError, Exit, type ExitCode } from "../errors.ts";
import { redact, redactValue } from "../redact.ts";
import { ApiErrorBody, type ApiErrorDetail } from "./schemas.ts";

export const SCOPE_HINT = "gh auth refresh -h github.com -s codespace";

export interface HttpFailure {
  status: number;
  method: string;
  /** Route template, e.g. `/user/codespaces/{codespace_name}`. */
  route: string;
  headers: Headers;
  /** Parsed response body (anything). */
  body: unknown;
  /** What the request was about, for messages: "codespace NAME", "repository o/r". */
  subject?: string;
  /** Milliseconds since the epoch, to turn X-RateLimit-Reset into a wait. */
  now: number;
  /** The GitHub web host for hints (github.com, or <sub>.ghe.com). */
  webHost?: string;
}

function githubMessage(body: unknown): ApiErrorBody | undefined {
  const r = v.safeParse(ApiErrorBody, body);
  return r.success ? r.output : undefined;
}

/** A 403/429 that is GitHub's primary or secondary rate limit. */
export function isRateLimited(status: number, headers: Headers): boolean {
  if (status === 429) return true;
  if (status !== 403) return false;
  return headers.get("x-ratelimit-remaining") === "0" || headers.get("retry-after") !== null;
}

/**
 * How long GitHub asks us to wait, from `Retry-After` (seconds or HTTP date)
 * or, when the primary limit is exhausted, `X-RateLimit-Reset` (epoch s).
 * Undefined when the response says nothing.
 */
export function serverWaitMs(headers: Headers, now: number): number | undefined {
  const ra = headers.get("retry-after");
  if (ra !== null && ra.trim() !== "") {
    const s = Number(ra.trim());
    if (Number.isFinite(s)) return Math.max(0, Math.ceil(s * 1000));
    const at = Date.parse(ra);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = headers.get("x-ratelimit-reset");
  if (headers.get("x-ratelimit-remaining") === "0" && reset !== null) {
    const epoch = Number(reset);
    // One extra second: the reset is rounded down to the second by GitHub.
    if (Number.isFinite(epoch)) return Math.max(0, epoch * 1000 - now + 1000);
  }
  return undefined;
}

/** Whether a 403/404 means "this token lacks the `codespace` scope". */
export function missingCodespaceScope(status: number, route: string, headers: Headers, body: unknown): boolean {
  if (status !== 403 && status !== 404) return false;
  if (!route.includes("codespaces")) return false;
  const scopes = headers.get("x-oauth-scopes");
  if (scopes !== null && scopes.trim() !== "") {
    const list = scopes.split(",").map((s) => s.trim());
    if (!list.includes("codespace")) return true;
  }
  if (status === 403) {
    const msg = githubMessage(body)?.message ?? "";
    if (/\bscopes?\b/i.test(msg)) return true;
  }
  return false;
}

export function formatDuration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  const rest = s % 60;
  if (m < 60) return rest ? `${m}m ${rest}s` : `${m}m`;
  const h = Math.floor(m / 60);
  return `${h}h ${m % 60}m`;
}

function describeField(e: ApiErrorDetail): string {
  if (typeof e === "string") return e;
  const parts: string[] = [];
  if (e.field) parts.push(`field \`${e.field}\``);
  else if (e.resource) parts.push(e.resource);
  if (e.code) parts.push(`(${e.code})`);
  if (e.message) parts.push(`${parts.length ? ": " : ""}${e.message}`);
  return parts.join(" ").replace(" : ", ": ") || "unspecified";
}

interface Built {
  code: string;
  exit: ExitCode;
  message: string;
  why?: string;
  hint?: string;
  extra?: Record<string, unknown>;
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function make(f: Pick<HttpFailure, "method" | "route"> & { status?: number }, b: Built): CrabboxError {
  const details: Record<string, unknown> = {
    ...(f.status !== undefined ? { status: f.status } : {}),
    method: f.method,
    route: f.route,
    ...(b.extra ?? {}),
  };
  return new CrabboxError({
    code: b.code,
    exit: b.exit,
    message: redact(b.message),
    ...(b.why ? { why: redact(b.why) } : {}),
    ...(b.hint ? { hint: redact(b.hint) } : {}),
    details: redactValue(details),
  });
}

function rateLimitError(f: HttpFailure, why: string | undefined, capMs?: number): CrabboxError {
  const wait = serverWaitMs(f.headers, f.now);
  const when =
    wait === undefined
      ? "retry in a minute"
      : `retry after ${new Date(f.now + wait).toISOString()} (in ${formatDuration(wait)})`;
  const capNote = capMs !== undefined && wait !== undefined && wait > capMs ? `, longer than we wait (${formatDuration(capMs)})` : "";
  return make(f, {
    code: "rate_limited",
    exit: Exit.api,
    message: `GitHub rate limit hit on ${f.method} ${f.route} (HTTP ${f.status}): ${when}`,
    why: [why, wait !== undefined ? `GitHub asked us to wait ${formatDuration(wait)}${capNote}` : undefined]
      .filter(Boolean)
      .join("; "),
    hint: `Wait, then run the command again${wait !== undefined ? ` after ${new Date(f.now + wait).toISOString()}` : ""}.`,
    extra: {
      ...(wait !== undefined ? { retryAfterSeconds: Math.ceil(wait / 1000), retryAt: new Date(f.now + wait).toISOString() } : {}),
      ...(f.headers.get("x-ratelimit-resource") ? { resource: f.headers.get("x-ratelimit-resource") } : {}),
    },
  });
}

/** Map one HTTP failure (after any retries) to the error the user sees. */
export function httpError(f: HttpFailure, opts: { maxWaitMs?: number } = {}): CrabboxError {
  const gh = githubMessage(f.body);
  const why = gh?.message ? `GitHub said: ${gh.message}` : undefined;
  const requestId = f.headers.get("x-github-request-id");
  const extra: Record<string, unknown> = {
    ...(gh?.documentation_url ? { documentationUrl: gh.documentation_url } : {}),
    ...(requestId ? { requestId } : {}),
  };
  const subject = f.subject ?? `${f.method} ${f.route}`;
  const host = f.webHost ?? "github.com";
  const scopeHint = host === "github.com" ? SCOPE_HINT : `gh auth refresh -h ${host} -s codespace`;

  if (isRateLimited(f.status, f.headers)) {
    const e = rateLimitError(f, why, opts.maxWaitMs);
    Object.assign(e.details ?? {}, redactValue(extra));
    return e;
  }
  if (missingCodespaceScope(f.status, f.route, f.headers, f.body)) {
    return make(f, {
      code: "auth_missing_scope",
      exit: Exit.auth,
      message: `the GitHub token lacks the \`codespace\` scope needed for ${f.method} ${f.route}`,
      why: why ?? `x-oauth-scopes: ${f.headers.get("x-oauth-scopes") ?? "(none)"}`,
      hint: scopeHint,
      extra,
    });
  }
  switch (f.status) {
    case 401:
      return make(f, {
        code: "auth_rejected",
        exit: Exit.auth,
        message: "GitHub rejected the token (HTTP 401)",
        why: why ?? "the token is missing, expired or revoked",
        hint: "Run `gh auth login -s codespace`, or refresh the token in GH_TOKEN / GITHUB_TOKEN.",
        extra,
      });
    case 402:
      return make(f, {
        code: "billing",
        exit: Exit.auth,
        message: `GitHub refused ${subject} for billing reasons (HTTP 402 Payment Required)`,
        why: why ?? "the Codespaces spending limit or payment method blocks this",
        hint: `Check Codespaces billing and the spending limit at https://${host}/settings/billing, or ask the organization that pays.`,
        extra,
      });
    case 403:
      return make(f, {
        code: "forbidden",
        exit: Exit.auth,
        message: `GitHub refused ${subject} (HTTP 403 Forbidden)`,
        why: why ?? "this account or token may not use Codespaces here",
        hint:
          "Check that Codespaces is enabled for your account and for the repository's organization (org policy, " +
          "allowed machine types, spending limit), and that a fine-grained token has the 'Codespaces' repository permission.",
        extra,
      });
    case 404: {
      if (f.route.startsWith("/user/codespaces/{codespace_name}")) {
        return make(f, {
          code: "codespace_not_found",
          exit: Exit.notFound,
          message: `${cap(f.subject ?? "the codespace")} was not found on GitHub (it may have been deleted)`,
          why,
          hint: "Run `crabbox-cs list` to see your leases; `crabbox-cs cleanup` forgets leases whose codespace is gone.",
          extra,
        });
      }
      if (f.route.includes("/pulls/{pull_number}")) {
        return make(f, {
          code: "pull_request_not_found",
          exit: Exit.notFound,
          message: `${cap(f.subject ?? "the pull request")} was not found, or is not visible to this token`,
          why,
          hint: "Check the pull request number and that the token can read the repository.",
          extra,
        });
      }
      if (f.route.startsWith("/repos/{owner}/{repo}")) {
        return make(f, {
          code: "repo_not_found",
          exit: Exit.notFound,
          message: `${cap(f.subject ?? "the repository")} was not found, or is not visible to this token`,
          why,
          hint: "Check the owner/name spelling; for a private repository the token must be able to read it (`gh auth status`).",
          extra,
        });
      }
      return make(f, {
        code: "not_found",
        exit: Exit.notFound,
        message: `GitHub answered 404 Not Found for ${subject}`,
        why,
        hint: "Check the API URL (apiUrl) and that the token belongs to the expected account.",
        extra,
      });
    }
    case 409:
      return make(f, {
        code: "conflict",
        exit: Exit.api,
        message: `GitHub reported a conflict for ${subject} (HTTP 409)`,
        why: why ?? "the codespace is busy with another operation",
        hint: "The codespace may be starting, stopping or have a pending operation; wait a minute and run the command again.",
        extra,
      });
    case 422: {
      const fields = (gh?.errors ?? []).map(describeField);
      const fieldNames = (gh?.errors ?? [])
        .map((e) => (typeof e === "string" ? undefined : e.field))
        .filter((x): x is string => Boolean(x));
      return make(f, {
        code: "validation_failed",
        exit: Exit.usage,
        message: `GitHub rejected the request ${f.method} ${f.route} (HTTP 422): ${gh?.message ?? "validation failed"}${
          fields.length ? ` — ${fields.join("; ")}` : ""
        }`,
        why,
        hint: fieldNames.length
          ? `Fix ${fieldNames.map((n) => `\`${n}\``).join(", ")} (flag or config) and run the command again.`
          : "Check the values passed (machine, ref, devcontainer path, location, timeouts) and run the command again.",
        extra: { ...extra, ...(fieldNames.length ? { fields: fieldNames } : {}) },
      });
    }
    case 400:
      return make(f, {
        code: "bad_request",
        exit: Exit.usage,
        message: `GitHub rejected the request ${f.method} ${f.route} as malformed (HTTP 400)`,
        why,
        hint: "Check the values passed (machine, ref, devcontainer path, location) and run the command again.",
        extra,
      });
  }
  if (f.status >= 500) {
    const wait = serverWaitMs(f.headers, f.now);
    return make(f, {
      code: "github_unavailable",
      exit: Exit.api,
      message: `GitHub is having trouble (HTTP ${f.status} on ${f.method} ${f.route}); retry later${
        wait !== undefined ? `, after ${new Date(f.now + wait).toISOString()} (in ${formatDuration(wait)})` : ""
      }`,
      why: [why, wait !== undefined ? `GitHub asked us to retry after ${new Date(f.now + wait).toISOString()}` : undefined]
        .filter(Boolean)
        .join("; "),
      hint: `Retry later${wait !== undefined ? ` (after ${new Date(f.now + wait).toISOString()})` : ""}; see https://www.githubstatus.com/.`,
      extra: { ...extra, ...(wait !== undefined ? { retryAfterSeconds: Math.ceil(wait / 1000) } : {}) },
    });
  }
  return make(f, {
    code: "api_error",
    exit: Exit.api,
    message: `GitHub answered HTTP ${f.status} to ${f.method} ${f.route}`,
    why,
    hint: "Run the command again; if it keeps failing, run `crabbox-cs doctor`.",
    extra,
  });
}

/** The request never got an answer (connection refused/reset, DNS, timeout). */
export function networkError(f: {
  method: string;
  route: string;
  reason: string;
  timedOut: boolean;
  apiUrl: string;
  attempts?: number;
  elapsedMs?: number;
}): CrabboxError {
  // Tenths of a second: "waited 15.2s", not "15.2345s".
  const waited = f.elapsedMs !== undefined ? formatDuration(Math.round(f.elapsedMs / 100) * 100) : undefined;
  return make(f, {
    code: f.timedOut ? "api_timeout" : "network",
    exit: Exit.api,
    message: f.timedOut
      ? `GitHub did not answer ${f.method} ${f.route}${waited ? ` (waited ${waited} in total, ${f.attempts} attempt${f.attempts === 1 ? "" : "s"})` : " in time"}`
      : `Could not reach GitHub for ${f.method} ${f.route}${waited ? ` (tried ${f.attempts} time${f.attempts === 1 ? "" : "s"} over ${waited})` : ""}`,
    why: f.reason,
    hint: `Check the network connection and the API URL (${f.apiUrl}), then run the command again.`,
    extra: { ...(f.attempts !== undefined ? { attempts: f.attempts } : {}), ...(f.elapsedMs !== undefined ? { elapsedMs: Math.round(f.elapsedMs) } : {}) },
  });
}

/**
 * A create request failed in a way where the codespace may nevertheless exist
 * (no answer, timeout, 5xx, unreadable success). The lifecycle recovers by
 * looking the codespace up by its display name.
 */
export function createOutcomeUnknown(f: { method: string; route: string; status?: number; reason: string }): CrabboxError {
  return make(f, {
    code: "create_outcome_unknown",
    exit: Exit.api,
    message: `creating the codespace may or may not have succeeded (${f.method} ${f.route}${
      f.status !== undefined ? `, HTTP ${f.status}` : ""
    })`,
    why: f.reason,
    hint: "crabbox-cs looks for it by its display name; if it still reports this, run `crabbox-cs list` and `crabbox-cs cleanup`.",
  });
}

/** A response body that does not match the documented shape. */
export function shapeError(f: { method: string; route: string; status: number; path: string; problem: string }): CrabboxError {
  const at = f.path || "(the whole body)";
  return make(f, {
    code: "api_shape",
    exit: Exit.api,
    message: `GitHub's answer to ${f.method} ${f.route} has an unexpected shape at \`${at}\`: ${f.problem}`,
    why: "the response does not match GitHub's documented REST API (version 2022-11-28)",
    hint: "Check that apiUrl points at the GitHub REST API (not a proxy or web page); if it does, report this.",
    extra: { path: at },
  });
}
