/**
 * Issue #14 with a real lease (emulator, real ssh): status wording (item 11),
 * full codespace names where the next command needs them (item 12), and
 * ssh's OpenSSH rule for the words after `--` versus run's exact argv (item 13).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { closeWithLease, createHarness, seedLeases, warmKeptLease, type Harness } from "./harness.ts";

let h: Harness;
let lease: any;
beforeAll(async () => {
  h = await createHarness();
  lease = await warmKeptLease(h);
});
afterAll(async () => {
  await closeWithLease(h, lease);
});

describe("status wording (item 11)", () => {
  test("a kept lease shows no expiry (status, list)", async () => {
    const s = await h.run(["status", lease.slug]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^expires {4}never \(kept\)$/m);
    const l = await h.run(["list"]);
    expect(l.stdout).toMatch(new RegExp(`^${lease.slug}\\s.*\\snever \\(kept\\)$`, "m"));
  });

  test("unpushed commits on a clean tree are not called clean", async () => {
    h.emu.control.setDirty(lease.codespace.name, { unpushed: true });
    try {
      const s = await h.run(["status", lease.slug]);
      const git = s.stdout.split("\n").find((l) => l.startsWith("git "))!;
      expect(git).toContain("unpushed commit");
      expect(git).not.toContain("clean");
    } finally {
      h.emu.control.setDirty(lease.codespace.name, { unpushed: false });
    }
    const clean = await h.run(["status", lease.slug]);
    expect(clean.stdout).toMatch(/^git {8}clean/m);
  });

  test("a 90-minute TTL reads 1h 30m, to the minute", async () => {
    const w = await h.run(["warmup", "--json", "--ttl", "90m", "--fresh"]);
    expect(w.code).toBe(0);
    const other = w.json();
    try {
      const s = await h.run(["status", other.slug]);
      // Rounded to the nearest minute: 1h 30m unless this machine took over 30 s between the two commands.
      expect(s.stdout).toMatch(/^expires {4}in 1h (30|29)m$/m);
    } finally {
      await h.run(["stop", other.leaseId, "--delete"]);
    }
  });

  test("stop says each fact once", async () => {
    const w = await h.run(["warmup", "--json", "--keep", "--fresh"]);
    expect(w.code).toBe(0);
    const kept = w.json();
    const r = await h.run(["stop", kept.slug]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${kept.codespace.name} stopped, not deleted (kept lease) in `);
    expect(r.stderr).not.toMatch(/not deleted.*not deleted/);
    await h.run(["stop", kept.leaseId, "--delete"]);
  });
});

describe("full names (item 12)", () => {
  test("cleanup --dry-run prints every codespace name whole", async () => {
    seedLeases(h, lease.leaseId, 2);
    // Make the seeded (non-kept) leases due.
    for (const f of readdirSync(join(h.home, "claims"))) {
      if (!f.endsWith(".json")) continue;
      const p = join(h.home, "claims", f);
      const c = JSON.parse(readFileSync(p, "utf8"));
      if (!c.slug.startsWith("seeded-lease-")) continue;
      writeFileSync(p, JSON.stringify({ ...c, keep: false, slug: `${c.slug}-with-a-long-name`, expiresAt: "2020-01-01T00:00:00.000Z" }), { mode: 0o600 });
    }
    const j = await h.run(["cleanup", "--dry-run", "--json"]);
    expect(j.code).toBe(0);
    const names = (j.json().decisions as { codespace: string | null }[]).map((d) => d.codespace).filter((n): n is string => Boolean(n));
    expect(names.length).toBeGreaterThanOrEqual(2);
    const r = await h.run(["cleanup", "--dry-run"]);
    expect(r.code).toBe(0);
    for (const n of names) expect(r.stdout).toContain(n);
    expect(r.stdout).not.toContain("…");
  });
});

describe("a unique prefix of a codespace name (item 12)", () => {
  test("status takes the start of a claimed codespace name, even as list shortens it; an ambiguous one lists the leases", async () => {
    const name: string = lease.codespace.name;
    const r = await h.run(["status", `${name.slice(0, name.length - 3)}…`, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json().leaseId).toBe(lease.leaseId);
    seedLeases(h, lease.leaseId, 1);
    const views = (await h.run(["list", "--json"])).json() as any[];
    const common = "monalisa-hello-world-";
    expect(views.filter((v) => v.codespace?.name.startsWith(common)).length).toBeGreaterThan(1);
    const amb = await h.run(["status", common, "--json"]);
    expect(amb.code).toBe(2);
    expect(amb.json().error.code).toBe("lease_ambiguous");
    const short = await h.run(["status", name.slice(0, 5)]);
    expect(short.code).toBe(4);
  });
});

describe("ssh -- words (item 13)", () => {
  test("ssh joins the words after -- and the remote shell runs them, as OpenSSH does", async () => {
    const r = await h.run(["ssh", lease.slug, "--", "pwd; echo two; exit 4"]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe(`${lease.workRoot}\ntwo\n`);
    const words = await h.run(["ssh", lease.slug, "--", "echo", "a", "&&", "echo", "b"]);
    expect(words.code).toBe(0);
    expect(words.stdout).toBe("a\nb\n");
  });

  test("run keeps the exact argv: the same line is one program name", async () => {
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "pwd; exit 4"]);
    expect(r.code).toBe(127);
    const args = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "printf", "%s|", "a b", "&&"]);
    expect(args.code).toBe(0);
    expect(args.stdout).toBe("a b|&&|");
  });

  test("both helps state the rule", async () => {
    expect((await h.run(["ssh", "--help"])).stdout).toMatch(/As with OpenSSH, the words after -- are joined with spaces/);
    expect((await h.run(["run", "--help"])).stdout).toMatch(/exact argv: each word reaches the remote\s+program as one argument/);
  });
});
