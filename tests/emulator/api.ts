/**
 * The Codespaces REST endpoints (../shared/api.md): route table and handlers.
 * Each handler gets an authenticated user; auth, counting, rate-limit headers
 * and error injection happen in http.ts.
 */
import { fullRepository, privateUser, simpleUser } from "./objects.ts";
import { type CodespaceRecord, type CreateInput, type Repo, type Store, type User, locationFor } from "./store.ts";

export const DOCS = "https://docs.github.com/rest";
const CS_DOCS = `${DOCS}/codespaces/codespaces`;

export type CreateDropMode = "reset" | "500" | "timeout";

export interface RequestCtx {
  req: Request;
  url: URL;
  params: Record<string, string>;
  user: User;
  base: string;
  store: Store;
  /** Consume the one-shot "drop the next create response" setting. */
  takeCreateDrop(): CreateDropMode | null;
  /** Look-alike copies to make with this create (0 unless a test asked for them). */
  takeCreateDuplicates(): number;
  /** A response that never comes (the connection is cut after `ms`). */
  hang(ms: number): Promise<Response>;
  /** Called after stop/delete so live SSH tunnels to that codespace are cut. */
  onGone(name: string): void;
}

export interface Route {
  method: string;
  template: string;
  regex: RegExp;
  keys: string[];
  /** Needs the `codespace` scope (classic tokens). */
  codespaces: boolean;
  handler: (ctx: RequestCtx) => Response | Promise<Response>;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

export function ghError(
  status: number,
  message: string,
  documentationUrl = DOCS,
  extra: Record<string, unknown> = {},
): Response {
  return json(status, { message, documentation_url: documentationUrl, ...extra, status: String(status) });
}

/** A response whose body fails before the first byte: the client sees a reset connection. */
export function resetResponse(): Response {
  return new Response(
    new ReadableStream({
      start(c) {
        c.error();
      },
    }),
    { status: 200 },
  );
}

const notFound = (doc = DOCS) => ghError(404, "Not Found", doc);

function paginate<T>(ctx: RequestCtx, items: T[]): { page: T[]; link: string | null } {
  const q = ctx.url.searchParams;
  const perRaw = Number.parseInt(q.get("per_page") ?? "", 10);
  const perPage = Number.isFinite(perRaw) && perRaw > 0 ? Math.min(perRaw, 100) : 30;
  const pageRaw = Number.parseInt(q.get("page") ?? "", 10);
  const page = Number.isFinite(pageRaw) && pageRaw > 0 ? pageRaw : 1;
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const href = (p: number) => {
    const u = new URL(ctx.url.pathname, ctx.base);
    for (const [k, v] of q) if (k !== "page") u.searchParams.append(k, v);
    u.searchParams.set("page", String(p));
    return `<${u.toString()}>`;
  };
  const links: string[] = [];
  if (page > 1) links.push(`${href(Math.min(page - 1, last))}; rel="prev"`);
  if (page < last) links.push(`${href(page + 1)}; rel="next"`, `${href(last)}; rel="last"`);
  if (page > 1) links.push(`${href(1)}; rel="first"`);
  return { page: slice, link: links.length ? links.join(", ") : null };
}

function listResponse(ctx: RequestCtx, items: CodespaceRecord[]): Response {
  const { page, link } = paginate(ctx, items);
  return json(
    200,
    { total_count: items.length, codespaces: page.map((cs) => ctx.store.render(cs, ctx.base)) },
    link ? { link } : {},
  );
}

function ownCodespace(ctx: RequestCtx): CodespaceRecord | undefined {
  const cs = ctx.store.get(ctx.params.name ?? "");
  if (!cs || cs.ownerLogin.toLowerCase() !== ctx.user.login.toLowerCase()) return undefined;
  return cs;
}

function repoOf(ctx: RequestCtx): Repo | undefined {
  return ctx.store.repo(`${ctx.params.owner}/${ctx.params.repo}`);
}

function notEntitled(repo: Repo, doc: string): Response {
  return ghError(
    403,
    `You do not have access to GitHub Codespaces for ${repo.fullName}. Codespaces must be enabled for this user or billed to an organization that allows it.`,
    doc,
  );
}

async function readJson(req: Request): Promise<{ ok: true; body: Record<string, unknown> } | { ok: false; res: Response }> {
  const text = await req.text();
  if (text.trim() === "") return { ok: true, body: {} };
  try {
    const body = JSON.parse(text);
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return { ok: false, res: ghError(400, "Problems parsing JSON", DOCS) };
    }
    return { ok: true, body: body as Record<string, unknown> };
  } catch {
    return { ok: false, res: ghError(400, "Problems parsing JSON", DOCS) };
  }
}

