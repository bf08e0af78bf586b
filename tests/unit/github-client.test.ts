import { describe, expect, test } from "bun:test";
import { createGithubClient, normalizeApiUrl, parseLinkHeader } from "../../src/github/client.ts";
import { SCOPE_HINT } from "../../src/github/errors.ts";
import {
  createCodespace,
  createPullRequestCodespace,
  deleteCodespace,
  getAuthenticatedUser,
  getCodespace,
  getCodespaceOrNull,
  getRepository,
  listMyCodespaces,
  pageUrls,
  listRepoCodespaces,
  startCodespace,
  stopCodespace,
  listRepoMachines,
  checkPermissions,
  getRepoDefaults,
} from "../../src/github/operations.ts";
import { createRuntime } from "../../src/runtime.ts";
import { CANARY, NOW, caught, codespaceExample, fixture, json, setup } from "./github-mock.ts";

const user = { login: "octocat", id: 1 };
const repo = { id: 7, name: "r", full_name: "o/r", private: true, default_branch: "main", owner: { login: "o", id: 2 } };

function assertNoToken(err: any) {
  const everything = [
    String(err?.message),
    String(err?.hint),
    String(err?.why),
    JSON.stringify(err?.toJSON?.() ?? err),
    Bun.inspect(err),
    String(err?.stack),
  ].join("\n");
  expect(everything).not.toContain(CANARY);
  expect(everything).not.toContain(CANARY.slice(4, 30));
}

