/**
 * Hostile input: strings from the API (codespace names, display names,
 * branch names, states), from the user's own arguments (--id, work roots,
 * repo names), from disk (corrupted or hand-edited claims) and from the
 * repository (.crabbox.yaml). Shell metacharacters must never reach a shell
 * (a marker file that must never be created proves it), traversal must never
 * leave CRABBOX_HOME, and each case ends in a clear error with the documented
 * exit code, or in success — with nothing else touched.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONTROL_CHARS, figure, git, secHarness, waitFor, type SecHarness } from "./lib.ts";

let h: SecHarness;
let scenarios = 0;
/** Markers of the running test; all markers ever found (for the figure). */
let markerNames: string[] = [];
const markersEverFound: string[] = [];
beforeAll(async () => {
  h = await secHarness({ delays: { provisionMs: 100, stopMs: 50, deleteMs: 50 } });
});
afterEach(async () => {
  scenarios++;
  // Count and remove this test's markers so they cannot leak into later tests (e.g. get synced).
  for (const f of markersFound()) {
    markersEverFound.push(f);
    rmSync(f, { force: true, recursive: true });
  }
  markerNames = [];
  rmSync(join(h.work, ".crabbox.yaml"), { force: true });
  await h.reset();
  expect(h.orphans()).toEqual([]);
});
afterAll(async () => {
  figure("hostile.scenarios", scenarios);
  figure("hostile.markersCreated", markersEverFound.length);
  if (markersEverFound.length) figure("hostile.markerFiles", markersEverFound.map((f) => f.split("/").pop()));
  await h?.close();
});

const mine = () => h.live().filter((c: any) => c.owner.login === h.login);

function marker(tag: string): string {
  const m = `PWNED_${tag}_${Math.random().toString(36).slice(2, 8)}`;
  markerNames.push(m);
  return m;
}

/** Every marker file that exists anywhere a shell could have been running. */
function markersFound(): string[] {
  if (markerNames.length === 0) return [];
  const names = markerNames.flatMap((m) => ["-name", `${m}*`, "-o"]).slice(0, -1);
  const roots: [string, string][] = [
    [h.tmp, "12"],
    [h.emu.stateDir, "12"],
    ["/tmp", "2"],
    ["/root", "2"],
    ["/", "1"],
    [process.cwd(), "1"],
  ];
  const found: string[] = [];
  for (const [root, depth] of roots) {
    const r = Bun.spawnSync(["find", root, "-maxdepth", depth, "(", ...names, ")", "-print"], { stderr: "ignore" });
    found.push(...r.stdout.toString().split("\n").filter(Boolean));
  }
  return [...new Set(found)];
}

/**
 * Make a codespace whose *name* (as the API reports it) is `hostile` and get
 * crabbox to adopt it: the create answer is lost, the recovery listing is
 * delayed by a 503 + Retry-After, and meanwhile the emulator renames the new
 * codespace. (With an emulator control `patchNextCreate({name})` this would be direct.)
 */
async function warmupAdopting(hostile: string) {
  h.emu.control.dropNextCreate("500");
  h.emu.control.injectError({ method: "GET", path: "^/repos/[^/]+/[^/]+/codespaces$", status: 503, times: 1, headers: { "retry-after": "2" } });
  const proc = h.spawn(["warmup", "--json", "--fresh", "--timeout", "30s"]);
  let renamed = false as boolean;
  const ok = await waitFor(() => {
    const pending = h.claims().find((c) => c.state === "pending");
    if (!pending) return false;
    const cs = mine().find((c: any) => c.display_name === pending.recovery.displayName);
    if (!cs) return false;
    h.emu.control.mutateCodespace(cs.name, { name: hostile });
    renamed = true;
    return true;
  }, 10_000, 5);
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { ok: ok && renamed, stdout, stderr, code };
}

