/**
 * Files, names and network edges (issue 10, item 8), through the compiled
 * binary against the emulator:
 *  - CRABBOX_HOME and the entries in it are never followed through a link;
 *  - a claim file readable by others is tightened to 0600 with a warning;
 *  - a malformed or foreign `Link` header and a redirect to another origin
 *    are API errors (exit 8), and the other origin never hears from us;
 *  - `gh auth token` is asked for the configured API's host;
 *  - `status` under another account says whose lease it is;
 *  - bidi and zero-width characters in names from the API are escaped;
 *  - an API that never answers: the error says how long we waited in total.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { figure, mode, octal, secHarness, type SecHarness } from "./lib.ts";

let h: SecHarness;
let scenarios = 0;
beforeAll(async () => {
  h = await secHarness({ delays: { provisionMs: 100, stopMs: 50, deleteMs: 50 } });
});
afterEach(async () => {
  scenarios++;
  h.emu.control.clearErrors();
  await h.reset();
  expect(h.orphans()).toEqual([]);
});
afterAll(async () => {
  figure("edges.scenarios", scenarios);
  await h?.close();
});

async function keptLease() {
  const r = await h.run(["warmup", "--json", "--keep", "--fresh"]);
  if (r.code !== 0) throw new Error(`warmup failed (${r.code}): ${r.stderr}`);
  return r.json();
}

/** A directory elsewhere, world-readable, with one file in it: a link target that must stay untouched. */
function decoyDir(name: string): string {
  const dir = join(h.tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "precious.txt"), "precious\n");
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "precious.txt"), 0o644);
  return dir;
}

/** An HTTP server on another origin that records whatever reaches it. */
function otherOrigin() {
  const seen: { path: string; authorization: string | null }[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      seen.push({ path: new URL(req.url).pathname, authorization: req.headers.get("authorization") });
      return new Response(JSON.stringify({ message: "Bad credentials" }), { status: 401, headers: { "content-type": "application/json" } });
    },
  });
  // "localhost" is another origin than the emulator's "127.0.0.1".
  return { origin: `http://localhost:${server.port}`, seen, stop: () => server.stop(true) };
}

