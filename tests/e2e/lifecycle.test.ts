/** Lease lifecycle end to end: warmup, stop, cleanup, recovery and the safety rules — nothing lost, nothing wrongly deleted. */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

function claimFiles(): string[] {
  const dir = join(h.home, "claims");
  return existsSync(dir) ? readdirSync(dir).filter((f) => /^cbx_[a-z2-7]{12}\.json$/.test(f)) : [];
}
function claims(): any[] {
  return claimFiles().map((f) => JSON.parse(readFileSync(join(h.home, "claims", f), "utf8")));
}
function live(): any[] {
  return h.emu.control.codespaces();
}
/** Codespaces on the emulator that no claim holds. */
function orphans(): string[] {
  const held = new Set(claims().map((c) => c.codespace?.name));
  return live().filter((c) => !held.has(c.name)).map((c) => c.name);
}

async function warmup(args: string[] = []) {
  const r = await h.run(["warmup", "--json", ...args]);
  if (r.code !== 0) throw new Error(`warmup failed (${r.code}): ${r.stderr}`);
  return r.json();
}

afterEach(async () => {
  h.emu.control.clearErrors();
  // Leave a clean slate: release every lease the test left, force-forget the rest.
  for (const c of claims()) await h.run(["stop", c.leaseId, "--delete"]);
});

describe("happy paths", () => {
  test("warmup → status → stop deletes → list is empty", async () => {
    const lease = await warmup();
    expect(lease.state).toBe("ready");
    expect(lease.codespace.name).toBeTruthy();
    const cs = live().find((c) => c.name === lease.codespace.name);
    expect(cs.display_name).toMatch(new RegExp(`^crabbox ${lease.slug} [a-z2-7]{8}$`));
    expect(cs.idle_timeout_minutes).toBe(30);

    const s = await h.run(["status", "--json", "--id", lease.leaseId]);
    expect(s.json().live.state).toBe("Available");

    const stop = await h.run(["stop", lease.slug, "--json"]);
    expect(stop.code).toBe(0);
    expect(stop.json().action).toBe("deleted");
    expect(live().find((c) => c.name === lease.codespace.name)).toBeUndefined();
    const l = await h.run(["list", "--json"]);
    expect(l.json()).toEqual([]);
    expect(claimFiles()).toEqual([]);
  });

  test("warmup --keep → stop only stops → warmup resumes the same codespace", async () => {
    const lease = await warmup(["--keep"]);
    const stop = await h.run(["stop", lease.slug, "--json"]);
    expect(stop.code).toBe(0);
    expect(stop.json().action).toBe("stopped");
    expect(live().find((c) => c.name === lease.codespace.name).state).toBe("Shutdown");
    expect(claims()[0].state).toBe("released");

    const again = await warmup(["--keep"]);
    expect(again.leaseId).toBe(lease.leaseId);
    expect(again.codespace.name).toBe(lease.codespace.name);
    expect(live().find((c) => c.name === lease.codespace.name).state).toBe("Available");
    expect(live()).toHaveLength(1);
  });

  test("warmup --pr creates from the pull request endpoint", async () => {
    h.emu.control.addRepo({ fullName: "octo-org/with-pr", pulls: [{ number: 1, headRef: "feature-x" }] });
    h.emu.control.resetCounts();
    const lease = await warmup(["--pr", "1", "--github-codespaces-repo", "octo-org/with-pr"]);
    expect(h.emu.control.counts()["POST /repos/:owner/:repo/pulls/:pull_number/codespaces"]).toBe(1);
    expect(lease.ref).toBe("pull/1");
  });

  test("no machine given: the smallest offered is used and said", async () => {
    const r = await h.run(["warmup", "--json"]);
    expect(r.json().machine).toBe("basicLinux32gb");
    expect(r.stderr).toContain("smallest");
  });
});

describe("preflight refuses before any claim or codespace exists", () => {
  test.each([
    ["unknown machine", ["--github-codespaces-machine", "gigantic"], 2, "octo-org/hello-world"],
    ["permissions not accepted", [], 3, "octo-org/needs-permissions"],
    ["no Codespaces entitlement", [], 3, "octo-org/not-entitled"],
  ])("%s", async (_name, args, code, repo) => {
    h.emu.control.addRepo({ fullName: "octo-org/needs-permissions", permissionsAccepted: false });
    h.emu.control.addRepo({ fullName: "octo-org/not-entitled", entitled: false });
    const before = live().length;
    const r = await h.run(["warmup", "--github-codespaces-repo", repo as string, ...(args as string[])]);
    expect(r.code).toBe(code as number);
    expect(r.stderr).toMatch(/fix:/);
    expect(claimFiles()).toEqual([]);
    expect(live().length).toBe(before);
  });
});

