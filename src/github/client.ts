/**
 * The HTTP client for GitHub's REST API: ofetch with our headers, a per-request
 * timeout, bounded retries and valibot-checked responses. Knows nothing of SSH.
 *
 * Retries use ofetch's own mechanism (`retry`, `retryStatusCodes`, hooks). The
 * wait itself happens in the `onResponseError` / `onRequestError` hooks through
 * an injectable sleep (`retry.sleep`, default `runtime.sleep`) and `retryDelay`
 * is 0: ofetch's built-in delay is a bare setTimeout that tests cannot observe
 * or shorten, and GitHub's Retry-After can ask for a minute. A hook may also
 * cancel the retry (`context.options.retry = false`) when the failure is not
 * retryable for this request.
 *
 * What is retried (at most `retries` times, default 4):
 * - 429, and 403 carrying `x-ratelimit-remaining: 0` or `retry-after`: waits
 *   what GitHub asks (Retry-After, else X-RateLimit-Reset), else backoff; when
 *   that wait exceeds `maxWaitMs` (default 60 s) we stop and say when to retry.
 *   Safe for every request, create included: GitHub refused it before acting.
 * - 500/502/503/504 and connection failures/timeouts: idempotent requests only
 *   (GET, start, stop, PATCH, DELETE). A create is never retried on these: it
 *   raises `create_outcome_unknown` (the codespace may exist) for recovery.
 */
import { ghHostFor, normalizeApiUrl } from "./api-url.ts";

export { normalizeApiUrl };
import { FetchError, ofetch, type FetchContext } from "ofetch";
import * as v from "valibot";
import { CrabboxError, Exit } from "../errors.ts";
import { addSecret, redact } from "../redact.ts";
import type { Runtime } from "../runtime.ts";
import { DurationError, durationErrorFor, formatDuration, parseDuration } from "../config/duration.ts";
import { createOutcomeUnknown, httpError, isRateLimited, networkError, serverWaitMs, shapeError } from "./errors.ts";

export const API_VERSION = "2022-11-28";
export const DEFAULT_API_URL = "https://api.github.com";

export interface RetryOptions {
  /** Retries after the first attempt. Default 4. */
  retries?: number;
  /** First backoff delay; doubles each retry. Default 1000 ms. */
  baseDelayMs?: number;
  /** Largest backoff delay. Default 30 s. */
  maxDelayMs?: number;
  /** Longest wait GitHub may ask for (Retry-After, rate-limit reset) before we give up. Default 60 s. */
  maxWaitMs?: number;
  /** How to wait between attempts. Default `runtime.sleep`. */
  sleep?: (ms: number) => Promise<void>;
}

export interface GithubClientOptions {
  runtime: Runtime;
  apiUrl: string;
  token: string;
  /** Our version, for the User-Agent. */
  version: string;
  retry?: RetryOptions;
  /** Per-attempt request timeout. Default 30 s. */
  timeoutMs?: number;
  /** --verbose: one line per attempt (method, path, status or failure, ms, attempt) and per retry wait. */
  trace?: (line: string) => void;
  /**
   * Progress for a slow API (a spinner on a TTY): called with a text when an
   * attempt has had no answer for `slowMs` (default 1 s) or a retry waits,
   * and with null when the request is over.
   */
  waiting?: (text: string | null, since?: number) => void;
  slowMs?: number;
}

export type HttpMethod = "GET" | "POST" | "PATCH" | "DELETE";
type AnySchema = v.GenericSchema;

export interface RequestSpec<S extends AnySchema | undefined = AnySchema | undefined> {
  method: HttpMethod;
  /** Route template, e.g. `/user/codespaces/{codespace_name}`: used in errors. */
  route: string;
  /** Values for the template's `{placeholders}` (URL-encoded here). */
  params?: Record<string, string | number>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: Record<string, unknown>;
  /** Schema for a 2xx body; omit when the body is ignored. */
  schema?: S;
  /** Default true. False for create: never retried on 5xx/network, outcome-unknown errors. */
  idempotent?: boolean;
  /** Accept 304 Not Modified (data is then undefined). */
  allowNotModified?: boolean;
  /** What the request is about, for messages: "codespace NAME", "repository o/r". */
  subject?: string;
  /** Absolute URL to request instead of route+params (pagination `next`); must be under apiUrl. */
  url?: string;
}

export interface ApiResponse<T> {
  status: number;
  headers: Headers;
  data: T;
}

type Output<S> = S extends AnySchema ? v.InferOutput<S> : undefined;

