import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import { lockHolder, pidAlive, withLock } from "../../src/leases/lock.ts";
import { createClaimStore } from "../../src/leases/store.ts";
import { makeClaim, tempHome } from "./fixtures/leases-claim.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "cbx-lock-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const BUN = process.execPath;
const WORKER = join(import.meta.dir, "fixtures", "leases-worker.ts");

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const p = Bun.spawn([BUN, "-e", "0"], { stdout: "ignore", stderr: "ignore" });
  await p.exited;
  expect(pidAlive(p.pid)).toBe(false);
  return p.pid;
}

function writeLock(path: string, pid: number, host = hostname(), createdAt = new Date().toISOString()) {
  writeFileSync(path, JSON.stringify({ pid, host, createdAt, token: "someoneelse" }), { mode: 0o600 });
}

describe("withLock", () => {
  test("runs fn, returns its value, leaves no files behind", async () => {
    const d = tmp();
    const lp = join(d, "x.lock");
    const v = await withLock(lp, async () => {
      const h = await lockHolder(lp);
      expect(h?.pid).toBe(process.pid);
      expect(h?.host).toBe(hostname());
      expect(Number.isNaN(Date.parse(h?.createdAt ?? ""))).toBe(false);
      return 42;
    });
    expect(v).toBe(42);
    expect(readdirSync(d)).toEqual([]);
  });

  test("a lock whose pid is dead is broken", async () => {
    const d = tmp();
    const lp = join(d, "x.lock");
    writeLock(lp, await deadPid());
    const t0 = Date.now();
    expect(await withLock(lp, () => "got it", { timeoutMs: 2000 })).toBe("got it");
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(readdirSync(d)).toEqual([]);
  });

  test("a lock left by an earlier process with our own pid is broken", async () => {
    const d = tmp();
    const lp = join(d, "x.lock");
    writeLock(lp, process.pid);
    expect(await withLock(lp, () => "mine now", { timeoutMs: 2000 })).toBe("mine now");
  });

  test("a live holder makes us time out with exit 6 naming the lease and the pid", async () => {
    const d = tmp();
    const lp = join(d, "cbx_aaaaaaaaaaaa.lock");
    const sleeper = Bun.spawn(["sleep", "30"], { stdout: "ignore" });
    try {
      writeLock(lp, sleeper.pid);
      let ran = false;
      const t0 = Date.now();
      let err: unknown;
      try {
        await withLock(lp, () => { ran = true; }, { timeoutMs: 300, label: "lease cbx_aaaaaaaaaaaa" });
      } catch (e) {
        err = e;
      }
      const waited = Date.now() - t0;
      expect(ran).toBe(false);
      expect(err).toBeInstanceOf(CrabboxError);
      const e = err as CrabboxError;
      expect(e.exit).toBe(6);
      expect(e.code).toBe("lock_timeout");
      expect(e.message).toContain("cbx_aaaaaaaaaaaa");
      expect(e.why).toContain(`pid ${sleeper.pid}`);
      expect(e.hint).toContain(`rm '${lp}'`);
      expect(e.details?.holderPid).toBe(sleeper.pid);
      expect(waited).toBeGreaterThanOrEqual(290);
      expect(waited).toBeLessThan(2000);
      expect(existsSync(lp)).toBe(true); // a live holder's lock is never touched
    } finally {
      sleeper.kill();
      await sleeper.exited;
    }
    // Once the holder is dead, the same lock is broken.
    expect(await withLock(lp, () => "after", { timeoutMs: 2000 })).toBe("after");
  });

  test("staleMs breaks old locks from another host; without it they are respected", async () => {
    const d = tmp();
    const lp = join(d, "x.lock");
    writeLock(lp, 1, "some-other-host", new Date(Date.now() - 60_000).toISOString());
    await expect(withLock(lp, () => 1, { timeoutMs: 100 })).rejects.toMatchObject({ exit: 6 });
    expect(await withLock(lp, () => 2, { timeoutMs: 1000, staleMs: 30_000 })).toBe(2);
  });

  test("many in-process breakers race on one stale lock: exactly one holder at a time", async () => {
    const d = tmp();
    const lp = join(d, "x.lock");
    writeLock(lp, await deadPid());
    let inside = 0;
    let maxInside = 0;
    let runs = 0;
    await Promise.all(
      Array.from({ length: 30 }, () =>
        withLock(lp, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await new Promise((r) => setTimeout(r, 1));
          inside--;
          runs++;
        }),
      ),
    );
    expect(runs).toBe(30);
    expect(maxInside).toBe(1);
    expect(readdirSync(d)).toEqual([]);
  });
});

describe("across processes", () => {
  async function runWorkers(home: string, shared: string, workers: number, increments: number, mode?: string) {
    const procs = Array.from({ length: workers }, () =>
      Bun.spawn([BUN, WORKER, home, shared, String(increments), ...(mode ? [mode] : [])], {
        stdout: "pipe",
        stderr: "pipe",
      }),
    );
    return Promise.all(
      procs.map(async (p) => ({
        code: await p.exited,
        stdout: await new Response(p.stdout).text(),
        stderr: await new Response(p.stderr).text(),
      })),
    );
  }

  test("20 processes: every claim written whole, every locked increment counted", async () => {
    const { dir, home, runtime } = tempHome();
    dirs.push(dir);
    const store = createClaimStore(runtime);
    const shared = makeClaim({ failure: "0" });
    await store.create(shared);
    // Start with a stale lock from a dead process: all 20 race to break it.
    writeLock(store.lockPath(shared.leaseId), await deadPid());

    const WORKERS = 20;
    const INCREMENTS = 10;
    const results = await runWorkers(home, shared.leaseId, WORKERS, INCREMENTS);
    for (const r of results) {
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    }
    const workerIds = results.map((r) => r.stdout.trim());
    expect(new Set(workerIds).size).toBe(WORKERS);

    const { claims, corrupt } = await store.list();
    expect(corrupt).toEqual([]);
    expect(claims.length).toBe(WORKERS + 1);
    for (const id of workerIds) expect(claims.some((c) => c.leaseId === id)).toBe(true);
    expect((await store.read(shared.leaseId))?.failure).toBe(String(WORKERS * INCREMENTS));
    // Only claims remain: no lock, break-lock or temp files left behind.
    expect(readdirSync(store.claimsDir).sort()).toEqual(claims.map((c) => `${c.leaseId}.json`).sort());
  }, 60_000);

  test("negative control: the same workers without the lock lose updates (the test above can fail)", async () => {
    const { dir, home, runtime } = tempHome();
    dirs.push(dir);
    const store = createClaimStore(runtime);
    const shared = makeClaim({ failure: "0" });
    await store.create(shared);
    const results = await runWorkers(home, shared.leaseId, 20, 10, "nolock");
    for (const r of results) expect(r.code).toBe(0);
    const { corrupt } = await store.list();
    expect(corrupt).toEqual([]); // atomic writes: lost updates, but never a torn file
    expect(Number((await store.read(shared.leaseId))?.failure)).toBeLessThan(200);
  }, 60_000);
});
