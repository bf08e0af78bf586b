/**
 * The large tree used by the sync figures: 20 000 files in 2 000 directories
 * (~200 MB), committed in the harness's git work tree (origin: the emulated
 * repo) under `tree/`, and synced once to the lease.
 *
 * Layout: tree/gNN/dNN/fNN.txt — 40 groups × 50 directories × 10 files.
 * Sizes vary from 2 KB to 18 KB (mean 10 KB); contents are random hex text
 * (compressible about 2:1, like source code rather than like media).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git } from "../e2e/harness.ts";
import type { BenchContext, Lease } from "./lib.ts";

export const GROUPS = 40;
export const DIRS_PER_GROUP = 50;
export const FILES_PER_DIR = 10;
export const FILES = GROUPS * DIRS_PER_GROUP * FILES_PER_DIR;

export interface Tree {
  /** The git work tree (synced by crabbox-cs). */
  work: string;
  /** <work>/tree: what the plain rsync baseline sends. */
  dir: string;
  files: string[];
  bytes: number;
  lease: Lease;
  /**
   * Where the plain rsync baseline writes (`alias:<remoteDir>/`): a sibling of the lease's work
   * root, never inside it (the sync would rightly see the baseline's writes as remote edits).
   */
  remoteDir: string;
  /** Seconds spent generating, committing and first syncing. */
  setup: { generateMs: number; commitMs: number; firstSyncMs: number };
}

function sizeOf(i: number): number {
  // Deterministic spread 2 KB..18 KB, mean ~10 KB.
  return 2048 + ((i * 7919) % 16384);
}

/** Random printable content of exactly `size` bytes. */
export function content(size: number): string {
  return randomBytes(Math.ceil(size / 2)).toString("hex").slice(0, size);
}

export function getTree(ctx: BenchContext): Promise<Tree> {
  return ctx.once("tree", async () => {
    const h = await ctx.h();
    const lease = await ctx.getLease();
    const dir = join(h.work, "tree");
    const t0 = performance.now();
    const files: string[] = [];
    let bytes = 0;
    let i = 0;
    for (let g = 0; g < GROUPS; g++) {
      for (let d = 0; d < DIRS_PER_GROUP; d++) {
        const rel = join(`g${String(g).padStart(2, "0")}`, `d${String(d).padStart(2, "0")}`);
        mkdirSync(join(dir, rel), { recursive: true });
        for (let f = 0; f < FILES_PER_DIR; f++) {
          const path = join(rel, `f${String(f).padStart(2, "0")}.txt`);
          const size = sizeOf(i++);
          writeFileSync(join(dir, path), content(size));
          files.push(path);
          bytes += size;
        }
      }
    }
    const t1 = performance.now();
    // Setup, not measured: every blob goes straight into one pack at low compression (git add's bulk
    // check-in of files over core.bigFileThreshold), one file written instead of 20 000 loose objects.
    git(h.work, "-c", "core.bigFileThreshold=1", "-c", "core.compression=1", "-c", "gc.auto=0", "add", "-A");
    git(h.work, "-c", "gc.auto=0", "commit", "-q", "-m", "bench tree");
    const t2 = performance.now();
    const first = await ctx.ours(["run", "--id", lease.slug, "--sync-only"], { timeoutMs: 300_000 });
    const t3 = performance.now();
    if (first.code !== 0) throw new Error(`first sync failed: ${first.stderr}`);
    const root = lease.workRoot.endsWith("/") ? lease.workRoot.slice(0, -1) : lease.workRoot;
    const remoteDir = `${root.startsWith("~/") ? root.slice(2) : root}-baseline`;
    return {
      work: h.work,
      dir,
      files,
      bytes,
      lease,
      remoteDir,
      setup: { generateMs: t1 - t0, commitMs: t2 - t1, firstSyncMs: t3 - t2 },
    };
  });
}

/** The baseline: plain rsync of the same tree over the lease's ssh config. */
export async function plainRsync(ctx: BenchContext, tree: Tree): Promise<number> {
  const { timed } = await import("./lib.ts");
  const r = await timed(
    ["rsync", "-a", "--delete", "-e", `ssh -F ${tree.lease.configPath}`, `${tree.dir}/`, `${tree.lease.alias}:${tree.remoteDir}/`],
    { env: await ctx.env(), timeoutMs: 300_000 },
  );
  return r.ms;
}

/** Change one file's content (same size, new bytes). */
export function touchOne(tree: Tree, n: number): string {
  const rel = tree.files[(n * 104729) % tree.files.length]!;
  writeFileSync(join(tree.dir, rel), content(sizeOf(n)));
  return rel;
}

/** The hand-made pair a user would type: `rsync -a --delete … && ssh … true` (same config, same master). */
export async function handPair(ctx: BenchContext, tree: Tree): Promise<number> {
  const { timed } = await import("./lib.ts");
  const ms = await plainRsync(ctx, tree);
  return ms + (await timed(["ssh", "-F", tree.lease.configPath, tree.lease.alias, "true"], { env: await ctx.env() })).ms;
}

/** `git status --porcelain` in the work tree: git's own check of the same tree. */
export async function gitStatusMs(ctx: BenchContext, work: string): Promise<number> {
  const { timed } = await import("./lib.ts");
  return (await timed(["git", "status", "--porcelain"], { cwd: work, env: await ctx.env() })).ms;
}

/** Change `count` files' contents (same sizes, new bytes), spread over the tree. */
export function touchMany(tree: Tree, n: number, count: number): string[] {
  const paths: string[] = [];
  for (let i = 0; i < count; i++) paths.push(touchOne(tree, n * 1000 + i));
  return paths;
}