type FieldType = "string" | "integer" | "boolean";

const CREATE_FIELDS: Record<string, FieldType> = {
  ref: "string",
  location: "string",
  geo: "string",
  client_ip: "string",
  machine: "string",
  devcontainer_path: "string",
  multi_repo_permissions_opt_out: "boolean",
  working_directory: "string",
  idle_timeout_minutes: "integer",
  display_name: "string",
  retention_period_minutes: "integer",
};

const GEOS = ["EuropeWest", "SoutheastAsia", "UsEast", "UsWest"];

function typeError(field: string, value: unknown, type: FieldType, doc: string): Response {
  const article = type === "integer" ? "an" : "a";
  return ghError(422, `Invalid request.\n\nFor 'properties/${field}', ${JSON.stringify(value)} is not ${article} ${type}.`, doc);
}

function fieldError(field: string, message: string, doc: string): Response {
  return ghError(422, "Validation Failed", doc, {
    errors: [{ resource: "Codespace", field, code: "invalid", message }],
  });
}

/** Validate a create body like GitHub: types first (422), then ranges (422), then machine (400). */
function validateCreate(
  body: Record<string, unknown>,
  repo: Repo,
  doc: string,
  allowRef: boolean,
): { ok: true; input: CreateInput; geo?: string } | { ok: false; res: Response } {
  for (const [field, type] of Object.entries(CREATE_FIELDS)) {
    if (!(field in body)) continue;
    const v = body[field];
    const good =
      type === "string" ? typeof v === "string" : type === "boolean" ? typeof v === "boolean" : Number.isInteger(v);
    if (!good) return { ok: false, res: typeError(field, v, type, doc) };
  }
  const idle = body.idle_timeout_minutes as number | undefined;
  if (idle !== undefined && (idle < 5 || idle > 240)) {
    return { ok: false, res: fieldError("idle_timeout_minutes", `idle_timeout_minutes must be between 5 and 240 minutes, got ${idle}.`, doc) };
  }
  const retention = body.retention_period_minutes as number | undefined;
  if (retention !== undefined && (retention < 0 || retention > 43200)) {
    return {
      ok: false,
      res: fieldError("retention_period_minutes", `retention_period_minutes must be between 0 and 43200 minutes, got ${retention}.`, doc),
    };
  }
  const geo = body.geo as string | undefined;
  if (geo !== undefined && !GEOS.includes(geo)) {
    return { ok: false, res: fieldError("geo", `geo must be one of ${GEOS.join(", ")}, got "${geo}".`, doc) };
  }
  const displayName = body.display_name as string | undefined;
  if (displayName !== undefined && displayName.length > 48) {
    return { ok: false, res: fieldError("display_name", "display_name is too long (maximum is 48 characters).", doc) };
  }
  const machine = body.machine as string | undefined;
  if (machine !== undefined && !repo.machines.includes(machine)) {
    return {
      ok: false,
      res: ghError(400, `Machine type not available: '${machine}'.`, doc, {
        errors: [
          {
            resource: "Codespace",
            field: "machine",
            code: "invalid",
            message: `Machine type '${machine}' is not available for ${repo.fullName}. Available: ${repo.machines.join(", ")}.`,
          },
        ],
      }),
    };
  }
  const dc = body.devcontainer_path as string | undefined;
  if (dc !== undefined && !repo.devcontainers.some((d) => d.path === dc)) {
    return {
      ok: false,
      res: ghError(400, `Devcontainer configuration not found: '${dc}'.`, doc, {
        errors: [{ resource: "Codespace", field: "devcontainer_path", code: "invalid" }],
      }),
    };
  }
  const input: CreateInput = {
    ref: allowRef ? (body.ref as string | undefined) : undefined,
    machine,
    devcontainerPath: dc,
    location: locationFor(body.location as string | undefined, geo),
    idleTimeoutMinutes: idle,
    retentionPeriodMinutes: retention,
    displayName,
    workingDirectory: body.working_directory as string | undefined,
  };
  return { ok: true, input, geo };
}

