/**
 * Permissions: everything we write under CRABBOX_HOME is private — claim,
 * lock and ssh config files (and proxy logs, sync caches) 0600, their
 * directories 0700 — even under `umask 000`; a pre-existing world-readable
 * CRABBOX_HOME is tightened (or refused with a message).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, figure, mode, octal, secHarness, type SecHarness } from "./lib.ts";

let h: SecHarness;
beforeAll(async () => {
  h = await secHarness();
});
afterAll(async () => {
  await h?.reset();
  await h?.close();
});

/** Every file and directory under `root` with a mode wider than allowed. */
function tooOpen(root: string): string[] {
  const bad: string[] = [];
  const walk = (d: string) => {
    const m = mode(d);
    if (m & 0o077) bad.push(`${d} ${octal(m)} (dir)`);
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.mode & 0o077) bad.push(`${p} ${octal(st.mode & 0o777)}`);
    }
  };
  walk(root);
  return bad;
}

/** Run the binary under `umask 000` (the harshest umask a user can have). */
async function runUmask0(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(["sh", "-c", 'umask 000; exec "$0" "$@"', BIN, ...args], {
    cwd: h.work,
    env: { ...h.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe("private state", () => {
  test("under umask 000: claims, locks, ssh configs, proxy logs, sync caches 0600; directories 0700", async () => {
    // Watch lock files while they exist (they are transient).
    const claimsDir = join(h.home, "claims");
    const lockModes = new Map<string, number>();
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        if (existsSync(claimsDir)) {
          for (const n of readdirSync(claimsDir)) {
            if (!n.includes(".lock")) continue;
            try {
              lockModes.set(n, mode(join(claimsDir, n)));
            } catch {}
          }
        }
        await Bun.sleep(2);
      }
    })();
    const w = await runUmask0(["warmup", "--json", "--keep"]);
    expect(w.code).toBe(0);
    const lease = JSON.parse(w.stdout);
    writeFileSync(join(h.work, "perm.txt"), "x\n");
    const r = await runUmask0(["run", "--id", lease.slug, "--", "true"]);
    expect(r.code).toBe(0);
    watching = false;
    await watcher;

    expect(mode(h.home)).toBe(0o700);
    expect(mode(claimsDir)).toBe(0o700);
    expect(mode(join(claimsDir, `${lease.leaseId}.json`))).toBe(0o600);
    const cfg = join(h.home, "ssh", `${lease.leaseId}.config`);
    expect(mode(join(h.home, "ssh"))).toBe(0o700);
    expect(mode(cfg)).toBe(0o600);
    const bad = tooOpen(h.home);
    figure("permissions.tooOpen", bad.length);
    figure("permissions.locksSeen", lockModes.size);
    expect(bad).toEqual([]);
    const openLocks = [...lockModes].filter(([, m]) => m & 0o077).map(([n, m]) => `${n} ${octal(m)}`);
    expect(openLocks).toEqual([]);
    const s = await h.run(["stop", lease.slug, "--delete"]);
    expect(s.code).toBe(0);
  }, 120_000);

  test("a pre-existing world-readable CRABBOX_HOME is tightened (or refused with a message) by a command that writes", async () => {
    const home = join(h.tmp, "open-home");
    mkdirSync(join(home, "claims"), { recursive: true });
    mkdirSync(join(home, "ssh"), { recursive: true });
    chmodSync(home, 0o755);
    chmodSync(join(home, "claims"), 0o777);
    chmodSync(join(home, "ssh"), 0o755);
    const w = await h.run(["warmup", "--json"], { env: { CRABBOX_HOME: home } });
    if (w.code === 0) {
      const lease = w.json();
      const bad = tooOpen(home);
      await h.run(["stop", lease.leaseId, "--delete"], { env: { CRABBOX_HOME: home } });
      expect(bad).toEqual([]);
    } else {
      // Refused: it must say which directory and how to fix it; nothing created.
      expect(w.stderr).toContain(home);
      expect(w.stderr).toMatch(/fix:/);
      expect(h.orphans()).toEqual([]);
    }
  }, 120_000);

  test("a read-only command on a world-readable CRABBOX_HOME tightens it or warns", async () => {
    const home = join(h.tmp, "open-home-ro");
    mkdirSync(join(home, "claims"), { recursive: true });
    chmodSync(home, 0o755);
    chmodSync(join(home, "claims"), 0o755);
    const r = await h.run(["list"], { env: { CRABBOX_HOME: home } });
    const tightened = (mode(home) & 0o077) === 0 && (mode(join(home, "claims")) & 0o077) === 0;
    const warned = /permission|world|readable|0?7[0-7]{2}|chmod/i.test(r.stderr);
    expect(tightened || warned).toBe(true);
  });

  test("a CRABBOX_HOME that is a symlink to a directory owned by someone else is refused", async () => {
    // Only meaningful when another uid exists; as root we create a dir owned by nobody (65534).
    if (process.getuid?.() !== 0) return;
    const other = join(h.tmp, "not-mine");
    mkdirSync(other, { recursive: true });
    chmodSync(other, 0o777);
    Bun.spawnSync(["chown", "65534:65534", other]);
    const r = await h.run(["warmup"], { env: { CRABBOX_HOME: other } });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("owned by uid 65534");
    expect(h.orphans()).toEqual([]);
  }, 60_000);
});
