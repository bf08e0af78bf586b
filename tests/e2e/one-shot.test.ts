/**
 * The one-shot path (`run` without --id), checked by counting and by order —
 * never by timing: which ssh sessions it opens (a recording `ssh` first on
 * PATH), how many tunnels (the gh stand-in's `--stdio` calls), and which
 * requests were in flight together (the emulator's event log, with requests
 * held until another one starts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHarness, recordSsh, type Harness } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  // Created Available at once (as a prebuilt codespace can be): gh's config can be asked for right away.
  h = await createHarness({ delays: { provisionMs: 0 } });
});

afterAll(async () => {
  await h?.close();
});

/** What an ssh invocation was for. */
function kind(args: string): string {
  if (/(^| )-O (check|exit)( |$)/.test(args)) return "control";
  if (/(^| )-G( |$)/.test(args)) return "query";
  if (/(^| )-N( |$)/.test(args)) return "master";
  if (args.includes("rsync --server")) return "rsync";
  if (/ -- sh -s\s*$/.test(args)) return "probe";
  if (args.includes(".cache/crabbox/runs/")) return "command";
  if (args.includes("crabbox-sync")) return "report";
  return `other: ${args}`;
}

function claimFiles(): string[] {
  const dir = join(h.home, "claims");
  return existsSync(dir) ? Bun.spawnSync(["ls", dir]).stdout.toString().split("\n").filter((f) => f.endsWith(".json")) : [];
}

describe("one-shot run", () => {
  test("no readiness probe: the sessions are the sync's (report, rsync) and the command's, over one tunnel", async () => {
    writeFileSync(join(h.work, "one-shot.txt"), "sent\n");
    const ssh = recordSsh(h, "one-shot");
    const tunnels = h.emu.control.stdioCount();
    const r = await h.run(["run", "--json", "--", "cat", "one-shot.txt"], { env: ssh.env });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("sent");
    expect(r.json().sync.skipped).toBe(false);
    const sessions = ssh.calls().map(kind).filter((k) => k !== "control" && k !== "query" && k !== "master");
    expect(sessions.length).toBeGreaterThan(0); // the recorder saw the run (not vacuous)
    expect(sessions).not.toContain("probe");
    expect(sessions.sort()).toEqual(["command", "report", "rsync"]);
    expect(h.emu.control.stdioCount() - tunnels).toBe(1);
    expect(claimFiles()).toEqual([]);
  });

  test("without the probe, a work root that cannot be made is still exit 7 work_root_unwritable, and nothing is left", async () => {
    const r = await h.run(["run", "--json", "--github-codespaces-work-root", "/proc/no-such/dir", "--", "true"]);
    expect(r.code).toBe(7);
    expect(r.json().exitCode).toBe(7);
    expect(r.stderr).toContain("the work root /proc/no-such/dir cannot be created or entered in the codespace");
    expect(h.emu.control.codespaces()).toEqual([]);
    expect(claimFiles()).toEqual([]);
  });

  test("--no-sync still probes (the probe makes the work root the command starts in)", async () => {
    const ssh = recordSsh(h, "one-shot");
    const r = await h.run(["run", "--no-sync", "--", "true"], { env: ssh.env });
    expect(r.code).toBe(0);
    expect(ssh.calls().map(kind)).toContain("probe");
  });

  test("preflight: the GETs that do not wait for each other's answers are in flight together, each sent once", async () => {
    const c = h.emu.control;
    c.resetEvents();
    c.resetCounts();
    // Each held request is answered once the other one has started (or after 3 s: one after another never overlaps).
    c.holdUntil({ path: "^GET /user$", until: "^GET /repos/octo-org/hello-world$" });
    c.holdUntil({ path: "/codespaces/new$", until: "/codespaces/machines$" });
    try {
      const r = await h.run(["run", "--no-sync", "--", "true"]);
      expect(r.code).toBe(0);
    } finally {
      c.clearHolds();
    }
    const log = c.events().map((e) => `${e.phase} ${e.event}`);
    const at = (line: string) => {
      const i = log.indexOf(line);
      expect(i).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(at("start GET /repos/octo-org/hello-world")).toBeLessThan(at("end GET /user"));
    expect(at("start GET /repos/octo-org/hello-world/codespaces/machines")).toBeLessThan(at("end GET /repos/octo-org/hello-world/codespaces/new"));
    const counts = c.counts();
    for (const route of [
      "GET /user",
      "GET /repos/:owner/:repo",
      "GET /repos/:owner/:repo/codespaces/new",
      "GET /repos/:owner/:repo/codespaces/permissions_check",
      "GET /repos/:owner/:repo/codespaces/machines",
    ]) {
      expect({ route, n: counts[route] }).toEqual({ route, n: 1 });
    }
  });

  test("created Available: gh's ssh config is asked for while the codespace is read back, once", async () => {
    const c = h.emu.control;
    c.resetEvents();
    const configs = c.configCount();
    // The read-back is answered once gh's config call has started (or after 3 s).
    c.holdUntil({ path: "^GET /user/codespaces/[^/]+$", until: "^gh/config " });
    try {
      const r = await h.run(["run", "--", "true"]);
      expect(r.code).toBe(0);
    } finally {
      c.clearHolds();
    }
    const log = c.events().map((e) => `${e.phase} ${e.event}`);
    const firstGet = log.findIndex((l) => /^end GET \/user\/codespaces\/[^/]+$/.test(l));
    const config = log.findIndex((l) => l.startsWith("start gh/config "));
    expect(firstGet).toBeGreaterThanOrEqual(0);
    expect(config).toBeGreaterThanOrEqual(0);
    expect(config).toBeLessThan(firstGet);
    expect(c.configCount() - configs).toBe(1);
  });
});
