/**
 * The docs tell the truth:
 * - every command's `--help` flags equal the flags docs/commands.md documents for it;
 * - every jq one-liner quoted in the docs runs against the binary's real --json output
 *   (emulator) and prints what the docs say it prints;
 * - README's `npm run demo` runs and succeeds;
 * - scripts/live-smoke.sh ends with the right classification for each kind of failure,
 *   each produced with the emulator's controls.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { COMMANDS } from "../../src/cli.ts";
import { BIN, ROOT, createHarness, requireBinary, type Harness } from "./harness.ts";
import { EXAMPLE, jqTranscripts, parseCommandsDoc, parseHelp, type Transcript } from "./docs-lib.ts";

const DOCS = join(ROOT, "docs");

function sorted(s: Iterable<string>): string[] {
  return [...s].sort();
}

async function binary(args: string[], env?: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([BIN, ...args], { env: { ...process.env, NO_COLOR: "1", ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

describe("docs/commands.md matches --help", () => {
  const doc = parseCommandsDoc(readFileSync(join(DOCS, "commands.md"), "utf8"));

  test("documents exactly the commands the CLI has", () => {
    expect(sorted(doc.commands.keys())).toEqual(sorted(Object.keys(COMMANDS)));
  });

  test("the parser is not vacuous", () => {
    expect(doc.common.has("--json")).toBe(true);
    expect(doc.common.has("--github-codespaces-repo")).toBe(true);
    expect(doc.commands.get("run")?.own.has("--no-sync")).toBe(true);
    const help = parseHelp(["FLAGS", "  --id <lease>   x", "  --no-sync      y", "GLOBAL FLAGS", "  --json   z", "", "Docs: x"].join("\n"));
    expect(sorted(help.own)).toEqual(["--id", "--no-sync"]);
    expect(sorted(help.common)).toEqual(["--json"]);
  });

  for (const name of Object.keys(COMMANDS)) {
    test(`${name}: --help flags equal the documented flags`, async () => {
      requireBinary();
      const r = await binary([name, "--help-all"]);
      expect(r.code).toBe(0);
      const help = parseHelp(r.stdout);
      const documented = doc.commands.get(name);
      expect(documented).toBeDefined();
      expect(documented!.own.size > 0 || documented!.saysNoOwnFlags).toBe(true);
      expect({ command: name, own: sorted(documented!.own) }).toEqual({ command: name, own: sorted(help.own) });
      const common = documented!.common === "all" ? doc.common : documented!.common;
      expect({ command: name, common: sorted(common) }).toEqual({ command: name, common: sorted(help.common) });
    });
  }
});

// ------------------------------------------------------------------ jq one-liners

function allTranscripts(): Transcript[] {
  const files = [join(ROOT, "README.md"), ...readdirSync(DOCS).filter((f) => f.endsWith(".md")).map((f) => join(DOCS, f))];
  return files.flatMap((f) => jqTranscripts(f.slice(ROOT.length + 1), readFileSync(f, "utf8")));
}

describe("jq one-liners in the docs", () => {
  let h: Harness;
  let binDir: string;
  beforeAll(async () => {
    h = await createHarness();
    binDir = join(h.tmp, "bin");
    mkdirSync(binDir, { recursive: true });
    symlinkSync(BIN, join(binDir, "crabbox-cs"));
  });
  afterAll(async () => {
    for (const f of existsSync(join(h.home, "claims")) ? readdirSync(join(h.home, "claims")) : []) {
      const m = /^(cbx_[a-z2-7]{12})\.json$/.exec(f);
      if (m) await h.run(["stop", m[1]!, "--delete"]);
    }
    await h?.close();
  });

  test("the docs quote checked jq examples (json.md has several)", () => {
    const t = allTranscripts();
    expect(t.filter((x) => x.file === "docs/json.md" && x.expected !== null).length).toBeGreaterThanOrEqual(8);
    expect(t.some((x) => x.file === "README.md")).toBe(true);
  });

  test("jqTranscripts reads console blocks and bare lines", () => {
    const md = ["```console", "$ crabbox-cs list --json | jq -r .[0].slug", "amber-crab", "$ echo hi", "hi", "```", "```sh", "crabbox-cs status x --json | jq .state   # note", "```"].join("\n");
    expect(jqTranscripts("x.md", md)).toEqual([
      { file: "x.md", command: "crabbox-cs list --json | jq -r .[0].slug", expected: "amber-crab" },
      { file: "x.md", command: "crabbox-cs status x --json | jq .state", expected: null },
    ]);
  });

  for (const t of allTranscripts()) {
    test(`${t.file}: ${t.command}`, async () => {
      // A kept lease: created once, resumed (same slug) before every example.
      const w = await h.run(["warmup", "--keep", "--json"]);
      expect(w.code).toBe(0);
      const lease = w.json();
      const real = { leaseId: lease.leaseId as string, slug: lease.slug as string, codespace: lease.codespace.name as string };
      const subst = (s: string) =>
        s.replaceAll(EXAMPLE.leaseId, real.leaseId).replaceAll(EXAMPLE.codespace, real.codespace).replaceAll(EXAMPLE.slug, real.slug);
      const p = Bun.spawn(["bash", "-c", subst(t.command)], {
        cwd: h.work,
        env: { ...h.env, PATH: `${binDir}:${h.env.PATH}` },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      // The pipeline's status is jq's: it must have parsed the document and run the filter.
      expect({ code, jqErrors: stderr.split("\n").filter((l) => l.startsWith("jq:")) }).toEqual({ code: 0, jqErrors: [] });
      if (t.expected !== null) expect(stdout.replace(/\n$/, "")).toBe(subst(t.expected));
    });
  }
});

// ------------------------------------------------------------------ npm run demo

describe("README's npm run demo", () => {
  test("package.json's demo script is scripts/demo.ts, and it succeeds", async () => {
    requireBinary();
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    expect(pkg.scripts?.demo).toMatch(/\bscripts\/demo\.ts\b/);
    expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("npm run demo");
    const p = Bun.spawn(["npm", "run", "--silent", "demo"], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", CRABBOX_DEMO_BIN: BIN },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
    const steps = [...stdout.matchAll(/^\$ crabbox-cs (\w+)/gm)].map((m) => m[1]);
    expect(steps).toEqual(["warmup", "run", "list", "stop"]);
    expect(stdout).toContain("testing on Linux");
    expect(stdout).toMatch(/^done: /m);
  }, 120_000);
});

// ------------------------------------------------------------------ live smoke classifications

describe("scripts/live-smoke.sh classification (against the emulator)", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
    const c = h.emu.control;
    c.addRepo({ fullName: "octo-org/no-sshd", sshd: false });
    c.addRepo({ fullName: "octo-org/not-entitled", entitled: false });
    c.addRepo({ fullName: "octo-org/needs-consent", permissionsAccepted: false });
  });
  afterAll(async () => {
    await h?.close();
  });

  async function smoke(env: Record<string, string | undefined>): Promise<{ code: number; stdout: string; stderr: string; classification: string }> {
    const p = Bun.spawn(["bash", join(ROOT, "scripts/live-smoke.sh")], {
      cwd: h.work,
      env: (() => {
        const e: Record<string, string> = { ...h.env, CRABBOX_LIVE: "1", CRABBOX_BIN: BIN, TMPDIR: h.tmp, CRABBOX_GITHUB_CODESPACES_REPO: "octo-org/hello-world" };
        for (const [k, v] of Object.entries(env)) {
          if (v === undefined) delete e[k];
          else e[k] = v;
        }
        return e;
      })(),
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => p.kill("SIGKILL"), 100_000);
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    clearTimeout(timer);
    // Exactly one line on stdout, and no token anywhere.
    expect(stdout.split("\n").filter(Boolean).length).toBeLessThanOrEqual(1);
    expect(stdout + stderr).not.toContain(h.emu.token);
    return { code, stdout, stderr, classification: /^classification=(\w+)$/m.exec(stdout)?.[1] ?? "" };
  }

  /** Codespaces of a repo still on the emulator. */
  const left = (repo: string) => h.emu.control.codespaces().filter((c: any) => c.repository.full_name === repo && c.state !== "Deleted");

  test("without CRABBOX_LIVE=1 (or without a repo) it does nothing", async () => {
    const before = h.emu.control.counts();
    const r = await smoke({ CRABBOX_LIVE: undefined });
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "" });
    expect(r.stderr).toContain("skipped");
    const r2 = await smoke({ CRABBOX_GITHUB_CODESPACES_REPO: undefined });
    expect({ code: r2.code, stdout: r2.stdout }).toEqual({ code: 0, stdout: "" });
    expect(h.emu.control.counts()).toEqual(before);
  });

  test("all steps pass → live_github_codespaces_smoke_passed, nothing left", async () => {
    const r = await smoke({});
    expect({ classification: r.classification, code: r.code }).toEqual({ classification: "live_github_codespaces_smoke_passed", code: 0 });
    expect(r.stderr).toContain("crabbox-cs run --id");
    expect(left("octo-org/hello-world")).toEqual([]);
  }, 100_000);

  test("a rejected token → auth_blocked", async () => {
    const r = await smoke({ GH_TOKEN: "ghp_notavalidtoken000000000000000000000", GH_ENTERPRISE_TOKEN: "ghp_notavalidtoken000000000000000000000" });
    expect({ classification: r.classification, code: r.code }).toEqual({ classification: "auth_blocked", code: 1 });
  }, 100_000);

  test("a token without the codespace scope → auth_blocked", async () => {
    const u = h.emu.control.addUser("no-scope", { scopes: ["repo"] });
    const r = await smoke({ GH_TOKEN: u.token, GH_ENTERPRISE_TOKEN: u.token });
    expect(r.classification).toBe("auth_blocked");
    expect(r.stdout + r.stderr).not.toContain(u.token);
  }, 100_000);

  test("a repository without Codespaces access → repo_policy_blocked", async () => {
    const r = await smoke({ CRABBOX_GITHUB_CODESPACES_REPO: "octo-org/not-entitled" });
    expect(r.classification).toBe("repo_policy_blocked");
  }, 100_000);

  test("devcontainer permissions not accepted → repo_policy_blocked", async () => {
    const r = await smoke({ CRABBOX_GITHUB_CODESPACES_REPO: "octo-org/needs-consent" });
    expect(r.classification).toBe("repo_policy_blocked");
    expect(left("octo-org/needs-consent")).toEqual([]);
  }, 100_000);

  test("402 on create → quota_or_billing_blocked, nothing created", async () => {
    h.emu.control.injectError({ method: "POST", path: "^/repos/octo-org/hello-world/codespaces$", status: 402, body: { message: "Codespaces spending limit reached" } });
    try {
      const r = await smoke({});
      expect(r.classification).toBe("quota_or_billing_blocked");
      expect(left("octo-org/hello-world")).toEqual([]);
    } finally {
      h.emu.control.clearErrors();
    }
  }, 100_000);

  test("rate limited beyond the wait cap → quota_or_billing_blocked", async () => {
    h.emu.control.injectError({ method: "POST", path: "^/repos/octo-org/hello-world/codespaces$", status: 429, headers: { "retry-after": "3600" } });
    try {
      const r = await smoke({});
      expect(r.classification).toBe("quota_or_billing_blocked");
    } finally {
      h.emu.control.clearErrors();
    }
  }, 100_000);

  test("an image without sshd → ssh_server_missing, the codespace released", async () => {
    const r = await smoke({ CRABBOX_GITHUB_CODESPACES_REPO: "octo-org/no-sshd" });
    expect({ classification: r.classification, code: r.code }).toEqual({ classification: "ssh_server_missing", code: 1 });
    expect(left("octo-org/no-sshd")).toEqual([]);
  }, 100_000);

  test("gh missing → environment_blocked", async () => {
    const r = await smoke({ CRABBOX_GITHUB_CODESPACES_GH: join(h.tmp, "no-such-gh") });
    expect(r.classification).toBe("environment_blocked");
  }, 100_000);

  test("a codespace stuck in Provisioning → environment_blocked, and the smoke releases it", async () => {
    h.emu.control.stickProvisioning("octo-org/hello-world");
    try {
      const r = await smoke({ CRABBOX_SMOKE_TIMEOUT: "2s" });
      expect(r.classification).toBe("environment_blocked");
      expect(r.stderr).toContain("wait_timeout");
      expect(left("octo-org/hello-world")).toEqual([]);
    } finally {
      h.emu.control.stickProvisioning(false);
    }
  }, 100_000);

  test("a delete that never completes → validation_failed (a codespace would remain)", async () => {
    h.emu.control.deleteNeverCompletes(true);
    try {
      const r = await smoke({ CRABBOX_SMOKE_STOP_TIMEOUT: "2s" });
      expect(r.classification).toBe("validation_failed");
      expect(r.stderr).toContain("delete_unconfirmed");
    } finally {
      h.emu.control.deleteNeverCompletes(false);
    }
  }, 100_000);
});