export interface GithubClient {
  readonly apiUrl: string;
  /** github.com, <sub>.ghe.com (data residency) or the GHES host: the host for `gh auth ... -h`. */
  readonly webHost: string;
  /** Number of HTTP attempts made (retries included). */
  readonly requests: number;
  /** Attempts per "METHOD route" (retries included). */
  readonly requestsByRoute: ReadonlyMap<string, number>;
  request<S extends AnySchema | undefined>(spec: RequestSpec<S>): Promise<ApiResponse<Output<S>>>;
}

const RETRY_STATUS = [403, 429, 500, 502, 503, 504];
/** Redirect statuses we judge ourselves (same-origin ones under apiUrl are followed). */
const REDIRECT = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
/** Environment knob: the per-attempt request timeout (Go duration; default 30s). */
export const API_TIMEOUT_ENV = "CRABBOX_API_TIMEOUT";
const SERVER_RETRY = new Set([500, 502, 503, 504]);

/** CRABBOX_API_TIMEOUT as milliseconds (unset or empty: undefined); exit 2 when it is not a positive duration. */
function timeoutFromEnv(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === "") return undefined;
  let ms: number;
  try {
    ms = parseDuration(raw);
  } catch (e) {
    if (e instanceof DurationError) throw durationErrorFor(e, API_TIMEOUT_ENV);
    throw e;
  }
  if (ms <= 0) {
    throw new CrabboxError({ code: "bad_duration", exit: Exit.usage, message: `${API_TIMEOUT_ENV} must be longer than 0s`, hint: `export ${API_TIMEOUT_ENV}=30s (or unset it)` });
  }
  return ms;
}

/** The path (and query) of a request, for traces: never the origin's credentials, never a body. */
function pathOf(request: string | URL | Request): string {
  const raw = typeof request === "string" ? request : request instanceof URL ? request.href : request.url;
  try {
    const u = new URL(raw);
    return u.pathname + u.search;
  } catch {
    return String(raw);
  }
}

function expandRoute(route: string, params: Record<string, string | number> = {}): string {
  return route.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === "") throw new Error(`missing route parameter ${name} for ${route}`);
    return encodeURIComponent(String(value));
  });
}

