/**
 * Private directories and crash-safe file writes for our state under ~/.crabbox
 * (claims, ssh configs, sync caches).
 */
import * as fsp from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { CrabboxError, Exit } from "./errors.ts";
import { randomBase32 } from "./leases/ids.ts";

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? e);
}

/**
 * mkdir -p `path` with mode 0700. An existing directory with group/other bits
 * is tightened to 0700. A directory owned by another user is refused (exit 5):
 * we never keep claims where someone else controls them.
 */
export async function ensurePrivateDir(path: string): Promise<void> {
  try {
    await fsp.mkdir(path, { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CrabboxError({
      code: "state_dir_unusable",
      message: `cannot create directory ${path}`,
      why: reason(e),
      hint:
        code === "EEXIST" || code === "ENOTDIR"
          ? `a path component of ${path} is a file: move it aside, or set CRABBOX_HOME to another directory`
          : `check the permissions of ${dirname(path)}, or set CRABBOX_HOME to a directory you own`,
      exit: Exit.usage,
      details: { path },
      cause: e,
    });
  }
  const st = await fsp.stat(path);
  if (!st.isDirectory()) {
    throw new CrabboxError({
      code: "state_dir_unusable",
      message: `${path} is not a directory`,
      hint: `move it aside, or set CRABBOX_HOME to another directory`,
      exit: Exit.usage,
      details: { path },
    });
  }
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
  if ((st.mode & 0o077) !== 0) await fsp.chmod(path, 0o700);
}

/** The filesystem calls writeFileAtomic makes; tests inject failures here. */
export interface AtomicWriteIo {
  open: typeof fsp.open;
  rename: typeof fsp.rename;
}

const realIo: AtomicWriteIo = { open: fsp.open, rename: fsp.rename };

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
  const io = { ...realIo, ...opts.io };
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
    if (created) await fsp.rm(tmp, { force: true }).catch(() => {});
    throw new CrabboxError({
      code: "write_failed",
      message: `could not write ${path}`,
      why: reason(e),
      hint: "check free disk space and the permissions of the directory; the previous version of the file is intact",
      exit: Exit.unexpected,
      details: { path },
      cause: e,
    });
  }
  await fsyncDir(dir);
}

/** Make a rename durable. Best effort: some filesystems refuse fsync on directories. */
async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, "r");
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