async function createResponse(ctx: RequestCtx, cs: CodespaceRecord, doc: string): Promise<Response> {
  const drop = ctx.takeCreateDrop();
  if (drop === "reset") return resetResponse();
  if (drop === "500") return ghError(500, "Server Error", doc);
  if (drop === "timeout") return ctx.hang(30_000);
  return json(201, ctx.store.render(cs, ctx.base));
}

async function createInRepo(ctx: RequestCtx, pull: boolean): Promise<Response> {
  const doc = pull ? `${CS_DOCS}#create-a-codespace-from-a-pull-request` : `${CS_DOCS}#create-a-codespace-in-a-repository`;
  const repo = repoOf(ctx);
  if (!repo) return notFound(doc);
  let headRef: string | undefined;
  let pullNumber: number | undefined;
  if (pull) {
    pullNumber = Number.parseInt(ctx.params.pull_number ?? "", 10);
    const pr = repo.pulls.find((p) => p.number === pullNumber);
    if (!pr) return notFound(doc);
    headRef = pr.headRef;
  }
  if (!repo.entitled) return notEntitled(repo, doc);
  const parsed = await readJson(ctx.req);
  if (!parsed.ok) return parsed.res;
  const v = validateCreate(parsed.body, repo, doc, !pull);
  if (!v.ok) return v.res;
  const input: CreateInput = { ...v.input };
  if (pull) {
    input.ref = headRef;
    input.pullNumber = pullNumber;
  }
  if (ctx.store.delays.createResponseMs > 0) await Bun.sleep(ctx.store.delays.createResponseMs);
  const cs = ctx.store.create(ctx.user, repo, input);
  const extra = ctx.takeCreateDuplicates();
  for (let i = 0; i < extra; i++) ctx.store.create(ctx.user, repo, input);
  return createResponse(ctx, cs, doc);
}

function machinesBody(ctx: RequestCtx, repo: Repo): Response {
  const machines = ctx.store.machinesFor(repo);
  return json(200, { total_count: machines.length, machines });
}

