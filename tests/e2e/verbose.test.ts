/**
 * Issue #14 item 7: --verbose traces, on stderr and redacted, every API
 * request (method, path, status, ms, retry), every child process (argv),
 * every config value with its source and each lifecycle step with its time.
 * The token never appears.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

test("run --verbose: API calls, child processes, config sources, steps; stdout untouched; no token", async () => {
  // One 503 on the first GET /user: the retry is traced.
  h.emu.control.injectError({ method: "GET", path: "^/user$", status: 503, times: 1 });
  const r = await h.run(["run", "--verbose", "--github-codespaces-geo", "UsEast", "--", "echo", "hi"]);
  expect(r.code).toBe(0);
  expect(r.stdout).toBe("hi\n");
  const err = r.stderr;
  // API: method, path, status, ms, retry.
  expect(err).toMatch(/^debug: api: GET \/user → 503 in \d+ms$/m);
  expect(err).toMatch(/^debug: api: GET \/user: retry 1 of 4 after \d+ms$/m);
  expect(err).toMatch(/^debug: api: GET \/user → 200 in \d+ms \(attempt 2\)$/m);
  expect(err).toMatch(/^debug: api: POST \/repos\/octo-org\/hello-world\/codespaces → 201 in \d+ms$/m);
  expect(err).toMatch(/^debug: api: DELETE \/user\/codespaces\/\S+ → 202 in \d+ms$/m);
  // Child processes: argv and exit.
  expect(err).toMatch(/^debug: exec: git remote -v$/m);
  expect(err).toMatch(/^debug: exec: gh codespace ssh --config -c \S+$/m);
  expect(err).toMatch(/^debug: exec: rsync -a .* -e 'ssh -F \S+' /m);
  expect(err).toMatch(/^debug: spawn: ssh -F \S+ -T \S+ -- .* \(pid \d+\)$/m);
  expect(err).toMatch(/^debug: exec: \S+ exited \d+ in \d+ms$/m);
  // Every config value with its source, defaults included.
  expect(err).toContain("debug: config: githubCodespaces.geo = UsEast from --github-codespaces-geo\n");
  expect(err).toContain('debug: config: githubCodespaces.machine = "" (default)\n');
  expect(err).toMatch(/^debug: config: githubCodespaces.apiUrl = http:\/\/127\.0\.0\.1:\d+ from CRABBOX_GITHUB_CODESPACES_API_URL$/m);
  // Lifecycle steps with their times.
  // (A one-shot run that syncs opens its ControlMaster in the background instead of probing.)
  for (const step of ["preflight", "Available", "ssh master", "acquire", "sync", "command", "release"]) {
    expect({ step, traced: new RegExp(`^debug: step: .*${step}.* in \\d`, "m").test(err) }).toEqual({ step, traced: true });
  }
  // Never the token.
  for (const t of [h.env.GH_TOKEN, h.env.GH_ENTERPRISE_TOKEN].filter(Boolean) as string[]) {
    expect(err).not.toContain(t);
    expect(r.stdout).not.toContain(t);
  }
});

test("without --verbose: none of it", async () => {
  const r = await h.run(["run", "--", "true"]);
  expect(r.code).toBe(0);
  expect(r.stderr).not.toContain("debug:");
});
