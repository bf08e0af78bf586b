/**
 * A warm `run --id L --no-sync -- <command>` without a terminal opens its
 * command's session at the head start, behind a gate, before the command's
 * modules load (lifecycle/head-start.ts; docs/performance.md). Checked by
 * counting ssh invocations (a recording `ssh` first on PATH) and by what ran
 * in the codespace: never by timing. Every command here that must not run
 * would create a file; "never started" is that file's absence once every
 * process of the run is gone.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { closeWithLease, createHarness, recordSsh, type Harness, warmKeptLease } from "./harness.ts";
import { waitFor } from "./pool-lib.ts";

let h: Harness;
let lease: { leaseId: string; slug: string; codespace: { name: string } };
let ssh: ReturnType<typeof recordSsh>;
/** The codespace user's HOME (where run nonces are claimed). */
let remoteHome: string;

/** How the gated session's command begins (ssh/exec.ts GATE, then remoteCommand's preamble rule). */
const GATE = `IFS= read -r v && [ "$v" = N ] || `;

beforeAll(async () => {
  h = await createHarness();
  ssh = recordSsh(h, "ahead");
  h.env.PATH = ssh.env.PATH!;
  lease = await warmKeptLease(h);
  const home = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", 'printf %s "$HOME"']); // master up
  expect(home.code).toBe(0);
  remoteHome = home.stdout;
});

afterAll(async () => {
  await closeWithLease(h, lease);
});

/** ssh sessions since the log was cleared (control queries, `-O`, left out). */
function sessions(): string[] {
  return ssh.calls().filter((l) => !/(^| )-O /.test(l));
}

/** Processes (other than us) whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8");
      if (cmd.includes(needle) && !/^State:\s+Z/m.test(readFileSync(`/proc/${p}/status`, "utf8"))) out.push(Number(p));
    } catch {}
  }
  return out;
}

/** The run nonce a recorded session claims (`~/.cache/crabbox/runs/<nonce>`). */
function nonceOf(session: string): string {
  return /\.cache\/crabbox\/runs\/([a-z0-9]+)"/.exec(session)![1]!;
}

describe("the command's session opened ahead of the run (--no-sync, no terminal)", () => {
  test("one ssh session in all, behind the gate; the command's output, status and stdin are its own", async () => {
    ssh.clear();
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", "echo out; echo err >&2; cat; exit 7"], { input: "from stdin\n" });
    expect({ code: r.code, out: r.stdout }).toEqual({ code: 7, out: "out\nfrom stdin\n" });
    expect(r.stderr).toContain("err");
    const s = sessions();
    expect(s).toHaveLength(1);
    expect(s[0]).toContain(GATE);
  });

  test("--json: the same single session; the command's stdout goes to stderr and the summary alone to stdout", async () => {
    ssh.clear();
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--json", "--", "echo", "to-stderr"]);
    expect(r.code).toBe(0);
    expect(r.json().exitCode).toBe(0);
    expect(r.stderr).toContain("to-stderr");
    expect(sessions()).toHaveLength(1);
    expect(sessions()[0]).toContain(GATE);
  });

  test("1 MiB on stdin reaches the command whole, after the gate's word", async () => {
    const input = `${"0123456789abcdef".repeat(65_536)}`;
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "sh", "-c", "wc -c; echo done"], { input });
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split(/\s+/)).toEqual([String(input.length), "done"]);
  });

  test("the look ahead changes nothing the run reports: a claim readable by others is still tightened, with the run's warning", async () => {
    const claimFile = join(h.home, "claims", `${lease.leaseId}.json`);
    chmodSync(claimFile, 0o644);
    ssh.clear();
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "true"]);
    expect(r.code).toBe(0);
    expect(sessions()[0]).toContain(GATE); // the session was opened ahead
    expect(r.stderr.split("\n").filter((l) => l.includes("readable by others"))).toEqual([
      `warning: claim file ${claimFile} was readable by others (mode 0644); tightened it to 0600`,
    ]);
    expect((statSync(claimFile).mode & 0o777).toString(8)).toBe("600");
  });

  test("a usage error found after the session opened: the session is ended, its command never starts", async () => {
    const marker = join(h.tmp, "ahead-usage-never");
    ssh.clear();
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--no-such-flag", "--", "touch", marker]);
    expect(r.code).toBe(2);
    const s = sessions();
    expect(s).toHaveLength(1); // opened at the head start, then ended
    expect(s[0]).toContain(GATE);
    const nonce = nonceOf(s[0]!);
    expect(await waitFor(() => processesMentioning(nonce).length === 0)).toBe(true);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(remoteHome, ".cache/crabbox/runs", nonce))).toBe(false);
  });

  test("the run killed before its word (SIGKILL, held at the lease's lock): the command never starts, and its ssh ends by itself", async () => {
    const marker = join(h.tmp, "ahead-killed-never");
    const claimFile = join(h.home, "claims", `${lease.leaseId}.json`);
    const lockFile = join(h.home, "claims", `${lease.leaseId}.lock`);
    const original = readFileSync(claimFile, "utf8");
    // A lease past half its TTL is touched under its lock; the lock is held by this (live) test.
    const claim = JSON.parse(original);
    writeFileSync(claimFile, `${JSON.stringify({ ...claim, keep: false, ttlMs: 3_600_000, expiresAt: new Date(Date.now() + 60_000).toISOString() }, null, 2)}\n`, { mode: 0o600 });
    writeFileSync(lockFile, JSON.stringify({ pid: process.pid, host: hostname(), createdAt: new Date().toISOString(), token: "heldbythetest" }), { mode: 0o600 });
    try {
      ssh.clear();
      const p = h.spawn(["run", "--id", lease.slug, "--no-sync", "--", "touch", marker]);
      expect(await waitFor(() => sessions().length === 1)).toBe(true);
      const nonce = nonceOf(sessions()[0]!);
      expect(sessions()[0]).toContain(GATE);
      // Its ssh is up and waiting at the gate, the run waits for the lock: killed now.
      expect(await waitFor(() => processesMentioning(nonce).length > 0)).toBe(true);
      expect(p.exitCode).toBeNull(); // still waiting for the lock, its session at the gate
      p.kill("SIGKILL");
      await p.exited;
      expect(p.signalCode).toBe("SIGKILL");
      expect(await waitFor(() => processesMentioning(nonce).length === 0)).toBe(true);
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(join(remoteHome, ".cache/crabbox/runs", nonce))).toBe(false);
    } finally {
      rmSync(lockFile, { force: true });
      writeFileSync(claimFile, original, { mode: 0o600 });
    }
    // The lease is as usable as before.
    expect((await h.run(["run", "--id", lease.slug, "--no-sync", "--", "true"])).code).toBe(0);
  });
});