describe("requests", () => {
  test("send GitHub's headers and the bearer token, to the right URL", async () => {
    const { client, calls } = setup([json(200, user)]);
    const me = await getAuthenticatedUser(client);
    expect(me.login).toBe("octocat");
    expect(calls).toHaveLength(1);
    const c = calls[0]!;
    expect(c.url.toString()).toBe("https://api.github.com/user");
    expect(c.method).toBe("GET");
    expect(c.headers.get("accept")).toBe("application/vnd.github+json");
    expect(c.headers.get("x-github-api-version")).toBe("2022-11-28");
    expect(c.headers.get("authorization")).toBe(`Bearer ${CANARY}`);
    expect(c.headers.get("user-agent")).toBe("crabbox-cs/1.2.3");
    expect(client.requests).toBe(1);
    expect(client.requestsByRoute.get("GET /user")).toBe(1);
  });

  test("keep an API path prefix and encode route parameters", async () => {
    const { client, calls } = setup([json(200, codespaceExample())], { apiUrl: "http://127.0.0.1:4567/api/v3/" });
    await getCodespace(client, "a b/c");
    expect(calls[0]!.url.toString()).toBe("http://127.0.0.1:4567/api/v3/user/codespaces/a%20b%2Fc");
  });

  test("apiUrl: https anywhere, http only on loopback, otherwise exit 2", () => {
    expect(normalizeApiUrl("https://api.github.com/")).toBe("https://api.github.com");
    expect(normalizeApiUrl("https://api.acme.ghe.com")).toBe("https://api.acme.ghe.com");
    for (const ok of ["http://127.0.0.1:8080", "http://127.9.8.7", "http://localhost:1", "http://[::1]:9000/x"]) {
      expect(() => normalizeApiUrl(ok)).not.toThrow();
    }
    for (const bad of [
      "http://api.github.com",
      "http://10.0.0.1",
      "http://localhost.evil.com",
      "ftp://api.github.com",
      "not a url",
      "https://user:pw@api.github.com",
      "https://api.github.com?x=1",
    ]) {
      let err: any;
      try {
        normalizeApiUrl(bad);
      } catch (e) {
        err = e;
      }
      expect(err?.exit).toBe(2);
      expect(err?.code).toBe("config_api_url");
    }
    expect(() =>
      createGithubClient({ runtime: createRuntime({ env: {} }), apiUrl: "http://example.com", token: CANARY, version: "0" }),
    ).toThrow();
  });

  test("create sends only the defined body fields; PR create never sends ref", async () => {
    const { client, calls } = setup([json(201, codespaceExample()), json(202, codespaceExample({ state: "Queued" }))]);
    await createCodespace(client, "o/r", { ref: "main", machine: "basicLinux32gb", display_name: undefined, idle_timeout_minutes: 30 });
    expect(calls[0]!.method).toBe("POST");
    expect(calls[0]!.url.pathname).toBe("/repos/o/r/codespaces");
    expect(JSON.parse(calls[0]!.body!)).toEqual({ ref: "main", machine: "basicLinux32gb", idle_timeout_minutes: 30 });
    const cs = await createPullRequestCodespace(client, "o/r", 12, { ref: "x", display_name: "crabbox a-b 1234" } as any);
    expect(cs.state).toBe("Queued");
    expect(calls[1]!.url.pathname).toBe("/repos/o/r/pulls/12/codespaces");
    expect(JSON.parse(calls[1]!.body!)).toEqual({ display_name: "crabbox a-b 1234" });
  });

  test("start/stop/delete hit the documented routes", async () => {
    const { client, calls } = setup([
      json(200, codespaceExample({ state: "Starting" })),
      json(200, codespaceExample({ state: "ShuttingDown" })),
      json(202, {}),
    ]);
    expect((await startCodespace(client, "cs1")).state).toBe("Starting");
    expect((await stopCodespace(client, "cs1")).state).toBe("ShuttingDown");
    expect(await deleteCodespace(client, "cs1")).toBe(202);
    expect(calls.map((c) => `${c.method} ${c.url.pathname}`)).toEqual([
      "POST /user/codespaces/cs1/start",
      "POST /user/codespaces/cs1/stop",
      "DELETE /user/codespaces/cs1",
    ]);
  });

  test("start answered 304 refetches the codespace", async () => {
    const { client, calls } = setup([json(304, null), json(200, codespaceExample())]);
    const cs = await startCodespace(client, "cs1");
    expect(cs.state).toBe("Available");
    expect(calls.map((c) => c.method)).toEqual(["POST", "GET"]);
  });

  test("query parameters: only those given are sent", async () => {
    const { client, calls } = setup([
      json(200, fixture("github-example-machines-list.json")),
      json(200, fixture("github-example-permissions-check.json")),
      json(200, fixture("github-example-repo-defaults.json")),
    ]);
    const machines = await listRepoMachines(client, "o/r", { ref: "main" });
    expect(machines.machines.map((m) => m.name)).toEqual(["standardLinux", "premiumLinux"]);
    expect(calls[0]!.url.pathname).toBe("/repos/o/r/codespaces/machines");
    expect([...calls[0]!.url.searchParams.keys()]).toEqual(["ref"]);
    expect((await checkPermissions(client, "o/r", { ref: "main", devcontainerPath: ".devcontainer/devcontainer.json" })).accepted).toBe(true);
    expect(calls[1]!.url.searchParams.get("devcontainer_path")).toBe(".devcontainer/devcontainer.json");
    expect(calls[1]!.url.searchParams.get("ref")).toBe("main");
    expect((await getRepoDefaults(client, "o/r")).defaults.location).toBe("EastUs");
    expect(calls[2]!.url.search).toBe("");
  });
});