export function createGithubClient(opts: GithubClientOptions): GithubClient {
  const apiUrl = normalizeApiUrl(opts.apiUrl);
  // Whatever the token's origin, nothing we print may contain it.
  addSecret(opts.token);
  const webHost = ghHostFor(apiUrl);
  const { runtime } = opts;
  const retries = opts.retry?.retries ?? 4;
  const baseDelayMs = opts.retry?.baseDelayMs ?? 1000;
  const maxDelayMs = opts.retry?.maxDelayMs ?? 30_000;
  const maxWaitMs = opts.retry?.maxWaitMs ?? 60_000;
  const sleep = opts.retry?.sleep ?? ((ms: number) => runtime.sleep(ms));
  const timeoutMs = opts.timeoutMs ?? timeoutFromEnv(runtime.env[API_TIMEOUT_ENV]) ?? 30_000;

  let requests = 0;
  const byRoute = new Map<string, number>();
  /**
   * One backoff gate for every request of this client: when GitHub asks us
   * to wait (429, or a 403 rate limit), requests already in flight elsewhere
   * (a shard's N concurrent acquisitions) wait until the same moment before
   * their next attempt, instead of each finding the limit on its own.
   */
  let gate: { until: number; done: Promise<void> } | null = null;
  function holdGate(ms: number): void {
    const until = runtime.now() + ms;
    if (gate && gate.until >= until) return;
    const done: Promise<void> = sleep(ms).then(() => {
      if (gate?.done === done) gate = null;
    });
    gate = { until, done };
  }

  const $fetch = ofetch.create(
    {
      headers: {
        Accept: "application/vnd.github+json",
        "X-GitHub-Api-Version": API_VERSION,
        Authorization: `Bearer ${opts.token}`,
        "User-Agent": `crabbox-cs/${opts.version}`,
      },
      responseType: "json",
      retryDelay: 0,
      retryStatusCodes: RETRY_STATUS,
    },
    { fetch: runtime.fetch },
  );

  const base = new URL(apiUrl);
  const basePath = base.pathname.replace(/\/?$/, "/");
  /** Same origin as apiUrl and under its path: the only place the token may go. */
  function underApi(u: URL): boolean {
    return u.origin === base.origin && (u.pathname + "/").startsWith(basePath);
  }

  /** Where a 3xx answer sends us: a URL under apiUrl (followed), else exit 8 without following. */
  function redirectTarget(spec: RequestSpec<AnySchema | undefined>, status: number, location: string | null, from: string, hop: number): string {
    const refuse = (problem: string, extra: Record<string, unknown> = {}) =>
      new CrabboxError({
        code: "api_redirect_refused",
        exit: Exit.api,
        message: `GitHub's answer to ${spec.method} ${spec.route} is a redirect (HTTP ${status}) ${problem}`,
        why: "crabbox-cs sends the token only to the configured API (apiUrl); a redirect elsewhere is not followed",
        hint: `Check apiUrl (${apiUrl}): if the API really moved, set --github-codespaces-api-url (or CRABBOX_GITHUB_CODESPACES_API_URL) to the new address.`,
        details: { status, method: spec.method, route: spec.route, ...extra },
      });
    if (hop >= MAX_REDIRECTS) throw refuse(`after ${MAX_REDIRECTS} redirects; refusing to follow more`);
    if (!location) throw refuse("without a Location header");
    let u: URL;
    try {
      u = new URL(location, from);
    } catch {
      throw refuse("to something that is not a URL");
    }
    if (!underApi(u)) throw refuse(`to another origin (${redact(u.origin)}); refusing to follow it`, { location: redact(u.origin) });
    return u.toString();
  }

  function backoff(attempt: number): number {
    return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, attempt - 1));
  }

  async function request<S extends AnySchema | undefined>(spec: RequestSpec<S>): Promise<ApiResponse<Output<S>>> {
    const idempotent = spec.idempotent ?? true;
    const key = `${spec.method} ${spec.route}`;
    let attempt = 0;
    let target: string;
    if (spec.url) {
      let u: URL;
      try {
        u = new URL(spec.url);
      } catch {
        throw shapeError({ method: spec.method, route: spec.route, status: 200, path: "Link", problem: "the pagination link is not a URL" });
      }
      if (!underApi(u)) {
        throw shapeError({
          method: spec.method,
          route: spec.route,
          status: 200,
          path: "Link",
          problem: `pagination link points outside ${apiUrl} (to ${u.origin}); refusing to send the token there`,
        });
      }
      target = u.toString();
    } else {
      target = apiUrl + expandRoute(spec.route, spec.params);
    }

    /** Decide whether to retry this failure; if so, wait first. Cancels the retry otherwise. */
    async function planRetry(ctx: FetchContext): Promise<void> {
      const remaining = typeof ctx.options.retry === "number" ? ctx.options.retry : 0;
      if (remaining <= 0) return;
      let wait: number | undefined;
      const res = ctx.response;
      if (!res) {
        if (idempotent) wait = backoff(attempt);
      } else if (isRateLimited(res.status, res.headers)) {
        const asked = serverWaitMs(res.headers, runtime.now());
        wait = asked ?? backoff(attempt);
        if (wait > maxWaitMs) wait = undefined;
        else {
          // The wait happens at the gate (onRequest), shared with every other request of this client.
          if (wait > 0) holdGate(wait);
          return;
        }
      } else if (SERVER_RETRY.has(res.status) && idempotent) {
        const asked = serverWaitMs(res.headers, runtime.now());
        wait = asked ?? backoff(attempt);
        if (wait > maxWaitMs) wait = undefined;
      }
      if (wait === undefined) {
        ctx.options.retry = false;
        return;
      }
      opts.trace?.(`api: ${spec.method} ${pathOf(ctx.request)}: retry ${retries - remaining + 1} of ${retries} after ${Math.round(wait)}ms`);
      opts.waiting?.(`GitHub did not answer ${spec.method} ${spec.route}: retry ${retries - remaining + 1} of ${retries} in ${formatDuration(Math.round(wait))}`, started);
      if (wait > 0) await sleep(wait);
    }

    const started = runtime.now();
    let attemptStarted = started;
    let slow: ReturnType<typeof setTimeout> | undefined;
    let response;
    for (let hop = 0; ; hop++) {
      try {
        response = await $fetch.raw(target, {
          method: spec.method,
          ...(spec.query && hop === 0 ? { query: Object.fromEntries(Object.entries(spec.query).filter(([, val]) => val !== undefined)) } : {}),
          ...(spec.body ? { body: spec.body } : {}),
          retry: retries,
          // Redirects are ours to judge: fetch would follow one to any origin.
          redirect: "manual",
          async onRequest(ctx) {
            // Another request of this client was told to wait: so do we.
            if (gate) await gate.done;
            attemptStarted = runtime.now();
            clearTimeout(slow);
            if (opts.waiting) {
              const n = attempt + 1;
              slow = setTimeout(() => opts.waiting?.(`waiting for GitHub: ${spec.method} ${spec.route} (attempt ${n} of ${retries + 1})`, started), opts.slowMs ?? 1000);
              slow.unref?.();
            }
            attempt++;
            requests++;
            byRoute.set(key, (byRoute.get(key) ?? 0) + 1);
            // A fresh deadline per attempt (ofetch's `timeout` would reuse an aborted signal on retry).
            ctx.options.signal = AbortSignal.timeout(timeoutMs);
          },
          onResponse(ctx) {
            clearTimeout(slow);
            opts.trace?.(`api: ${spec.method} ${pathOf(ctx.request)} → ${ctx.response.status} in ${runtime.now() - attemptStarted}ms${attempt > 1 ? ` (attempt ${attempt})` : ""}`);
          },
          onRequestError(ctx) {
            clearTimeout(slow);
            const name = (ctx.error as { name?: string })?.name ?? "error";
            opts.trace?.(`api: ${spec.method} ${pathOf(ctx.request)} → ${name === "TimeoutError" ? "no answer" : `failed (${ctx.error?.message ?? name})`} in ${runtime.now() - attemptStarted}ms${attempt > 1 ? ` (attempt ${attempt})` : ""}`);
            return planRetry(ctx);
          },
          onResponseError: planRetry,
        });
      } catch (e) {
        throw toCrabboxError(e, spec, idempotent, { attempts: attempt, elapsedMs: runtime.now() - started });
      } finally {
        clearTimeout(slow);
        opts.waiting?.(null);
      }
      if (!REDIRECT.has(response.status)) break;
      target = redirectTarget(spec, response.status, response.headers.get("location"), target, hop);
    }

    const status = response.status;
    if (status === 304) {
      if (spec.allowNotModified) return { status, headers: response.headers, data: undefined as Output<S> };
      throw shapeError({ method: spec.method, route: spec.route, status, path: "", problem: "unexpected 304 Not Modified" });
    }
    if (!spec.schema) return { status, headers: response.headers, data: undefined as Output<S> };
    const parsed = v.safeParse(spec.schema, response._data);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      const path = v.getDotPath(issue) ?? "";
      const problem = issue.message;
      if (!idempotent) {
        throw createOutcomeUnknown({
          method: spec.method,
          route: spec.route,
          status,
          reason: `GitHub answered ${status} but the body has an unexpected shape at \`${path || "(the whole body)"}\`: ${problem}`,
        });
      }
      throw shapeError({ method: spec.method, route: spec.route, status, path, problem });
    }
    return { status, headers: response.headers, data: parsed.output as Output<S> };
  }

  function toCrabboxError(
    e: unknown,
    spec: RequestSpec<AnySchema | undefined>,
    idempotent: boolean,
    tried: { attempts: number; elapsedMs: number },
  ): CrabboxError {
    if (e instanceof CrabboxError) return e;
    const res = e instanceof FetchError ? e.response : undefined;
    if (res) {
      const status = res.status;
      if (!idempotent && status >= 500) {
        return createOutcomeUnknown({
          method: spec.method,
          route: spec.route,
          status,
          reason: `GitHub answered HTTP ${status}; a codespace may have been created anyway`,
        });
      }
      return httpError(
        {
          status,
          method: spec.method,
          route: spec.route,
          headers: res.headers,
          body: (e as FetchError).data,
          subject: spec.subject,
          now: runtime.now(),
          webHost,
        },
        { maxWaitMs },
      );
    }
    const cause = e instanceof FetchError && e.cause !== undefined ? e.cause : e;
    const name = (cause as { name?: string } | null)?.name ?? "";
    const timedOut = name === "TimeoutError";
    const reason = timedOut
      ? `no answer within ${formatDuration(timeoutMs)} on ${tried.attempts === 1 ? "the only attempt" : `each of ${tried.attempts} attempts`} (per-attempt timeout: ${API_TIMEOUT_ENV}, default 30s)`
      : ((cause as { message?: string } | null)?.message ?? String(cause));
    if (!idempotent) {
      return createOutcomeUnknown({
        method: spec.method,
        route: spec.route,
        reason: `${timedOut ? "the request timed out" : "the connection failed"} (${reason}); a codespace may have been created anyway`,
      });
    }
    return networkError({ method: spec.method, route: spec.route, reason, timedOut, apiUrl, attempts: tried.attempts, elapsedMs: tried.elapsedMs });
  }

  return {
    apiUrl,
    webHost,
    get requests() {
      return requests;
    },
    get requestsByRoute() {
      return byRoute;
    },
    request,
  };
}

/** Parse a `Link` header into rel → URL. */
export function parseLinkHeader(header: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const m of header.matchAll(/<([^>]*)>\s*;\s*rel="?([^";,]+)"?/g)) {
    const [, url, rels] = m;
    if (url === undefined || rels === undefined) continue;
    for (const rel of rels.split(/\s+/)) out[rel] = url;
  }
  return out;
}
