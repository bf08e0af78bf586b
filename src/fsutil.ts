/**
 * Private directories and crash-safe file writes for our state under ~/.crabbox
 * (claims, ssh configs, sync caches).
 */
import { closeSync, constants as fsConstants, fchmodSync, fstatSync, lstatSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { CrabboxError, Exit } from "./errors.ts";
import { fsp } from "./util/fsp.ts";
import { randomBase32 } from "./util/random.ts";

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const message = String(err?.message ?? e);
  return err?.code && !message.startsWith(err.code) ? `${err.code}: ${message}` : message;
}

/**
 * The state directory (CRABBOX_HOME, or ~/.crabbox) must be a directory or
 * not exist yet: a file there, or a file among its parents, is exit 2 with
 * the fix (instead of an EEXIST/ENOTDIR from deep inside a mkdir or readdir).
 * `named`: whether CRABBOX_HOME set the path.
 */
export function assertStateHomeUsable(root: string, named: boolean): void {
  const what = named ? `CRABBOX_HOME (${root})` : `${root} (crabbox-cs's state directory)`;
  const fix = (file: string) =>
    named
      ? `point CRABBOX_HOME at a directory (export CRABBOX_HOME=$HOME/.crabbox), or move ${file} aside`
      : `move ${file} aside (mv '${file}' '${file}.bak'), or set CRABBOX_HOME to a directory`;
  for (let dir = resolve(root); ; dir = dirname(dir)) {
    let st;
    try {
      st = lstatSync(dir);
    } catch {
      if (dirname(dir) === dir) return;
      continue;
    }
    if (st.isDirectory() || st.isSymbolicLink()) return; // links are judged (refused) by ensurePrivateDir
    const self = dir === resolve(root);
    throw new CrabboxError({
      code: "state_dir_unusable",
      message: self ? `${named ? "CRABBOX_HOME" : root} is a file, not a directory` : `${what} is below ${dir}, which is a file`,
      why: `crabbox-cs keeps lease claims and ssh configs in the directory ${root}`,
      hint: fix(dir),
      exit: Exit.usage,
      details: { path: root, file: dir },
    });
  }
}

/** Roots of our private state (CRABBOX_HOME): every directory from one down to a path we make is checked. */
const privateRoots = new Set<string>();

/** Declare `root` (CRABBOX_HOME) so that ensurePrivateDir checks every level below it, not just the last. */
export function registerPrivateRoot(root: string): void {
  privateRoots.add(resolve(root));
}

/** The directories to check for `path`: from its registered root (or `root`) down to it. */
function privateChain(path: string, root?: string): string[] {
  const target = resolve(path);
  const roots = root ? [resolve(root)] : [...privateRoots];
  const base = roots.filter((r) => target === r || target.startsWith(r.endsWith(sep) ? r : r + sep)).sort((a, b) => a.length - b.length)[0];
  if (!base) return [target];
  const chain = [base];
  for (const part of relative(base, target).split(sep).filter(Boolean)) chain.push(join(chain[chain.length - 1]!, part));
  return chain;
}

/** The error for a symbolic link where our state must be a real directory or file (exit 5). */
export function symlinkRefused(path: string, kind: "directory" | "file" = "directory"): CrabboxError {
  return new CrabboxError({
    code: "state_symlink",
    message: `${path} is a symbolic link; refusing to follow it`,
    why: "crabbox-cs keeps claims, locks, ssh configs and sync caches only in real directories and files it controls: a link could send them (and their chmod) somewhere else",
    hint:
      kind === "directory"
        ? `replace the link with a real directory (rm '${path}' && mkdir -m 700 '${path}'), or set CRABBOX_HOME to a real directory you own`
        : `remove the link (rm '${path}'); crabbox-cs never reads or writes its state through one`,
    exit: Exit.refused,
    details: { path },
  });
}

/**
 * mkdir -p `path` with mode 0700. Every level from its private root (see
 * registerPrivateRoot; else just `path`) down to `path` is checked without
 * following links: a symbolic link is refused (exit 5), never followed or
 * chmodded; a directory with group/other bits is tightened to 0700 through an
 * O_NOFOLLOW descriptor; one owned by another user is refused (exit 5): we
 * never keep claims where someone else controls them.
 */
