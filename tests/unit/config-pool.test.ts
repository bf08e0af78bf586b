/** The pool.* keys: resolved types, the trust rule, and refusals of bad values. */
import { describe, expect, test } from "bun:test";
import { envLayer, loadConfig } from "../../src/config/load.ts";
import { parseFileConfig } from "../../src/config/schema.ts";
import { applyTrustRule } from "../../src/config/trust.ts";
import { createRuntime } from "../../src/runtime.ts";

const rt = (env: Record<string, string> = {}) => createRuntime({ env, homeDir: "/nonexistent", cwd: "/" });

describe("pool.* keys", () => {
  test("resolve to booleans, a command string, a whole number and milliseconds", async () => {
    const c = await loadConfig(rt({ CRABBOX_POOL_ENABLED: "true", CRABBOX_POOL_MAX_AGE: "90m", CRABBOX_POOL_HYDRATE: "npm ci" }), { "pool-max-uses": "7", "pool-stop-idle": true });
    expect(c.pool).toEqual({ enabled: true, hydrate: "npm ci", stopIdle: true, maxUses: 7, maxAgeMs: 90 * 60_000, idleTtlMs: 2 * 3_600_000 });
    expect(c.sources["pool.maxUses"]).toBe("flag");
    expect(c.sources["pool.maxAgeMs"]).toBe("env");
  });

  test("a file may write maxUses as a YAML number; unknown pool keys are warnings", () => {
    const r = parseFileConfig({ pool: { maxUses: 50, idleTtl: "4h", bogus: 1 } }, "u.yaml");
    expect(r.layer.pool).toEqual({ maxUses: 50, idleTtl: "4h" });
    expect(r.warnings).toEqual(['u.yaml: unknown key "pool.bogus" ignored']);
  });

  test("a repository file may set only pool.hydrate (trust rule)", () => {
    const r = parseFileConfig({ pool: { hydrate: "npm ci", enabled: true, stopIdle: false, maxUses: 1, maxAge: "1h", idleTtl: "1h" } }, "repo.yaml");
    const t = applyTrustRule(r.layer, "repo.yaml");
    expect(t.layer.pool).toEqual({ hydrate: "npm ci" });
    expect(t.warnings.map((w) => w.split(" in ")[0])).toEqual(["ignored pool.enabled", "ignored pool.stopIdle", "ignored pool.maxUses", "ignored pool.maxAge", "ignored pool.idleTtl"]);
  });

  test("bad values are usage errors naming the key and where it came from", async () => {
    expect(() => parseFileConfig({ pool: { maxUses: "many" } }, "b.yaml")).toThrow("pool.maxUses must be a whole number");
    expect(() => parseFileConfig({ pool: { maxAge: "1d" } }, "b.yaml")).toThrow(`invalid duration "1d" for pool.maxAge (from b.yaml)`);
    const envs: Record<string, string>[] = [{ CRABBOX_POOL_MAX_USES: "-1" }, { CRABBOX_POOL_IDLE_TTL: "5" }, { CRABBOX_POOL_ENABLED: "maybe" }];
    for (const env of envs) {
      const e = await loadConfig(rt(env), {}).then(
        () => null,
        (x) => x,
      );
      expect(e?.exit).toBe(2);
      expect(e?.message).toContain(Object.keys(env)[0]!.startsWith("CRABBOX_POOL_ENABLED") ? "CRABBOX_POOL_ENABLED" : "pool.");
    }
    expect(envLayer({ CRABBOX_POOL_STOP_IDLE: "1" }).layer.pool).toEqual({ stopIdle: true });
  });
});
