/**
 * git's index read here: its entries (the listing's tracked paths, sync.ts, as
 * `git ls-files -c` would print them) and the size of the view as the index
 * records it, so that a run whose change set goes in the command's own session
 * does not lstat every file of the tree to say how big it is.
 *
 * Git keeps each entry's lstat data (size included) in the index and refreshes
 * it whenever it finds the file clean; `git status` has just done that. A
 * tracked file git status does not report is therefore, byte for byte, the
 * entry git compared it with: its worktree size is the recorded size (the
 * worktree's, after any checkout filter, not the blob's). What the index cannot
 * vouch for is looked at with lstat: the paths git reported (unless the local
 * check's own lstat already sized them: `known`), entries whose recorded size
 * is 0 (git zeroes a racily clean entry's size on write, and an empty file
 * costs nothing), `assume-unchanged` and `skip-worktree` entries.
 *
 * The format is gitformat-index(5), versions 2 to 4, SHA-1 or SHA-256. Anything
 * else (a split or sparse index, another version, a file that does not parse
 * exactly) returns null: the caller asks `git ls-files` and lstats every path.
 * A recorded size is 32 bits: git truncates a file over 4 GiB, so such a file
 * counts modulo 4 GiB here (the summary's figure only; nothing is sent on it).
 */
import { closeSync, fstatSync, lstatSync, openSync, readFileSync, statSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { fileOrLinkSize } from "./files.ts";

export interface IndexEntry {
  /** The path as a latin1 byte string (git's bytes). */
  path: string;
  /** The mode git recorded (0o100644, 0o100755, 0o120000, 0o160000, ...). */
  mode: number;
  /** The recorded size (32 bits). */
  size: number;
  stage: number;
  /** assume-unchanged or skip-worktree: git does not look at the file, so neither does its recorded size. */
  unchecked: boolean;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

/** The index file of the work tree at `root`; null when the environment points git elsewhere. */
export function indexFile(root: string, env: Record<string, string | undefined>): string | null {
  if (env.GIT_DIR || env.GIT_WORK_TREE || env.GIT_INDEX_FILE || env.GIT_COMMON_DIR) return null;
  const dotGit = join(root, ".git");
  try {
    if (lstatSync(dotGit).isDirectory()) return join(dotGit, "index");
    // A linked worktree or a submodule: `.git` is a file naming the git directory.
    const line = readFileSync(dotGit, "utf8").split("\n")[0] ?? "";
    if (!line.startsWith("gitdir: ")) return null;
    const dir = line.slice(8).trim();
    return dir.startsWith("/") ? join(dir, "index") : join(root, dir, "index");
  } catch {
    return null;
  }
}

/** git's varint of index v4 (not LEB128: each continuation adds one). null on overflow. */
function varint(buf: Buffer, at: number): { value: number; next: number } | null {
  let c = buf[at++];
  if (c === undefined) return null;
  let value = c & 127;
  while (c & 128) {
    c = buf[at++];
    if (c === undefined) return null;
    value = (value + 1) * 128 + (c & 127);
    if (value > 0xffffffff) return null;
  }
  return { value, next: at };
}

/**
 * Each entry of an index file, in its order, to `each`; false unless the whole
 * file parses as one this code understands (then what `each` saw is to be
 * thrown away). No entry is kept: memory stays flat whatever the tree's size.
 */
export function eachIndexEntry(buf: Buffer, each: (e: IndexEntry) => void, reset: () => void): boolean {
  for (const hashLen of [20, 32]) {
    if (walk(buf, hashLen, each)) return true;
    reset();
  }
  return false;
}

function walk(buf: Buffer, hashLen: number, each: (e: IndexEntry) => void): boolean {
  if (buf.length < 12 + hashLen || buf.toString("latin1", 0, 4) !== "DIRC") return false;
  const version = buf.readUInt32BE(4);
  if (version < 2 || version > 4) return false;
  const count = buf.readUInt32BE(8);
  const end = buf.length - hashLen;
  const fixed = 40 + hashLen + 2;
  let at = 12;
  let previous = "";
  for (let i = 0; i < count; i++) {
    if (at + fixed > end) return false;
    const mode = buf.readUInt32BE(at + 24);
    const size = buf.readUInt32BE(at + 36);
    const flags = buf.readUInt16BE(at + 40 + hashLen);
    let nameAt = at + fixed;
    let extra = 0;
    if (flags & 0x4000) {
      if (version < 3 || nameAt + 2 > end) return false;
      extra = buf.readUInt16BE(nameAt);
      if (extra & 0x9fff) return false; // bits git does not define
      nameAt += 2;
    }
    const nameLen = flags & 0xfff;
    let path: string;
    if (version === 4) {
      // The name: how many bytes of the previous one to drop, then the rest, NUL-terminated; no padding.
      const strip = varint(buf, nameAt);
      if (!strip || strip.value > previous.length) return false;
      const nul = buf.indexOf(0, strip.next);
      if (nul < 0 || nul >= end) return false;
      path = previous.slice(0, previous.length - strip.value) + buf.toString("latin1", strip.next, nul);
      if (nameLen < 0xfff && path.length !== nameLen) return false;
      at = nul + 1;
    } else {
      const nul = buf.indexOf(0, nameAt);
      if (nul < 0 || nul >= end) return false;
      if (nameLen < 0xfff && nul - nameAt !== nameLen) return false;
      path = buf.toString("latin1", nameAt, nul);
      // 1 to 8 NULs pad the entry to a multiple of 8 bytes from its start.
      const next = at + ((nul - at + 8) & ~7);
      if (next > end) return false;
      for (let k = nul; k < next; k++) if (buf[k] !== 0) return false;
      at = next;
    }
    if (path === "" || (mode & S_IFMT) === 0o040000) return false; // a sparse index's directory entry
    each({ path, mode, size, stage: (flags >> 12) & 3, unchecked: Boolean(flags & 0x8000) || Boolean(extra & 0x4000) });
    previous = path;
  }
  // Extensions, then the checksum. An extension whose signature does not start with A-Z is one git
  // must understand (a split index's "link", a sparse index's "sdir"): not read here.
  while (at < end) {
    if (at + 8 > end) return false;
    const first = buf[at]!;
    const len = buf.readUInt32BE(at + 4);
    if (first < 0x41 || first > 0x5a || at + 8 + len > end) return false;
    at += 8 + len;
  }
  return at === end;
}

export interface ViewSizeInput {
  root: string;
  env: Record<string, string | undefined>;
  /**
   * Each entry in the index's order: its path decoded (a JS string) when it is in the view and git
   * status did not report it, else null (a secret held back, an unreadable name, a reported path).
   * The listing (sync.ts) does its own pass over the entries here.
   */
  visit(e: IndexEntry): string | null;
  /** The walk starts again (another hash length): what `visit` gathered is to be thrown away. */
  reset?(): void;
  /** Once the walk is done: the paths git status reported that are in the view (JS strings). */
  reported(): Iterable<string>;
  /** A reported file's size as the local check's own lstat found it (undefined: lstat it here). */
  known?(name: string): number | undefined;
  /**
   * The index as read earlier (`snapshotIndex`, while git status ran): its entries are used when the
   * file is still the one read then (same inode, size, mtime and ctime), else it is read again.
   */
  snapshot?: IndexSnapshot | null;
}

/** The index's entries as read at one moment, and which file that was (`indexId`). */
export interface IndexSnapshot {
  file: string;
  id: string;
  entries: IndexEntry[];
}

function indexId(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * The index read and parsed now, so that a listing can walk it later without reading it again
 * (sync.ts reads it while git status runs); null when it cannot be read here (as readIndexFile).
 */
export function snapshotIndex(root: string, env: Record<string, string | undefined>): IndexSnapshot | null {
  const file = indexFile(root, env);
  if (!file) return null;
  let buf: Buffer;
  let id: string;
  try {
    const fd = openSync(file, "r");
    try {
      id = indexId(fstatSync(fd, { bigint: true }));
      buf = readFileSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    return null;
  }
  const entries: IndexEntry[] = [];
  return eachIndexEntry(buf, (e) => entries.push(e), () => (entries.length = 0)) ? { file, id, entries } : null;
}

/** Whether the index is still the file a snapshot read (git status may have written a new one since). */
function stillCurrent(s: IndexSnapshot): boolean {
  try {
    return indexId(statSync(s.file, { bigint: true })) === s.id;
  } catch {
    return false;
  }
}

/** The index file's bytes, when this code may read it (else null: the caller asks git or lstats). */
function readIndexFile(root: string, env: Record<string, string | undefined>): Buffer | null {
  const file = indexFile(root, env);
  if (!file) return null;
  try {
    return readFileSync(file);
  } catch {
    return null;
  }
}

/**
 * The view's file count and size, summed entry by entry: an index entry of the view that git did
 * not report counts by its recorded size (lstat when git does not vouch for it), a reported path by
 * its lstat (or the size the local check found).
 */
class ViewTally {
  files = 0;
  bytes = 0;
  private readonly base: string;

  constructor(root: string) {
    this.base = root.endsWith("/") ? root : `${root}/`;
  }

  private look(name: string): void {
    const size = fileOrLinkSize(this.base + name);
    if (size === null) return;
    this.files++;
    this.bytes += size;
  }

  /** An index entry of the view that git status did not report; `name`: its path decoded. */
  entry(e: IndexEntry, name: string): void {
    if (e.stage !== 0) return; // unmerged: git reports it, and it is looked at as reported
    const type = e.mode & S_IFMT;
    if (type !== S_IFREG && type !== S_IFLNK) return; // a gitlink: a directory, not a file of the view
    if (e.unchecked || e.size === 0) this.look(name);
    else {
      this.files++;
      this.bytes += e.size;
    }
  }

  /** The paths git status reported (in the view): `known` sizes, else lstat. */
  reported(names: Iterable<string>, known?: (name: string) => number | undefined): void {
    for (const name of names) {
      const size = known?.(name);
      if (size === undefined) this.look(name);
      else {
        this.files++;
        this.bytes += size;
      }
    }
  }

  reset(): void {
    this.files = 0;
    this.bytes = 0;
  }
}

/**
 * One pass over the index: every entry to `visit`, and the number of regular
 * files and symlinks in the view and their total size, as lstat over every
 * path of the view would say; null when the index cannot be read here (the
 * caller asks `git ls-files` and lstats every path).
 */
export function viewSizeFromIndex(input: ViewSizeInput): { files: number; bytes: number } | null {
  const tally = new ViewTally(input.root);
  const each = (e: IndexEntry) => {
    const name = input.visit(e);
    if (name !== null) tally.entry(e, name);
  };
  const snapshot = input.snapshot && indexFile(input.root, input.env) === input.snapshot.file && stillCurrent(input.snapshot) ? input.snapshot : null;
  if (snapshot) for (const e of snapshot.entries) each(e);
  else {
    const buf = readIndexFile(input.root, input.env);
    if (!buf) return null;
    const read = eachIndexEntry(buf, each, () => {
      tally.reset();
      input.reset?.();
    });
    if (!read) return null;
  }
  tally.reported(input.reported(), input.known);
  return { files: tally.files, bytes: tally.bytes };
}
