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
            return codespacesApi(createGithubClient({ runtime: ctx.runtime, apiUrl: cfg.apiUrl, token, version: VERSION }));
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
