/**
 * A small change set sent in the command's own session (docs/sync.md, "A
 * small change set"). Before the nonce is claimed, the session runs the
 * remote sync script (remote.ts inSessionSyncCommand): it reports what changed
 * remotely (one framed marker on stderr), then reads its frames from stdin,
 * applies each, and only then does the command start, with the rest of stdin.
 *
 * A frame: a header line `S <records length> <tar length> <codec>\n`, the removal
 * records (as remote.ts encodes them) followed by the directories the tar
 * needs, parents first, with their modes (`parentDirs`: a remote symlink or
 * file standing where a directory of ours goes is removed before anything is
 * unpacked, so nothing is written through it), then a compressed tar of the
 * paths to send (files and links only; zstd or gzip: `Codec`), made by the
 * local `tar` from `./`-prefixed names given NUL-separated, and the line `.`;
 * or `A\n`, which ends the session before the command (the rsync path then).
 *
 * The set may come in two frames: `P` (a part) with what changed here, sent
 * right after the verdict, as soon as it is packed, before the view is listed
 * and without waiting for the remote report (what changed locally goes
 * whatever the codespace says), or the line `R` when there is none; then `S`
 * with the rest (removals, what the report adds: remote edits undone, strays
 * removed). The codespace writes the part while it still lists.
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { Runtime } from "../runtime.ts";
import { safeRelativePath } from "./remote.ts";

/**
 * At most this many paths (changed locally, and after the remote report) go in the session. Measured
 * (docs/performance.md): up to 2 000 small files the session's tar beats the rsync path, which pays
 * for its own sessions; the bytes below are the real limit, this one bounds the plan's work.
 */
export const IN_SESSION_MAX_FILES = 1024;
/**
 * And at most this many bytes of file content (the tar itself is checked against this plus headers;
 * it travels gzipped). More goes through rsync: whole files in a tar, against rsync's deltas and its
 * stronger compression on a real link.
 */
export const IN_SESSION_MAX_BYTES = 4 * 1024 * 1024;

export const ABORT_FRAME = new Uint8Array(Buffer.from("A\n", "latin1"));

/** The paths to put in the tar: the files and links themselves, sorted (latin1 byte strings). Their directories go as `parentDirs`. */
export function tarMembers(send: string[]): string[] {
  for (const p of send) if (!safeRelativePath(p)) throw new Error(`unsafe path in the change set: ${JSON.stringify(p)}`);
  return [...new Set(send)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Every directory above the paths, parents first, as the records that come after a frame's removals
 * (remote.ts DELETE_SCRIPT): `m<octal mode here> <path>`, NUL-terminated, latin1. The codespace makes
 * sure each is a real directory before the tar is unpacked (a symlink or a file standing there is
 * removed, never written through; a missing one is made with this mode); one that is there is left as
 * it is (git keeps no directory modes; its times stay, so that the next sync's report does not list it
 * as changed). null when one of them is not a directory here (any more): the caller goes the rsync way.
 */
export function parentDirs(root: string, send: string[]): Uint8Array | null {
  const base = root.endsWith("/") ? root : `${root}/`;
  const dirs = new Set<string>();
  for (const p of send) for (let i = p.indexOf("/"); i > 0; i = p.indexOf("/", i + 1)) dirs.add(p.slice(0, i));
  // A path sorts after its own prefix: parents come before what they hold.
  const sorted = [...dirs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let records = "";
  for (const d of sorted) {
    if (!safeRelativePath(d)) throw new Error(`unsafe path in the change set: ${JSON.stringify(d)}`);
    let st;
    try {
      st = lstatSync(Buffer.from(base + d, "latin1"));
    } catch {
      return null;
    }
    if (!st.isDirectory()) return null;
    records += `m${(st.mode & 0o7777).toString(8)} ${d}\0`;
  }
  return new Uint8Array(Buffer.from(records, "latin1"));
}

/**
 * How a frame's tar travels: `zst` (zstd, level 1, in this process: a few times faster than gzip
 * on both ends, and smaller) when the codespace's last report said it has `zstd`, else `gz` (gzip
 * -1, what rsync's -z would save on the wire).
 */
export type Codec = "gz" | "zst";

/**
 * The tar is written by `tar` (piped into a local `gzip -1` for `gz`) into a file of ours that is
 * already unlinked, so that neither waits for this process (whose listing may hold its thread
 * meanwhile) to drain a pipe. A tar that fails says so on stderr.
 */
const PACK_SCRIPT = `{ tar -c -f - -C "$1" --no-recursion --null -T - || printf 'crabbox-pack: tar failed (exit %s)\\n' "$?" >&2; } | gzip -1`;
const TAR_ARGV = (root: string) => ["tar", "-c", "-f", "-", "-C", root, "--no-recursion", "--null", "-T", "-"];

let packs = 0;

/** A compressed tar of these paths under root (files and links), or null when it could not be made. */
export async function buildTar(runtime: Runtime, root: string, send: string[], dir: string, codec: Codec): Promise<Uint8Array | null> {
  const members = tarMembers(send);
  // Unique to this process and call (no crypto module to load for it); made with O_EXCL all the same.
  const path = join(dir, `.pack-${process.pid}-${++packs}-${Date.now().toString(36)}`);
  let fd: number;
  try {
    fd = openSync(path, "wx+", 0o600);
  } catch {
    return null;
  }
  try {
    unlinkSync(path);
    let child;
    try {
      const argv = codec === "gz" ? ["sh", "-c", PACK_SCRIPT, "crabbox-pack", root] : TAR_ARGV(root);
      child = runtime.spawn(argv, { stdin: "pipe", stdout: fd, stderr: "pipe" });
    } catch {
      return null;
    }
    const err = new Response(child.stderr!).text();
    child.stdin!.write(Buffer.from(members.map((m) => `./${m}\0`).join(""), "latin1"));
    child.stdin!.end();
    const [text, exit] = await Promise.all([err, child.exited]);
    if (exit.code !== 0 || text.includes("crabbox-pack:")) return null;
    const size = fstatSync(fd).size;
    const out = Buffer.allocUnsafe(size);
    if (readSync(fd, out, 0, size, 0) !== size) return null;
    return codec === "zst" ? new Uint8Array(Bun.zstdCompressSync(out, { level: 1 })) : new Uint8Array(out.buffer, out.byteOffset, size);
  } finally {
    closeSync(fd);
  }
}

/** What goes with a frame's removals: the directories its tar needs (`parentDirs`) and the tar, compressed. */
export interface Packed {
  dirs: Uint8Array;
  tar: Uint8Array;
  codec: Codec;
}

/** The line that ends every frame: the codespace takes a frame only when it arrives right after its bytes. */
const FRAME_END = Buffer.from(".\n", "latin1");

/**
 * `S <records> <tar> <codec>\n` + removal records + directory records + tar + `.\n` (`P` for a part
 * that another frame follows). The end line proves the frame came whole: a stream cut short leaves
 * `head -c` short and then no such line to read (remote.ts IN_SESSION_SCRIPT).
 */
export function changeFrame(removals: Uint8Array, packed: Packed, kind: "S" | "P" = "S"): Uint8Array {
  const head = Buffer.from(`${kind} ${removals.length + packed.dirs.length} ${packed.tar.length} ${packed.codec}\n`, "latin1");
  return new Uint8Array(Buffer.concat([head, removals, packed.dirs, packed.tar, FRAME_END]));
}

/** The report's NUL-terminated records (latin1). */
export function reportRecords(bytes: Buffer): string[] {
  const records = bytes.toString("latin1").split("\0");
  if (records.at(-1) === "") records.pop();
  return records;
}
