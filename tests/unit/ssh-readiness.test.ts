import { afterEach, describe, expect, test } from "bun:test";
import { statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import { createRuntime } from "../../src/runtime.ts";
import { writeLeaseConfig } from "../../src/ssh/config.ts";
import { SSHD_FEATURE_SNIPPET } from "../../src/gh/gh.ts";
import { assertReady, parseProbeOutput, probe, type ProbeResult } from "../../src/ssh/readiness.ts";
import { startHarness, type Harness } from "./helpers/sshd.ts";

const harnesses: Harness[] = [];
afterEach(async () => {
  while (harnesses.length) await harnesses.pop()!.cleanup();
});
async function harness(opts?: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const h = await startHarness(opts);
  harnesses.push(h);
  return h;
}
async function rejection(p: Promise<unknown>): Promise<CrabboxError> {
  try {
    await p;
  } catch (e) {
    return e as CrabboxError;
  }
  throw new Error("did not reject");
}

describe("probe against a real sshd", () => {
  test("reports tools, user, home; creates the work root; one round trip", async () => {
    const h = await harness();
    const cfg = await writeLeaseConfig(h.runtime, "cbx_probe0000001", h.ghOutput);
    const wr = join(h.remoteDir, "work root", "nested");
    const r = await probe(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: wr });
    expect(r.rsync).toMatch(/\/rsync$/);
    expect(r.git).toMatch(/\/git$/);
    expect(r.tar).toMatch(/\/tar$/);
    expect(r.user).toBe("root");
    expect(r.home).toBe("/root");
    expect(r.workRoot).toBe(wr);
    expect(r.workRootWritable).toBe(true);
    expect(statSync(wr).isDirectory()).toBe(true);
    expect(h.proxyStarts()).toBe(1);
    expect(h.calls.filter((c) => c.argv[0] === "ssh")).toHaveLength(1);
    expect(assertReady(r)).toEqual([]);
  });

  test("a missing rsync is detected and explained (exit 7)", async () => {
    const h = await harness({ remotePrograms: ["mkdir", "id", "git"] });
    const cfg = await writeLeaseConfig(h.runtime, "cbx_probe0000002", h.ghOutput);
    const r = await probe(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: join(h.remoteDir, "w") });
    expect(r.rsync).toBeNull();
    expect(r.tar).toBeNull();
    expect(r.git).not.toBeNull();
    const e = (() => {
      try {
        assertReady(r);
      } catch (err) {
        return err as CrabboxError;
      }
      throw new Error("no throw");
    })();
    expect(e.exit).toBe(7);
    expect(e.code).toBe("remote_missing_rsync");
    expect(e.hint).toContain("sudo apt-get install -y rsync");
  });

  test("an unwritable work root is reported with the flag to change it", async () => {
    const h = await harness();
    const cfg = await writeLeaseConfig(h.runtime, "cbx_probe0000003", h.ghOutput);
    const r = await probe(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: "/dev/null/work" });
    expect(r.workRootWritable).toBe(false);
    try {
      assertReady(r);
      throw new Error("no throw");
    } catch (e) {
      expect((e as CrabboxError).code).toBe("work_root_unwritable");
      expect((e as CrabboxError).hint).toContain("--github-codespaces-work-root");
    }
  });

  test("no SSH server in the codespace → exit 7 with the devcontainer snippet", async () => {
    const h = await harness({ noSshServer: true });
    // A crabbox home with a space and a % checks the ProxyCommand log redirection quoting.
    const rt = createRuntime({ crabboxHome: join(h.dir, "my home%x"), env: h.runtime.env });
    const cfg = await writeLeaseConfig(rt, "cbx_probe0000004", h.ghOutput);
    const e = await rejection(probe(rt, { configPath: cfg.path, alias: cfg.alias, workRoot: "/tmp" }));
    expect(e).toBeInstanceOf(CrabboxError);
    expect(e.code).toBe("ssh_server_missing");
    expect(e.exit).toBe(7);
    expect(e.hint).toContain(SSHD_FEATURE_SNIPPET);
    expect(e.why).toContain("failed to start SSH server");
  });

  test("a dead tunnel → ssh_connect, exit 255, with the proxy's words", async () => {
    const h = await harness({ brokenProxy: true });
    const cfg = await writeLeaseConfig(h.runtime, "cbx_probe0000005", h.ghOutput);
    const e = await rejection(probe(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: "/tmp" }));
    expect(e.code).toBe("ssh_connect");
    expect(e.exit).toBe(255);
    expect(e.why).toContain("tunnel closed unexpectedly");
  });

  test("a rejected key → ssh_connect with the key hint", async () => {
    const h = await harness();
    const cfg = await writeLeaseConfig(h.runtime, "cbx_probe0000006", h.ghOutput.replace(/IdentityFile .*/, `IdentityFile ${join(h.dir, "host_key")}`).replace(/-i \S+/, ""));
    const e = await rejection(probe(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: "/tmp" }));
    expect(e.code).toBe("ssh_connect");
    expect(e.why ?? "").toMatch(/Permission denied/);
    expect(existsSync(cfg.path)).toBe(true);
  });
});

describe("parseProbeOutput", () => {
  test("ignores noise printed by shell rc files around the markers", () => {
    const out = "Welcome!\n__crabbox_probe_begin__\ngit=/usr/bin/git\nrsync=\ntar=/bin/tar\nwritable=1\nworkroot=/w x\nuser=vscode\nhome=/home/vscode\n__crabbox_probe_end__\nbye\n";
    const r = parseProbeOutput(out) as ProbeResult;
    expect(r).toEqual({ git: "/usr/bin/git", rsync: null, tar: "/bin/tar", workRootWritable: true, workRoot: "/w x", user: "vscode", home: "/home/vscode" });
    expect(parseProbeOutput("nothing")).toBeNull();
  });
  test("missing git/tar are warnings, not failures", () => {
    const w = assertReady({ git: null, rsync: "/usr/bin/rsync", tar: null, workRootWritable: true, workRoot: "/w", user: "u", home: "/h" });
    expect(w).toHaveLength(2);
  });
});
