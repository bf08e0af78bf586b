/**
 * When a file's hash may be kept for as long as its lstat data stays the same (the stat caches of
 * gitstate.ts and fingerprint.ts): the one rule both follow.
 *
 * Any change to a file sets its ctime to the file system's clock. Once that clock had passed the
 * file's ctime before the file was read, a later change cannot leave the ctime (and so the stat) as
 * it was. The proof is a newer ctime among the files looked at before any was read (`newestChange`:
 * the clock had reached it; a ctime, unlike an mtime, cannot be set by hand: `tar -x` and `cp -p` set
 * the mtime back). Without one, the change must be RACY_WINDOW_MS old by our clock. Like git's
 * racy-git rule, this assumes a clock that does not step back.
 */

/** Without a newer change seen, a file changed this recently by our clock is read again next time. */
export const RACY_WINDOW_MS = 2_000;

export function hashTrusted(ctimeMs: number, newestChange: number, racyAfter: number): boolean {
  return ctimeMs < newestChange || ctimeMs < racyAfter;
}
