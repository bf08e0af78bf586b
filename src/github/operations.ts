/**
 * Typed calls to the Codespaces REST API (api.md), one function per endpoint.
 * Each takes the GithubClient first; each response is schema-checked by it.
 */
import type * as v from "valibot";
import { CrabboxError, Exit, isCrabboxError } from "../errors.ts";
import { parseLinkHeader, type GithubClient } from "./client.ts";
import { parseRepo, type RepoRef } from "./repo-name.ts";
import {
  Codespace,
  CodespaceList,
  MachineList,
  PermissionsCheck,
  RepoDefaults,
  Repository,
  SimpleUser,
  type CreateCodespaceBody,
  type CreatePullRequestCodespaceBody,
} from "./schemas.ts";

export { parseRepo, type RepoRef };

function repoOf(repo: string | RepoRef): RepoRef {
  return typeof repo === "string" ? parseRepo(repo) : parseRepo(`${repo.owner}/${repo.name}`);
}

function repoParams(r: RepoRef) {
  return { owner: r.owner, repo: r.name };
}

/** Drop undefined values so only fields the caller set are sent. */
function defined<T extends object>(body: T): Record<string, unknown> {
  return Object.fromEntries(Object.entries(body).filter(([, val]) => val !== undefined));
}

/** GET /repos/{owner}/{repo}<path>, its body checked against `schema`. */
async function repoGet<S extends v.GenericSchema>(
  client: GithubClient,
  repo: string | RepoRef,
  path: string,
  schema: S,
  query?: Record<string, string | undefined>,
): Promise<v.InferOutput<S>> {
  const r = repoOf(repo);
  const res = await client.request({
    method: "GET",
    route: `/repos/{owner}/{repo}${path}`,
    params: repoParams(r),
    ...(query ? { query } : {}),
    schema,
    subject: `repository ${r.owner}/${r.name}`,
  });
  return res.data as v.InferOutput<S>;
}

export async function getAuthenticatedUser(client: GithubClient): Promise<SimpleUser> {
  return (await client.request({ method: "GET", route: "/user", schema: SimpleUser, subject: "the authenticated user" })).data;
}

export async function getRepository(client: GithubClient, repo: string | RepoRef): Promise<Repository> {
  return repoGet(client, repo, "", Repository);
}

export interface ListOptions {
  /** Called with each page's codespaces as it arrives. */
  onPage?: (codespaces: Codespace[], page: number) => void;
  /** Safety bound on pages followed. Default 100 (10,000 codespaces). */
  maxPages?: number;
}

const PAGE_CONCURRENCY = 4;

/** URLs of pages 2..last when `next` is page 2 and `last` names the final page number; else null. */
export function pageUrls(next: string | undefined, last: string | undefined, maxPages: number): string[] | null {
  if (!next || !last) return null;
  try {
    const n = new URL(next);
    const l = new URL(last);
    const lastPage = Number(l.searchParams.get("page"));
    if (n.searchParams.get("page") !== "2" || !Number.isInteger(lastPage) || lastPage < 2 || lastPage > maxPages) return null;
    return Array.from({ length: lastPage - 1 }, (_, i) => {
      const u = new URL(n);
      u.searchParams.set("page", String(i + 2));
      return u.toString();
    });
  } catch {
    return null;
  }
}

async function listAll(
  client: GithubClient,
  first: { route: string; params?: Record<string, string | number>; query?: Record<string, string | number | undefined>; subject: string },
  opts: ListOptions,
): Promise<Codespace[]> {
  const all: Codespace[] = [];
  const seen = new Set<string>();
  const maxPages = opts.maxPages ?? 100;
  const get = (url?: string) =>
    client.request({
      method: "GET",
      route: first.route,
      ...(url ? { url } : { params: first.params, query: { per_page: 100, ...first.query } }),
      schema: CodespaceList,
      subject: first.subject,
    });

  // Page 1 tells how many pages there are (rel="last"): fetch the rest a few at a time, in order.
  const head = await get();
  all.push(...head.data.codespaces);
  opts.onPage?.(head.data.codespaces, 1);
  const links = parseLinkHeader(head.headers.get("link"));
  const pages = pageUrls(links.next, links.last, maxPages);
  if (pages) {
    for (let i = 0; i < pages.length; i += PAGE_CONCURRENCY) {
      const batch = await Promise.all(pages.slice(i, i + PAGE_CONCURRENCY).map((u) => get(u)));
      batch.forEach((res, k) => {
        all.push(...res.data.codespaces);
        opts.onPage?.(res.data.codespaces, i + k + 2);
      });
    }
    return all;
  }

  // No usable rel="last": follow rel="next" one page at a time.
  let next: string | undefined = links.next;
  if (!next) return all;
  seen.add(next);
  for (let page = 2; page <= maxPages; page++) {
    const res = await get(next);
    all.push(...res.data.codespaces);
    opts.onPage?.(res.data.codespaces, page);
    next = parseLinkHeader(res.headers.get("link")).next;
    if (!next || seen.has(next)) return all;
    seen.add(next);
  }
  return all;
}

