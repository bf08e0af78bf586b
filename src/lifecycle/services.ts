/**
 * Lazily built collaborators of a command: the claim store, the Codespaces
 * API (token resolved only when an API call is really needed), the gh
 * binary, and the authenticated user (fetched at most once). `api` and `gh`
 * are ports: unit tests pass in-memory fakes through `createServices`.
 */
import type { Context } from "../context.ts";
import { createGh, type Gh } from "../gh/gh.ts";
import type { CodespacesApi } from "../github/api.ts";
import type { ResolvedToken } from "../github/auth.ts";
import type { GithubUser } from "../github/schemas.ts";
import { createClaimStore, type ClaimStore } from "../leases/store.ts";
import { createProgress, type Progress } from "../output/progress.ts";
import { VERSION } from "../version.ts";

export interface Services {
  ctx: Context;
  store: ClaimStore;
  /** The token and where it came from (resolved once). */
  token(): Promise<ResolvedToken>;
  /** The Codespaces API calls the product makes. */
  api(): Promise<CodespacesApi>;
  /** The gh binary (ssh config, version). */
  gh: Gh;
  me(): Promise<GithubUser>;
}

/** Replacements for the real collaborators (tests). */
export interface Ports {
  api?: CodespacesApi;
  gh?: Gh;
  store?: ClaimStore;
}

export function createServices(ctx: Context, ports: Ports = {}): Services {
  let token: Promise<ResolvedToken> | undefined;
  let api: Promise<CodespacesApi> | undefined;
  let user: Promise<GithubUser> | undefined;
  const cfg = ctx.config.githubCodespaces;
  const svc: Services = {
    ctx,
    store: ports.store ?? createClaimStore(ctx.runtime, { warn: (m) => ctx.log.warn(m) }),
    gh: ports.gh ?? createGh(ctx.runtime, cfg.ghPath),
    token() {
      // The HTTP client (ofetch, the API's schemas) loads only when an API call is made:
      // a warm `run --id` never pays for it.
      token ??= import("../github/auth.ts").then(({ resolveToken }) => resolveToken(ctx.runtime, { ghPath: cfg.ghPath, apiUrl: cfg.apiUrl }));
      return token;
    },
    api() {
      api ??= ports.api
        ? Promise.resolve(ports.api)
        : svc.token().then(async ({ token }) => {
            const [{ codespacesApi }, { createGithubClient }] = await Promise.all([import("../github/api.ts"), import("../github/client.ts")]);
            return codespacesApi(
              createGithubClient({ runtime: ctx.runtime, apiUrl: cfg.apiUrl, token, version: VERSION, trace: ctx.verbose ? (l) => ctx.log.debug(l) : undefined, waiting: apiProgress(ctx) }),
            );
          });
      return api;
    },
    me() {
      user ??= svc.api().then(async (a) => {
        const u = await a.authenticatedUser();
        return { login: u.login, id: u.id };
      });
      return user;
    },
  };
  return svc;
}

/**
 * A spinner while GitHub is slow to answer (TTY only, not with --quiet or
 * --json): "waiting for GitHub: GET /user (attempt 1 of 5) (1.0s)".
 */
function apiProgress(ctx: Context): ((text: string | null, since?: number) => void) | undefined {
  if (!ctx.runtime.tty.stderr || ctx.quiet) return undefined;
  let progress: Progress | undefined;
  return (text, since) => {
    if (text === null) {
      progress?.stop();
      progress = undefined;
      return;
    }
    progress ??= createProgress({ env: ctx.runtime.env, isTTY: true, quiet: false, now: ctx.runtime.now, since });
    progress.set(text);
  };
}