describe("error mapping", () => {
  const cases: Array<{
    name: string;
    status: number;
    body: unknown;
    headers?: Record<string, string>;
    call: (c: any) => Promise<unknown>;
    code: string;
    exit: number;
    message?: RegExp;
    hint?: RegExp | string;
  }> = [
    {
      name: "401 → auth_rejected",
      status: 401,
      body: { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" },
      call: (c) => getAuthenticatedUser(c),
      code: "auth_rejected",
      exit: 3,
      message: /GitHub rejected the token/,
      hint: /gh auth login/,
    },
    {
      name: "403 with scopes lacking codespace → missing scope",
      status: 403,
      body: { message: "Forbidden" },
      headers: { "x-oauth-scopes": "repo, read:org" },
      call: (c) => getCodespace(c, "cs1"),
      code: "auth_missing_scope",
      exit: 3,
      hint: SCOPE_HINT,
    },
    {
      name: "403 whose message mentions the scope → missing scope",
      status: 403,
      body: { message: "This API operation needs the \"codespace\" scope." },
      call: (c) => listMyCodespaces(c),
      code: "auth_missing_scope",
      exit: 3,
      hint: SCOPE_HINT,
    },
    {
      name: "404 on a codespace route with a scope-less classic token → missing scope",
      status: 404,
      body: { message: "Not Found" },
      headers: { "x-oauth-scopes": "repo" },
      call: (c) => getCodespace(c, "cs1"),
      code: "auth_missing_scope",
      exit: 3,
      hint: SCOPE_HINT,
    },
    {
      name: "403 policy → forbidden (exit 3)",
      status: 403,
      body: { message: "Codespaces are not enabled for this organization" },
      headers: { "x-oauth-scopes": "repo, codespace" },
      call: (c) => createCodespace(c, "o/r", {}),
      code: "forbidden",
      exit: 3,
      message: /refused repository o\/r \(HTTP 403/,
      hint: /org/,
    },
    {
      name: "402 → billing",
      status: 402,
      body: { message: "Payment required" },
      call: (c) => startCodespace(c, "cs1"),
      code: "billing",
      exit: 3,
      message: /billing/,
      hint: /billing/,
    },
    {
      name: "404 codespace → codespace_not_found",
      status: 404,
      body: { message: "Not Found" },
      call: (c) => getCodespace(c, "cs-gone"),
      code: "codespace_not_found",
      exit: 4,
      message: /Codespace cs-gone was not found/,
    },
    {
      name: "404 repo → repo_not_found",
      status: 404,
      body: { message: "Not Found" },
      call: (c) => getRepository(c, "o/secret"),
      code: "repo_not_found",
      exit: 4,
      message: /o\/secret.*not visible to this token/,
    },
    {
      name: "409 → conflict",
      status: 409,
      body: { message: "Codespace has a pending operation" },
      call: (c) => startCodespace(c, "cs1"),
      code: "conflict",
      exit: 8,
      message: /conflict/,
    },
    {
      name: "422 names the fields",
      status: 422,
      body: {
        message: "Validation Failed",
        errors: [{ resource: "Codespace", field: "machine", code: "invalid" }, "idle_timeout_minutes is too large"],
      },
      call: (c) => createCodespace(c, "o/r", { machine: "huge" }),
      code: "validation_failed",
      exit: 2,
      message: /Validation Failed.*`machine`.*idle_timeout_minutes is too large/,
      hint: /`machine`/,
    },
    {
      name: "400 → bad_request",
      status: 400,
      body: { message: "Problems parsing JSON" },
      call: (c) => getRepoDefaults(c, "o/r"),
      code: "bad_request",
      exit: 2,
    },
  ];

  for (const tc of cases) {
    test(tc.name, async () => {
      const { client, calls } = setup([json(tc.status, tc.body, tc.headers)]);
      const err = await caught(tc.call(client));
      expect(err.code).toBe(tc.code);
      expect(err.exit).toBe(tc.exit);
      if (tc.message) expect(err.message).toMatch(tc.message);
      if (typeof tc.hint === "string") expect(err.hint).toBe(tc.hint);
      else if (tc.hint) expect(err.hint).toMatch(tc.hint);
      expect(err.details.status).toBe(tc.status);
      expect(err.details.method).toBe(calls[0]!.method);
      expect(String(err.details.route)).toMatch(/^\/(user|repos)/);
      expect(String(err.details.route)).not.toContain("?");
      expect(calls).toHaveLength(1); // none of these is retried
      assertNoToken(err);
    });
  }

  test("details carry the route template, not the concrete URL", async () => {
    const { client } = setup([json(404, { message: "Not Found" })]);
    const err = await caught(getCodespace(client, "cs-xyz"));
    expect(err.details).toMatchObject({ status: 404, method: "GET", route: "/user/codespaces/{codespace_name}" });
  });

  test("getCodespaceOrNull returns null on 404 only", async () => {
    const { client } = setup([json(404, { message: "Not Found" }), json(401, { message: "Bad credentials" })]);
    expect(await getCodespaceOrNull(client, "cs1")).toBeNull();
    expect((await caught(getCodespaceOrNull(client, "cs1"))).exit).toBe(3);
  });

  test("the token never appears, even when GitHub echoes it back", async () => {
    for (const status of [401, 403, 404, 409, 422, 500]) {
      const { client } = setup([json(status, { message: `token ${CANARY} is bad`, errors: [CANARY] })], {
        retry: { retries: 1 },
      });
      const err = await caught(getCodespace(client, "cs1"));
      assertNoToken(err);
    }
    const { client } = setup([new TypeError(`connect ECONNREFUSED (Bearer ${CANARY})`)], { retry: { retries: 0 } });
    assertNoToken(await caught(getAuthenticatedUser(client)));
  });
});

describe("retries", () => {
  test("429 Retry-After is honoured through the injected sleep", async () => {
    const { client, calls, sleeps } = setup([json(429, { message: "slow down" }, { "retry-after": "7" }), json(200, user)]);
    expect((await getAuthenticatedUser(client)).id).toBe(1);
    expect(sleeps).toEqual([7000]);
    expect(calls).toHaveLength(2);
    expect(client.requests).toBe(2);
  });

  test("403 with x-ratelimit-remaining 0 waits until X-RateLimit-Reset", async () => {
    const reset = String(NOW / 1000 + 30);
    const { client, sleeps } = setup([
      json(403, { message: "API rate limit exceeded" }, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }),
      json(200, user),
    ]);
    await getAuthenticatedUser(client);
    expect(sleeps).toEqual([31_000]); // 30 s to the reset + 1 s margin
  });

  test("secondary rate limit (403 + retry-after) retried; plain 403 is not", async () => {
    const a = setup([json(403, { message: "secondary rate limit" }, { "retry-after": "2" }), json(200, user)]);
    await getAuthenticatedUser(a.client);
    expect(a.sleeps).toEqual([2000]);
    const b = setup([json(403, { message: "nope" }), json(200, user)]);
    expect((await caught(getAuthenticatedUser(b.client))).code).toBe("forbidden");
    expect(b.calls).toHaveLength(1);
    expect(b.sleeps).toEqual([]);
  });

  test("a wait beyond maxWaitMs is not slept: exit 8 saying when to retry", async () => {
    const { client, calls, sleeps } = setup([json(429, { message: "slow down" }, { "retry-after": "600" })]);
    const err = await caught(getAuthenticatedUser(client));
    expect(sleeps).toEqual([]);
    expect(calls).toHaveLength(1);
    expect(err.code).toBe("rate_limited");
    expect(err.exit).toBe(8);
    const at = new Date(NOW + 600_000).toISOString();
    expect(err.message).toContain(at);
    expect(err.message).toContain("10m");
    expect(err.details.retryAfterSeconds).toBe(600);
  });

  test("one Retry-After holds every request of the client (a fan-out waits once, together)", async () => {
    let release!: () => void;
    const waits: number[] = [];
    const sleep = (ms: number) => {
      waits.push(ms);
      return new Promise<void>((r) => (release = r));
    };
    const { client, calls } = setup([json(429, { message: "slow down" }, { "retry-after": "5" }), json(200, user)], { retry: { sleep } });
    const first = getAuthenticatedUser(client);
    while (waits.length === 0) await Bun.sleep(1);
    // Asked while the first is held: it waits at the same gate instead of finding the limit itself.
    const second = getAuthenticatedUser(client);
    await Bun.sleep(20);
    expect(calls).toHaveLength(1);
    release();
    expect((await first).id).toBe(1);
    expect((await second).id).toBe(1);
    expect(waits).toEqual([5000]);
    expect(calls).toHaveLength(3);
  });

  test("rate limit that persists: bounded retries, then rate_limited", async () => {
    const { client, calls, sleeps } = setup([json(429, { message: "slow down" }, { "retry-after": "1" })], { retry: { retries: 2 } });
    const err = await caught(getAuthenticatedUser(client));
    expect(calls).toHaveLength(3);
    expect(sleeps).toEqual([1000, 1000]);
    expect(err.code).toBe("rate_limited");
  });

  test("5xx: bounded exponential backoff (default 4 retries), then github_unavailable exit 8", async () => {
    const { client, calls, sleeps } = setup([json(502, { message: "Server Error" })], { retry: { baseDelayMs: 100 } });
    const err = await caught(listMyCodespaces(client));
    expect(calls).toHaveLength(5);
    expect(sleeps).toEqual([100, 200, 400, 800]);
    expect(err.code).toBe("github_unavailable");
    expect(err.exit).toBe(8);
    expect(err.message).toContain("GitHub is having trouble");
    expect(err.message).toContain("502");
    expect(err.details).toMatchObject({ status: 502, method: "GET", route: "/user/codespaces" });
    assertNoToken(err);
  });

  test("503 asking for a wait beyond maxWaitMs: no sleep, the error says when to retry", async () => {
    const { client, calls, sleeps } = setup([json(503, { message: "Service unavailable" }, { "retry-after": "300" })]);
    const err = await caught(getCodespace(client, "cs1"));
    expect(calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    expect(err.code).toBe("github_unavailable");
    expect(err.exit).toBe(8);
    expect(err.message).toContain(new Date(NOW + 300_000).toISOString());
    expect(err.details.retryAfterSeconds).toBe(300);
  });

  test("5xx then success on an idempotent POST (stop) and DELETE", async () => {
    const a = setup([json(500, { message: "oops" }), json(200, codespaceExample({ state: "Shutdown" }))]);
    expect((await stopCodespace(a.client, "cs1")).state).toBe("Shutdown");
    expect(a.calls).toHaveLength(2);
    const b = setup([json(503, { message: "oops" }), json(202, {})]);
    expect(await deleteCodespace(b.client, "cs1")).toBe(202);
    expect(b.calls).toHaveLength(2);
  });

  test("connection errors are retried for GET, then reported as network (exit 8)", async () => {
    const ok = setup([new TypeError("fetch failed: ECONNRESET"), json(200, user)]);
    await getAuthenticatedUser(ok.client);
    expect(ok.calls).toHaveLength(2);
    expect(ok.sleeps).toEqual([1000]);
    const bad = setup([new TypeError("connect ECONNREFUSED 127.0.0.1:1")], { retry: { retries: 2 } });
    const err = await caught(getAuthenticatedUser(bad.client));
    expect(bad.calls).toHaveLength(3);
    expect(err.code).toBe("network");
    expect(err.exit).toBe(8);
    expect(err.why).toContain("ECONNREFUSED");
  });

  test("request timeout per attempt → api_timeout after retries", async () => {
    const hang = (_c: unknown, signal: AbortSignal | undefined) =>
      new Promise<Response>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)));
    const { client, calls } = setup([hang], { timeoutMs: 20, retry: { retries: 1 } });
    const err = await caught(getAuthenticatedUser(client));
    expect(calls).toHaveLength(2);
    expect(err.code).toBe("api_timeout");
    expect(err.exit).toBe(8);
  });

  test("404/409/422 are never retried", async () => {
    for (const status of [404, 409, 422]) {
      const { client, calls, sleeps } = setup([json(status, { message: "x" })]);
      await caught(getCodespace(client, "cs1"));
      expect(calls).toHaveLength(1);
      expect(sleeps).toEqual([]);
    }
  });
});