describe("strings from the API never reach a shell", () => {
  test.each([
    ["metacharacters", (m: string) => `x;touch\${IFS}${m}_a;true$(touch\${IFS}${m}_b)\`touch\${IFS}${m}_c\``],
    ["a newline that smuggles an ssh option", (m: string) => `x\n\tProxyCommand touch ${m}_d\n\tLocalCommand touch ${m}_e`],
    ["unicode and spaces", (m: string) => `ünï cødé ✓ ${m}_f`],
  ])("codespace name with %s", async (_n, make) => {
    const m = marker("name");
    const hostile = (make as (m: string) => string)(m);
    const r = await warmupAdopting(hostile);
    expect(r.ok).toBe(true);
    expect(markersFound()).toEqual([]);
    // Either refused with a clear error (nothing adopted into ssh), or it worked without a shell seeing the name.
    if (r.code !== 0) {
      expect(r.stderr).toMatch(/^error: /m);
      expect([2, 5, 7, 8, 255]).toContain(r.code);
    }
    expect(CONTROL_CHARS.test(r.stderr)).toBe(false);
    // Whatever happened, the codespace is held by a claim (to release) or already gone.
    expect(h.orphans()).toEqual([]);
    for (const c of h.claims()) await h.run(["stop", c.leaseId, "--delete"]);
    expect(markersFound()).toEqual([]);
  }, 90_000);

  test.each([
    ["metacharacters", (m: string) => `feat$(touch\${IFS}${m}_a);touch\${IFS}${m}_b;true`],
    ["a newline that smuggles an ssh option", (m: string) => `main\n\tProxyCommand sh -c 'touch ${m}_c'`],
  ])("default branch name with %s", async (_n, make) => {
    const m = marker("branch");
    const repo = `octo-org/hostile-${Math.random().toString(36).slice(2, 7)}`;
    h.emu.control.addRepo({ fullName: repo, defaultBranch: (make as (m: string) => string)(m) });
    const r = await h.run(["run", "--github-codespaces-repo", repo, "--no-sync", "--", "true"]);
    expect(markersFound()).toEqual([]);
    if (r.code !== 0) {
      expect(r.stderr).toMatch(/^error: /m);
      expect([2, 5, 7, 8]).toContain(r.code);
    }
    expect(CONTROL_CHARS.test(r.stderr)).toBe(false);
    expect(h.claimFiles()).toEqual([]);
    expect(mine()).toEqual([]);
  }, 60_000);

  test("display names with metacharacters, newlines and terminal escapes: reported verbatim-safe, never touched", async () => {
    const m = marker("display");
    const names = [
      `crabbox amber-crab abcdefgh; touch ${m}`,
      `crabbox amber-crab abcdefgh\n\u001b[2J\u001b]0;pwned\u0007`,
      `$(touch ${m})`,
      "crabbox ünï-crab abcdefgh",
      "crabbox amber-crab abcdefgh", // a perfect look-alike: reported as candidate, never touched
    ];
    const seeded = names.map((d) => (h.emu.control.seedCodespace({ repo: "octo-org/hello-world", owner: h.login, displayName: d }) as any).name);
    h.emu.control.resetCounts();
    const rs = [await h.run(["cleanup"]), await h.run(["cleanup", "--json"]), await h.run(["list"]), await h.run(["doctor"])];
    for (const r of rs) expect(CONTROL_CHARS.test(r.stdout + r.stderr)).toBe(false);
    expect(Object.keys(h.emu.control.counts()).filter((k) => !k.startsWith("GET "))).toEqual([]);
    expect(mine().map((c: any) => c.name).sort()).toEqual([...seeded].sort());
    expect(markersFound()).toEqual([]);
    for (const n of seeded) h.emu.control.deleteBehindBack(n);
  }, 60_000);

  test("a state string with terminal escapes is never echoed raw", async () => {
    const w = await h.run(["warmup", "--json", "--keep", "--fresh"]);
    const lease = w.json();
    const c = h.claims()[0];
    Bun.spawnSync(["ssh", "-F", c.sshConfigPath, "-O", "exit", c.sshHost], { stderr: "ignore" });
    h.emu.control.mutateCodespace(lease.codespace.name, { state: "Weird\u001b]0;pwned\u0007\u001b[2J\nfake: line" });
    const rs = [
      await h.run(["status", "--id", lease.slug]),
      await h.run(["list"]),
      await h.run(["run", "--id", lease.slug, "--timeout", "1s", "--", "true"]),
    ];
    expect(rs[2]!.code).toBe(6);
    const raw = rs.filter((r) => CONTROL_CHARS.test(r.stdout + r.stderr)).map((r) => JSON.stringify((r.stdout + r.stderr).slice(0, 200)));
    figure("hostile.rawControlOutputs", raw.length);
    h.emu.control.mutateCodespace(lease.codespace.name, { state: "Available" });
    expect(raw).toEqual([]);
  }, 60_000);

  test("huge (10 MB) API response: handled, bounded in time", async () => {
    const w = await h.run(["warmup", "--json", "--keep", "--fresh"]);
    const lease = w.json();
    const cs = mine().find((c: any) => c.name === lease.codespace.name);
    const huge = { ...cs, recent_folders: Array.from({ length: 100_000 }, (_, i) => `/workspaces/${"x".repeat(90)}${i}`) };
    h.emu.control.injectError({ method: "GET", path: "^/user/codespaces/[^/]+$", status: 200, times: 3, body: huge });
    const t0 = Date.now();
    const r = await h.run(["status", "--id", lease.slug, "--json"]);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect([0, 8]).toContain(r.code);
    expect(r.stdout.length).toBeLessThan(1_000_000); // we never echo a payload back wholesale
  }, 60_000);

  test("deeply nested API response (depth 3000): exit 8, not a crash", async () => {
    const w = await h.run(["warmup", "--json", "--keep", "--fresh"]);
    const lease = w.json();
    let deep: any = {};
    const root = deep;
    for (let i = 0; i < 3000; i++) deep = deep.a = {};
    h.emu.control.injectError({ method: "GET", path: "^/user/codespaces/[^/]+$", status: 200, times: 10, body: root });
    const r = await h.run(["status", "--id", lease.slug]);
    expect(r.code).toBe(8);
    expect(r.stderr).not.toMatch(/unexpected failure|Maximum call stack/);
  }, 60_000);

  test("nesting deeper than any JSON parser's stack (1e6, raw body): exit 8, not a crash", async () => {
    h.emu.control.injectError({ method: "GET", path: "^/_probe_raw$", status: 200, rawBody: "[[1]]" } as any);
    const probe = await fetch(`${h.emu.url}/_probe_raw`).then((x) => x.text());
    if (probe !== "[[1]]") throw new Error("emulator lacks injectError({ rawBody }): cannot send a non-JSON or arbitrarily deep body");
    const w = await h.run(["warmup", "--json", "--keep", "--fresh"]);
    const lease = w.json();
    const n = 1_000_000;
    h.emu.control.injectError({ method: "GET", path: "^/user/codespaces/[^/]+$", status: 200, times: 10, rawBody: `${'{"a":'.repeat(n)}1${"}".repeat(n)}` } as any);
    const r = await h.run(["status", "--id", lease.slug]);
    expect(r.code).toBe(8);
    expect(r.stderr).not.toMatch(/unexpected failure|Maximum call stack/);
  }, 60_000);
});