const ROUTE_DEFS: Array<[string, string, boolean, Route["handler"]]> = [
  [
    "GET",
    "/user",
    false,
    (ctx) => {
      const acct = ctx.store.accounts.get(ctx.user.login.toLowerCase())!;
      return json(200, privateUser(acct, ctx.base, ctx.user.createdAt));
    },
  ],
  [
    "GET",
    "/user/codespaces",
    true,
    (ctx) => {
      const me = ctx.user.login.toLowerCase();
      const rid = ctx.url.searchParams.get("repository_id");
      const repoId = rid === null ? null : Number.parseInt(rid, 10);
      const repoKey = repoId === null ? null : ctx.store.repoById(repoId)?.fullName.toLowerCase() ?? "\0none";
      const items = ctx.store.list((cs) => cs.ownerLogin.toLowerCase() === me && (repoKey === null || cs.repoKey === repoKey));
      return listResponse(ctx, items);
    },
  ],
  [
    "GET",
    "/user/codespaces/:name",
    true,
    (ctx) => {
      const cs = ownCodespace(ctx);
      if (!cs) return notFound(`${CS_DOCS}#get-a-codespace-for-the-authenticated-user`);
      return json(200, ctx.store.render(cs, ctx.base));
    },
  ],
  [
    "PATCH",
    "/user/codespaces/:name",
    true,
    async (ctx) => {
      const doc = `${CS_DOCS}#update-a-codespace-for-the-authenticated-user`;
      const cs = ownCodespace(ctx);
      if (!cs) return notFound(doc);
      const parsed = await readJson(ctx.req);
      if (!parsed.ok) return parsed.res;
      const b = parsed.body;
      if ("machine" in b && typeof b.machine !== "string") return typeError("machine", b.machine, "string", doc);
      if ("display_name" in b && typeof b.display_name !== "string") return typeError("display_name", b.display_name, "string", doc);
      if ("recent_folders" in b && (!Array.isArray(b.recent_folders) || b.recent_folders.some((f) => typeof f !== "string"))) {
        return ghError(422, `Invalid request.\n\nFor 'properties/recent_folders', ${JSON.stringify(b.recent_folders)} is not an array of strings.`, doc);
      }
      const repo = ctx.store.repos.get(cs.repoKey);
      if (typeof b.machine === "string" && repo && !repo.machines.includes(b.machine)) {
        return ghError(400, `Machine type not available: '${b.machine}'.`, doc);
      }
      if (typeof b.machine === "string") cs.machine = b.machine;
      if (typeof b.display_name === "string") cs.displayName = b.display_name;
      if (Array.isArray(b.recent_folders)) cs.recentFolders = b.recent_folders as string[];
      cs.updatedAt = Date.now();
      return json(200, ctx.store.render(cs, ctx.base));
    },
  ],
  [
    "DELETE",
    "/user/codespaces/:name",
    true,
    (ctx) => {
      const cs = ownCodespace(ctx);
      if (!cs) return notFound(`${CS_DOCS}#delete-a-codespace-for-the-authenticated-user`);
      ctx.store.delete(cs);
      ctx.onGone(cs.name);
      return json(202, {});
    },
  ],
  [
    "POST",
    "/user/codespaces/:name/start",
    true,
    (ctx) => {
      const doc = `${CS_DOCS}#start-a-codespace-for-the-authenticated-user`;
      const cs = ownCodespace(ctx);
      if (!cs) return notFound(doc);
      if (cs.deleteAt !== null) return ghError(409, "Codespace is being deleted.", doc);
      const state = ctx.store.stateOf(cs);
      if (ctx.store.start(cs) === "conflict") {
        return ghError(409, `Codespace cannot be started while it is ${state}. Try again when it is Shutdown.`, doc);
      }
      return json(200, ctx.store.render(cs, ctx.base));
    },
  ],
  [
    "POST",
    "/user/codespaces/:name/stop",
    true,
    (ctx) => {
      const cs = ownCodespace(ctx);
      if (!cs) return notFound(`${CS_DOCS}#stop-a-codespace-for-the-authenticated-user`);
      ctx.store.stop(cs);
      ctx.onGone(cs.name);
      return json(200, ctx.store.render(cs, ctx.base));
    },
  ],
  [
    "GET",
    "/user/codespaces/:name/machines",
    true,
    (ctx) => {
      const cs = ownCodespace(ctx);
      const repo = cs && ctx.store.repos.get(cs.repoKey);
      if (!cs || !repo) return notFound(`${DOCS}/codespaces/machines#list-machine-types-for-a-codespace`);
      return machinesBody(ctx, repo);
    },
  ],
  [
    "GET",
    "/repos/:owner/:repo",
    false,
    (ctx) => {
      const repo = repoOf(ctx);
      if (!repo) return notFound(`${DOCS}/repos/repos#get-a-repository`);
      const own = repo.owner.login.toLowerCase() === ctx.user.login.toLowerCase();
      return json(200, fullRepository(repo, ctx.base, { admin: own, push: true, pull: true }));
    },
  ],
  [
    "GET",
    "/repos/:owner/:repo/codespaces",
    true,
    (ctx) => {
      const repo = repoOf(ctx);
      if (!repo) return notFound(`${CS_DOCS}#list-codespaces-in-a-repository-for-the-authenticated-user`);
      const me = ctx.user.login.toLowerCase();
      const key = repo.fullName.toLowerCase();
      return listResponse(ctx, ctx.store.list((cs) => cs.ownerLogin.toLowerCase() === me && cs.repoKey === key));
    },
  ],
  ["POST", "/repos/:owner/:repo/codespaces", true, (ctx) => createInRepo(ctx, false)],
  ["POST", "/repos/:owner/:repo/pulls/:pull_number/codespaces", true, (ctx) => createInRepo(ctx, true)],
  [
    "GET",
    "/repos/:owner/:repo/codespaces/machines",
    true,
    (ctx) => {
      const doc = `${DOCS}/codespaces/machines#list-available-machine-types-for-a-repository`;
      const repo = repoOf(ctx);
      if (!repo) return notFound(doc);
      if (!repo.entitled) return notEntitled(repo, doc);
      return machinesBody(ctx, repo);
    },
  ],
  [
    "GET",
    "/repos/:owner/:repo/codespaces/new",
    true,
    (ctx) => {
      const doc = `${CS_DOCS}#get-default-attributes-for-a-codespace`;
      const repo = repoOf(ctx);
      if (!repo) return notFound(doc);
      if (!repo.entitled) return notEntitled(repo, doc);
      const acct = ctx.store.accounts.get(ctx.user.login.toLowerCase())!;
      return json(200, {
        billable_owner: simpleUser(acct, ctx.base),
        defaults: { location: "WestUs2", devcontainer_path: repo.devcontainers[0]?.path ?? null },
      });
    },
  ],
  [
    "GET",
    "/repos/:owner/:repo/codespaces/devcontainers",
    true,
    (ctx) => {
      const repo = repoOf(ctx);
      if (!repo) return notFound(`${CS_DOCS}#list-devcontainer-configurations-in-a-repository-for-the-authenticated-user`);
      const devcontainers = repo.devcontainers.map((d) =>
        d.name ? { path: d.path, name: d.name, display_name: d.name } : { path: d.path },
      );
      return json(200, { total_count: devcontainers.length, devcontainers });
    },
  ],
  [
    "GET",
    "/repos/:owner/:repo/codespaces/permissions_check",
    true,
    (ctx) => {
      const doc = `${CS_DOCS}#check-if-permissions-defined-by-a-devcontainer-have-been-accepted-by-the-authenticated-user`;
      const repo = repoOf(ctx);
      if (!repo) return notFound(doc);
      for (const p of ["ref", "devcontainer_path"]) {
        if (!ctx.url.searchParams.get(p)) {
          return ghError(422, "Validation Failed", doc, {
            errors: [{ resource: "Codespace", field: p, code: "missing_field", message: `${p} is required.` }],
          });
        }
      }
      return json(200, { accepted: repo.permissionsAccepted });
    },
  ],
];

export const ROUTES: Route[] = ROUTE_DEFS.map(([method, template, codespaces, handler]) => {
  const keys: string[] = [];
  const pattern = template.replace(/:([a-z_]+)/g, (_m, k: string) => {
    keys.push(k);
    return "([^/]+)";
  });
  return { method, template, regex: new RegExp(`^${pattern}/?$`), keys, codespaces, handler };
});

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/** Find the route for a path; `methodMismatch` when the path exists with another method. */
export function matchRoute(method: string, pathname: string): RouteMatch | { template: string; methodMismatch: true } | null {
  let mismatch: string | null = null;
  for (const route of ROUTES) {
    const m = route.regex.exec(pathname);
    if (!m) continue;
    if (route.method !== method) {
      mismatch ??= route.template;
      continue;
    }
    const params: Record<string, string> = {};
    route.keys.forEach((k, i) => {
      params[k] = decodeURIComponent(m[i + 1] ?? "");
    });
    return { route, params };
  }
  return mismatch ? { template: mismatch, methodMismatch: true } : null;
}
