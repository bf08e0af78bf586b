/**
 * The key table (src/config/keys.ts) is the one home of every configuration
 * key: each derived table agrees with it, docs/configuration.md's tables are
 * checked against it, and adding a key is adding one row (proved in a fresh
 * process by tests/unit/fixtures/config-new-key.ts).
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { ArgsDef } from "../../src/commands/argv.ts";
import { globalArgs, providerArgs } from "../../src/config/flags.ts";
import { allKeys, docsKeyTable, GC_KEYS, resolvedName, TOP_KEYS } from "../../src/config/keys.ts";
import { DEFAULTS, envLayer, loadConfig } from "../../src/config/load.ts";
import { fileConfigSchema, githubCodespacesFileSchema, poolFileSchema } from "../../src/config/schema.ts";
import { UNTRUSTED_POOL_KEYS, UNTRUSTED_REPO_KEYS } from "../../src/config/trust.ts";
import { createRuntime } from "../../src/runtime.ts";

const ROOT = join(import.meta.dir, "../..");
const doc = readFileSync(join(ROOT, "docs/configuration.md"), "utf8");

describe("every table derived from the rows agrees with them", () => {
  test("flags, env variables, defaults, file schema, trust rule, resolved Config", async () => {
    const args: ArgsDef = { ...globalArgs, ...providerArgs };
    const resolved = await loadConfig(createRuntime({ env: {}, homeDir: "/nonexistent", cwd: "/" }), {});
    for (const { key, name, row, group } of allKeys()) {
      const top = group === "top";
      expect(args[row.flag]?.description, key).toBe(row.help);
      expect(args[row.flag]?.type, key).toBe(typeof row.default === "boolean" ? "boolean" : "string");
      if (row.synonym?.flag) expect(args[row.synonym.flag]?.description).toBe(`Same as --${row.flag}`);
      if (row.globalFlag) expect((globalArgs as ArgsDef)[row.globalFlag.flag]?.description).toBe(row.globalFlag.help);
      const sample = typeof row.default === "boolean" ? "false" : top && name === "provider" ? "codespaces" : "x";
      if (row.env) {
        const { layer } = envLayer({ [row.env]: sample });
        const got = top ? (layer as Record<string, unknown>)[name] : (layer[group] as Record<string, unknown>)[name];
        expect(got, key).toBe(typeof row.default === "boolean" ? false : name === "provider" ? "github-codespaces" : "x");
      }
      expect(top ? (DEFAULTS as Record<string, unknown>)[name] : (DEFAULTS[group] as Record<string, unknown>)[name], key).toBe(row.default);
      const fileEntries = top ? fileConfigSchema.entries : group === "pool" ? poolFileSchema.entries : githubCodespacesFileSchema.entries;
      expect(Object.keys(fileEntries), key).toContain(name);
      if (!top) {
        const untrusted: readonly string[] = group === "pool" ? UNTRUSTED_POOL_KEYS : UNTRUSTED_REPO_KEYS;
        expect(untrusted.includes(name), key).toBe(!row.repoMay);
        expect(Object.keys(resolved[group]), key).toContain(resolvedName(name, row));
        expect(resolved.sources[`${group}.${resolvedName(name, row)}`], key).toBe("default");
      } else expect(resolved.sources[name], key).toBe("default");
    }
    expect(resolved.pool).toEqual({ enabled: false, hydrate: "", stopIdle: false, maxUses: 20, maxAgeMs: 12 * 3_600_000, idleTtlMs: 2 * 3_600_000 });
    // Nothing derived has a key the rows do not.
    expect(Object.keys(resolved.githubCodespaces).length).toBe(Object.keys(GC_KEYS).length);
    // Besides the rows: the githubCodespaces and pool sections, and shard (shard.maxCount: see docs/configuration.md).
    expect(Object.keys(fileConfigSchema.entries).sort()).toEqual([...Object.keys(TOP_KEYS), "githubCodespaces", "pool", "shard"].sort());
  });

  test("adding a key is one row: flag, env, files, default, trust, help, completion and docs follow", () => {
    const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "fixtures/config-new-key.ts")], { stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const out = JSON.parse(r.stdout.toString());
    expect(out.default).toEqual({ value: "dflt", source: "default", warnings: [] });
    expect(out.flag).toEqual({ value: "F", source: "flag", warnings: [] });
    expect(out.env).toEqual({ value: "E", source: "env", warnings: [] });
    expect(out.user).toEqual({ value: "U", source: "user", warnings: [] });
    expect(out.repo.value).toBe("U"); // repoMay: false
    expect(out.repo.warnings.join("\n")).toContain("ignored githubCodespaces.newKey");
    expect(out.repo.warnings.join("\n")).toContain("CRABBOX_GITHUB_CODESPACES_NEW_KEY or --github-codespaces-new-key");
    expect(out.untrusted).toBe(true);
    expect(out.docs).toBe("| `githubCodespaces.newKey` | string | `dflt` | `CRABBOX_GITHUB_CODESPACES_NEW_KEY` | `--github-codespaces-new-key` |");
    expect(out.help).toContain("--github-codespaces-new-key <thing>");
    expect(out.help).toContain("A brand-new key");
    expect(out.completion).toBe(true);
  });
});

describe("docs/configuration.md is checked against the rows", () => {
  test("the Keys table is exactly docsKeyTable()", () => {
    const table = docsKeyTable();
    if (!doc.includes(table)) {
      throw new Error(`docs/configuration.md "## Keys" table differs from src/config/keys.ts; it should read:\n\n${table}\n`);
    }
  });

  test("the trust rule table names exactly the keys a repository may not set", () => {
    const section = doc.slice(doc.indexOf("## Trust rule"), doc.indexOf("## Config files are data"));
    const keys = [...section.matchAll(/^\| `githubCodespaces\.(\w+)`/gm)].map((m) => m[1]);
    expect(keys.sort()).toEqual([...UNTRUSTED_REPO_KEYS].sort());
  });
});