describe("create is never retried on an unknown outcome", () => {
  for (const [label, step] of [
    ["HTTP 500", json(500, { message: "Server Error" })],
    ["HTTP 503", json(503, { message: "Service unavailable" }, { "retry-after": "1" })],
    ["a network error", new TypeError("fetch failed: ECONNRESET")],
  ] as const) {
    test(`${label} → create_outcome_unknown after one attempt`, async () => {
      const { client, calls, sleeps } = setup([step, json(201, codespaceExample())]);
      const err = await caught(createCodespace(client, "o/r", { display_name: "crabbox amber-crab 1a2b" }));
      expect(err.code).toBe("create_outcome_unknown");
      expect(err.exit).toBe(8);
      expect(calls).toHaveLength(1);
      expect(sleeps).toEqual([]);
      expect(err.details).toMatchObject({ method: "POST", route: "/repos/{owner}/{repo}/codespaces" });
      assertNoToken(err);
    });
  }

  test("a timeout on create → create_outcome_unknown", async () => {
    const hang = (_c: unknown, signal: AbortSignal | undefined) =>
      new Promise<Response>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)));
    const { client, calls } = setup([hang], { timeoutMs: 20 });
    const err = await caught(createPullRequestCodespace(client, "o/r", 3, {}));
    expect(err.code).toBe("create_outcome_unknown");
    expect(calls).toHaveLength(1);
  });

  test("a 201 with an unreadable body → create_outcome_unknown naming the field", async () => {
    const body = codespaceExample();
    delete body.name;
    const { client } = setup([json(201, body)]);
    const err = await caught(createCodespace(client, "o/r", {}));
    expect(err.code).toBe("create_outcome_unknown");
    expect(err.why).toContain("`name`");
  });

  test("a rate-limited create (429: refused before acting) is retried after Retry-After", async () => {
    const { client, calls, sleeps } = setup([json(429, { message: "slow" }, { "retry-after": "3" }), json(202, codespaceExample({ state: "Queued" }))]);
    expect((await createCodespace(client, "o/r", {})).state).toBe("Queued");
    expect(calls).toHaveLength(2);
    expect(sleeps).toEqual([3000]);
  });
});

