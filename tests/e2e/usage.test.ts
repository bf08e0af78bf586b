/**
 * Issue 10, items 3, 4 and 8 (leftover files), through the compiled binary:
 *  - unknown git status is not clean: stop, cleanup and one-shot run stop the
 *    codespace and keep the claim ("git status unknown", exit 5 as for dirty);
 *  - cleanup never releases a lease whose command is running (in-use markers
 *    from the claim's creation; host/pid/start time; other hosts until their TTL);
 *  - a forgotten lease takes its local files with it; cleanup removes files no claim holds.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

const claimsDir = () => join(h.home, "claims");
function claimFiles(): string[] {
  return existsSync(claimsDir()) ? readdirSync(claimsDir()).filter((f) => /^cbx_[a-z2-7]{12}\.json$/.test(f)) : [];
}
function claims(): any[] {
  return claimFiles().map((f) => JSON.parse(readFileSync(join(claimsDir(), f), "utf8")));
}
function claimOf(leaseId: string): any | null {
  const p = join(claimsDir(), `${leaseId}.json`);
  return existsSync(p) ? JSON.parse(readFileSync(p, "utf8")) : null;
}
function liveCs(name: string): any {
  return h.emu.control.codespaces().find((c: any) => c.name === name);
}
/** Every file under CRABBOX_HOME whose name contains the lease id. */
function filesOf(leaseId: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.includes(leaseId)) out.push(p.slice(h.home.length + 1));
    }
  };
  if (existsSync(h.home)) walk(h.home);
  return out.sort();
}
async function waitFor<T>(what: string, probe: () => T | null | undefined | false, ms = 45_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await Bun.sleep(25);
  }
}
async function warmup(args: string[] = []) {
  const r = await h.run(["warmup", "--json", "--fresh", ...args]);
  if (r.code !== 0) throw new Error(`warmup failed (${r.code}): ${r.stderr}`);
  return r.json();
}
/** Wait until the lease's expiry has passed (a condition, not a fixed sleep). */
async function expired(leaseId: string) {
  await waitFor("lease expiry", () => Date.now() > Date.parse(claimOf(leaseId).expiresAt) + 50);
}
/** A pid that certainly belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const p = Bun.spawn(["true"]);
  await p.exited;
  return p.pid;
}
/** Write an in-use marker by hand, named `<leaseId>.inuse.<pid>` (also how older versions named them). */
function writeMarker(leaseId: string, m: { host: string; pid: number; startTime: string | null; expiresAt?: string }) {
  const now = Date.now();
  const path = join(claimsDir(), `${leaseId}.inuse.${m.pid}`);
  writeFileSync(
    path,
    JSON.stringify({ version: 1, leaseId, host: m.host, pid: m.pid, startTime: m.startTime, createdAt: new Date(now).toISOString(), expiresAt: m.expiresAt ?? new Date(now + 3600_000).toISOString() }),
    { mode: 0o600 },
  );
  return path;
}

afterEach(async () => {
  h.emu.control.omitGitStatus(true, []);
  for (const cs of h.emu.control.codespaces() as any[]) h.emu.control.omitGitStatus(cs.name, []);
  for (const c of claims()) await h.run(["stop", c.leaseId, "--delete"]);
  for (const cs of h.emu.control.codespaces() as any[]) h.emu.control.deleteBehindBack(cs.name);
});