export async function ensurePrivateDir(path: string, opts: { root?: string } = {}): Promise<void> {
  const chain = privateChain(path, opts.root);
  for (const [i, dir] of chain.entries()) {
    // Synchronous calls: a handful of local metadata calls, cheaper than a thread-pool hop each.
    let missing = false;
    try {
      if (lstatSync(dir).isSymbolicLink()) throw symlinkRefused(dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") missing = true; // makeDir explains ENOTDIR
      else throw e;
    }
    if (missing) await makeDir(dir, i === 0);
    checkPrivateDir(dir);
  }
}

async function makeDir(path: string, recursive: boolean): Promise<void> {
  try {
    await fsp().mkdir(path, { recursive, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return; // made meanwhile (or a file: checkPrivateDir says so)
    throw new CrabboxError({
      code: "state_dir_unusable",
      message: `cannot create directory ${path}`,
      why: reason(e),
      hint:
        code === "ENOTDIR"
          ? `a path component of ${path} is a file: move it aside, or set CRABBOX_HOME to another directory`
          : `check the permissions of ${dirname(path)}, or set CRABBOX_HOME to a directory you own`,
      exit: Exit.usage,
      details: { path },
      cause: e,
    });
  }
}

/** Open `path` without following a link, then check (and tighten) the directory it is. */
function checkPrivateDir(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP") throw symlinkRefused(path);
    throw new CrabboxError({
      code: "state_dir_unusable",
      message: code === "ENOTDIR" ? `${path} is not a directory` : `cannot open directory ${path}`,
      why: reason(e),
      hint: code === "ENOTDIR" ? "move it aside, or set CRABBOX_HOME to another directory" : `check the permissions of ${path}, or set CRABBOX_HOME to a directory you own`,
      exit: Exit.usage,
      details: { path },
      cause: e,
    });
  }
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.();
    if (uid !== undefined && st.uid !== uid) {
      throw new CrabboxError({
        code: "state_dir_not_owned",
        message: `${path} is owned by uid ${st.uid}, not by the current user (uid ${uid})`,
        why: "crabbox-cs keeps lease claims only in a directory that you alone control",
        hint: `fix the owner (sudo chown -R ${uid} ${path}) or set CRABBOX_HOME to a directory you own`,
        exit: Exit.refused,
        details: { path, ownerUid: st.uid, uid },
      });
    }
    if ((st.mode & 0o077) !== 0) fchmodSync(fd, 0o700);
  } finally {
    closeSync(fd);
  }
}

/** The filesystem calls writeFileAtomic makes; tests inject failures here. */
export interface AtomicWriteIo {
  open: ReturnType<typeof fsp>["open"];
  rename: ReturnType<typeof fsp>["rename"];
}

const realIo = (): AtomicWriteIo => ({ open: fsp().open, rename: fsp().rename });

/** Temp files of writeFileAtomic look like ".<name>.<random>.tmp" (hidden, same directory). */
export const ATOMIC_TEMP_RE = /^\..+\.[a-z2-7]{10}\.tmp$/;

/**
 * Replace `path` with `data` so that readers see either the old or the new
 * content, never a mix: write a unique temp file in the same directory, fsync
 * it, rename it over `path`, fsync the directory. On any failure the old file
 * is untouched, the temp file is removed and a CrabboxError (exit 1) names the
 * path and the reason.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode: number = 0o600,
  opts: { io?: Partial<AtomicWriteIo> } = {},
): Promise<void> {
  const io = { ...realIo(), ...opts.io };
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBase32(10)}.tmp`);
  let created = false;
  try {
    const fh = await io.open(tmp, "wx", mode);
    created = true;
    try {
      await fh.chmod(mode); // open()'s mode is filtered by the umask
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await io.rename(tmp, path);
    created = false;
  } catch (e) {
    if (created) await fsp().rm(tmp, { force: true }).catch(() => {});
    throw writeFailed(path, e);
  }
  await fsyncDir(dir);
}

/**
 * writeFileAtomic without the fsyncs, in synchronous calls (a small file: five
 * thread-pool hops cost more than the write). Readers still see the old file
 * or the new one, never a mix (temp file, then rename), but a crash of this
 * machine may lose the write: only for files that mean nothing after such a
 * crash, like an in-use marker (its process ends with the machine), or whose
 * loss only costs work, like the sync state (sync/state.ts).
 */
export function writeFileAtomicQuick(path: string, data: string | Uint8Array, mode: number = 0o600): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBase32(10)}.tmp`);
  let created = false;
  try {
    const fd = openSync(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
    created = true;
    try {
      fchmodSync(fd, mode); // open()'s mode is filtered by the umask
      writeFileSync(fd, data);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    created = false;
  } catch (e) {
    if (created) rmSync(tmp, { force: true });
    throw writeFailed(path, e);
  }
}

/** The one error of both atomic writes: the old file is intact. */
function writeFailed(path: string, e: unknown): CrabboxError {
  return new CrabboxError({
    code: "write_failed",
    message: `could not write ${path}`,
    why: reason(e),
    hint: "check free disk space and the permissions of the directory; the previous version of the file is intact",
    exit: Exit.unexpected,
    details: { path },
    cause: e,
  });
}

/** Make a rename durable. Best effort: some filesystems refuse fsync on directories. */
async function fsyncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fsp().open(dir, "r");
    await fh.sync();
  } catch {
    // EISDIR/EINVAL/EPERM on exotic filesystems: the data itself is already synced.
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** writeFileAtomic at 0600 into a private (0700) directory, created if needed. */
export async function writePrivateFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await ensurePrivateDir(dirname(path));
  await writeFileAtomic(path, data, 0o600);
}

/** What `readFileNoFollow` found at a path. */
export type NoFollowRead =
  | { kind: "missing" }
  | { kind: "symlink" }
  | { kind: "not-file"; what: string }
  | { kind: "file"; text: string; mode: number; uid: number; tightenedFrom?: number };

function fileType(st: import("node:fs").Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a named pipe";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  if (st.isSymbolicLink()) return "a symbolic link";
  return "not a regular file";
}

/**
 * Read a file we keep or trust only as data, without following a symbolic
 * link at its last component: lstat first (a link or anything but a regular
 * file is reported, never opened), then open with O_NOFOLLOW|O_NONBLOCK (a
 * link swapped in after the lstat fails with ELOOP; a FIFO cannot block us)
 * and check the opened file with fstat. `tighten`: a file readable or
 * writable by group/other is chmodded to 0600 through the open descriptor
 * (`tightenedFrom` then holds its old mode).
 */
export async function readFileNoFollow(path: string, opts: { tighten?: boolean } = {}): Promise<NoFollowRead> {
  // Synchronous calls: the files read this way are small (claims, the names index, config files),
  // and five thread-pool hops cost more than the reads themselves.
  let st: import("node:fs").Stats;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "missing" };
    throw e;
  }
  if (st.isSymbolicLink()) return { kind: "symlink" };
  if (!st.isFile()) return { kind: "not-file", what: fileType(st) };
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { kind: "missing" };
    if (code === "ELOOP") return { kind: "symlink" };
    throw e;
  }
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) return { kind: "not-file", what: fileType(fst) };
    let tightenedFrom: number | undefined;
    if (opts.tighten && (fst.mode & 0o077) !== 0) {
      tightenedFrom = fst.mode & 0o777;
      fchmodSync(fd, 0o600);
    }
    const text = readFileSync(fd, "utf8");
    return { kind: "file", text, mode: tightenedFrom === undefined ? fst.mode & 0o777 : 0o600, uid: fst.uid, ...(tightenedFrom !== undefined ? { tightenedFrom } : {}) };
  } finally {
    closeSync(fd);
  }
}

/** lstat-based existence: a dangling or hostile symbolic link "exists" (so it can be refused). */
export function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `dir` (a directory we would create if missing) can really be
 * written: a temporary directory is made and removed in `dir`, or, when `dir`
 * does not exist yet, in its nearest existing ancestor (where mkdir -p would
 * start). Nothing is left behind. Throws `state_dir_unwritable` (exit 2).
 */
export async function probeWritable(dir: string): Promise<void> {
  let at = resolve(dir);
  while (!lexists(at) && dirname(at) !== at) at = dirname(at);
  let made: string | undefined;
  try {
    made = await fsp().mkdtemp(join(at, ".crabbox-doctor-"));
  } catch (e) {
    const missing = at !== resolve(dir);
    throw new CrabboxError({
      code: "state_dir_unwritable",
      message: missing ? `cannot create ${dir}: ${at} is not writable` : `${dir} is not writable`,
      why: reason(e),
      hint: `set CRABBOX_HOME to a directory you can write (export CRABBOX_HOME=$HOME/.crabbox)${missing ? "" : `, or fix the permissions of ${dir}`}`,
      exit: Exit.usage,
      details: { path: dir, tested: at },
    });
  } finally {
    if (made) await fsp().rmdir(made).catch(() => undefined);
  }
}
