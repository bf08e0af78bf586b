/**
 * Faults: each ends in a clear error or a recovered lease — never an orphan
 * (a codespace of ours that no claim holds), never a lost claim.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CONTROL_CHARS, figure, secHarness, type SecHarness } from "./lib.ts";

let h: SecHarness;
let scenarios = 0;
let orphansSeen = 0;
beforeAll(async () => {
  h = await secHarness({ delays: { provisionMs: 150, stopMs: 50, deleteMs: 50 } });
});
afterEach(async () => {
  scenarios++;
  orphansSeen += h.orphans().length;
  expect(h.orphans()).toEqual([]);
  await h.reset();
});
afterAll(async () => {
  figure("faults.scenarios", scenarios);
  figure("faults.orphans", orphansSeen);
  await h?.close();
});

const CODESPACE_GET = "^/user/codespaces/[^/]+$";

async function keptLease() {
  const r = await h.run(["warmup", "--json", "--keep", "--fresh"]);
  if (r.code !== 0) throw new Error(`warmup failed (${r.code}): ${r.stderr}`);
  return r.json();
}

function routeCount(key: string): number {
  return h.emu.control.counts()[key] ?? 0;
}

describe("HTTP faults", () => {
  test("a 5xx burst on GET is retried and the command succeeds", async () => {
    const lease = await keptLease();
    h.emu.control.resetCounts();
    h.emu.control.injectError({ method: "GET", path: CODESPACE_GET, status: 502, times: 2, headers: { "retry-after": "0" } });
    h.emu.control.injectError({ method: "GET", path: CODESPACE_GET, status: 503, times: 1, headers: { "retry-after": "0" } });
    const r = await h.run(["status", "--id", lease.slug, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json().live.state).toBe("Available");
    expect(routeCount("GET /user/codespaces/:name")).toBeGreaterThanOrEqual(4);
  }, 60_000);

  test("a 5xx that never ends: exit 8 after bounded retries, nothing changed", async () => {
    const lease = await keptLease();
    h.emu.control.resetCounts();
    h.emu.control.injectError({ method: "GET", path: CODESPACE_GET, status: 500, times: 100, headers: { "retry-after": "0" } });
    const t0 = Date.now();
    const r = await h.run(["stop", lease.slug]);
    expect(r.code).toBe(8);
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(r.stderr).toMatch(/^error: /m);
    expect(r.stderr).toMatch(/fix:/);
    const gets = routeCount("GET /user/codespaces/:name");
    expect(gets).toBeGreaterThanOrEqual(2);
    expect(gets).toBeLessThanOrEqual(10);
    expect(Object.keys(h.emu.control.counts()).filter((k) => !k.startsWith("GET "))).toEqual([]);
    expect(h.claims().find((c) => c.leaseId === lease.leaseId)).toBeDefined();
  }, 60_000);

  test("a 5xx on create is not retried blindly: recovery finds nothing, claim failed, exit 8, no orphan", async () => {
    h.emu.control.resetCounts();
    h.emu.control.injectError({ method: "POST", path: "^/repos/[^/]+/[^/]+/codespaces$", status: 503 });
    const r = await h.run(["warmup", "--fresh"]);
    expect(r.code).toBe(8);
    expect(routeCount("POST /repos/:owner/:repo/codespaces")).toBe(1);
    expect(h.live().filter((c: any) => c.owner.login === h.login)).toEqual([]);
  }, 60_000);

  test.each([
    ["429 with Retry-After", 429, () => ({ "retry-after": "2" })],
    ["403 rate limit with X-RateLimit-Reset", 403, () => ({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + 2) })],
  ])("%s is waited out, then succeeds", async (_n, status, headers) => {
    const lease = await keptLease();
    h.emu.control.injectError({ method: "GET", path: CODESPACE_GET, status: status as number, headers: (headers as () => Record<string, string>)() });
    const t0 = Date.now();
    const r = await h.run(["status", "--id", lease.slug, "--json"]);
    const took = Date.now() - t0;
    expect(r.code).toBe(0);
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(15_000);
  }, 60_000);

  test.each([
    ["Retry-After: 3600", () => ({ "retry-after": "3600" })],
    ["X-RateLimit-Reset in an hour", () => ({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(Math.ceil(Date.now() / 1000) + 3600) })],
  ])("a rate limit asking for %s is not waited: exit 8 at once, says when to retry", async (_n, headers) => {
    const lease = await keptLease();
    h.emu.control.injectError({ method: "GET", path: CODESPACE_GET, status: 429, times: 10, headers: (headers as () => Record<string, string>)() });
    const t0 = Date.now();
    const r = await h.run(["stop", lease.slug]);
    expect(r.code).toBe(8);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/retry|wait|try again/i);
    expect(r.stderr).toMatch(/\d/);
    expect(h.claims().find((c) => c.leaseId === lease.leaseId).state).toBe("ready");
  }, 60_000);

  test("a connection reset mid-request (GET) is retried", async () => {
    const lease = await keptLease();
    h.emu.control.injectError({ method: "GET", path: CODESPACE_GET, status: 0, reset: true, times: 2 });
    const r = await h.run(["status", "--id", lease.slug, "--json"]);
    expect(r.code).toBe(0);
  }, 60_000);

  test("a connection reset on stop (POST) mid-release: clear error or recovered, claim never lost", async () => {
    const lease = await keptLease();
    h.emu.control.injectError({ method: "POST", path: "/stop$", status: 0, reset: true, times: 3 });
    const r = await h.run(["stop", lease.slug, "--delete"]);
    expect([0, 8]).toContain(r.code);
    if (r.code !== 0) {
      expect(r.stderr).toMatch(/fix:/);
      expect(h.claims().find((c) => c.leaseId === lease.leaseId)).toBeDefined();
    }
    h.emu.control.clearErrors();
    const again = await h.run(["stop", lease.slug, "--delete"]);
    expect([0, 4]).toContain(again.code);
    expect(h.live().filter((c: any) => c.owner.login === h.login)).toEqual([]);
  }, 60_000);

  test.each(["reset", "500"] as const)("a create whose response is dropped (%s) is recovered by its recovery name", async (mode) => {
    h.emu.control.dropNextCreate(mode);
    const r = await h.run(["warmup", "--json", "--fresh"]);
    expect(r.code).toBe(0);
    const lease = r.json();
    expect(lease.state).toBe("ready");
    expect(h.live().filter((c: any) => c.owner.login === h.login).map((c: any) => c.name)).toEqual([lease.codespace.name]);
  }, 60_000);

  test("a malformed body (JSON of the wrong shape) is exit 8 naming the field, nothing changed", async () => {
    const lease = await keptLease();
    h.emu.control.resetCounts();
    h.emu.control.injectError({ method: "GET", path: CODESPACE_GET, status: 200, times: 10, body: { id: "not-a-number", name: 42 } });
    const r = await h.run(["stop", lease.slug, "--delete"]);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/shape|unexpected/i);
    expect(Object.keys(h.emu.control.counts()).filter((k) => !k.startsWith("GET "))).toEqual([]);
    expect(h.claims().find((c) => c.leaseId === lease.leaseId)).toBeDefined();
  }, 60_000);

  test("a body that is not JSON at all (truncated) is exit 8, not a crash", async () => {
    // Needs the emulator to send raw bytes: injectError({ rawBody }).
    h.emu.control.injectError({ method: "GET", path: "^/_probe_raw$", status: 200, rawBody: '{"login": "x", "id": ' } as any);
    const probe = await fetch(`${h.emu.url}/_probe_raw`).then((x) => x.text());
    if (probe !== '{"login": "x", "id": ') throw new Error("emulator lacks injectError({ rawBody }): cannot send a non-JSON body");
    const lease = await keptLease();
    h.emu.control.injectError({ method: "GET", path: CODESPACE_GET, status: 200, times: 10, rawBody: '{"id": 1, "name": "x", ' } as any);
    const r = await h.run(["status", "--id", lease.slug]);
    expect(r.code).toBe(8);
    expect(r.stderr).not.toMatch(/unexpected failure/);
  }, 60_000);

  test("an unexpected state string: warned, treated as not ready, times out with exit 6 and the claim kept", async () => {
    const lease = await keptLease();
    h.emu.control.mutateCodespace(lease.codespace.name, { state: "Hibernating" });
    // Force the slow path (no live master): close it first.
    const c = h.claims().find((x) => x.leaseId === lease.leaseId);
    Bun.spawnSync(["ssh", "-F", c.sshConfigPath, "-O", "exit", c.sshHost], { stderr: "ignore" });
    const r = await h.run(["run", "--id", lease.slug, "--timeout", "2s", "--", "true"]);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain("Hibernating");
    expect(r.stderr).toMatch(/crabbox-cs stop/);
    expect(h.claims().find((c) => c.leaseId === lease.leaseId)).toBeDefined();
    h.emu.control.mutateCodespace(lease.codespace.name, { state: "Available" });
  }, 60_000);
});

describe("lifecycle faults", () => {
  test("stuck in Provisioning past --timeout: exit 6, claim kept, message says how to stop it; stop converges", async () => {
    h.emu.control.stickProvisioning(true);
    const r = await h.run(["warmup", "--fresh", "--timeout", "2s"]);
    h.emu.control.stickProvisioning(false);
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/Provisioning/);
    expect(r.stderr).toMatch(/crabbox-cs stop \S+/);
    const claims = h.claims();
    expect(claims).toHaveLength(1);
    expect(claims[0].codespace?.name).toBeTruthy();
    expect(h.orphans()).toEqual([]);
    const s = await h.run(["stop", claims[0].leaseId, "--delete"]);
    expect(s.code).toBe(0);
    expect(h.claimFiles()).toEqual([]);
    expect(h.live().filter((c: any) => c.owner.login === h.login)).toEqual([]);
  }, 60_000);

  test("deleted behind our back: run/status say so (exit 4), stop forgets the claim", async () => {
    const lease = await keptLease();
    h.emu.control.deleteBehindBack(lease.codespace.name);
    const st = await h.run(["status", "--id", lease.slug, "--json"]);
    expect([0, 4]).toContain(st.code);
    const r = await h.run(["run", "--id", lease.slug, "--", "true"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no longer exists|disappeared|gone|not found/i);
    const s = await h.run(["stop", lease.slug, "--json"]);
    expect(s.code).toBe(0);
    expect(s.json().action).toBe("forgotten");
    expect(h.claimFiles()).toEqual([]);
  }, 60_000);

  test("gh missing: warmup fails with exit 2 naming gh, before any codespace exists", async () => {
    h.emu.control.resetCounts();
    const r = await h.run(["warmup", "--fresh", "--github-codespaces-gh-path", join(h.tmp, "no-such-gh")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/gh/);
    expect(r.stderr).toMatch(/fix:/);
    // A preflight, not a billable codespace left behind for a missing local tool.
    expect(routeCount("POST /repos/:owner/:repo/codespaces")).toBe(0);
  }, 60_000);

  test("gh missing in a one-shot run: clear error, the lease is released", async () => {
    const r = await h.run(["run", "--github-codespaces-gh-path", join(h.tmp, "no-such-gh"), "--", "true"]);
    expect(r.code).toBe(2);
    expect(h.claimFiles()).toEqual([]);
    expect(h.live().filter((c: any) => c.owner.login === h.login)).toEqual([]);
  }, 60_000);

  test("gh prints garbage for --config: exit 7, no raw control bytes echoed, codespace released", async () => {
    const r = await h.run(["warmup", "--fresh"], { env: { CRABBOX_SEC_GH_MODE: "garbage" } });
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/ssh config|Host/i);
    expect(CONTROL_CHARS.test(r.stderr)).toBe(false);
    expect(h.live().filter((c: any) => c.owner.login === h.login)).toEqual([]);
    expect(h.orphans()).toEqual([]);
  }, 60_000);

  test("sshd absent in the image: exit 7 with the devcontainer fix, codespace deleted, no claim left", async () => {
    h.emu.control.addRepo({ fullName: "octo-org/no-sshd", sshd: false });
    const r = await h.run(["warmup", "--fresh", "--github-codespaces-repo", "octo-org/no-sshd"]);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain("ghcr.io/devcontainers/features/sshd:1");
    expect(h.live().filter((c: any) => c.owner.login === h.login)).toEqual([]);
    expect(h.claimFiles()).toEqual([]);
  }, 60_000);
});

describe("disk full while writing a claim", () => {
  const mnt = () => join(h.tmp, "tiny-home");
  afterAll(() => {
    Bun.spawnSync(["umount", "-l", mnt()]);
  });

  test("ENOSPC: clear error, the old claim intact byte for byte, no temp files; stop converges once space is back", async () => {
    if (process.getuid?.() !== 0) throw new Error("needs root to mount a tmpfs");
    mkdirSync(mnt(), { recursive: true });
    const m = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mnt()]);
    expect(m.exitCode).toBe(0);
    const env = { CRABBOX_HOME: mnt(), CRABBOX_DEBUG: "1" };
    const w = await h.run(["warmup", "--json", "--keep", "--fresh"], { env });
    expect(w.code).toBe(0);
    const lease = w.json();
    const claimPath = join(mnt(), "claims", `${lease.leaseId}.json`);
    const free = () => {
      rmSync(join(mnt(), "filler"), { force: true });
      rmSync(join(mnt(), "filler2"), { force: true });
    };
    try {
      const before = readFileSync(claimPath, "utf8");
      // Fill the filesystem to the last byte.
      Bun.spawnSync(["sh", "-c", `dd if=/dev/zero of='${mnt()}/filler' bs=1k 2>/dev/null; dd if=/dev/zero of='${mnt()}/filler2' bs=1 2>/dev/null; true`]);
      // Commands that write the claim: a sync (lastSync), a stop (state).
      writeFileSync(join(h.work, `disk-${Date.now()}.txt`), "x\n");
      const r1 = await h.run(["run", "--id", lease.slug, "--", "true"], { env });
      const r2 = await h.run(["stop", lease.slug], { env });
      expect(readFileSync(claimPath, "utf8")).toBe(before);
      const problems: string[] = [];
      for (const [name, r] of [["run --id (sync)", r1], ["stop", r2]] as const) {
        if (r.code === 0) problems.push(`${name}: exit 0 on a full disk`);
        if (!/ENOSPC|no space|disk space/i.test(r.stderr)) problems.push(`${name}: no disk-space message`);
        if (/unexpected failure/.test(r.stderr)) problems.push(`${name}: reported as an unexpected failure (exit ${r.code}): ${r.stderr.split("\n").slice(0, 5).join(" | ")}`);
      }
      expect(problems).toEqual([]);
      const leftovers = readdirSync(join(mnt(), "claims")).filter((f) => f !== `${lease.leaseId}.json`);
      expect(leftovers).toEqual([]);
    } finally {
      free();
      const s = await h.run(["stop", lease.slug, "--delete"], { env });
      expect(s.code).toBe(0);
      expect(existsSync(claimPath)).toBe(false);
      expect(h.live().filter((c: any) => c.owner.login === h.login)).toEqual([]);
      Bun.spawnSync(["sh", "-c", `for f in '${mnt()}'/ssh/*.config; do [ -f "$f" ] && ssh -F "$f" -O exit x 2>/dev/null; done; true`]);
    }
  }, 120_000);
});
