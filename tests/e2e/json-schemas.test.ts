/**
 * The JSON schemas in docs/schemas are generated from src/output/schemas.ts
 * (so they cannot drift from the code's types), and the binary's real --json
 * output satisfies them, key for key (strict objects: an undocumented key fails).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { OUTPUT_SCHEMAS } from "../../src/output/schemas.ts";
import { SCHEMA_DIR, renderSchemas } from "../../scripts/gen-json-schemas.ts";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

function conforms(name: keyof typeof OUTPUT_SCHEMAS, doc: unknown): void {
  const r = v.safeParse(OUTPUT_SCHEMAS[name], doc);
  if (!r.success) throw new Error(`${name}: ${JSON.stringify(v.flatten(r.issues))}\n${JSON.stringify(doc, null, 2)}`);
}

test("docs/schemas/*.schema.json are up to date with src/output/schemas.ts", () => {
  for (const [file, text] of Object.entries(renderSchemas())) {
    expect(readFileSync(join(SCHEMA_DIR, file), "utf8")).toBe(text);
  }
});

describe("every --json document conforms to its schema", () => {
  test("warmup, status, list, run, ssh --print, cleanup, doctor, stop, and an error", async () => {
    const w = await h.run(["warmup", "--json", "--keep"]);
    conforms("warmup-result", w.json());
    const lease = w.json();
    conforms("lease-view", (await h.run(["status", "--json", lease.slug])).json());
    conforms("lease-list", (await h.run(["list", "--json"])).json());
    const run = await h.run(["run", "--json", "--id", lease.slug, "--", "true"]);
    conforms("run-summary", run.json());
    conforms("run-summary", (await h.run(["run", "--json", "--id", lease.slug, "--no-sync", "--", "true"])).json());
    conforms("ssh-line", (await h.run(["ssh", "--print", "--json", lease.slug])).json());
    conforms("cleanup-result", (await h.run(["cleanup", "--dry-run", "--json"])).json());
    conforms("doctor-report", (await h.run(["doctor", "--json"])).json());
    conforms("release-outcome", (await h.run(["stop", "--json", lease.slug, "--delete"])).json());
    const err = await h.run(["status", "--json", "no-such-lease"]);
    expect(err.code).toBe(4);
    conforms("error-document", err.json());
  });

  test("prewarm, run --pool, pool list, pool drain (the ready pool)", async () => {
    const pw = await h.run(["prewarm", "--json"]);
    expect(pw.code).toBe(0);
    conforms("prewarm-result", pw.json());
    const run = await h.run(["run", "--pool", "--json", "--", "true"]);
    expect(run.json().pool.borrowed).toBe(true);
    conforms("run-summary", run.json());
    const list = await h.run(["pool", "list", "--json"]);
    expect(list.json()).toHaveLength(1);
    conforms("pool-list", list.json());
    const drain = await h.run(["pool", "drain", "--all", "--json"]);
    expect(drain.json().decisions).toHaveLength(1);
    conforms("pool-drain-result", drain.json());
    const failed = await h.run(["prewarm", "--json", "--probe-command", "exit 7"]);
    expect(failed.code).toBe(7);
    conforms("prewarm-result", failed.json());
  });

  test("an undocumented key would fail the check (the schemas are strict)", () => {
    expect(v.safeParse(OUTPUT_SCHEMAS["ssh-line"], { leaseId: "x", configPath: null, host: null, command: "ssh", extra: 1 }).success).toBe(false);
  });
});