describe("unknown git status is not clean", () => {
  test("the emulator really serves git_status without the omitted keys", async () => {
    const cs = h.emu.control.seedCodespace({ repo: "octo-org/hello-world" }) as any;
    h.emu.control.omitGitStatus(cs.name, ["has_uncommitted_changes", "ahead"]);
    h.emu.control.setDirty(cs.name, { unpushed: true });
    const res = await fetch(`${h.env.GITHUB_API_URL}/user/codespaces/${cs.name}`, {
      headers: { Authorization: `Bearer ${h.env.GH_TOKEN}` },
    });
    const body = (await res.json()) as any;
    expect(Object.keys(body.git_status).sort()).toEqual(["behind", "has_unpushed_changes", "ref"]);
    expect(body.git_status.has_unpushed_changes).toBe(true); // still recomputed
  });

  test.each([["has_uncommitted_changes"], ["has_unpushed_changes"]])("stop: %s missing → stopped, claim kept, exit 5 'git status unknown'", async (missing) => {
    const lease = await warmup();
    const name = lease.codespace.name;
    h.emu.control.omitGitStatus(name, [missing]);
    const r = await h.run(["stop", lease.slug]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("git status unknown");
    expect(r.stderr).toContain(`gh codespace ssh -c ${name}`);
    expect(liveCs(name).state).toBe("Shutdown");
    const claim = claimOf(lease.leaseId);
    expect(claim.state).toBe("released");
    expect(claim.failure).toBe("not deleted: git status unknown");
    // --json carries the error document.
    const j = await h.run(["stop", lease.slug, "--json"]);
    expect(j.code).toBe(5);
    expect(j.json().error.code).toBe("git_status_unknown");
    expect(liveCs(name)).toBeDefined();
  });

  test("stop: only ahead missing (both booleans false) → deleted", async () => {
    const lease = await warmup();
    h.emu.control.omitGitStatus(lease.codespace.name, ["ahead"]);
    const r = await h.run(["stop", lease.slug, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json().action).toBe("deleted");
    expect(liveCs(lease.codespace.name)).toBeUndefined();
  });

  test("cleanup: an expired lease with unknown git status is stopped and kept (dry run says would-stop)", async () => {
    const lease = await warmup(["--ttl", "1s"]);
    const name = lease.codespace.name;
    h.emu.control.omitGitStatus(name, ["has_uncommitted_changes"]);
    await expired(lease.leaseId);
    const dry = await h.run(["cleanup", "--dry-run", "--json"]);
    const dd = dry.json().decisions.find((d: any) => d.leaseId === lease.leaseId);
    expect(dd.action).toBe("would-stop");
    expect(dd.reason).toContain("git status unknown");
    const c = await h.run(["cleanup", "--json"]);
    expect(c.code).toBe(5);
    const d = c.json().decisions.find((x: any) => x.leaseId === lease.leaseId);
    expect(d.action).toBe("kept-dirty");
    expect(d.reason).toContain("git status unknown");
    expect(d.error.code).toBe("git_status_unknown");
    expect(liveCs(name).state).toBe("Shutdown");
    expect(claimOf(lease.leaseId).state).toBe("released");
  });

  test("one-shot run: the release stops, keeps the claim, exits 5", async () => {
    h.emu.control.omitGitStatus(true, ["has_unpushed_changes"]);
    const r = await h.run(["run", "--no-sync", "--", "echo", "ran"]);
    expect(r.stdout).toBe("ran\n");
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("git status unknown");
    const [claim] = claims();
    expect(claim.failure).toBe("not deleted: git status unknown");
    expect(liveCs(claim.codespace.name).state).toBe("Shutdown");
  });
});

describe("cleanup never releases a lease in use", () => {
  test("run --ttl 2s: cleanup after the TTL skips it ('in use by process N on host H'); the command finishes and the run releases", async () => {
    const cmd = `touch "$CODESPACE_DIR/started"; while [ ! -f "$CODESPACE_DIR/go" ]; do sleep 0.05; done; echo finished`;
    const proc = h.spawn(["run", "--ttl", "2s", "--no-sync", "--", "sh", "-c", cmd]);
    const stdout = new Response(proc.stdout).text();
    const stderr = new Response(proc.stderr).text();
    // The marker is written before the claim: whenever the claim can be seen, so can the marker.
    const first = await waitFor("the run's claim", () => claimFiles()[0]);
    const id = first.slice(0, -".json".length);
    expect(readdirSync(claimsDir()).some((f) => f.startsWith(`${id}.inuse.`))).toBe(true);
    const claim = await waitFor("the run's claim with a codespace", () => claims().find((c) => c.codespace));
    const dir = h.emu.control.codespaceDir(claim.codespace.name);
    await waitFor("the remote command to start", () => existsSync(join(dir, "started")));
    // The run's marker: host, pid and process start time of the run itself.
    const markers = readdirSync(claimsDir()).filter((f) => f.startsWith(`${claim.leaseId}.inuse.`));
    expect(markers).toHaveLength(1);
    const m = JSON.parse(readFileSync(join(claimsDir(), markers[0]!), "utf8"));
    const stat = readFileSync(`/proc/${proc.pid}/stat`, "utf8");
    expect(m).toMatchObject({ leaseId: claim.leaseId, host: hostname(), pid: proc.pid, startTime: stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] });
    await expired(claim.leaseId);

    const c = await h.run(["cleanup", "--json"]);
    expect(c.code).toBe(0);
    const d = c.json().decisions.find((x: any) => x.leaseId === claim.leaseId);
    expect(d.action).toBe("skip");
    expect(d.reason).toBe(`in use by process ${proc.pid} on host ${hostname()}`);
    expect(liveCs(claim.codespace.name).state).toBe("Available");

    writeFileSync(join(dir, "go"), "");
    expect(await proc.exited).toBe(0);
    expect(await stdout).toBe("finished\n");
    expect(await stderr).not.toContain("did not run");
    expect(claimOf(claim.leaseId)).toBeNull();
    expect(liveCs(claim.codespace.name)).toBeUndefined();
    expect(filesOf(claim.leaseId)).toEqual([]); // the marker went with the release
  });

  test("stale markers are swept: a dead pid, and a live pid whose start time differs (reused); the expired lease is released", async () => {
    const lease = await warmup(["--ttl", "1s"]);
    const dead = writeMarker(lease.leaseId, { host: hostname(), pid: await deadPid(), startTime: "1" });
    // Our own pid is alive, but it was not started at "1": another process had it.
    const reused = writeMarker(lease.leaseId, { host: hostname(), pid: process.pid, startTime: "1" });
    await expired(lease.leaseId);
    const c = await h.run(["cleanup", "--json"]);
    expect(c.code).toBe(0);
    expect(c.json().decisions.find((x: any) => x.leaseId === lease.leaseId).action).toBe("deleted");
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(reused)).toBe(false);
    expect(liveCs(lease.codespace.name)).toBeUndefined();
  });

  test("a live pid with its real start time protects the lease", async () => {
    const lease = await warmup(["--ttl", "1s"]);
    const stat = readFileSync(`/proc/${process.pid}/stat`, "utf8");
    writeMarker(lease.leaseId, { host: hostname(), pid: process.pid, startTime: stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]! });
    await expired(lease.leaseId);
    const d = (await h.run(["cleanup", "--json"])).json().decisions.find((x: any) => x.leaseId === lease.leaseId);
    expect(d.action).toBe("skip");
    expect(d.reason).toBe(`in use by process ${process.pid} on host ${hostname()}`);
  });

  test("a marker from another host is respected until its TTL, then swept", async () => {
    const lease = await warmup(["--ttl", "1s"]);
    const pid = await deadPid(); // dead here, which says nothing about the other host
    const path = writeMarker(lease.leaseId, { host: "other-host.example", pid, startTime: "123" });
    await expired(lease.leaseId);
    const c = await h.run(["cleanup", "--json"]);
    const d = c.json().decisions.find((x: any) => x.leaseId === lease.leaseId);
    expect(d.action).toBe("skip");
    expect(d.reason).toBe(`in use by process ${pid} on host other-host.example`);
    expect(existsSync(path)).toBe(true);
    expect(liveCs(lease.codespace.name).state).toBe("Available");

    writeMarker(lease.leaseId, { host: "other-host.example", pid, startTime: "123", expiresAt: new Date(Date.now() - 1000).toISOString() });
    const c2 = await h.run(["cleanup", "--json"]);
    expect(c2.json().decisions.find((x: any) => x.leaseId === lease.leaseId).action).toBe("deleted");
    expect(existsSync(path)).toBe(false);
  });
});