describe("strings from the user and the repository", () => {
  test("a work root with spaces, quotes, metacharacters and unicode: synced and run literally, no shell sees it", async () => {
    const m = marker("workroot");
    const workRoot = `/workspaces/we ird/$(touch ${m}_a)/\`touch ${m}_b\`;touch ${m}_c;'q"/ünï ✓`;
    writeFileSync(join(h.work, "payload.txt"), "payload\n");
    const w = await h.run(["warmup", "--json", "--keep", "--fresh", "--github-codespaces-work-root", workRoot]);
    expect(w.code).toBe(0);
    const lease = w.json();
    const r = await h.run(["run", "--id", lease.slug, "--", "sh", "-c", 'pwd; cat payload.txt']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${workRoot}\npayload\n`);
    const s = await h.run(["ssh", "--id", lease.slug, "--", "pwd"]);
    expect(s.stdout).toBe(`${workRoot}\n`);
    const onDisk = join(h.emu.control.codespaceDir(lease.codespace.name), workRoot.slice("/workspaces/".length), "payload.txt");
    expect(readFileSync(onDisk, "utf8")).toBe("payload\n");
    expect(markersFound()).toEqual([]);
  }, 60_000);

  test("a work root with a newline is refused (exit 2) before anything is created, or used literally", async () => {
    const m = marker("wrnl");
    h.emu.control.resetCounts();
    const r = await h.run(["warmup", "--json", "--fresh", "--github-codespaces-work-root", `/workspaces/a\ntouch ${m}`]);
    expect(markersFound()).toEqual([]);
    if (r.code !== 0) {
      expect(r.code).toBe(2);
      expect(h.emu.control.counts()["POST /repos/:owner/:repo/codespaces"] ?? 0).toBe(0);
    }
  }, 60_000);

  test.each([
    ["flag", (m: string) => ["--github-codespaces-repo", `octo-org/$(touch ${m})`]],
    ["flag with ;", (m: string) => ["--github-codespaces-repo", `octo-org/x;touch ${m}`]],
    ["flag with ..", () => ["--github-codespaces-repo", "octo-org/../../etc"]],
  ])("repository name with metacharacters (%s): exit 2, no API call", async (_n, make) => {
    const m = marker("repo");
    h.emu.control.resetCounts();
    const r = await h.run(["warmup", ...(make as (m: string) => string[])(m)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: /m);
    expect(Object.values(h.emu.control.counts()).reduce((a, b) => a + b, 0)).toBe(0);
    expect(markersFound()).toEqual([]);
  });

  test("a git remote with metacharacters: exit 2, nothing created", async () => {
    const m = marker("remote");
    const dir = join(h.tmp, "evil-remote");
    mkdirSync(dir, { recursive: true });
    git(dir, "init", "-q");
    git(dir, "remote", "add", "origin", `https://github.com/octo-org/x;touch ${m}.git`);
    h.emu.control.resetCounts();
    const r = await h.run(["warmup"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(h.emu.control.counts()["POST /repos/:owner/:repo/codespaces"] ?? 0).toBe(0);
    expect(markersFound()).toEqual([]);
  });

  const TRAVERSALS = ["../../../etc/passwd", "/etc/passwd", "cbx_aaaaaaaaaaaa/../../x", "..", "./cbx_aaaaaaaaaaaa", "cbx_aaaaaaaaaaaa\n", "a\\..\\b", "-rf"];
  test.each(TRAVERSALS)("path traversal in --id / lease refs (%p): exit 2, nothing read or touched outside", async (ref) => {
    const decoy = join(h.tmp, "decoy.json");
    writeFileSync(decoy, "precious\n");
    const before = readdirSync(h.tmp).sort();
    h.emu.control.resetCounts();
    const cmds = [
      ["status", "--id", ref],
      ["run", "--id", ref, "--", "true"],
      ["ssh", "--id", ref, "--", "true"],
      ["stop", "--id", ref],
      ["stop", ref],
      ["stop", "--", ref],
    ];
    for (const args of cmds) {
      const r = await h.run(args);
      if (ref === "-rf") {
        // A ref that looks like a flag: usage error or "no such lease", never a deletion.
        expect([2, 4]).toContain(r.code);
      } else if (args[1] === "--") {
        expect([2, 4]).toContain(r.code);
      } else {
        expect({ args, code: r.code }).toEqual({ args, code: 2 });
        expect(r.stderr).toMatch(/invalid lease|lease id|path separator|\.\.|control/i);
      }
    }
    expect(readFileSync(decoy, "utf8")).toBe("precious\n");
    expect(readdirSync(h.tmp).sort()).toEqual(before);
    expect(Object.keys(h.emu.control.counts()).filter((k) => !k.startsWith("GET "))).toEqual([]);
  }, 60_000);
});

describe("corrupted or hand-edited claims", () => {
  async function keptLease() {
    const w = await h.run(["warmup", "--json", "--keep", "--fresh"]);
    if (w.code !== 0) throw new Error(w.stderr);
    return w.json();
  }
  const claimPath = (id: string) => join(h.home, "claims", `${id}.json`);

  test.each([
    ["garbage bytes", () => "\u0000\u00ff{{{ not json"],
    ["valid JSON, wrong schema", () => JSON.stringify({ version: 1, leaseId: "cbx_aaaaaaaaaaaa" })],
    ["a future version", (c: any) => JSON.stringify({ ...c, version: 2 })],
    ["leaseId that does not match the file name", (c: any) => JSON.stringify({ ...c, leaseId: "cbx_bbbbbbbbbbbb" })],
    ["leaseId with traversal", (c: any) => JSON.stringify({ ...c, leaseId: "../../etc/passwd" })],
  ])("%s: that lease gives a clear error (documented exit), other leases unaffected, nothing deleted", async (_n, edit) => {
    const victim = await keptLease();
    const other = await keptLease();
    const original = JSON.parse(readFileSync(claimPath(victim.leaseId), "utf8"));
    writeFileSync(claimPath(victim.leaseId), (edit as (c: any) => string)(original), { mode: 0o600 });
    h.emu.control.resetCounts();
    const st = await h.run(["status", "--id", victim.leaseId]);
    expect([1, 2]).toContain(st.code);
    expect(st.stderr).toContain(victim.leaseId);
    expect(st.stderr).toMatch(/fix:/);
    const stop = await h.run(["stop", victim.leaseId, "--delete"]);
    expect([1, 2]).toContain(stop.code);
    const l = await h.run(["list", "--json"]);
    expect(l.code).toBe(0);
    expect(l.json().map((x: any) => x.leaseId)).toEqual([other.leaseId]);
    const cl = await h.run(["cleanup", "--json"]);
    expect(cl.code).toBe(0);
    expect(h.emu.control.counts()["DELETE /user/codespaces/:name"] ?? 0).toBe(0);
    expect(h.emu.control.counts()["POST /user/codespaces/:name/stop"] ?? 0).toBe(0);
    expect(mine().map((c: any) => c.name).sort()).toEqual([victim.codespace.name, other.codespace.name].sort());
    // Put the claim back so the lease can be released.
    writeFileSync(claimPath(victim.leaseId), JSON.stringify(original), { mode: 0o600 });
  }, 90_000);

  test("a claim hand-edited to point at another codespace of the same user: refused (exit 5), the other codespace untouched", async () => {
    const lease = await keptLease();
    const bystander = h.emu.control.seedCodespace({ repo: "octo-org/hello-world", owner: h.login, displayName: "precious work" }) as any;
    const c = JSON.parse(readFileSync(claimPath(lease.leaseId), "utf8"));
    const original = JSON.stringify(c);
    c.codespace.name = bystander.name;
    writeFileSync(claimPath(lease.leaseId), JSON.stringify(c), { mode: 0o600 });
    h.emu.control.resetCounts();
    const r = await h.run(["stop", lease.leaseId, "--delete"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/codespace\.id|environmentId/);
    expect(Object.keys(h.emu.control.counts()).filter((k) => !k.startsWith("GET "))).toEqual([]);
    expect(mine().find((x: any) => x.name === bystander.name).state).toBe("Available");
    writeFileSync(claimPath(lease.leaseId), original, { mode: 0o600 });
    h.emu.control.deleteBehindBack(bystander.name);
  }, 60_000);

  test("a claim whose sshConfigPath points at a file outside CRABBOX_HOME: that file is never written", async () => {
    const lease = await keptLease();
    const decoy = join(h.tmp, "precious.config");
    writeFileSync(decoy, "# precious\n");
    const c = JSON.parse(readFileSync(claimPath(lease.leaseId), "utf8"));
    Bun.spawnSync(["ssh", "-F", c.sshConfigPath, "-O", "exit", c.sshHost], { stderr: "ignore" });
    c.sshConfigPath = decoy;
    writeFileSync(claimPath(lease.leaseId), JSON.stringify(c), { mode: 0o600 });
    const r = await h.run(["run", "--id", lease.leaseId, "--no-sync", "--", "true"]);
    expect(readFileSync(decoy, "utf8")).toBe("# precious\n");
    if (r.code !== 0) expect(r.stderr).toMatch(/^error: /m);
  }, 60_000);
});

describe("a repository-local .crabbox.yaml cannot redirect us", () => {
  test("repo, apiUrl, ghPath, deletion policy and lifetimes are ignored with a warning each; nothing it names runs", async () => {
    const m = marker("repoconfig");
    const evilGh = join(h.tmp, "evil-gh");
    writeFileSync(evilGh, `#!/bin/sh\ntouch '${join(h.tmp, m)}'\nexit 1\n`);
    chmodSync(evilGh, 0o755);
    h.emu.control.addRepo({ fullName: "evil-org/trap" });
    writeFileSync(
      join(h.work, ".crabbox.yaml"),
      [
        "githubCodespaces:",
        "  repo: evil-org/trap",
        "  apiUrl: http://127.0.0.1:9",
        `  ghPath: ${evilGh}`,
        "  deleteOnRelease: false",
        "  idleTimeout: 240m",
        "  retentionPeriod: 720h",
        "  machine: premiumLinux",
        "",
      ].join("\n"),
    );
    const w = await h.run(["warmup", "--json", "--fresh"]);
    expect(w.code).toBe(0);
    for (const key of ["repo", "apiUrl", "ghPath", "deleteOnRelease", "idleTimeout", "retentionPeriod", "machine"]) {
      expect(w.stderr).toMatch(new RegExp(`ignored githubCodespaces\\.(${key}|gh)\\b`));
    }
    // The machine type is billed to you: the same "set it here instead" hint as the other keys.
    expect(w.stderr).toContain("ignored githubCodespaces.machine in");
    expect(w.stderr).toMatch(/CRABBOX_GITHUB_CODESPACES_MACHINE, --github-codespaces-machine or --type/);
    const lease = w.json();
    expect(lease.machine).not.toBe("premiumLinux");
    const cs = mine().find((c: any) => c.name === lease.codespace.name);
    expect(cs.machine?.name).not.toBe("premiumLinux");
    expect(cs.repository.full_name).toBe("octo-org/hello-world");
    expect(cs.idle_timeout_minutes).toBe(30);
    expect(h.live().filter((c: any) => c.repository.full_name === "evil-org/trap")).toEqual([]);
    const s = await h.run(["stop", lease.slug, "--json"]);
    expect(s.json().action).toBe("deleted");
    expect(existsSync(join(h.tmp, m))).toBe(false);
    expect(markersFound()).toEqual([]);
  }, 60_000);

  test(".crabbox.yaml as a symlink to payload.js: refused (exit 2) before anything reads it; no code runs, no token leaks", async () => {
    const m = marker("symlinkjs");
    const drop = join(h.tmp, m);
    // If this ever ran, it would leave the marker holding every token-looking variable it could see.
    writeFileSync(
      join(h.work, "payload.js"),
      `require("fs").writeFileSync(${JSON.stringify(drop)}, JSON.stringify(process.env));\nmodule.exports = { githubCodespaces: { ref: "pwned" } };\n`,
    );
    const payloads = ["payload.js", "payload.ts", "payload.mjs"];
    writeFileSync(join(h.work, "payload.ts"), readFileSync(join(h.work, "payload.js"), "utf8"));
    writeFileSync(join(h.work, "payload.mjs"), `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(drop)}, JSON.stringify(process.env));\nexport default {};\n`);
    h.emu.control.resetCounts();
    try {
      for (const target of payloads) {
        rmSync(join(h.work, ".crabbox.yaml"), { force: true });
        symlinkSync(target, join(h.work, ".crabbox.yaml"));
        for (const args of [["list"], ["warmup", "--fresh"], ["doctor"], ["run", "--", "true"]]) {
          const r = await h.run(args);
          expect({ target, args, code: r.code }).toEqual({ target, args, code: 2 });
          expect(r.stderr).toContain(`config file ${join(h.work, ".crabbox.yaml")} is a symbolic link; refusing to read it`);
          expect(r.stdout + r.stderr).not.toContain(h.canary);
          expect(existsSync(drop)).toBe(false);
        }
      }
      expect(h.emu.control.counts()["POST /repos/:owner/:repo/codespaces"] ?? 0).toBe(0);
      expect(markersFound()).toEqual([]);
    } finally {
      for (const f of payloads) rmSync(join(h.work, f), { force: true });
    }
  }, 60_000);

  test("extends: in .crabbox.yaml pulls nothing (no JS, no other file, no remote)", async () => {
    const m = marker("extends");
    writeFileSync(join(h.work, "evil.js"), `require("fs").writeFileSync(${JSON.stringify(join(h.tmp, m))}, "x");\nmodule.exports = {};\n`);
    try {
      for (const target of ["./evil.js", "./evil", "gh:evil-org/config", "https://127.0.0.1:9/c"]) {
        writeFileSync(join(h.work, ".crabbox.yaml"), `extends: ${JSON.stringify(target)}\n`);
        const r = await h.run(["list"]);
        expect(r.code).toBe(0);
        expect(r.stderr).toContain('unknown key "extends" ignored');
      }
      expect(existsSync(join(h.tmp, m))).toBe(false);
      expect(markersFound()).toEqual([]);
    } finally {
      rmSync(join(h.work, "evil.js"), { force: true });
    }
  }, 60_000);

  test("a token in .crabbox.yaml: exit 2, the token not echoed, nothing created", async () => {
    const fake = `ghp_${"Z".repeat(36)}`;
    writeFileSync(join(h.work, ".crabbox.yaml"), `githubCodespaces:\n  token: ${fake}\n`);
    h.emu.control.resetCounts();
    const r = await h.run(["warmup", "--fresh"]);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).not.toContain(fake);
    expect(h.emu.control.counts()["POST /repos/:owner/:repo/codespaces"] ?? 0).toBe(0);
  });

  test("code-bearing config files next to it (.crabbox.ts/.js/.mjs, .crabboxrc) are never executed", async () => {
    const m = marker("codecfg");
    const touch = `require("fs").writeFileSync(${JSON.stringify(join(h.tmp, m))}, "x");`;
    for (const f of [".crabbox.ts", ".crabbox.js", ".crabbox.mjs", ".crabbox.cjs", "crabbox.config.ts", "crabbox.config.js"]) writeFileSync(join(h.work, f), `${touch}\nexport default {};\n`);
    writeFileSync(join(h.work, ".crabboxrc"), `githubCodespaces.repo=evil-org/trap\n`);
    writeFileSync(join(h.work, ".crabbox.yaml"), "githubCodespaces:\n  machine: basicLinux32gb\n");
    const r = await h.run(["list", "--json"]);
    expect(r.code).toBe(0);
    const d = await h.run(["doctor", "--json"]);
    expect([0, 3]).toContain(d.code);
    expect(existsSync(join(h.tmp, m))).toBe(false);
    expect(markersFound()).toEqual([]);
    for (const f of [".crabbox.ts", ".crabbox.js", ".crabbox.mjs", ".crabbox.cjs", "crabbox.config.ts", "crabbox.config.js", ".crabboxrc"]) rmSync(join(h.work, f), { force: true });
  });

  test("the runtime's own per-directory files (bunfig.toml preload, .env, tsconfig.json, package.json) are never read: no code runs, no variable is set", async () => {
    const m = marker("bunpreload");
    const evilHome = join(h.tmp, "evil-home");
    writeFileSync(join(h.work, "evil-preload.js"), `require("fs").writeFileSync(${JSON.stringify(join(h.tmp, m))}, "x");\n`);
    writeFileSync(join(h.work, "bunfig.toml"), `preload = ["./evil-preload.js"]\n[run]\npreload = ["./evil-preload.js"]\n`);
    writeFileSync(join(h.work, ".env"), `CRABBOX_HOME=${evilHome}\nGH_TOKEN=ghp_fromdotenv\nNO_COLOR=\n`);
    writeFileSync(join(h.work, "tsconfig.json"), `{"compilerOptions":{"paths":{"*":["./evil-preload.js"]}}}\n`);
    writeFileSync(join(h.work, "package.json"), `{"name":"trap","type":"module","imports":{"#x":"./evil-preload.js"}}\n`);
    try {
      for (const args of [["--version"], ["list", "--json"], ["doctor", "--json"]]) {
        const r = await h.run(args);
        if (r.code !== 0 && r.code !== 3) expect({ args, code: r.code, out: r.stdout + r.stderr }).toEqual({ args, code: 0, out: "" });
      }
      const d = await h.run(["doctor", "--json"]);
      expect(d.stdout).not.toContain(evilHome);
      expect(d.stdout).toContain(h.home);
      expect(existsSync(join(h.tmp, m))).toBe(false);
      expect(existsSync(evilHome)).toBe(false);
      expect(markersFound()).toEqual([]);
    } finally {
      for (const f of ["evil-preload.js", "bunfig.toml", ".env", "tsconfig.json", "package.json"]) rmSync(join(h.work, f), { force: true });
    }
  });
});
