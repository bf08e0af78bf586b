/**
 * The local view's state as git sees it, in one git spawn:
 *
 *   git -c core.fileMode=true status --porcelain=v2 -z --untracked-files=all --branch
 *
 * git stats the index (racy entries included, as `git status` always does)
 * and walks the tree for untracked files. The view (tracked files present on
 * disk + untracked files that are not ignored) is then determined by
 *
 * - HEAD (`# branch.oid`),
 * - every status record: staged entries come with their index blob id, and a
 *   file whose worktree copy differs from the index (or an untracked file) is
 *   signed here — only those: by its lstat when that is trusted (racy.ts: any
 *   later change must give it a later ctime), else by a hash of its content
 *   (read once more next time); a small stat cache for them (dirty entries
 *   only) keeps each signature while the file stays put.
 *
 * `key` digests all of it: equal keys mean an equal view (the no-op check).
 * `dirty` maps each path git reported to its signature, so that two states
 * with the same HEAD differ exactly in the paths whose signatures differ
 * (with a different HEAD, `git diff --name-only` adds the paths between).
 *
 * Not handled here (null: the caller uses the full listing): submodules (a
 * `.gitmodules` file) and nested repositories, whose contents git status does
 * not show.
 */
import { closeSync, existsSync, lstatSync, openSync, readFileSync, readSync, readlinkSync, type Stats } from "node:fs";
import { join } from "node:path";
import type { ExecResult, Runtime } from "../runtime.ts";
import { secretByContent, secretByName, type SecretRules } from "./secrets.ts";
import { onceRunPasses } from "../util/jit.ts";
import { RACY_WINDOW_MS, hashTrusted } from "./racy.ts";

/**
 * size, mtimeMs, ctimeMs, mode, ino, and the signature taken then: `s…` (that stat, when it was
 * trusted: racy.ts) or a sha-256 (hex) of the content; null: take it again next time (read it).
 */
export type StatEntry = [number, number, number, number, number, string | null];

export interface GitState {
  /** "git:" + sha256 over HEAD, the salt and every status record. */
  key: string;
  head: string;
  /** Path (as git prints it, UTF-8 decoded) → signature; "-" for a path absent from the view. */
  dirty: Map<string, string>;
  /** Stat cache for the worktree files signed here. */
  stats: Record<string, StatEntry>;
  /** Paths git reported that are secrets (never sent; left out of the key). */
  held: string[];
  /** Untracked files that are not ignored (from the same status run): with `git ls-files -c`, the view. */
  untracked: string[];
}

export const STATUS_ARGV = ["git", "-c", "core.fileMode=true", "-c", "status.relativePaths=false", "status", "--porcelain=v2", "-z", "--untracked-files=all", "--branch", "--no-renames", "--ignore-submodules=none"];

/** Start `git status` in `root` (the caller may start it early and hand the promise to gitState; `signal` ends it unused). */
export function runStatus(runtime: Runtime, root: string, signal?: AbortSignal): Promise<ExecResult> {
  return runtime.exec(STATUS_ARGV, { cwd: root, timeoutMs: 120_000, signal });
}

/** One record of `git status --porcelain=v2`, as the state needs it. */
export interface StatusRecord {
  path: string;
  kind: "tracked" | "untracked";
  indexSig: string;
  worktree: "same" | "changed" | "deleted";
}

