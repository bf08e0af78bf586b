/**
 * `cp`'s two operands. Exactly one is remote, written `SANDBOX:PATH` (the
 * lease's id or slug before the colon, as Crabbox writes it) or `:PATH` (the
 * lease given with --id). An operand is remote when a colon comes before any
 * slash; write `./a:b` for a local name with a colon in it.
 */
import { posix } from "node:path";
import { usageError } from "../errors.ts";
import { rsyncRemotePath } from "../sync/rsync.ts";

export interface CopySides {
  direction: "up" | "down";
  /** The lease named before the colon ("" for `:PATH`). */
  sandbox: string;
  remote: string;
  local: string;
}

const REMOTE_RE = /^([^/:]*):([\s\S]*)$/;

export function parseSides(src: string, dest: string): CopySides {
  const a = REMOTE_RE.exec(src);
  const b = REMOTE_RE.exec(dest);
  if (a && b) throw usageError("both SRC and DEST are remote (SANDBOX:PATH)", "copy through your machine: one side must be a local path (write ./a:b for a local name with a colon)");
  if (!a && !b) throw usageError("neither SRC nor DEST is remote", "write the remote side as SANDBOX:PATH (the lease's slug or id, e.g. amber-crab:reports/) or :PATH with --id");
  const m = (a ?? b)!;
  const remote = m[2]!;
  if (remote === "") throw usageError(`empty remote path in ${JSON.stringify(a ? src : dest)}`, "write SANDBOX:PATH (PATH relative to the work root, or absolute), e.g. amber-crab:. for the work root");
  const local = a ? dest : src;
  if (local === "") throw usageError("empty local path", "use . for the current directory");
  return { direction: a ? "down" : "up", sandbox: m[1]!, remote, local };
}

/**
 * A remote source as an rsync base and a `--files-from` entry: absolute
 * paths under `/`, the rest under the work root; `.` and `..` are resolved
 * here, as a path (so `../x` is the work root's sibling `x`).
 */
export function remoteSource(workRoot: string, path: string): { base: string; entry: string; name: string } {
  const base = rsyncRemotePath(workRoot);
  let full = posix.normalize(path.startsWith("/") ? path : posix.join(base, path));
  full = full.replace(/\/+$/, "") || "/";
  if (full.startsWith("/")) {
    const entry = full === "/" ? "." : full.slice(1);
    return { base: "/", entry, name: posix.basename(full) || "/" };
  }
  // Under a home-relative work root (~/...): relative to the login directory.
  return { base: "./", entry: full === "" ? "." : full, name: posix.basename(full) };
}

/** A remote destination path (what follows `alias:`): relative paths under the work root, `..` resolved. */
export function remoteDest(workRoot: string, path: string, intoDir: boolean): string {
  const base = rsyncRemotePath(workRoot);
  const full = path.startsWith("/") ? posix.normalize(path) : posix.normalize(posix.join(base, path));
  const p = full.startsWith("-") ? `./${full}` : full;
  return intoDir && !p.endsWith("/") ? `${p}/` : p;
}