describe("safety: nothing is deleted that is not provably ours and clean", () => {
  test("a codespace with no claim cannot be stopped or deleted", async () => {
    const foreign = h.emu.control.seedCodespace({ repo: "octo-org/hello-world", displayName: "my work" }) as { name: string };
    const r = await h.run(["stop", foreign.name, "--delete"]);
    expect(r.code).toBe(4);
    expect(live().find((c) => c.name === foreign.name).state).toBe("Available");
    h.emu.control.deleteBehindBack(foreign.name);
  });

  test.each<[string, Record<string, unknown> | "repository"]>([
    ["codespace.id", { id: 987654321 }],
    ["codespace.environmentId", { environment_id: "00000000-0000-4000-8000-000000000000" }],
    ["codespace.owner.login", { owner: { login: "hubot", id: 2 } }],
    ["codespace.repository", "repository"],
  ])("identity mismatch on %s refuses and changes nothing", async (field, patch) => {
    const lease = await warmup();
    if (patch === "repository") {
      // Same shape as GitHub's, another repository.
      const repo = live().find((c) => c.name === lease.codespace.name).repository;
      patch = { repository: { ...repo, id: 424242, name: "other", full_name: "octo-org/other" } };
    }
    h.emu.control.mutateCodespace(lease.codespace.name, patch as Record<string, unknown>);
    h.emu.control.resetCounts();
    const r = await h.run(["stop", lease.slug, "--delete"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(field as string);
    const counts = h.emu.control.counts();
    expect(Object.keys(counts).filter((k) => !k.startsWith("GET "))).toEqual([]);
    expect(live().find((c) => c.name === lease.codespace.name)).toBeDefined();
    expect(claims().map((c) => c.leaseId)).toContain(lease.leaseId);
    // Put it back so that cleanup after the test can release it.
    h.emu.control.deleteBehindBack(lease.codespace.name);
  });

  test("a different authenticated user is refused before anything is looked up", async () => {
    const lease = await warmup();
    const other = h.emu.control.addUser("hubot");
    const r = await h.run(["stop", lease.slug, "--delete"], { env: { GH_TOKEN: other.token } });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("github.login");
    expect(live().find((c) => c.name === lease.codespace.name).state).toBe("Available");
    expect(claims().map((c) => c.leaseId)).toContain(lease.leaseId);
  });

  test.each([
    ["uncommitted", { uncommitted: true }],
    ["unpushed", { unpushed: true }],
  ])("a dirty codespace (%s) is stopped, not deleted, and the claim kept (exit 5)", async (_n, dirt) => {
    const lease = await warmup();
    h.emu.control.setDirty(lease.codespace.name, dirt);
    const r = await h.run(["stop", lease.slug, "--force"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/not deleting/);
    expect(r.stderr).toMatch(/gh codespace ssh -c/);
    expect(live().find((c) => c.name === lease.codespace.name).state).toBe("Shutdown");
    expect(claims().find((c) => c.leaseId === lease.leaseId).state).toBe("released");
    h.emu.control.setDirty(lease.codespace.name, { uncommitted: false, unpushed: false });
  });

  test("delete accepted but the codespace stays: the claim is retained", async () => {
    const lease = await warmup();
    h.emu.control.deleteNeverCompletes(lease.codespace.name);
    const r = await h.run(["stop", lease.slug, "--timeout", "2s"]);
    expect(r.code).toBe(6);
    expect(claims().find((c) => c.leaseId === lease.leaseId).state).toBe("releasing");
    expect(live().find((c) => c.name === lease.codespace.name)).toBeDefined();
    h.emu.control.deleteBehindBack(lease.codespace.name);
    const again = await h.run(["stop", lease.slug, "--json"]);
    expect(again.code).toBe(0);
    expect(again.json().action).toBe("forgotten");
  });

  test("two concurrent stops of one lease: one delete", async () => {
    const lease = await warmup();
    h.emu.control.resetCounts();
    const [a, b] = await Promise.all([h.run(["stop", lease.slug]), h.run(["stop", lease.slug])]);
    expect([a.code, b.code].sort()).toEqual([0, 4]);
    expect(h.emu.control.counts()["DELETE /user/codespaces/:name"]).toBe(1);
    expect(live().find((c) => c.name === lease.codespace.name)).toBeUndefined();
  });
});

describe("recovery of a lost create response", () => {
  test("dropped response: the codespace is found by its recovery name and adopted", async () => {
    h.emu.control.dropNextCreate("reset");
    const lease = await warmup();
    expect(lease.state).toBe("ready");
    expect(live()).toHaveLength(1);
    expect(orphans()).toEqual([]);
  });

  test("the create failed for real: claim marked failed, nothing orphaned", async () => {
    h.emu.control.injectError({ method: "POST", path: "^/repos/[^/]+/[^/]+/codespaces$", status: 502 });
    const r = await h.run(["warmup"]);
    expect(r.code).toBe(8);
    expect(r.stderr).toContain("nothing was created");
    expect(claims().map((c) => c.state)).toEqual(["failed"]);
    expect(live()).toHaveLength(0);
    const c = await h.run(["cleanup", "--json"]);
    expect(c.code).toBe(0);
    expect(claimFiles()).toEqual([]);
  });

  test("two codespaces carry the recovery name: refused, both listed", async () => {
    h.emu.control.dropNextCreate("500", { duplicates: 1 });
    const r = await h.run(["warmup"]);
    expect(r.code).toBe(5);
    const names = live().map((c) => c.name);
    expect(names).toHaveLength(2);
    for (const n of names) expect(r.stderr).toContain(n);
    for (const n of names) h.emu.control.deleteBehindBack(n);
  });
});

describe("stop --reclaim", () => {
  test("a codespace whose claim was lost is adopted by its full name and released", async () => {
    const lease = await warmup();
    Bun.spawnSync(["rm", "-f", join(h.home, "claims", `${lease.leaseId}.json`)]);
    const plain = await h.run(["stop", lease.codespace.name]);
    expect(plain.code).toBe(4);
    const r = await h.run(["stop", "--reclaim", lease.codespace.name, "--json"]);
    expect(r.code).toBe(0);
    expect(r.json().action).toBe("deleted");
    expect(live().find((c) => c.name === lease.codespace.name)).toBeUndefined();
  });

  test("a codespace not named by crabbox-cs is never reclaimed", async () => {
    const foreign = h.emu.control.seedCodespace({ repo: "octo-org/hello-world", displayName: "crabbox but not ours" }) as { name: string };
    h.emu.control.resetCounts();
    const r = await h.run(["stop", "--reclaim", foreign.name, "--delete"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain("refusing to reclaim");
    expect(Object.keys(h.emu.control.counts()).filter((k) => !k.startsWith("GET "))).toEqual([]);
    expect(claimFiles()).toEqual([]);
    h.emu.control.deleteBehindBack(foreign.name);
  });
});

describe("cleanup", () => {
  test("releases expired leases, keeps live and kept ones, reports unclaimed look-alikes untouched", async () => {
    const expired = await warmup(["--ttl", "1s"]);
    const fresh = await warmup();
    const kept = await warmup(["--keep", "--ttl", "1s"]);
    const lookalike = h.emu.control.seedCodespace({ repo: "octo-org/hello-world", displayName: "crabbox ghost-crab abcdefgh" }) as { name: string };
    await Bun.sleep(1100);

    const dry = await h.run(["cleanup", "--dry-run", "--json"]);
    expect(dry.code).toBe(0);
    const before = live().length;
    const d = dry.json();
    expect(d.dryRun).toBe(true);
    expect(d.decisions.find((x: any) => x.leaseId === expired.leaseId).action).toBe("would-delete");
    expect(live().length).toBe(before);

    const r = await h.run(["cleanup", "--json"]);
    expect(r.code).toBe(0);
    const byLease = (id: string) => r.json().decisions.find((x: any) => x.leaseId === id);
    expect(byLease(expired.leaseId).action).toBe("deleted");
    expect(byLease(fresh.leaseId).action).toBe("skip");
    expect(byLease(kept.leaseId).action).toBe("skip");
    const cand = r.json().decisions.find((x: any) => x.codespace === lookalike.name);
    expect(cand.action).toBe("candidate");
    expect(live().find((c) => c.name === lookalike.name).state).toBe("Available");
    expect(live().find((c) => c.name === expired.codespace.name)).toBeUndefined();
    h.emu.control.deleteBehindBack(lookalike.name);
  });
});

describe("ttl", () => {
  test("using a lease (run --id) pushes its expiry out once half its TTL is gone; cleanup then leaves it", async () => {
    const lease = await warmup(["--ttl", "4s"]);
    const before = Date.parse(claims()[0].expiresAt);
    const quick = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "true"]);
    expect(quick.code).toBe(0);
    expect(Date.parse(claims()[0].expiresAt)).toBe(before); // more than half left: nothing written
    await Bun.sleep(2600);
    const r = await h.run(["run", "--id", lease.slug, "--no-sync", "--", "true"]);
    expect(r.code).toBe(0);
    const after = Date.parse(claims()[0].expiresAt);
    expect(after).toBeGreaterThan(before);
    await Bun.sleep(Math.max(0, before - Date.now() + 200)); // past the original expiry
    const c = await h.run(["cleanup", "--json"]);
    expect(c.json().decisions.find((d: any) => d.leaseId === lease.leaseId).action).toBe("skip");
  });
});

describe("status --wait", () => {
  test("finishes a warmup that was killed while the codespace was provisioning", async () => {
    h.emu.control.setDelays({ provisionMs: 2000 });
    try {
      const proc = h.spawn(["warmup"]);
      const end = Date.now() + 20_000;
      while (!claims().some((c) => c.codespace) && Date.now() < end) await Bun.sleep(20);
      proc.kill("SIGKILL");
      await proc.exited;
    } finally {
      h.emu.control.setDelays({ provisionMs: 150 });
    }
    const pending = claims()[0];
    expect(pending.state).toBe("pending");
    const r = await h.run(["status", "--wait", "--json", pending.leaseId]);
    expect(r.code).toBe(0);
    expect(r.json().state).toBe("ready");
    expect(r.json().live.state).toBe("Available");
    const run = await h.run(["run", "--id", pending.slug, "--no-sync", "--", "echo", "usable"]);
    expect(run.stdout).toBe("usable\n");
  });
});

describe("output discipline", () => {
  test("--quiet prints nothing but the data; piped stderr carries no colour codes", async () => {
    const q = await h.run(["warmup", "--quiet", "--json"]);
    expect(q.code).toBe(0);
    expect(q.stderr).toBe("");
    expect(q.json().state).toBe("ready");
    const s = await h.run(["stop", q.json().slug]);
    expect(s.stderr).not.toContain("\u001b[");
    expect(s.stderr.length).toBeGreaterThan(0);
  });
});

describe("a killed warmup leaves a claim from which stop finishes the job", () => {
  async function waitFor(pred: () => boolean, ms = 20_000) {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error("condition not reached");
      await Bun.sleep(20);
    }
  }

  test.each([
    ["before create", () => claims().length > 0, { createResponseMs: 1500 }],
    ["during provisioning", () => claims().some((c) => c.codespace), { provisionMs: 3000 }],
    ["after Available", () => claims().some((c) => c.state === "ready"), {}],
  ])("SIGKILL %s", async (_point, reached, delays) => {
    h.emu.control.setDelays(delays as any);
    try {
      const proc = h.spawn(["warmup"]);
      await waitFor(reached as () => boolean);
      proc.kill("SIGKILL");
      await proc.exited;
    } finally {
      h.emu.control.setDelays({ createResponseMs: 0, provisionMs: 150 } as any);
    }
    await Bun.sleep(1600); // let a slow create finish on the server side
    // cleanup finishes interrupted warmups on its own (no live process holds them).
    const r = await h.run(["cleanup", "--json"]);
    expect(r.code).toBe(0);
    for (const c of claims()) {
      // A lease that reached "ready" is a normal lease: it waits for its TTL, or an explicit stop.
      expect(c.state).toBe("ready");
      expect((await h.run(["stop", c.leaseId])).code).toBe(0);
    }
    expect(claimFiles()).toEqual([]);
    expect(live()).toEqual([]);
  });
});