describe("CRABBOX_HOME is never followed through a link", () => {
  test("a symlinked CRABBOX_HOME is refused (exit 5): nothing created, nothing chmodded, no codespace", async () => {
    const target = decoyDir("home-target");
    const link = join(h.tmp, "home-link");
    symlinkSync(target, link);
    for (const args of [["warmup", "--fresh"], ["list"], ["cleanup"]]) {
      const r = await h.run(args, { env: { CRABBOX_HOME: link } });
      expect({ args, code: r.code }).toEqual({ args, code: 5 });
      expect(r.stderr).toContain(`${link} is a symbolic link; refusing to follow it`);
      expect(r.stderr).toMatch(/fix: /);
    }
    expect(octal(mode(target))).toBe(octal(0o755));
    expect(existsSync(join(target, "claims"))).toBe(false);
    expect(h.orphans()).toEqual([]);
  }, 60_000);

  test("a symlinked claims, ssh, ssh/cm or sync directory is refused (exit 5), its target untouched", async () => {
    const lease = await keptLease();
    // A synced run makes the sync cache directory too.
    expect((await h.run(["run", "--id", lease.slug, "--", "true"])).code).toBe(0);
    for (const sub of ["claims", "ssh", "ssh/cm", "sync"]) {
      const real = join(h.home, sub);
      expect(lstatSync(real).isDirectory()).toBe(true);
      const target = decoyDir(`target-${sub.replace("/", "-")}`);
      renameSync(real, `${real}.real`);
      symlinkSync(target, real);
      try {
        for (const args of [["list"], ["status", lease.slug], ["run", "--id", lease.slug, "--no-sync", "--", "true"]]) {
          const r = await h.run(args);
          expect({ sub, args, code: r.code }).toEqual({ sub, args, code: 5 });
          expect(r.stderr).toContain(`${real} is a symbolic link; refusing to follow it`);
        }
        expect({ sub, mode: octal(mode(target)) }).toEqual({ sub, mode: octal(0o755) });
      } finally {
        rmSync(real);
        renameSync(`${real}.real`, real);
      }
    }
    expect((await h.run(["stop", lease.slug, "--delete"])).code).toBe(0);
  }, 120_000);

  test("a symlinked claim file or lock file is refused (exit 5), the file it points at untouched", async () => {
    const lease = await keptLease();
    const claimPath = join(h.home, "claims", `${lease.leaseId}.json`);
    const outside = join(h.tmp, "outside-claim.json");
    renameSync(claimPath, outside);
    chmodSync(outside, 0o644);
    symlinkSync(outside, claimPath);
    const s = await h.run(["status", lease.leaseId]);
    expect(s.code).toBe(5);
    expect(s.stderr).toContain(`${claimPath} is a symbolic link; refusing to follow it`);
    const l = await h.run(["list"]);
    expect(l.stderr).toContain("is a symbolic link; refusing to follow it");
    expect(octal(mode(outside))).toBe(octal(0o644));
    rmSync(claimPath);
    renameSync(outside, claimPath);
    chmodSync(claimPath, 0o600);

    const lockPath = join(h.home, "claims", `${lease.leaseId}.lock`);
    const decoy = join(h.tmp, "decoy.lock");
    writeFileSync(decoy, "precious\n", { mode: 0o644 });
    symlinkSync(decoy, lockPath);
    const stop = await h.run(["stop", lease.slug]);
    expect(stop.code).toBe(5);
    expect(stop.stderr).toContain(`${lockPath} is a symbolic link; refusing to follow it`);
    expect(readFileSync(decoy, "utf8")).toBe("precious\n");
    expect(octal(mode(decoy))).toBe(octal(0o644));
    rmSync(lockPath);
    expect((await h.run(["stop", lease.slug, "--delete"])).code).toBe(0);
  }, 60_000);

  test("a claim file found at 0644 is tightened to 0600, with a warning", async () => {
    const lease = await keptLease();
    const claimPath = join(h.home, "claims", `${lease.leaseId}.json`);
    chmodSync(claimPath, 0o644);
    const r = await h.run(["list"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`warning: claim file ${claimPath} was readable by others (mode 0644); tightened it to 0600`);
    expect(octal(mode(claimPath))).toBe(octal(0o600));
    const again = await h.run(["list"]);
    expect(again.stderr).not.toContain("readable by others");
  }, 60_000);
});

describe("network edges", () => {
  test("a malformed Link header: the documented API-shape error, exit 8 (not 'unexpected failure')", async () => {
    await keptLease();
    h.emu.control.injectError({
      method: "GET",
      path: "^/user/codespaces$",
      status: 200,
      body: { total_count: 2, codespaces: [] },
      headers: { link: '<http://[bad>; rel="next"' },
    });
    const r = await h.run(["list"]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain("unexpected shape at `Link`");
    expect(r.stderr).not.toMatch(/unexpected failure|Invalid URL/);
  }, 60_000);

  test("a Link next URL on another origin is refused (exit 8); the other origin never hears from us", async () => {
    await keptLease();
    const other = otherOrigin();
    try {
      h.emu.control.injectError({
        method: "GET",
        path: "^/user/codespaces$",
        status: 200,
        body: { total_count: 2, codespaces: [] },
        headers: { link: `<${other.origin}/user/codespaces?page=2>; rel="next"` },
      });
      const r = await h.run(["list"]);
      expect(r.code).toBe(8);
      expect(r.stderr).toContain("refusing to send the token there");
      expect(other.seen).toEqual([]);
    } finally {
      other.stop();
    }
  }, 60_000);

  test("a 307 to another origin is refused with a clear message (exit 8, not 3); the token never leaves", async () => {
    await keptLease();
    const other = otherOrigin();
    try {
      h.emu.control.injectError({ method: "GET", path: "^/user/codespaces$", status: 307, headers: { location: `${other.origin}/user/codespaces` } });
      const r = await h.run(["list"]);
      expect(r.code).toBe(8);
      expect(r.stderr).toContain(`is a redirect (HTTP 307) to another origin (${other.origin}); refusing to follow it`);
      expect(r.stderr).not.toMatch(/rejected the token/);
      expect(other.seen).toEqual([]);
    } finally {
      other.stop();
    }
  }, 60_000);

  test("gh auth token is asked for the configured API's host (-h), not gh's default host", async () => {
    const host = new URL(h.emu.url).host;
    h.clearInvocations();
    const r = await h.run(["cleanup", "--dry-run"], { env: { GH_TOKEN: undefined } });
    expect(r.code).toBe(0);
    const asked = h.invocations().filter((i) => i.tool === "gh" && i.argv[0] === "auth" && i.argv[1] === "token");
    expect(asked.map((i) => i.argv)).toEqual([["auth", "token", "-h", host]]);
  }, 60_000);

  test("status under another account says whose lease it is and how to switch, instead of 'gone'", async () => {
    const lease = await keptLease();
    const other = h.emu.control.addUser(`other${Math.random().toString(36).slice(2, 8)}`);
    const r = await h.run(["status", lease.slug], { env: { GH_TOKEN: other.token } });
    expect(r.code).toBe(5);
    expect(r.stdout).not.toContain("gone");
    expect(r.stderr).toContain(`lease ${lease.slug} belongs to GitHub user ${h.login}, but you are logged in as ${other.login}`);
    expect(r.stderr).toContain(`gh auth switch -h ${new URL(h.emu.url).host} -u ${h.login}`);
    // The lease is untouched: as its owner, status shows it.
    const mine = await h.run(["status", lease.slug, "--json"]);
    expect(mine.code).toBe(0);
    expect(mine.json().live.state).toBe("Available");
  }, 60_000);

  test("bidi and zero-width characters in names from the API are escaped in human output", async () => {
    const cs = h.emu.control.seedCodespace({ repo: "octo-org/hello-world", owner: h.login, displayName: "crabbox amber-crab abcdefgh" }) as any;
    const hostile = `octo\u202eevil\u2066x\u2069\u200b\u200d\u2060\ufeff\u061c\u200e\u200fname`;
    h.emu.control.mutateCodespace(cs.name, { name: hostile });
    try {
      const r = await h.run(["cleanup", "--dry-run"]);
      expect(r.code).toBe(0);
      const out = r.stdout + r.stderr;
      expect(out).not.toMatch(/[\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/);
      expect(out).toContain("octo\\u202eevil\\u2066x\\u2069\\u200b\\u200d\\u2060\\ufeff\\u061c\\u200e\\u200fname");
      // --json carries the name as data, unchanged.
      const j = await h.run(["cleanup", "--dry-run", "--json"]);
      expect(j.json().decisions.map((d: any) => d.codespace)).toContain(hostile);
    } finally {
      h.emu.control.deleteBehindBack(hostile);
    }
  }, 60_000);

  test("an API that never answers: the error says how long was waited in total and how many attempts", async () => {
    await keptLease();
    // Every attempt (1 + 4 retries) hangs past the 1 s per-attempt timeout.
    h.emu.control.injectError({ method: "GET", path: "^/user/codespaces$", status: 504, times: 5, delayMs: 3_000 });
    const r = await h.run(["list"], { env: { CRABBOX_API_TIMEOUT: "1s" } });
    expect(r.code).toBe(8);
    const m = /GitHub did not answer GET \/user\/codespaces \(waited (\d+)s in total, 5 attempts\)/.exec(r.stderr);
    expect(m).not.toBeNull();
    // 5 timeouts of 1 s plus backoff 1+2+4+8 s: at least 20 s really passed.
    expect(Number(m![1])).toBeGreaterThanOrEqual(20);
    expect(r.stderr).toContain("no answer within 1s on each of 5 attempts");
    figure("edges.apiHangWaitedSeconds", Number(m![1]));
  }, 120_000);
});
