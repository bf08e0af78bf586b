/**
 * The results and artifacts flags of `run` and `shard` (--junit,
 * --results-auto, --fail-on-test-failures, --download, --download-dir), and
 * what they do after the command: fetch, summarise, copy.
 */
import { isAbsolute, join, resolve } from "node:path";
import type { Context } from "../context.ts";
import type { Claim } from "../leases/claim.ts";
import { localRoot } from "../lifecycle/sync.ts";
import { checkDownloadPath, checkJunitPath, downloadPaths, excludeArtifacts, fetchResults, splitPaths, type DownloadEntry, type Results } from "../results/collect.ts";
import { summaryLines } from "../results/junit.ts";
import type { ArgsDef } from "./argv.ts";
import { writeStderr } from "../output/write.ts";

export const collectArgs = {
  junit: { type: "string", description: "After the command (even a failed one), fetch these JUnit XML files (relative to the work root; repeatable, or comma-separated) and print a summary", valueHint: "path", multiple: true },
  "results-auto": { type: "boolean", description: "Fetch JUnit XML files from the usual places (junit.xml, reports/**/*.xml, test-results/**/*.xml, ...)" },
  "fail-on-test-failures": { type: "boolean", description: "Exit 1 when the command exited 0 but the results show failures or errors" },
  download: { type: "string", description: "After the command (even a failed one), copy this path (relative to the work root) back (repeatable)", valueHint: "path", multiple: true },
  "download-dir": { type: "string", description: "Where --download copies go (default .crabbox/artifacts/<slug>/ in the checkout)", valueHint: "dir" },
} as const satisfies ArgsDef;

export interface CollectPlan {
  junit: string[];
  auto: boolean;
  failOnTests: boolean;
  downloads: string[];
  /** --download-dir made absolute, or null for the default. */
  downloadDir: string | null;
}

/** Read and check the flags (before anything is provisioned). */
export function collectPlan(ctx: Context, args: { junit: string[]; "results-auto"?: boolean; "fail-on-test-failures"?: boolean; download: string[]; "download-dir"?: string }): CollectPlan {
  const downloads = splitPaths(args.download).map(checkDownloadPath);
  const dir = args["download-dir"];
  return {
    junit: splitPaths(args.junit).map(checkJunitPath),
    auto: Boolean(args["results-auto"]),
    failOnTests: Boolean(args["fail-on-test-failures"]),
    downloads,
    downloadDir: dir ? (isAbsolute(dir) ? dir : resolve(ctx.runtime.cwd, dir)) : null,
  };
}

/** The default download directory: `.crabbox/artifacts/<name>/` in the checkout (kept out of git). */
export async function defaultDownloadDir(ctx: Context, name: string): Promise<string> {
  const { root, isGit } = await localRoot(ctx.runtime);
  if (isGit) await excludeArtifacts(ctx.runtime, root);
  return join(root, ".crabbox", "artifacts", name);
}

export interface Collected {
  results: Results | null;
  downloads: DownloadEntry[];
}

/** After the command: results, then downloads, into `dir` (null: the default for this lease). Never throws for a missing file. */
export async function collectAfter(ctx: Context, claim: Claim, plan: CollectPlan, dir: string | null, warn: (m: string) => void = (m) => ctx.log.warn(m)): Promise<Collected> {
  const lease = { configPath: claim.sshConfigPath!, alias: claim.sshHost!, workRoot: claim.workRoot };
  const results = await fetchResults(ctx.runtime, lease, { junit: plan.junit, auto: plan.auto }, warn);
  let downloads: DownloadEntry[] = [];
  if (plan.downloads.length > 0) {
    const into = dir ?? plan.downloadDir ?? (await defaultDownloadDir(ctx, claim.slug));
    downloads = await downloadPaths(ctx.runtime, lease, plan.downloads, into, warn);
    const ok = downloads.filter((d) => d.exitCode === 0).length;
    if (ok > 0) ctx.log.info(`downloaded ${ok} of ${downloads.length} path${downloads.length === 1 ? "" : "s"} to ${into}`);
  }
  return { results, downloads };
}

/** The results summary on stderr (`prefix` for shard's merged verdict). */
export function printResults(results: Results, shards?: number): void {
  const files = results.files.filter((f) => f.ok).length;
  writeStderr(`${summaryLines(results, { files, shards }).join("\n")}\n`);
}

/** --fail-on-test-failures: a zero exit becomes 1 when the results show failures or errors. */
export function applyTestVerdict(exitCode: number, results: Results | null, plan: CollectPlan): number {
  if (exitCode === 0 && plan.failOnTests && results && results.failures + results.errors > 0) return 1;
  return exitCode;
}
