/**
 * shard: N one-shot leases at once, one verdict (issue 13). Commands wait on
 * files the test writes, never on a clock.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { ShardSummary } from "../../src/output/schemas.ts";
import { createHarness, type Harness } from "./harness.ts";

let h: Harness;
const FIX = join(import.meta.dir, "../../fixtures/junit");

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.close();
});

async function waitFor(pred: () => boolean, ms = 60_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) return false;
    await Bun.sleep(25);
  }
  return true;
}
const lines = (p: string) => (existsSync(p) ? readFileSync(p, "utf8").split("\n").filter(Boolean) : []);

/** Nothing left behind: no claim, no live codespace. */
async function expectAllReleased(): Promise<void> {
  const list = await h.run(["list", "--json"]);
  expect(list.json()).toEqual([]);
  expect(h.emu.control.codespaces().filter((c: any) => c.state !== "Deleted")).toEqual([]);
}

describe("shard", () => {
  test("4 shards with mixed exit codes: live [i/N] lines, stdout and stderr apart, exit = the lowest-numbered failing shard's status", async () => {
    const r = await h.run([
      "shard", "--count", "4", "--",
      "sh", "-c", 'echo "out {{index}}/{{total}} env=$CRABBOX_SHARD_INDEX/$CRABBOX_SHARD_TOTAL slug={{slug}}"; echo "err {{index}}" >&2; case {{index}} in 2) exit 3;; 4) exit 5;; esac',
    ]);
    expect(r.code).toBe(3);
    for (let i = 1; i <= 4; i++) {
      expect(r.stdout).toMatch(new RegExp(`^\\[${i}/4\\] out ${i}/4 env=${i}/4 slug=[a-z]+-[a-z]+$`, "m"));
      expect(r.stderr).toContain(`[${i}/4] err ${i}\n`);
      expect(r.stdout).not.toContain(`err ${i}`);
    }
    const slugs = [...r.stdout.matchAll(/slug=([a-z-]+)$/gm)].map((m) => m[1]);
    expect(new Set(slugs).size).toBe(4);
    // The plan came before anything was provisioned.
    expect(r.stderr.indexOf("shard plan: 4 shards")).toBeLessThan(r.stderr.indexOf("creating a codespace"));
    expect(r.stderr).toContain("[1/4] exit 0");
    expect(r.stderr).toContain("[2/4] exit 3");
    expect(r.stderr).toContain("[4/4] exit 5");
    expect(r.stderr).toContain("shard: 2 of 4 shards passed");
    await expectAllReleased();
  });

  test("a shard that cannot be provisioned fails alone with the tool's exit code; its siblings run and are released", async () => {
    h.emu.control.injectError({ method: "POST", path: "^/repos/[^/]+/[^/]+/codespaces$", status: 422, times: 1, body: { message: "Validation Failed" } });
    const r = await h.run(["shard", "--count", "3", "--json", "--no-sync", "--", "sh", "-c", "echo ran {{index}}"]);
    h.emu.control.clearErrors();
    const j = r.json();
    expect(v.safeParse(ShardSummary, j).success).toBe(true);
    const failed = j.shards.filter((s: any) => s.error);
    expect(failed).toHaveLength(1);
    expect(failed[0].leaseId).toBeNull();
    expect(failed[0].exitCode).toBe(2);
    expect(j.shards.filter((s: any) => !s.error).map((s: any) => s.exitCode)).toEqual([0, 0]);
    expect(r.code).toBe(2);
    expect(j.failedShard).toBe(failed[0].index);
    for (const s of j.shards.filter((s: any) => !s.error)) {
      expect(r.stderr).toContain(`[${s.index}/3] ran ${s.index}`);
      expect(s.durations.command).toBeGreaterThan(0);
    }
    await expectAllReleased();
  });

  test("merged JUnit names the failing shard; --fail-on-test-failures makes it exit 1; --download lands under per-index directories", async () => {
    const fail = readFileSync(join(FIX, "fail.xml"), "utf8");
    const pass = readFileSync(join(FIX, "pass.xml"), "utf8");
    const dir = join(h.tmp, "shard-arts");
    const r = await h.run(
      [
        "shard", "--count", "2", "--json", "--no-sync", "--junit", "r.xml", "--fail-on-test-failures", "--download", "out", "--download-dir", dir, "--",
        "sh", "-c", 'mkdir -p out && echo "shard {{index}}" > out/who.txt && if [ {{index}} = 2 ]; then printf "%s" "$1" > r.xml; else printf "%s" "$2" > r.xml; fi', "sh", fail, pass,
      ],
    );
    expect(r.code).toBe(1);
    const j = r.json();
    expect(j.failedShard).toBe(2);
    expect(j.results).toMatchObject({ tests: 7, failures: 1, errors: 1 });
    expect(j.results.failed.map((f: any) => [f.shard, f.name])).toEqual([[2, "reads <tags>"], [2, "no message"]]);
    expect(r.stderr).toContain("FAIL [2/2] parser & lexer › reads <tags>: expected 2 < 1");
    expect(readFileSync(join(dir, "1", "out", "who.txt"), "utf8")).toBe("shard 1\n");
    expect(readFileSync(join(dir, "2", "out", "who.txt"), "utf8")).toBe("shard 2\n");
    await expectAllReleased();
  });

  test("Ctrl-C mid-shard: every command stopped, none run twice, every lease released, exit 130", async () => {
    const log = join(h.tmp, "starts.log");
    const go = join(h.tmp, "never");
    const p = h.spawn(["shard", "--count", "3", "--no-sync", "--", "sh", "-c", `echo start-{{index}} >> ${log}; i=0; while [ ! -e ${go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo end-{{index}} >> ${log}`]);
    expect(await waitFor(() => lines(log).length === 3)).toBe(true);
    p.kill("SIGINT");
    const [code, stderr] = await Promise.all([p.exited, new Response(p.stderr).text()]);
    expect(code).toBe(130);
    expect(lines(log).sort()).toEqual(["start-1", "start-2", "start-3"]);
    expect(stderr).toContain("interrupted (exit 130)");
    await expectAllReleased();
    // Stopped, not merely abandoned: nothing writes "end" even once the wait would be over.
    expect(lines(log).some((l) => l.startsWith("end-"))).toBe(false);
  });

  test("--fail-fast: the first failing shard stops the others; its status is the exit code; everything is released", async () => {
    const go = join(h.tmp, "never-2");
    const r = await h.run(["shard", "--count", "3", "--json", "--no-sync", "--fail-fast", "--", "sh", "-c", `if [ {{index}} = 2 ]; then exit 7; fi; i=0; while [ ! -e ${go} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`]);
    expect(r.code).toBe(7);
    const j = r.json();
    expect(j.failedShard).toBe(2);
    expect(j.shards.filter((s: any) => s.index !== 2).every((s: any) => s.cancelled)).toBe(true);
    expect(r.stderr).toContain("[2/3] failed: --fail-fast stops the other shards");
    await expectAllReleased();
  });

  test("--keep keeps every lease (ready for run --id); without it none is left", async () => {
    const r = await h.run(["shard", "--count", "2", "--keep", "--json", "--no-sync", "--", "true"]);
    expect(r.code).toBe(0);
    const ids = r.json().shards.map((s: any) => s.leaseId).sort();
    const list = (await h.run(["list", "--json"])).json();
    expect(list.map((l: any) => l.leaseId).sort()).toEqual(ids);
    expect(list.every((l: any) => l.keep && l.state === "ready")).toBe(true);
    for (const id of ids) expect((await h.run(["run", "--id", id, "--no-sync", "--", "true"])).code).toBe(0);
    for (const id of ids) expect((await h.run(["stop", id, "--delete"])).code).toBe(0);
    await expectAllReleased();
  });

  test("--count over shard.maxCount is refused before anything is created", async () => {
    const before = Object.keys(h.emu.control.counts()).filter((k) => k.startsWith("POST")).length;
    const r = await h.run(["shard", "--count", "9", "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--count 9 is over shard.maxCount (8)");
    expect(Object.keys(h.emu.control.counts()).filter((k) => k.startsWith("POST")).length).toBe(before);
    expect(readdirSync(h.work).includes(".crabbox")).toBe(false);
  });
});