describe("redirects", () => {
  const moved = (location: string, status = 307) => new Response("", { status, headers: { location } });

  test("a redirect to another origin is refused with exit 8; the other origin is never asked", async () => {
    for (const status of [301, 302, 307, 308]) {
      const { client, calls } = setup([moved("https://evil.example.com/user", status), json(200, user)]);
      const err = await caught(getAuthenticatedUser(client));
      expect(err.code).toBe("api_redirect_refused");
      expect(err.exit).toBe(8);
      expect(err.message).toContain("another origin (https://evil.example.com)");
      expect(err.message).not.toMatch(/rejected the token/);
      expect(calls).toHaveLength(1);
      expect(calls.every((c) => c.url.origin === "https://api.github.com")).toBe(true);
    }
  });

  test("a redirect outside the API path on the same host (GHES) is refused too", async () => {
    const { client, calls } = setup([moved("https://ghe.example.com/login")], { apiUrl: "https://ghe.example.com/api/v3" });
    expect((await caught(getAuthenticatedUser(client))).code).toBe("api_redirect_refused");
    expect(calls).toHaveLength(1);
  });

  test("a redirect within the API is followed (with the token), at most 5 hops", async () => {
    const { client, calls } = setup([moved("/user2"), moved("https://api.github.com/user3", 301), json(200, user)]);
    expect((await getAuthenticatedUser(client)).login).toBe(user.login);
    expect(calls.map((c) => c.url.pathname)).toEqual(["/user", "/user2", "/user3"]);
    for (const c of calls) expect(c.headers.get("authorization")).toBe(`Bearer ${CANARY}`);
    const loop = setup([moved("/user")]);
    expect((await caught(getAuthenticatedUser(loop.client))).code).toBe("api_redirect_refused");
    expect(loop.calls).toHaveLength(6);
  });
});

