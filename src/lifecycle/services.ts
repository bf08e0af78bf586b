/**
 * Lazily built collaborators of a command: the claim store, the GitHub client
 * (token resolved only when an API call is really needed) and the
 * authenticated user (fetched at most once).
 */
import type { Context } from "../context.ts";
import { resolveToken, type ResolvedToken } from "../github/auth.ts";
import { createGithubClient, type GithubClient } from "../github/client.ts";
import { getAuthenticatedUser } from "../github/operations.ts";
import type { GithubUser } from "../github/schemas.ts";
import { createClaimStore, type ClaimStore } from "../leases/store.ts";
import { VERSION } from "../version.ts";

export interface Services {
  ctx: Context;
  store: ClaimStore;
  /** The token and where it came from (resolved once). */
  token(): Promise<ResolvedToken>;
  github(): Promise<GithubClient>;
  me(): Promise<GithubUser>;
}

export function createServices(ctx: Context): Services {
  let token: Promise<ResolvedToken> | undefined;
  let client: Promise<GithubClient> | undefined;
  let user: Promise<GithubUser> | undefined;
  const svc: Services = {
    ctx,
    store: createClaimStore(ctx.runtime, { warn: (m) => ctx.log.warn(m) }),
    token() {
      token ??= resolveToken(ctx.runtime, { ghPath: ctx.config.githubCodespaces.ghPath, apiUrl: ctx.config.githubCodespaces.apiUrl });
      return token;
    },
    github() {
      client ??= svc.token().then(({ token }) =>
        createGithubClient({ runtime: ctx.runtime, apiUrl: ctx.config.githubCodespaces.apiUrl, token, version: VERSION }),
      );
      return client;
    },
    me() {
      user ??= svc.github().then(async (c) => {
        const u = await getAuthenticatedUser(c);
        return { login: u.login, id: u.id };
      });
      return user;
    },
  };
  return svc;
}
