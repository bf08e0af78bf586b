/**
 * The emulator's HTTP server: GitHub-like auth, headers, rate-limit counters,
 * injected faults and request counts around the REST routes of api.ts, plus
 * the unauthenticated /_emulator/* control surface used by tests and by the
 * gh stand-in.
 */
import type { Server } from "bun";
import { type RequestCtx, DOCS, ghError, json, matchRoute, resetResponse } from "./api.ts";
import { CONTROL_METHODS, type EmulatorControl, type Tunnels } from "./control.ts";
import { type Faults, defaultErrorBody } from "./faults.ts";
import type { SshFiles } from "./sshd.ts";
import type { Store, User } from "./store.ts";
import { sshdArgv } from "./sshd.ts";

export interface ServerDeps {
  store: Store;
  faults: Faults;
  tunnels: Tunnels;
  control: EmulatorControl;
  ssh: SshFiles;
  defaultUser: User;
  stateDir: string;
  ghPath: string;
  /** Counts API requests being answered (control.pendingRequests). */
  inflight?: { n: number };
}

export interface RunningServer {
  url: string;
  stop(): Promise<void>;
}

const RATE_LIMIT = 5000;
const SSHD_MISSING =
  "error getting ssh server details: failed to start SSH server: Please check if an SSH server is installed in the container.";

function bearer(req: Request): string | null {
  const h = req.headers.get("authorization");
  if (!h) return null;
  const m = /^(?:bearer|token)\s+(\S+)\s*$/i.exec(h);
  return m ? (m[1] as string) : "";
}

