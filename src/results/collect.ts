/**
 * After the command (even a failed one): bring the JUnit files back and read
 * them, and copy the --download paths into the download directory. Both go
 * over the lease's ssh config with rsync (src/transfer/rsync-copy.ts). A
 * missing file is a warning and a non-zero entry, never an error: the
 * command's own exit code stays the answer.
 */
import { mkdirSync, mkdtempSync, openSync, readSync, closeSync, rmSync, statSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { usageError } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import { lexists, pullEntries, pullMatching, remoteParts, RSYNC_PARTIAL, type LeaseEnds } from "../transfer/rsync-copy.ts";
import { tail } from "../util/text.ts";
import { MAX_JUNIT_BYTES, mergeReports, parseJUnit, type FailedCase, type JUnitReport } from "./junit.ts";

/** Where `--results-auto` looks, under the work root (rsync include rules; directories to descend into included). */
export const AUTO_RESULT_RULES = [
  "/junit*.xml",
  "/test-results.xml",
  "/reports/",
  "/reports/**/",
  "/reports/**.xml",
  "/test-results/",
  "/test-results/**/",
  "/test-results/**.xml",
  "/target/",
  "/target/surefire-reports/",
  "/target/surefire-reports/*.xml",
  "/build/",
  "/build/test-results/",
  "/build/test-results/**/",
  "/build/test-results/**.xml",
];
/** At most this many files are parsed per lease (`--results-auto` may find many). */
export const MAX_RESULT_FILES = 500;

export interface ResultFile {
  path: string;
  ok: boolean;
  warning: string | null;
}

export interface Results extends JUnitReport {
  files: ResultFile[];
}

export interface DownloadEntry {
  path: string;
  /** Where it landed locally (absolute), or would have. */
  dest: string;
  /** 0 when copied; rsync's status otherwise (23: not there). */
  exitCode: number;
  error: string | null;
}

export interface ResultsRequest {
  /** --junit paths, relative to the work root (or absolute). */
  junit: string[];
  auto: boolean;
}

/** `--junit a,b --junit c` → [a, b, c] (empty pieces dropped). */
export function splitPaths(values: string[]): string[] {
  return values.flatMap((v) => v.split(",")).filter((p) => p !== "");
}

/** A --download path: relative to the work root, inside it (no `..`). */
export function checkDownloadPath(p: string): string {
  const n = normalize(p);
  if (p === "" || p.startsWith("/") || n === ".." || n.startsWith("../") || n.split("/").includes("..")) {
    throw usageError(`--download ${JSON.stringify(p)}: must be a path inside the work root`, "give it relative to the work root, e.g. --download coverage/ (use `crabbox-cs cp` for other paths)");
  }
  return p;
}

function readCapped(path: string, max: number): string | null {
  const size = statSync(path).size;
  if (size > max) return null;
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n <= 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

function xmlFilesUnder(dir: string, rel = "", out: string[] = []): string[] {
  for (const d of readdirSync(join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) xmlFilesUnder(dir, r, out);
    else if (d.isFile() && d.name.endsWith(".xml")) out.push(r);
  }
  return out;
}

/** A --junit path: absolute, or relative to the work root without `..` (it is kept at that path in a private temp dir). */
export function checkJunitPath(p: string): string {
  if (!p.startsWith("/") && normalize(p).split("/").includes("..")) {
    throw usageError(`--junit ${JSON.stringify(p)}: a relative path may not leave the work root`, "give it relative to the work root, or as an absolute path");
  }
  return p;
}

/** Fetch and read the results; null when none were asked for. */
export async function fetchResults(runtime: Runtime, lease: LeaseEnds, req: ResultsRequest, warn: (m: string) => void): Promise<Results | null> {
  if (req.junit.length === 0 && !req.auto) return null;
  const tmp = mkdtempSync(join(tmpdir(), "crabbox-results-"));
  try {
    const files: { path: string; local: string }[] = [];
    const problems: ResultFile[] = [];
    // Named files: absolute ones under "/", the rest under the work root; kept at their relative path in tmp.
    const groups = new Map<string, { entry: string; path: string }[]>();
    for (const path of req.junit) {
      const { base, entry } = remoteParts(lease.workRoot, path);
      groups.set(base, [...(groups.get(base) ?? []), { entry, path }]);
    }
    let g = 0;
    for (const [base, items] of groups) {
      const dest = join(tmp, `named-${g++}`);
      mkdirSync(dest);
      const r = await pullEntries(runtime, lease, { base, entries: items.map((i) => i.entry), dest, keepPath: true, maxBytes: MAX_JUNIT_BYTES });
      if (r.code !== 0 && r.code !== RSYNC_PARTIAL) warn(`fetching JUnit files failed (rsync exit ${r.code}): ${tail(r.stderr)}`);
      for (const i of items) {
        const local = join(dest, i.entry);
        if (lexists(local) && statSync(local).isFile()) files.push({ path: i.path, local });
        else problems.push({ path: i.path, ok: false, warning: `${i.path}: not found on the lease (or larger than ${MAX_JUNIT_BYTES / 1024 / 1024} MiB)` });
      }
    }
    if (req.auto) {
      const dest = join(tmp, "auto");
      mkdirSync(dest);
      const r = await pullMatching(runtime, lease, { rules: AUTO_RESULT_RULES, dest, maxBytes: MAX_JUNIT_BYTES });
      if (r.code !== 0 && r.code !== RSYNC_PARTIAL) warn(`looking for JUnit files failed (rsync exit ${r.code}): ${tail(r.stderr)}`);
      const named = new Set(req.junit);
      for (const rel of xmlFilesUnder(dest)) if (!named.has(rel)) files.push({ path: rel, local: join(dest, rel) });
      if (files.length === 0 && problems.length === 0) warn("--results-auto: no JUnit files found (junit.xml, reports/**/*.xml, test-results/**/*.xml, ...)");
    }
    if (files.length > MAX_RESULT_FILES) {
      warn(`${files.length} result files found; reading the first ${MAX_RESULT_FILES}`);
      files.length = MAX_RESULT_FILES;
    }
    const parts: { report: JUnitReport }[] = [];
    const out: ResultFile[] = [];
    for (const f of files) {
      const text = readCapped(f.local, MAX_JUNIT_BYTES);
      const parsed = text === null ? { ok: false as const, warning: `${f.path}: larger than ${MAX_JUNIT_BYTES / 1024 / 1024} MiB; not parsed` } : parseJUnit(text, f.path);
      if (parsed.ok) {
        parts.push({ report: parsed.report });
        out.push({ path: f.path, ok: true, warning: null });
      } else out.push({ path: f.path, ok: false, warning: parsed.warning });
    }
    for (const p of [...problems, ...out]) if (p.warning) warn(p.warning);
    return { ...mergeReports(parts), files: [...out, ...problems] };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Merge several leases' results (shard): each failed case names its shard. */
export function mergeResults(parts: { results: Results; shard: number }[]): Results {
  const merged = mergeReports(parts.map((p) => ({ report: p.results, shard: p.shard })));
  return { ...merged, files: parts.flatMap((p) => p.results.files.map((f) => ({ ...f, path: `[${p.shard}] ${f.path}` }))) };
}

/** Copy each --download path into `dir` (kept at its path relative to the work root). */
export async function downloadPaths(runtime: Runtime, lease: LeaseEnds, paths: string[], dir: string, warn: (m: string) => void): Promise<DownloadEntry[]> {
  if (paths.length === 0) return [];
  mkdirSync(dir, { recursive: true });
  // What an earlier run left there must not pass for this run's copy.
  for (const p of paths) rmSync(join(dir, p), { recursive: true, force: true });
  const { base } = remoteParts(lease.workRoot, ".");
  const r = await pullEntries(runtime, lease, { base, entries: paths, dest: dir, keepPath: true });
  const entries: DownloadEntry[] = paths.map((path) => {
    const dest = join(dir, path);
    if (lexists(dest)) return { path, dest, exitCode: 0, error: null };
    const code = r.code === 0 ? RSYNC_PARTIAL : r.code;
    return { path, dest, exitCode: code, error: code === RSYNC_PARTIAL ? "not found on the lease" : `rsync exit ${r.code}: ${tail(r.stderr)}` };
  });
  for (const e of entries) {
    if (e.exitCode !== 0) warn(`--download ${e.path}: ${e.error}`);
  }
  return entries;
}

/** Make sure `.crabbox/artifacts/` is in the checkout's .git/info/exclude. */
export async function excludeArtifacts(runtime: Runtime, root: string): Promise<void> {
  const r = await runtime.exec(["git", "-C", root, "rev-parse", "--git-path", "info/exclude"]);
  if (r.code !== 0) return;
  const rel = r.stdout.trim();
  const file = rel.startsWith("/") ? rel : join(root, rel);
  const { readFileSync, appendFileSync } = await import("node:fs");
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {}
  if (text.split("\n").some((l) => l.trim() === "/.crabbox/artifacts/")) return;
  mkdirSync(join(file, ".."), { recursive: true });
  appendFileSync(file, `${text === "" || text.endsWith("\n") ? "" : "\n"}/.crabbox/artifacts/\n`);
}

export type { FailedCase };