describe("pagination", () => {
  /** A page; `last` (default: `next`) is what GitHub sends as rel="last". */
  function page(names: string[], next?: string, last = next) {
    const codespaces = names.map((name, i) => codespaceExample({ name, id: i + 1 }));
    return json(200, { total_count: 5, codespaces }, next ? { link: `<${next}>; rel="next", <${last}>; rel="last"` } : {});
  }

  test("follows Link rel=next across 3 pages", async () => {
    const pages: string[] = [];
    const { client, calls } = setup([
      page(["a", "b"], "https://api.github.com/user/codespaces?per_page=100&repository_id=7&page=2", "https://api.github.com/user/codespaces?per_page=100&repository_id=7&page=3"),
      page(["c", "d"], "https://api.github.com/user/codespaces?per_page=100&repository_id=7&page=3"),
      page(["e"]),
    ]);
    const all = await listMyCodespaces(client, { repositoryId: 7, onPage: (cs, n) => pages.push(`${n}:${cs.length}`) });
    expect(all.map((c) => c.name)).toEqual(["a", "b", "c", "d", "e"]);
    expect(pages).toEqual(["1:2", "2:2", "3:1"]);
    expect(calls).toHaveLength(3);
    expect(client.requests).toBe(3);
    expect(calls[0]!.url.searchParams.get("per_page")).toBe("100");
    expect(calls[0]!.url.searchParams.get("repository_id")).toBe("7");
    expect(calls[1]!.url.searchParams.get("page")).toBe("2");
    expect(calls[2]!.url.searchParams.get("page")).toBe("3");
    for (const c of calls) expect(c.headers.get("authorization")).toBe(`Bearer ${CANARY}`);
  });

  test("without rel=last, rel=next is followed one page at a time", async () => {
    const link = (n: number) => ({ link: `<https://api.github.com/user/codespaces?page=${n}>; rel="next"` });
    const { client, calls } = setup([
      json(200, { total_count: 3, codespaces: [codespaceExample({ name: "a" })] }, link(2)),
      json(200, { total_count: 3, codespaces: [codespaceExample({ name: "b" })] }, link(3)),
      json(200, { total_count: 3, codespaces: [codespaceExample({ name: "c" })] }),
    ]);
    expect((await listMyCodespaces(client)).map((c) => c.name)).toEqual(["a", "b", "c"]);
    expect(calls.map((c) => c.url.searchParams.get("page"))).toEqual([null, "2", "3"]);
  });

  test("pageUrls: pages 2..last from rel=next/last, or null when they do not describe numbered pages", () => {
    expect(pageUrls("https://x/a?per_page=100&page=2", "https://x/a?per_page=100&page=4", 100)).toEqual([
      "https://x/a?per_page=100&page=2",
      "https://x/a?per_page=100&page=3",
      "https://x/a?per_page=100&page=4",
    ]);
    expect(pageUrls("https://x/a?cursor=abc", "https://x/a?cursor=zzz", 100)).toBeNull();
    expect(pageUrls("https://x/a?page=2", "https://x/a?page=500", 100)).toBeNull();
    expect(pageUrls(undefined, undefined, 100)).toBeNull();
  });

  test("repo listing paginates too", async () => {
    const { client, calls } = setup([page(["a"], "https://api.github.com/repositories/7/codespaces?page=2"), page(["b"])]);
    expect((await listRepoCodespaces(client, "o/r")).map((c) => c.name)).toEqual(["a", "b"]);
    expect(calls[0]!.url.pathname).toBe("/repos/o/r/codespaces");
  });

  test("a next link to another origin is refused (the token stays home)", async () => {
    const { client, calls } = setup([page(["a"], "https://evil.example.com/user/codespaces?page=2"), page(["b"])]);
    const err = await caught(listMyCodespaces(client));
    expect(err.code).toBe("api_shape");
    expect(calls).toHaveLength(1);
  });

  test("a malformed Link next URL is the documented API-shape error (exit 8), not an unexpected failure", async () => {
    for (const bad of ["::not a url::", "http://[bad", "/relative?page=2"]) {
      const { client, calls } = setup([json(200, { total_count: 2, codespaces: [codespaceExample({ name: "a" })] }, { link: `<${bad}>; rel="next"` })]);
      const err = await caught(listMyCodespaces(client));
      expect(err.code).toBe("api_shape");
      expect(err.exit).toBe(8);
      expect(err.message).toContain("`Link`");
      expect(calls).toHaveLength(1);
    }
  });

  test("parseLinkHeader", () => {
    expect(parseLinkHeader('<https://x/a?page=2>; rel="next", <https://x/a?page=9>; rel="last"')).toEqual({
      next: "https://x/a?page=2",
      last: "https://x/a?page=9",
    });
    expect(parseLinkHeader(null)).toEqual({});
  });
});