export function listMyCodespaces(client: GithubClient, opts: ListOptions & { repositoryId?: number } = {}): Promise<Codespace[]> {
  return listAll(
    client,
    { route: "/user/codespaces", query: { repository_id: opts.repositoryId }, subject: "your codespaces" },
    opts,
  );
}

export function listRepoCodespaces(client: GithubClient, repo: string | RepoRef, opts: ListOptions = {}): Promise<Codespace[]> {
  const r = repoOf(repo);
  return listAll(
    client,
    { route: "/repos/{owner}/{repo}/codespaces", params: repoParams(r), subject: `repository ${r.owner}/${r.name}` },
    opts,
  );
}

function codespaceSpec(name: string) {
  if (!name) throw new CrabboxError({ code: "usage", exit: Exit.usage, message: "a codespace name is required" });
  return { params: { codespace_name: name }, subject: `codespace ${name}` };
}

/** 404 → CrabboxError exit 4, code `codespace_not_found`. */
export async function getCodespace(client: GithubClient, name: string): Promise<Codespace> {
  return (
    await client.request({ method: "GET", route: "/user/codespaces/{codespace_name}", schema: Codespace, ...codespaceSpec(name) })
  ).data;
}

/** Like getCodespace, but a 404 (gone, or never existed) returns null. */
export async function getCodespaceOrNull(client: GithubClient, name: string): Promise<Codespace | null> {
  try {
    return await getCodespace(client, name);
  } catch (e) {
    if (isCrabboxError(e) && e.code === "codespace_not_found") return null;
    throw e;
  }
}

/**
 * POST /repos/{owner}/{repo}/codespaces → 201 (created) or 202 (queued), both a codespace.
 * Never retried on 5xx/network: those raise `create_outcome_unknown`.
 */
export async function createCodespace(client: GithubClient, repo: string | RepoRef, body: CreateCodespaceBody): Promise<Codespace> {
  const r = repoOf(repo);
  return (
    await client.request({
      method: "POST",
      route: "/repos/{owner}/{repo}/codespaces",
      params: repoParams(r),
      body: defined(body),
      schema: Codespace,
      idempotent: false,
      subject: `repository ${r.owner}/${r.name}`,
    })
  ).data;
}

export async function createPullRequestCodespace(
  client: GithubClient,
  repo: string | RepoRef,
  pullNumber: number,
  body: CreatePullRequestCodespaceBody,
): Promise<Codespace> {
  const r = repoOf(repo);
  if (!Number.isInteger(pullNumber) || pullNumber <= 0) {
    throw new CrabboxError({ code: "usage", exit: Exit.usage, message: `invalid pull request number ${pullNumber}` });
  }
  const { ref: _ignored, ...rest } = body as CreateCodespaceBody;
  return (
    await client.request({
      method: "POST",
      route: "/repos/{owner}/{repo}/pulls/{pull_number}/codespaces",
      params: { ...repoParams(r), pull_number: pullNumber },
      body: defined(rest),
      schema: Codespace,
      idempotent: false,
      subject: `pull request ${r.owner}/${r.name}#${pullNumber}`,
    })
  ).data;
}

/** POST .../start → the codespace. A 304 (nothing to do) refetches it. */
export async function startCodespace(client: GithubClient, name: string): Promise<Codespace> {
  const res = await client.request({
    method: "POST",
    route: "/user/codespaces/{codespace_name}/start",
    schema: Codespace,
    allowNotModified: true,
    ...codespaceSpec(name),
  });
  return res.status === 304 ? getCodespace(client, name) : res.data;
}

export async function stopCodespace(client: GithubClient, name: string): Promise<Codespace> {
  return (
    await client.request({ method: "POST", route: "/user/codespaces/{codespace_name}/stop", schema: Codespace, ...codespaceSpec(name) })
  ).data;
}

/**
 * DELETE → 202 (deletion is asynchronous: confirm with getCodespaceOrNull → null).
 * Returns the status (202; 304 when GitHub reports nothing to do).
 */
export async function deleteCodespace(client: GithubClient, name: string): Promise<number> {
  const res = await client.request({
    method: "DELETE",
    route: "/user/codespaces/{codespace_name}",
    allowNotModified: true,
    ...codespaceSpec(name),
  });
  return res.status;
}

export async function listRepoMachines(
  client: GithubClient,
  repo: string | RepoRef,
  opts: { ref?: string; location?: string; clientIp?: string } = {},
): Promise<MachineList> {
  return repoGet(client, repo, "/codespaces/machines", MachineList, { ref: opts.ref, location: opts.location, client_ip: opts.clientIp });
}

export async function getRepoDefaults(client: GithubClient, repo: string | RepoRef, opts: { ref?: string; clientIp?: string } = {}): Promise<RepoDefaults> {
  return repoGet(client, repo, "/codespaces/new", RepoDefaults, { ref: opts.ref, client_ip: opts.clientIp });
}

export async function checkPermissions(
  client: GithubClient,
  repo: string | RepoRef,
  opts: { ref: string; devcontainerPath: string },
): Promise<PermissionsCheck> {
  return repoGet(client, repo, "/codespaces/permissions_check", PermissionsCheck, { ref: opts.ref, devcontainer_path: opts.devcontainerPath });
}

export type { Codespace, MachineList, RepoDefaults, PermissionsCheck, Repository, SimpleUser };