/** Parse `git status --porcelain=v2 -z --branch` output into (head, records); null when it cannot be used. */
export function parseStatus(out: string): { head: string; records: StatusRecord[] } | null {
  const fields = out.split("\0");
  let head = "";
  const records: StatusRecord[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    if (f === "") continue;
    const t = f[0];
    if (t === "#") {
      if (f.startsWith("# branch.oid ")) head = f.slice(13);
      continue;
    }
    if (t === "?") {
      const path = f.slice(2);
      if (path.endsWith("/")) return null; // a nested repository: its files are not listed
      records.push({ path, kind: "untracked", indexSig: "", worktree: "changed" });
      continue;
    }
    if (t === "1" || t === "2" || t === "u") {
      // 1 XY sub mH mI mW hH hI path | 2 XY sub mH mI mW hH hI Xscore path\0orig | u XY sub m1 m2 m3 mW h1 h2 h3 path
      const n = t === "1" ? 8 : t === "2" ? 9 : 10;
      let at = 0;
      for (let k = 0; k < n; k++) at = f.indexOf(" ", at) + 1;
      const parts = f.slice(0, at - 1).split(" ");
      const path = f.slice(at);
      const xy = parts[1]!;
      if (parts[2] !== "N...") return null; // a submodule
      if (t === "2") i++; // the original path follows (never with --no-renames; kept for safety)
      const y = xy[1];
      const x = xy[0];
      // The index side: its mode and blob (stage 0), or "unmerged".
      const indexSig = t === "u" ? "u" : x === "D" ? "-" : `${parts[4]}:${parts[7]}`;
      const worktree = y === "D" ? "deleted" : y === "." ? (x === "D" ? "deleted" : "same") : "changed";
      records.push({ path, kind: "tracked", indexSig, worktree });
      continue;
    }
    return null; // a record type we do not know
  }
  return { head, records };
}

/** A file larger than this is hashed through one reused buffer, never read whole. */
const HASH_WHOLE_MAX = 1024 * 1024;
const HASH_CHUNK = 64 * 1024;
let hashBuffer: Buffer | undefined;

