/**
 * The Codespaces emulator's REST API and control surface (the data plane is
 * in emulator-ssh.test.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Emulator, startEmulator } from "../emulator/index.ts";

type Json = Record<string, any>;

let emu: Emulator;

beforeAll(async () => {
  emu = await startEmulator({ handshakeDelayMs: 0, delays: { provisionMs: 150, stopMs: 100, startMs: 100, deleteMs: 100 } });
});
afterAll(async () => {
  await emu.stop();
});

async function api(
  method: string,
  path: string,
  opts: { body?: unknown; token?: string | null; raw?: string } = {},
): Promise<{ status: number; headers: Headers; body: Json }> {
  const headers: Record<string, string> = {
    accept: "application/vnd.github+json",
    "x-github-api-version": "2022-11-28",
  };
  const token = opts.token === undefined ? emu.token : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined || opts.raw !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(path.startsWith("http") ? path : `${emu.url}${path}`, {
    method,
    headers,
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} };
}

async function create(body: Json = {}, repo = "octo-org/hello-world", token?: string): Promise<Json> {
  const r = await api("POST", `/repos/${repo}/codespaces`, { body, token });
  expect(r.status).toBe(201);
  return r.body;
}

async function stateOf(name: string): Promise<string> {
  const r = await api("GET", `/user/codespaces/${name}`);
  expect(r.status).toBe(200);
  return r.body.state;
}

async function waitFor(name: string, state: string, timeoutMs = 3000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if ((await stateOf(name)) === state) return Date.now() - t0;
    await Bun.sleep(20);
  }
  throw new Error(`${name} never reached ${state}`);
}

function parseLink(link: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (link ?? "").split(",")) {
    const m = /<([^>]+)>;\s*rel="([a-z]+)"/.exec(part.trim());
    if (m) out[m[2] as string] = m[1] as string;
  }
  return out;
}

describe("auth", () => {
  test("no token → 401 Requires authentication; unknown token → 401 Bad credentials", async () => {
    const none = await api("GET", "/user/codespaces", { token: null });
    expect(none.status).toBe(401);
    expect(none.body.message).toBe("Requires authentication");
    expect(none.body.documentation_url).toStartWith("https://docs.github.com/");
    const bad = await api("GET", "/user", { token: "ghp_notarealtokennotarealtokennotareal00" });
    expect(bad.status).toBe(401);
    expect(bad.body.message).toBe("Bad credentials");
  });

  test("`token X` and `Bearer X` both work; GET /user names the default user; headers look like GitHub's", async () => {
    const res = await fetch(`${emu.url}/user`, { headers: { authorization: `token ${emu.token}` } });
    expect(res.status).toBe(200);
    const me = (await res.json()) as Json;
    expect(me.login).toBe("monalisa");
    expect(me.id).toBe(emu.user.id);
    expect(res.headers.get("x-oauth-scopes")).toBe("codespace, repo");
    expect(res.headers.get("content-type")).toContain("application/json");
    for (const h of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-resource"]) {
      expect(res.headers.get(h)).not.toBeNull();
    }
    expect(Number(res.headers.get("x-ratelimit-reset"))).toBeGreaterThan(Date.now() / 1000);
  });

  test("a token without the codespace scope gets 403 on codespaces endpoints only", async () => {
    const u = emu.control.addUser("scopeless", { scopes: ["repo"] });
    const list = await api("GET", "/user/codespaces", { token: u.token });
    expect(list.status).toBe(403);
    expect(list.headers.get("x-accepted-oauth-scopes")).toBe("codespace");
    expect(list.headers.get("x-oauth-scopes")).toBe("repo");
    expect((await api("GET", "/user", { token: u.token })).status).toBe(200);
  });

  test("unknown routes → 404 Not Found", async () => {
    const r = await api("GET", "/user/nothing-here");
    expect(r.status).toBe(404);
    expect(r.body.message).toBe("Not Found");
  });
});

describe("codespace object", () => {
  test("carries every field of GitHub's documented example, with the same JSON types", async () => {
    const doc = JSON.parse(readFileSync(join(import.meta.dir, "../../fixtures/api/github-example-codespace.json"), "utf8")) as Json;
    const cs = await create({ display_name: "shape check" });
    const kind = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
    for (const [k, v] of Object.entries(doc)) {
      expect(cs).toHaveProperty(k);
      if (v !== null && cs[k] !== null) expect(`${k}:${kind(cs[k])}`).toBe(`${k}:${kind(v)}`);
    }
    for (const k of Object.keys(doc.git_status)) expect(cs.git_status).toHaveProperty(k);
    for (const k of Object.keys(doc.machine)) expect(cs.machine).toHaveProperty(k);
    for (const k of ["login", "id", "type"]) expect(cs.owner).toHaveProperty(k);
    for (const k of ["id", "name", "full_name", "owner", "private"]) expect(cs.repository).toHaveProperty(k);
    // api.md fields beyond the example
    for (const k of [
      "publish_url",
      "runtime_constraints",
      "pending_operation",
      "pending_operation_disabled_reason",
      "idle_timeout_notice",
      "retention_expires_at",
      "last_known_stop_notice",
    ]) {
      expect(cs).toHaveProperty(k);
    }
    expect(cs.name).toMatch(/^monalisa-hello-world-[a-z0-9]{10}$/);
    expect(cs.environment_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(cs.url).toBe(`${emu.url}/user/codespaces/${cs.name}`);
    expect(cs.repository.full_name).toBe("octo-org/hello-world");
    expect(cs.repository.owner.type).toBe("Organization");
    expect(cs.owner.login).toBe("monalisa");
    expect(cs.location).toBe("WestUs2");
    expect(cs.display_name).toBe("shape check");
    expect(cs.git_status.ref).toBe("main");
    expect(cs.recent_folders).toEqual([]);
    expect(cs.pending_operation).toBe(false);
    expect(new Date(cs.created_at).toISOString()).not.toBe("Invalid Date");
  });

  test("without display_name GitHub-style words are generated", async () => {
    const cs = await create();
    expect(cs.display_name).toMatch(/^[a-z]+ [a-z-]+ [a-z-]+$/);
  });
});

describe("pagination", () => {
  test("250 codespaces across 3 pages of 100 with absolute Link headers; only the caller's", async () => {
    const other = emu.control.addUser("pager-other");
    emu.control.addRepo({ fullName: "pager-org/many" });
    const seeded = new Set<string>();
    for (let i = 0; i < 250; i++) seeded.add(String(emu.control.seedCodespace({ repo: "pager-org/many", owner: "pager" }).name));
    for (let i = 0; i < 5; i++) emu.control.seedCodespace({ repo: "pager-org/many", owner: "pager-other" });
    const pager = emu.control.addUser("pager");

    const first = await api("GET", "/user/codespaces?per_page=100", { token: pager.token });
    expect(first.status).toBe(200);
    expect(first.body.total_count).toBe(250);
    expect(first.body.codespaces).toHaveLength(100);
    const l1 = parseLink(first.headers.get("link"));
    expect(Object.keys(l1).sort()).toEqual(["last", "next"]);
    expect(l1.next).toBe(`${emu.url}/user/codespaces?per_page=100&page=2`);
    expect(l1.last).toBe(`${emu.url}/user/codespaces?per_page=100&page=3`);

    const second = await api("GET", l1.next as string, { token: pager.token });
    const l2 = parseLink(second.headers.get("link"));
    expect(Object.keys(l2).sort()).toEqual(["first", "last", "next", "prev"]);
    expect(second.body.codespaces).toHaveLength(100);

    const third = await api("GET", l2.next as string, { token: pager.token });
    const l3 = parseLink(third.headers.get("link"));
    expect(Object.keys(l3).sort()).toEqual(["first", "prev"]);
    expect(third.body.codespaces).toHaveLength(50);

    const names = [...first.body.codespaces, ...second.body.codespaces, ...third.body.codespaces].map((c: Json) => c.name);
    expect(new Set(names)).toEqual(seeded);
    expect(names.every((n: string) => n.startsWith("pager-many-"))).toBe(true);

    // default per_page is 30; per_page is capped at 100
    const dflt = await api("GET", "/user/codespaces", { token: pager.token });
    expect(dflt.body.codespaces).toHaveLength(30);
    const capped = await api("GET", "/user/codespaces?per_page=500", { token: pager.token });
    expect(capped.body.codespaces).toHaveLength(100);

    // repo listing and repository_id filter see only the caller's
    const repoList = await api("GET", "/repos/pager-org/many/codespaces?per_page=100", { token: other.token });
    expect(repoList.body.total_count).toBe(5);
    const repoId = (await api("GET", "/repos/pager-org/many", { token: other.token })).body.id;
    const byId = await api("GET", `/user/codespaces?repository_id=${repoId}`, { token: other.token });
    expect(byId.body.total_count).toBe(5);
    // someone else's codespace is invisible
    const foreign = names[0] as string;
    expect((await api("GET", `/user/codespaces/${foreign}`, { token: other.token })).status).toBe(404);
    expect((await api("DELETE", `/user/codespaces/${foreign}`, { token: other.token })).status).toBe(404);
  });

  test("500 seeded codespaces list in well under a second", async () => {
    const u = emu.control.addUser("bulk");
    emu.control.addRepo({ fullName: "bulk-org/big" });
    const t0 = performance.now();
    for (let i = 0; i < 500; i++) emu.control.seedCodespace({ repo: "bulk-org/big", owner: "bulk" });
    const seededMs = performance.now() - t0;
    const t1 = performance.now();
    let url: string | undefined = "/user/codespaces?per_page=100";
    let seen = 0;
    while (url) {
      const r = await api("GET", url, { token: u.token });
      seen += r.body.codespaces.length;
      url = parseLink(r.headers.get("link")).next;
    }
    const listMs = performance.now() - t1;
    expect(seen).toBe(500);
    expect(seededMs).toBeLessThan(1000);
    expect(listMs).toBeLessThan(1000);
  });
});

describe("lifecycle", () => {
  test("create → Provisioning → Available; stop → ShuttingDown → Shutdown; start → Starting → Available", async () => {
    const cs = await create({ machine: "basicLinux32gb", idle_timeout_minutes: 10, retention_period_minutes: 60 });
    expect(cs.state).toBe("Provisioning");
    expect(cs.machine.name).toBe("basicLinux32gb");
    expect(cs.idle_timeout_minutes).toBe(10);
    expect(cs.retention_period_minutes).toBe(60);
    expect(existsSync(join(emu.control.codespaceDir(cs.name), "hello-world", "README.md"))).toBe(true);
    const waited = await waitFor(cs.name, "Available");
    expect(waited).toBeGreaterThan(50);

    const stop = await api("POST", `/user/codespaces/${cs.name}/stop`);
    expect(stop.status).toBe(200);
    expect(stop.body.state).toBe("ShuttingDown");
    expect((await api("POST", `/user/codespaces/${cs.name}/start`)).status).toBe(409);
    await waitFor(cs.name, "Shutdown");
    const stopped = await api("GET", `/user/codespaces/${cs.name}`);
    expect(Date.parse(stopped.body.retention_expires_at) - Date.now()).toBeGreaterThan(55 * 60_000);

    const start = await api("POST", `/user/codespaces/${cs.name}/start`);
    expect(start.status).toBe(200);
    expect(start.body.state).toBe("Starting");
    await waitFor(cs.name, "Available");
    const again = await api("POST", `/user/codespaces/${cs.name}/start`);
    expect(again.status).toBe(200);
    expect(again.body.state).toBe("Available");
    expect(again.body.retention_expires_at).toBeNull();
  });

  test("delete answers 202 {} and the codespace disappears after deleteMs", async () => {
    const cs = await create();
    const del = await api("DELETE", `/user/codespaces/${cs.name}`);
    expect(del.status).toBe(202);
    expect(del.body).toEqual({});
    expect((await api("GET", `/user/codespaces/${cs.name}`)).status).toBe(200);
    await Bun.sleep(150);
    const gone = await api("GET", `/user/codespaces/${cs.name}`);
    expect(gone.status).toBe(404);
    expect(gone.body.message).toBe("Not Found");
    const names = (await api("GET", "/user/codespaces?per_page=100")).body.codespaces.map((c: Json) => c.name);
    expect(names).not.toContain(cs.name);
  });

  test("deleteNeverCompletes, deleteBehindBack, stickProvisioning, setDirty, mutateCodespace", async () => {
    const a = await create();
    emu.control.deleteNeverCompletes(a.name);
    expect((await api("DELETE", `/user/codespaces/${a.name}`)).status).toBe(202);
    await Bun.sleep(150);
    expect((await api("GET", `/user/codespaces/${a.name}`)).status).toBe(200);

    const b = await create();
    emu.control.deleteBehindBack(b.name);
    expect((await api("GET", `/user/codespaces/${b.name}`)).status).toBe(404);

    emu.control.addRepo({ fullName: "octo-org/slow" });
    emu.control.stickProvisioning("octo-org/slow");
    const c = await create({}, "octo-org/slow");
    await Bun.sleep(250);
    expect(await stateOf(c.name)).toBe("Provisioning");
    const d = await create();
    await waitFor(d.name, "Available");

    emu.control.setDirty(d.name, { uncommitted: true, unpushed: true });
    const dirty = (await api("GET", `/user/codespaces/${d.name}`)).body.git_status;
    expect(dirty).toEqual({ ahead: 1, behind: 0, has_unpushed_changes: true, has_uncommitted_changes: true, ref: "main" });

    emu.control.mutateCodespace(d.name, { environment_id: "00000000-0000-4000-8000-000000000000" });
    expect((await api("GET", `/user/codespaces/${d.name}`)).body.environment_id).toBe("00000000-0000-4000-8000-000000000000");
  });
});

describe("create validation and repo endpoints", () => {
  test("unknown machine → 400 naming the machine; idle timeout out of range → 422 naming the field; bad types → 422", async () => {
    const m = await api("POST", "/repos/octo-org/hello-world/codespaces", { body: { machine: "gpuLinux" } });
    expect(m.status).toBe(400);
    expect(m.body.message).toContain("gpuLinux");
    expect(m.body.errors[0].field).toBe("machine");
    const idle = await api("POST", "/repos/octo-org/hello-world/codespaces", { body: { idle_timeout_minutes: 1 } });
    expect(idle.status).toBe(422);
    expect(JSON.stringify(idle.body)).toContain("idle_timeout_minutes");
    const typ = await api("POST", "/repos/octo-org/hello-world/codespaces", { body: { idle_timeout_minutes: "30" } });
    expect(typ.status).toBe(422);
    expect(typ.body.message).toContain("idle_timeout_minutes");
    const json = await api("POST", "/repos/octo-org/hello-world/codespaces", { raw: "{nope" });
    expect(json.status).toBe(400);
    expect((await api("POST", "/repos/octo-org/nope/codespaces", { body: {} })).status).toBe(404);
  });

  test("pull request codespaces take the PR's head ref", async () => {
    emu.control.addRepo({ fullName: "octo-org/prs", pulls: [{ number: 7, headRef: "feature/x" }] });
    const r = await api("POST", "/repos/octo-org/prs/pulls/7/codespaces", { body: {} });
    expect(r.status).toBe(201);
    expect(r.body.git_status.ref).toBe("feature/x");
    expect(r.body.pulls_url).toBe(`${emu.url}/repos/octo-org/prs/pulls/7`);
    expect((await api("POST", "/repos/octo-org/prs/pulls/8/codespaces", { body: {} })).status).toBe(404);
  });

  test("machines, defaults, devcontainers, permissions_check, repo; a repo without entitlement → 403", async () => {
    const machines = await api("GET", "/repos/octo-org/hello-world/codespaces/machines?location=WestUs2&ref=main");
    expect(machines.body.total_count).toBe(4);
    expect(machines.body.machines.map((m: Json) => m.name)).toEqual([
      "basicLinux32gb",
      "standardLinux32gb",
      "premiumLinux",
      "largePremiumLinux",
    ]);
    expect(machines.body.machines[0]).toMatchObject({ cpus: 2, memory_in_bytes: 8 * 2 ** 30, storage_in_bytes: 32 * 2 ** 30 });
    const defaults = await api("GET", "/repos/octo-org/hello-world/codespaces/new?ref=main");
    expect(defaults.body.billable_owner.login).toBe("monalisa");
    expect(defaults.body.defaults).toEqual({ location: "WestUs2", devcontainer_path: ".devcontainer/devcontainer.json" });
    const dcs = await api("GET", "/repos/octo-org/hello-world/codespaces/devcontainers");
    expect(dcs.body).toEqual({ total_count: 1, devcontainers: [{ path: ".devcontainer/devcontainer.json" }] });
    const noArgs = await api("GET", "/repos/octo-org/hello-world/codespaces/permissions_check?ref=main");
    expect(noArgs.status).toBe(422);
    const ok = await api(
      "GET",
      "/repos/octo-org/hello-world/codespaces/permissions_check?ref=main&devcontainer_path=.devcontainer/devcontainer.json",
    );
    expect(ok.body).toEqual({ accepted: true });
    const repo = await api("GET", "/repos/Octo-Org/Hello-World");
    expect(repo.body).toMatchObject({ full_name: "octo-org/hello-world", default_branch: "main", private: false });
    expect(repo.body.owner.login).toBe("octo-org");

    emu.control.addRepo({ fullName: "octo-org/locked", entitled: false, machines: ["premiumLinux"] });
    expect((await api("GET", "/repos/octo-org/locked/codespaces/machines")).status).toBe(403);
    expect((await api("GET", "/repos/octo-org/locked/codespaces/new")).status).toBe(403);
    expect((await api("POST", "/repos/octo-org/locked/codespaces", { body: {} })).status).toBe(403);
  });
});

describe("faults and counts", () => {
  test("an injected 429 carries Retry-After, fires `times` times, then the route recovers", async () => {
    emu.control.injectError({ method: "GET", path: "^/user/codespaces$", status: 429, times: 2, headers: { "retry-after": "3" } });
    for (let i = 0; i < 2; i++) {
      const r = await api("GET", "/user/codespaces");
      expect(r.status).toBe(429);
      expect(r.headers.get("retry-after")).toBe("3");
      expect(r.body.message).toContain("rate limit");
    }
    expect((await api("GET", "/user/codespaces")).status).toBe(200);
  });

  test("an injected reset destroys the connection; clearErrors removes pending faults", async () => {
    // Bun's fetch retries an idempotent request once when a kept-alive connection is reset,
    // so a GET needs two resets in a row to reach the caller.
    emu.control.injectError({ path: "^/user$", status: 0, reset: true, times: 2 });
    await expect(fetch(`${emu.url}/user`, { headers: { authorization: `Bearer ${emu.token}` } })).rejects.toThrow();
    emu.control.injectError({ path: "^/user$", status: 503 });
    emu.control.clearErrors();
    expect((await api("GET", "/user")).status).toBe(200);
  });

  test("dropNextCreate: the codespace is created but the client sees a reset, then a 500", async () => {
    const before = emu.control.codespaces().length;
    emu.control.dropNextCreate("reset");
    await expect(
      fetch(`${emu.url}/repos/octo-org/hello-world/codespaces`, {
        method: "POST",
        headers: { authorization: `Bearer ${emu.token}`, "content-type": "application/json" },
        body: JSON.stringify({ display_name: "crabbox amber-crab 1a2b" }),
      }),
    ).rejects.toThrow();
    emu.control.dropNextCreate("500");
    const r = await api("POST", "/repos/octo-org/hello-world/codespaces", { body: { display_name: "crabbox amber-crab 3c4d" } });
    expect(r.status).toBe(500);
    const all = emu.control.codespaces();
    expect(all.length).toBe(before + 2);
    const names = all.map((c) => c.display_name);
    expect(names).toContain("crabbox amber-crab 1a2b");
    expect(names).toContain("crabbox amber-crab 3c4d");
    // the next create is normal again
    expect((await api("POST", "/repos/octo-org/hello-world/codespaces", { body: {} })).status).toBe(201);
  });

  test("dropNextCreate(timeout): no answer (the client gives up), yet the codespace exists", async () => {
    emu.control.dropNextCreate("timeout");
    const before = emu.control.codespaces().length;
    const t0 = Date.now();
    await expect(
      fetch(`${emu.url}/repos/octo-org/hello-world/codespaces`, {
        method: "POST",
        headers: { authorization: `Bearer ${emu.token}` },
        body: "{}",
        signal: AbortSignal.timeout(300),
      }),
    ).rejects.toThrow();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(emu.control.codespaces().length).toBe(before + 1);
  });

  test("counts are keyed by normalized route templates", async () => {
    emu.control.resetCounts();
    const cs = await create();
    await api("GET", `/user/codespaces/${cs.name}`);
    await api("GET", `/user/codespaces/${cs.name}`);
    await api("GET", "/user/codespaces?per_page=1");
    await api("POST", `/user/codespaces/${cs.name}/stop`);
    expect(emu.control.counts()).toEqual({
      "POST /repos/:owner/:repo/codespaces": 1,
      "GET /user/codespaces/:name": 2,
      "GET /user/codespaces": 1,
      "POST /user/codespaces/:name/stop": 1,
    });
    emu.control.resetCounts();
    expect(emu.control.counts()).toEqual({});
  });

  test("the control surface is reachable over HTTP under /_emulator", async () => {
    const post = async (name: string, args: unknown[] = []) => {
      const r = await fetch(`${emu.url}/_emulator/${name}`, { method: "POST", body: JSON.stringify(args) });
      return { status: r.status, body: (await r.json()) as Json };
    };
    const repo = await post("addRepo", [{ fullName: "http-org/ctl", sshd: false }]);
    expect(repo.body.result.fullName).toBe("http-org/ctl");
    const seeded = await post("seedCodespace", [{ repo: "http-org/ctl" }]);
    expect(seeded.body.result.repository.full_name).toBe("http-org/ctl");
    const counts = await fetch(`${emu.url}/_emulator/counts`);
    expect(counts.status).toBe(200);
    expect((await post("setDirty", ["no-such-codespace", { uncommitted: true }])).status).toBe(400);
    expect((await post("noSuchMethod")).status).toBe(404);
  });
});
