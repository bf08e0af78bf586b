/**
 * A small change set sent in the command's own session (docs/sync.md, "A
 * small change set"). Before the nonce is claimed, the session runs the
 * remote sync script (remote.ts inSessionSyncCommand): it reports what changed
 * remotely (one framed marker on stderr), then reads its frames from stdin,
 * applies each, and only then does the command start, with the rest of stdin.
 *
 * A frame: a header line `S <removals length> <tar length>\n`, the removal
 * records (as remote.ts encodes them), then a gzipped tar of the paths to send, with
 * an entry for each parent directory first (so a remote symlink standing
 * where a directory of ours goes is replaced, never written through), made
 * by the local `tar` (and `gzip -1`) from `./`-prefixed names given NUL-separated; or `A\n`,
 * which ends the session before the command (the rsync path then).
 *
 * The set may come in two frames: `P` (a part) with what changed here, sent
 * as soon as it is packed, without waiting for the remote report (what
 * changed locally goes whatever the codespace says), then `S` with what the
 * report adds (remote edits undone, strays removed). The codespace writes the
 * first while the report is read and planned here.
 */
import { randomBytes } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, unlinkSync } from "node:fs";
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

/** The paths to put in the tar: every parent directory first, then the paths (latin1 byte strings). */
export function tarMembers(send: string[]): string[] {
  const all = new Set<string>();
  for (const p of send) {
    if (!safeRelativePath(p)) throw new Error(`unsafe path in the change set: ${JSON.stringify(p)}`);
    for (let i = p.indexOf("/"); i > 0; i = p.indexOf("/", i + 1)) all.add(p.slice(0, i));
    all.add(p);
  }
  // A path sorts after its own prefix: parents come before what they hold.
  return [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * The tar, gzipped (-1) by a local `gzip` beside it: `tar … | gzip -1` in one `sh`, written into a
 * file of ours that is already unlinked, so that neither waits for this process (whose listing
 * may hold its thread meanwhile) to drain a pipe. A tar that fails says so on stderr.
 */
const PACK_SCRIPT = `{ tar -c -f - -C "$1" --no-recursion --null -T - || printf 'crabbox-pack: tar failed (exit %s)\\n' "$?" >&2; } | gzip -1`;

/** A gzipped tar of these paths under root (no recursion: directories as entries only), or null when it could not be made. */
export async function buildTar(runtime: Runtime, root: string, send: string[], dir: string): Promise<Uint8Array | null> {
  const members = tarMembers(send);
  const path = join(dir, `.pack-${randomBytes(6).toString("hex")}`);
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
      child = runtime.spawn(["sh", "-c", PACK_SCRIPT, "crabbox-pack", root], { stdin: "pipe", stdout: fd, stderr: "pipe" });
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
    return readSync(fd, out, 0, size, 0) === size ? new Uint8Array(out.buffer, out.byteOffset, size) : null;
  } finally {
    closeSync(fd);
  }
}

/** `S <removals> <tar>\n` + removals + tar (`P` for a part that another frame follows). */
export function changeFrame(removals: Uint8Array, tar: Uint8Array, kind: "S" | "P" = "S"): Uint8Array {
  const head = Buffer.from(`${kind} ${removals.length} ${tar.length}\n`, "latin1");
  return new Uint8Array(Buffer.concat([head, removals, tar]));
}

/** The report's NUL-terminated records (latin1). */
export function reportRecords(bytes: Buffer): string[] {
  const records = bytes.toString("latin1").split("\0");
  if (records.at(-1) === "") records.pop();
  return records;
}