function hashOf(abs: string, isLink: boolean, size: number): string {
  const h = new Bun.CryptoHasher("sha256");
  if (isLink) h.update(readlinkSync(abs));
  else if (size <= HASH_WHOLE_MAX) h.update(readFileSync(abs));
  else {
    hashBuffer ??= Buffer.alloc(HASH_CHUNK);
    const fd = openSync(abs, "r");
    try {
      for (let n = readSync(fd, hashBuffer, 0, HASH_CHUNK, null); n > 0; n = readSync(fd, hashBuffer, 0, HASH_CHUNK, null)) h.update(hashBuffer.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return h.digest("hex");
}


/**
 * The state of the view at `root`; null when git could not say (not a work
 * tree, an error) or the tree holds submodules or nested repositories.
 */
export async function gitState(
  runtime: Runtime,
  root: string,
  opts: { salt: string; rules: SecretRules; stats: Record<string, StatEntry>; status?: Promise<ExecResult> },
): Promise<GitState | null> {
  // Submodules: a clean one shows no record, and `git diff` names only its commit.
  if (existsSync(join(root, ".gitmodules"))) return null;
  const r = await (opts.status ?? runStatus(runtime, root));
  if (r.code !== 0) return null;
  const parsed = parseStatus(r.stdout);
  if (!parsed) return null;
  onceRunPasses();
  const base = root.endsWith("/") ? root : `${root}/`;
  const racyAfter = runtime.now() - RACY_WINDOW_MS;
  const dirty = new Map<string, string>();
  const stats: Record<string, StatEntry> = {};
  const held: string[] = [];
  const untracked: string[] = [];
  const parts: string[] = [`crabbox-sync-v3\0${root}\0${opts.salt}\0${parsed.head}\0`];
  // First every dirty file's lstat, then the reads: the newest ctime seen before any read (hashTrusted).
  const looked: { rec: StatusRecord; st: Stats | null }[] = [];
  let newestChange = Number.NEGATIVE_INFINITY;
  for (const rec of parsed.records) {
    if (secretByName(rec.path, opts.rules) || secretByContent(rec.path, base + rec.path)) {
      held.push(rec.path);
      continue;
    }
    let st: Stats | null = null;
    if (rec.worktree === "changed") {
      try {
        st = lstatSync(base + rec.path);
      } catch {}
      if (st && (st.isFile() || st.isSymbolicLink()) && st.ctimeMs > newestChange) newestChange = st.ctimeMs;
    }
    looked.push({ rec, st });
  }
  for (const { rec, st } of looked) {
    const { path } = rec;
    if (rec.kind === "untracked") untracked.push(path);
    let sig: string;
    if (rec.worktree === "deleted") sig = "-";
    else if (rec.worktree === "same") sig = rec.indexSig;
    else {
      const isLink = st?.isSymbolicLink() ?? false;
      if (!st || (!isLink && !st.isFile())) sig = "-";
      else {
        const old = opts.stats[path];
        const { size, mtimeMs, ctimeMs, mode, ino } = st;
        // A cached signature was trusted when it was taken: its stat unchanged, the file is too.
        const same = old !== undefined && old[0] === size && old[1] === mtimeMs && old[2] === ctimeMs && old[3] === mode && old[4] === ino;
        let body = same ? old[5] : null;
        const trusted = body !== null || hashTrusted(ctimeMs, newestChange, racyAfter);
        if (body === null) {
          // A trusted stat says it all (any later change gets a later ctime): nothing is read. A file
          // that may still change within its ctime's tick is read and hashed, and read again while its
          // stat stays (so that its signature stays a hash: the same bytes, the same signature).
          if (trusted && !same) body = `s${size}:${mtimeMs}:${ctimeMs}:${ino}`;
          else {
            try {
              body = hashOf(base + path, isLink, size);
            } catch {
              body = "unreadable";
            }
          }
        }
        stats[path] = [size, mtimeMs, ctimeMs, mode, ino, trusted ? body : null];
        sig = body.startsWith("s") ? `${mode.toString(8)}:${body}` : `${mode.toString(8)}:w${body}`;
      }
    }
    // An untracked copy of a path deleted from the index (git rm --cached) comes as a second record.
    const prev = dirty.get(path);
    dirty.set(path, prev === undefined || prev === "-" ? sig : sig === "-" ? prev : `${prev}|${sig}`);
    parts.push(`${rec.kind[0]}${path}\0${sig}\0`);
  }
  const digest = new Bun.CryptoHasher("sha256");
  digest.update(parts.join(""));
  return { key: `git:${digest.digest("hex")}`, head: parsed.head, dirty, stats, held, untracked };
}

/**
 * Paths whose content, mode or presence may differ between two states of the
 * same work tree: those between the two HEADs, and every path either state
 * reported with a different signature. null: git could not compare the HEADs.
 */
export async function changedSince(
  runtime: Runtime,
  root: string,
  before: { head: string; dirty: Map<string, string> },
  now: GitState,
): Promise<Set<string> | null> {
  const out = new Set<string>();
  if (before.head !== now.head) {
    if (!/^[0-9a-f]{40,64}$/.test(before.head) || !/^[0-9a-f]{40,64}$/.test(now.head)) return null;
    const r = await runtime.exec(["git", "diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", before.head, now.head, "--"], { cwd: root, timeoutMs: 120_000 });
    if (r.code !== 0) return null;
    for (const p of r.stdout.split("\0")) if (p !== "") out.add(p);
  }
  for (const [p, sig] of now.dirty) if (before.dirty.get(p) !== sig) out.add(p);
  for (const p of before.dirty.keys()) if (!now.dirty.has(p)) out.add(p);
  return out;
}

/**
 * The tracked paths (the index; no directory walk): `git ls-files -c -z`,
 * read as it streams. `each` gets every index entry's path as a latin1 byte
 * string (git's own bytes, undecoded), in the index's order, which is sorted
 * bytewise; an unmerged path comes once per stage. The output is never held
 * whole. false when git fails.
 */
export async function eachTrackedFile(runtime: Runtime, root: string, each: (path: string) => void): Promise<boolean> {
  let child;
  try {
    child = runtime.spawn(["git", "ls-files", "-c", "-z"], { cwd: root, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  } catch {
    return false;
  }
  const timer = setTimeout(() => child.kill("SIGTERM"), 120_000);
  const err = new Response(child.stderr!).arrayBuffer();
  err.catch(() => {});
  let rest = "";
  try {
    for await (const chunk of child.stdout!) {
      const text = rest + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("latin1");
      let at = 0;
      for (let end = text.indexOf("\0"); end >= 0; end = text.indexOf("\0", at)) {
        if (end > at) each(text.slice(at, end));
        at = end + 1;
      }
      rest = text.slice(at);
    }
  } finally {
    clearTimeout(timer);
  }
  await err.catch(() => {});
  const exit = await child.exited;
  return exit.code === 0 && rest === "";
}