export function startServer(deps: ServerDeps, port = 0): RunningServer {
  const { store, faults, tunnels, control } = deps;
  const hangs = new Set<ReturnType<typeof setTimeout>>();
  const usage = new Map<string, { windowStart: number; used: number }>();
  let base = "";

  function rateHeaders(user: User | undefined): Record<string, string> {
    const now = Math.floor(Date.now() / 1000);
    const key = user?.token ?? "anonymous";
    let u = usage.get(key);
    if (!u || now >= u.windowStart + 3600) {
      u = { windowStart: now, used: 0 };
      usage.set(key, u);
    }
    u.used += 1;
    const limit = user ? RATE_LIMIT : 60;
    return {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(Math.max(0, limit - u.used)),
      "x-ratelimit-reset": String(u.windowStart + 3600),
      "x-ratelimit-used": String(u.used),
      "x-ratelimit-resource": "core",
    };
  }

  function commonHeaders(user: User | undefined, accepted: string | null): Record<string, string> {
    const h: Record<string, string> = {
      "x-github-api-version-selected": "2022-11-28",
      "x-github-media-type": "github.v3; format=json",
      "x-github-request-id": crypto.randomUUID().toUpperCase().slice(0, 23),
      ...rateHeaders(user),
    };
    if (user) h["x-oauth-scopes"] = user.scopes.join(", ");
    if (accepted !== null) h["x-accepted-oauth-scopes"] = accepted;
    return h;
  }

  function withHeaders(res: Response, headers: Record<string, string>): Response {
    for (const [k, v] of Object.entries(headers)) if (!res.headers.has(k)) res.headers.set(k, v);
    return res;
  }

  /** Every API request: its start and end in the event log, held while a holdUntil says so. */
  async function api(req: Request, server: Server<undefined>): Promise<Response> {
    const event = `${req.method.toUpperCase()} ${new URL(req.url).pathname}`;
    faults.record(event, "start");
    await faults.hold(event);
    try {
      return await answer(req, server);
    } finally {
      faults.record(event, "end");
    }
  }

  async function answer(req: Request, server: Server<undefined>): Promise<Response> {
    const url = new URL(req.url);
    const method = req.method.toUpperCase();
    const match = matchRoute(method, url.pathname);
    const route = match && "route" in match ? match.route : null;
    faults.count(`${method} ${route ? route.template : url.pathname}`);

    const token = bearer(req);
    const user = token ? store.userByToken(token) : undefined;
    const accepted = route ? (route.codespaces ? "codespace" : route.template === "/user" ? "" : "repo") : null;
    const headers = commonHeaders(user, accepted);
    if (route?.codespaces) {
      const metadata = /\/(machines|new|devcontainers|permissions_check)$/.test(route.template) && route.template.startsWith("/repos/");
      headers["x-accepted-github-permissions"] = metadata
        ? "codespaces_metadata=read"
        : `codespaces=${method === "GET" ? "read" : "write"}`;
    }

    const injected = faults.take(method, url.pathname);
    if (injected) {
      if (injected.delayMs > 0) await Bun.sleep(injected.delayMs);
      if (injected.reset) return resetResponse();
      if (injected.rawBody !== undefined) {
        const raw = new Response(injected.rawBody, { status: injected.status, headers: { "content-type": "application/json; charset=utf-8", ...injected.headers } });
        return withHeaders(raw, headers);
      }
      const res = json(injected.status, injected.body ?? defaultErrorBody(injected.status), injected.headers);
      return withHeaders(res, headers);
    }
    if (!token) return withHeaders(ghError(401, "Requires authentication", DOCS), headers);
    if (!user) return withHeaders(ghError(401, "Bad credentials", DOCS), headers);
    if (!match || !route) return withHeaders(ghError(404, "Not Found", DOCS), headers);
    if (route.codespaces && !user.scopes.includes("codespace")) {
      return withHeaders(ghError(403, "Must have admin rights to Repository.", DOCS), headers);
    }
    const params = "params" in match ? match.params : {};
    const ctx: RequestCtx = {
      req,
      url,
      params,
      user,
      base,
      store,
      takeCreateDrop: () => faults.takeCreateDrop(),
      takeCreateDuplicates: () => {
        const n = faults.createDuplicates;
        faults.createDuplicates = 0;
        return n;
      },
      hang(ms) {
        server.timeout(req, 0);
        return new Promise((resolve) => {
          const t = setTimeout(() => {
            hangs.delete(t);
            resolve(resetResponse());
          }, ms);
          hangs.add(t);
        });
      },
      onGone: (name) => tunnels.kill(name),
    };
    return withHeaders(await route.handler(ctx), headers);
  }

  /** What the gh stand-in asks: may this user open SSH to this codespace? */
  function ghCheck(req: Request, name: string): { ok: true; ref: string; dir: string } | { ok: false; message: string } {
    const token = bearer(req);
    const user = (token && store.userByToken(token)) || deps.defaultUser;
    const cs = store.get(name);
    if (!cs || cs.ownerLogin.toLowerCase() !== user.login.toLowerCase()) {
      return { ok: false, message: `error getting codespace: HTTP 404: Not Found (${base}/user/codespaces/${name})` };
    }
    const repo = store.repos.get(cs.repoKey);
    const state = store.stateOf(cs);
    if (cs.deleteAt !== null) return { ok: false, message: `codespace ${name} is being deleted` };
    if (state !== "Available") {
      return { ok: false, message: `error connecting to codespace: codespace ${name} is ${state}, not Available` };
    }
    if (repo && !repo.sshd) return { ok: false, message: SSHD_MISSING };
    return { ok: true, ref: cs.ref, dir: store.ensureDir(cs) };
  }

  async function controlRoute(req: Request, url: URL): Promise<Response> {
    const name = url.pathname.slice("/_emulator/".length);
    let body: unknown = null;
    if (req.method === "POST") {
      const text = await req.text();
      try {
        body = text.trim() ? JSON.parse(text) : null;
      } catch {
        return json(400, { error: "body must be JSON" });
      }
    }
    const obj = (body ?? {}) as Record<string, unknown>;
    switch (name) {
      case "info":
        return json(200, {
          url: base,
          user: { login: deps.defaultUser.login, id: deps.defaultUser.id },
          stateDir: deps.stateDir,
          ghPath: deps.ghPath,
        });
      case "gh/token": {
        const token = bearer(req);
        const user = (token && store.userByToken(token)) || deps.defaultUser;
        return json(200, { token: deps.defaultUser.token, login: user.login, scopes: user.scopes });
      }
      case "gh/config": {
        const cs = String(obj.name ?? "");
        tunnels.countConfig(cs);
        faults.record(`gh/config ${cs}`, "start");
        await faults.hold(`gh/config ${cs}`);
        const r = ghCheck(req, cs);
        if (!r.ok) return json(200, r);
        return json(200, { ok: true, ref: r.ref, identityFile: deps.ssh.clientKey });
      }
      case "gh/stdio": {
        const cs = String(obj.name ?? "");
        tunnels.countStdio(cs);
        const r = ghCheck(req, cs);
        if (!r.ok) return json(200, r);
        const rec = store.get(cs);
        if (rec) rec.lastUsedAt = Date.now();
        if (typeof obj.pid === "number") tunnels.open(obj.pid, cs);
        return json(200, {
          ok: true,
          delayMs: tunnels.handshakeDelayMs,
          argv: sshdArgv(deps.ssh, r.dir, store.homeOf(cs)),
          dir: r.dir,
          mountMode: deps.ssh.mountMode,
        });
      }
      case "gh/child":
        if (typeof obj.pid === "number" && typeof obj.childPid === "number") tunnels.child(obj.pid, obj.childPid);
        return json(200, { ok: true });
      case "gh/closed":
        if (typeof obj.pid === "number") tunnels.close(obj.pid);
        return json(200, { ok: true });
    }
    if (!(CONTROL_METHODS as readonly string[]).includes(name)) return json(404, { error: `unknown control ${name}` });
    const args = body === null ? [] : Array.isArray(body) ? body : [body];
    try {
      const fn = control[name as keyof EmulatorControl] as (...a: unknown[]) => unknown;
      const result = fn(...args);
      return json(200, { result: result === undefined ? null : result });
    } catch (e) {
      return json(400, { error: e instanceof Error ? e.message : String(e) });
    }
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    idleTimeout: 60,
    development: false,
    async fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname.startsWith("/_emulator/")) return controlRoute(req, url);
      if (!deps.inflight) return api(req, srv);
      deps.inflight.n++;
      try {
        return await api(req, srv);
      } finally {
        deps.inflight.n--;
      }
    },
    error(err) {
      return ghError(500, `Emulator error: ${err instanceof Error ? err.message : String(err)}`);
    },
  });
  base = `http://127.0.0.1:${server.port}`;

  return {
    url: base,
    async stop() {
      for (const t of hangs) clearTimeout(t);
      hangs.clear();
      await server.stop(true);
    },
  };
}