describe("leftover files", () => {
  test("a one-shot run with sync leaves no file of its lease behind", async () => {
    const r = await h.run(["run", "--", "true"]);
    expect(r.code).toBe(0);
    const leaseIds = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        const m = /cbx_[a-z2-7]{12}/.exec(e.name);
        if (m) leaseIds.add(`${dir.slice(h.home.length)}/${e.name}`);
      }
    };
    walk(h.home);
    expect([...leaseIds]).toEqual([]);
  });

  test("a forgotten lease (codespace gone) takes its ssh config, proxy log, control socket, sync cache and markers with it", async () => {
    const lease = await warmup(["--keep"]);
    const r = await h.run(["run", "--id", lease.slug, "--", "true"]); // sync: writes the sync cache; connects: ssh config
    expect(r.code).toBe(0);
    const before = filesOf(lease.leaseId);
    expect(before).toEqual(expect.arrayContaining([`ssh/${lease.leaseId}.config`, `ssh/${lease.leaseId}.proxy.log`, `sync/${lease.leaseId}.state`, `claims/${lease.leaseId}.json`]));
    const marker = writeMarker(lease.leaseId, { host: hostname(), pid: await deadPid(), startTime: null });
    const config = join(h.home, "ssh", `${lease.leaseId}.config`);
    const alias = /^Host\s+(\S+)/m.exec(readFileSync(config, "utf8"))![1]!;
    const socket = /^controlpath\s+(.+)$/m.exec(Bun.spawnSync(["ssh", "-G", "-F", config, alias]).stdout.toString())![1]!;

    h.emu.control.deleteBehindBack(lease.codespace.name);
    const s = await h.run(["stop", lease.slug, "--json"]);
    expect(s.code).toBe(0);
    expect(s.json().action).toBe("forgotten");
    expect(filesOf(lease.leaseId)).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(socket)).toBe(false);
  });

  test("cleanup removes per-lease files that no claim holds, and reports them (dry run: reports only)", async () => {
    const ghost = "cbx_aaaabbbbcccc";
    mkdirSync(join(h.home, "ssh"), { recursive: true, mode: 0o700 });
    mkdirSync(join(h.home, "sync"), { recursive: true, mode: 0o700 });
    mkdirSync(claimsDir(), { recursive: true, mode: 0o700 });
    const planted = [
      join(h.home, "ssh", `${ghost}.config`),
      join(h.home, "ssh", `${ghost}.proxy.log`),
      join(h.home, "sync", `${ghost}.json`),
      join(h.home, "sync", `${ghost}.files-0a1b2c3d`),
    ];
    writeFileSync(planted[0]!, "Host cs.ghost.main\n\tHostName 127.0.0.1\n\tControlPath none\n", { mode: 0o600 });
    for (const p of planted.slice(1)) writeFileSync(p, "{}", { mode: 0o600 });
    planted.push(writeMarker(ghost, { host: hostname(), pid: await deadPid(), startTime: null }));
    // A lease whose marker is live and whose claim is not written yet (a warmup starting) is left alone.
    const starting = "cbx_ddddeeeeffff";
    const stat = readFileSync(`/proc/${process.pid}/stat`, "utf8");
    const liveMarker = writeMarker(starting, { host: hostname(), pid: process.pid, startTime: stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]! });

    const dry = await h.run(["cleanup", "--dry-run", "--json"]);
    expect(dry.code).toBe(0);
    expect(dry.json().leftovers).toEqual([{ leaseId: ghost, paths: expect.arrayContaining(planted) }]);
    for (const p of planted) expect(existsSync(p)).toBe(true);

    const c = await h.run(["cleanup"]);
    expect(c.code).toBe(0);
    expect(c.stderr).toContain(`removed files of lease ${ghost}`);
    for (const p of planted) expect(existsSync(p)).toBe(false);
    expect(existsSync(liveMarker)).toBe(true);
    Bun.spawnSync(["rm", "-f", liveMarker]);
  });
});