describe("response shapes", () => {
  test("a missing field is an api_shape error naming the field and the endpoint", async () => {
    const body = codespaceExample();
    delete body.state;
    const { client } = setup([json(200, body)]);
    const err = await caught(getCodespace(client, "cs1"));
    expect(err.code).toBe("api_shape");
    expect(err.exit).toBe(8);
    expect(err.message).toContain("`state`");
    expect(err.message).toContain("GET /user/codespaces/{codespace_name}");
    expect(err.details.path).toBe("state");
  });

  test("a nested wrong type names the full path", async () => {
    const bad = codespaceExample({ owner: { login: 42, id: 1 } });
    const { client } = setup([json(200, { total_count: 2, codespaces: [codespaceExample(), bad] })]);
    const err = await caught(listMyCodespaces(client));
    expect(err.details.path).toBe("codespaces.1.owner.login");
    expect(err.message).toContain("GET /user/codespaces");
  });

  test("a non-JSON body (a proxy's HTML page) is an api_shape error", async () => {
    const { client } = setup([new Response("<html>hi</html>", { status: 200, headers: { "content-type": "text/html" } })]);
    expect((await caught(getAuthenticatedUser(client))).code).toBe("api_shape");
  });

  test("an unknown state string parses", async () => {
    const { client } = setup([json(200, codespaceExample({ state: "Hibernating" }))]);
    expect((await getCodespace(client, "cs1")).state).toBe("Hibernating");
  });
});

test("repository parse", async () => {
  const { client } = setup([json(200, repo)]);
  expect((await getRepository(client, "https://github.com/o/r.git")).default_branch).toBe("main");
});
