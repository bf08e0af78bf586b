/** shard's pure parts: the template, the count cap, the plan, prefixed lines, shard.maxCount's trust rule. */
import { describe, expect, test } from "bun:test";
import { resolveLayers, SHARD_MAX_COUNT } from "../../src/config/load.ts";
import { LinePrefixer, MAX_LINE } from "../../src/shard/lines.ts";
import { checkCount, expandTemplate, planLines, usesIndex } from "../../src/shard/plan.ts";
import { usageErrorOf } from "./helpers/errors.ts";

describe("expandTemplate", () => {
  test("placeholders inside arguments; an argument stays one argument", () => {
    const argv = ["npx", "vitest", "--shard={{index}}/{{total}}", "{{ lease }} {{slug}}", "{{other}}", "$(x) {{index}}"];
    expect(expandTemplate(argv, { index: 2, total: 4, lease: "cbx_x", slug: "amber-crab" })).toEqual([
      "npx", "vitest", "--shard=2/4", "cbx_x amber-crab", "{{other}}", "$(x) 2",
    ]);
    expect(usesIndex(argv)).toBe(true);
    expect(usesIndex(["make", "test"])).toBe(false);
  });
});

describe("checkCount", () => {
  test("explicit, whole, at least 1, at most the cap", () => {
    expect(checkCount("4", 8)).toBe(4);
    expect(checkCount("8", 8)).toBe(8);
    expect(usageErrorOf(() => checkCount(undefined, 8)).message).toBe("--count is required");
    expect(usageErrorOf(() => checkCount("0", 8)).message).toContain("at least 1");
    expect(usageErrorOf(() => checkCount("2.5", 8)).message).toContain("whole number");
    const over = usageErrorOf(() => checkCount("9", 8));
    expect(over.code).toBe("shard_count_over_cap");
    expect(over.hint).toContain("may only lower it");
  });
});

test("planLines shows each shard's command with lease and slug still to come", () => {
  expect(planLines(["sh", "-c", "test {{index}} of {{total}} on {{slug}}"], 2, { keep: false, maxCount: 8 })).toEqual([
    "shard plan: 2 shards (cap 8), each on its own new codespace, released (or returned to the pool) when its shard ends",
    '  [1/2] sh -c "test 1 of 2 on {{slug}}"',
    '  [2/2] sh -c "test 2 of 2 on {{slug}}"',
  ]);
});

describe("LinePrefixer", () => {
  test("only whole lines are written, each prefixed; the last partial line is ended", () => {
    const writes: string[] = [];
    const p = new LinePrefixer("[1/2] ", (b) => writes.push(Buffer.from(b).toString()));
    p.push(Buffer.from("a\nb"));
    p.push(Buffer.from("c\n\nd"));
    expect(writes).toEqual(["[1/2] a\n", "[1/2] bc\n[1/2] \n"]);
    p.end();
    expect(writes.at(-1)).toBe("[1/2] d\n");
  });

  test("a line over the cap is cut, each piece prefixed (memory stays bounded)", () => {
    const writes: string[] = [];
    const p = new LinePrefixer("> ", (b) => writes.push(Buffer.from(b).toString()));
    p.push(Buffer.alloc(MAX_LINE * 2 + 10, "x"));
    expect(writes).toHaveLength(1);
    expect(writes[0]!.split("\n").filter(Boolean).every((l) => l.startsWith("> x"))).toBe(true);
    p.end();
    expect(writes[1]).toBe(`> ${"x".repeat(10)}\n`);
  });
});

describe("shard.maxCount", () => {
  const layer = (source: "repo" | "user", maxCount: number) => ({ source, layer: { shard: { maxCount } }, label: () => `${source}.yaml` });
  test("default 8; the user's file sets it; a repository's file may lower it, never raise it", () => {
    expect(resolveLayers([]).shard.maxCount).toBe(SHARD_MAX_COUNT);
    expect(resolveLayers([layer("user", 20)]).shard.maxCount).toBe(20);
    expect(resolveLayers([layer("repo", 3), layer("user", 20)]).shard.maxCount).toBe(3);
    const warnings: string[] = [];
    expect(resolveLayers([layer("repo", 50)], warnings).shard.maxCount).toBe(8);
    expect(warnings[0]).toContain("ignored shard.maxCount 50 in repo.yaml: a repository's own config file may only lower the cap (8)");
  });
});
