/**
 * The remote half of a sync: one ssh session (over the lease's ControlMaster)
 * that runs a small POSIX sh script in the work root. It
 *
 *   1. touches a new stamp file (outside the work root, under
 *      ${XDG_CACHE_HOME:-$HOME/.cache}/crabbox-cs/sync/), before it looks;
 *   2. reports what changed under the work root since the stamp of the last
 *      successful sync (`find -cnewer`: created, modified, renamed, chmodded;
 *      a changed directory also lists its entries, so a remote deletion shows;
 *      a file whose mtime is not newer, i.e. what our own rsync wrote last
 *      time, is told apart),
 *      or every path when there is no usable stamp (first sync, after a
 *      failure, no -cnewer): NUL-terminated records on stdout, then "E";
 *   3. reads a NUL-separated list of removals on stdin (the local side decides
 *      them from that report, see plan.ts) and applies them, strictly inside
 *      the work root.
 *
 * Names never go through a shell parser: they travel as NUL-separated bytes,
 * reach `sh` as arguments through `xargs -0`, and are used as "./name" words.
 * A removal is refused for an absolute path or a `.`, `..` or empty component
 * (and anything inside a `.git`); it is skipped when a parent is a symlink or
 * not a directory (nothing of the work root is there); each parent is entered
 * with `cd -P` after an `[ -L ]` check, and the physical location is checked to
 * still be inside the work root before anything is removed. `x<path>` removes
 * a non-directory (a directory is left alone), `d<path>` removes an empty
 * directory, or the non-directory found there instead (the local side only
 * guesses a path's kind from its own history: a path that was a directory
 * there may be a file here, and it goes all the same).
 *
 * Needs on the remote side: a POSIX sh, find (with -cnewer for the cheap
 * path; without it every sync lists everything), xargs -0, rm, rmdir.
 */
import { CrabboxError, Exit } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import { proxyLogPathFor } from "../ssh/config.ts";
import { classifySshFailure, logMark, readLogSince } from "../ssh/diagnose.ts";
import { sshArgs } from "../ssh/exec.ts";
import { quoteWorkRoot, shQuote } from "../ssh/quote.ts";

/**
 * Applies the removal records given as arguments; $1 is the physical work root. An in-session
 * frame's records may end with directory records, `m<octal mode> <path>` (insession.ts parentDirs,
 * parents first): each is made sure to be a real directory before the frame's tar is unpacked. A
 * symlink or anything else standing there is removed (nothing is written through it; its parents
 * were made sure of just before), a missing one is made with that mode, one that is there is left
 * alone.
 */
export const DELETE_SCRIPT = `
LC_ALL=C; export LC_ALL
phys=$1; shift
fail=0; n=0; cur=; ok=0
flush() { if [ $# -gt 0 ]; then rm -f -- "$@" || fail=1; fi; }
for r; do
  # A directory record for a directory that is there (the usual case): nothing to do.
  case $r in m*" "*) d=$phys/\${r#* }; if [ -d "$d" ] && [ ! -L "$d" ]; then continue; fi;; esac
  op=\${r%"\${r#?}"}; p=\${r#?}
  if [ "$op" = m ]; then
    case $p in *" "*) m=\${p%% *}; p=\${p#* };; *) m=; esac
    case $m in ""|*[!0-7]*) printf 'crabbox-sync: refusing the directory record %s\\n' "$r" >&2; fail=1; continue;; esac
  fi
  case $p in ""|/*) printf 'crabbox-sync: refusing to remove %s\\n' "$p" >&2; fail=1; continue;; esac
  case /$p/ in */../*|*/./*|*//*|*/.git/*) printf 'crabbox-sync: refusing to remove %s\\n' "$p" >&2; fail=1; continue;; esac
  if [ "$op" = m ]; then
    flush "$@"; set --; cur=
    d=$phys/$p
    if [ -L "$d" ] || { [ -e "$d" ] && [ ! -d "$d" ]; }; then rm -f -- "$d" || { fail=1; continue; }; fi
    [ -d "$d" ] || mkdir -m "$m" -- "$d" || fail=1
    continue
  fi
  case $p in */*) dir=\${p%/*}; leaf=\${p##*/};; *) dir=.; leaf=$p;; esac
  if [ "$op" = d ] || [ "$dir" != "$cur" ]; then
    flush "$@"; set --; cur=$dir; ok=1
    cd -P -- "$phys" || exit 3
    if [ "$dir" != . ]; then
      rest=$dir
      while [ -n "$rest" ]; do
        case $rest in */*) c=\${rest%%/*}; rest=\${rest#*/};; *) c=$rest; rest=;; esac
        if [ -L "./$c" ] || [ ! -d "./$c" ]; then ok=0; break; fi
        cd -P -- "./$c" || { ok=0; break; }
      done
      case $PWD/ in "$phys"/*) ;; *) ok=0;; esac
    fi
  fi
  [ $ok = 1 ] || continue
  if [ "$op" = d ]; then
    if [ -d "./$leaf" ] && [ ! -L "./$leaf" ]; then rmdir -- "./$leaf" 2>/dev/null && n=$((n+1))
    elif [ -L "./$leaf" ] || [ -e "./$leaf" ]; then if rm -f -- "./$leaf"; then n=$((n+1)); else fail=1; fi; fi
    cur=
  elif [ -L "./$leaf" ] || { [ -e "./$leaf" ] && [ ! -d "./$leaf" ]; }; then
    set -- "$@" "./$leaf"; n=$((n+1))
  fi
done
flush "$@"
printf 'D%s\\n' "$n"
exit $fail
`;

/**
 * Lists the entries of each changed directory given as arguments: a `d` record per directory, then
 * find's own names of their entries (one readdir each, no stat), which start with "./" (the walk's
 * names do) and so tell themselves apart from the records. REPORT_START checked that find takes
 * -mindepth, -maxdepth and -print0 before it chose the incremental report.
 */
export const KIDS_SCRIPT = `printf 'd%s\\000' "$@"; exec find "$@" -mindepth 1 -maxdepth 1 -print0`;

/**
 * Both reports' start: into the physical work root (made if missing), the new
 * stamp written and older ones dropped, and ref the last good stamp when the
 * work root has not been touched since (the incremental report), else empty.
 */
const REPORT_START = `
LC_ALL=C; export LC_ALL
root=$1; key=$2; old=$3; new=$4
sdir=\${XDG_CACHE_HOME:-$HOME/.cache}/crabbox-cs/sync
if ! { { [ -d "$root" ] || mkdir -p -- "$root"; } && cd -P -- "$root"; }; then printf 'crabbox-sync: cannot enter the work root %s\\n' "$root" >&2; exit 3; fi
phys=$PWD
if ! { { [ -d "$sdir" ] || mkdir -p -- "$sdir"; } && : > "$sdir/$key.$new"; }; then printf 'crabbox-sync: cannot write the sync stamp in %s\\n' "$sdir" >&2; exit 4; fi
for s in "$sdir/$key".*; do
  case $s in "$sdir/$key.$new"|"$sdir/$key.$old") ;; *) rm -f -- "$s";; esac
done
ref=
if [ -n "$old" ] && [ -f "$sdir/$key.$old" ] && find . -mindepth 0 -maxdepth 0 -cnewer "$sdir/$key.$old" -print0 >/dev/null 2>&1; then ref=$sdir/$key.$old; fi
kids=${shQuote(KIDS_SCRIPT)}
z=; if command -v zstd >/dev/null 2>&1; then z='z\\000'; fi
`;

/** $1 work root, $2 stamp key, $3 last good stamp id (or empty), $4 new stamp id. */
const MAIN_SCRIPT = `${REPORT_START}err="$sdir/$key.$new.err"
if [ -n "$ref" ]; then
  printf "Mincr\\000$z"
  find . -name .git -prune -o -cnewer "$ref" \\( -type d -exec sh -c "$kids" sh {} + -o -newer "$ref" -exec printf 'f%s\\000' {} + -o -exec printf 'g%s\\000' {} + \\) 2>"$err"
else
  printf "Mfull\\000$z"
  find . -name .git -prune -o \\( -type d -exec printf 'd%s\\000' {} + -o -exec printf 'f%s\\000' {} + \\) 2>"$err"
fi
st=$?
# A path that vanished while find walked (a file renamed into place by rsync, a build writing
# beside us) is not a failure: the listing is of what is there. Anything else is.
if [ $st -ne 0 ] && grep -v 'No such file or directory' "$err" | grep -q .; then
  cat "$err" >&2; rm -f -- "$err"; printf 'crabbox-sync: listing the work root failed\\n' >&2; exit 5
fi
rm -f -- "$err"
printf 'E\\000'
exec xargs -0 sh -c ${shQuote(DELETE_SCRIPT)} sh "$phys"
`;

/**
 * The sync part of a command's own session (insession.ts): $1 work root, $2
 * stamp key, $3 last good stamp id, $4 new stamp id, $5 the run's nonce. The
 * session may open before the local side knows whether anything changed: the
 * stamp is written and the listing (the same `find` as above, into a file)
 * starts at once, in the background, while the script reads one verdict line
 * from stdin:
 *   - `N`: nothing to send; the listing is stopped, the new stamp dropped (the
 *     last good one stands) and the command starts;
 *   - `A`: the local side wants the rsync path; the session ends before the
 *     nonce is claimed (exit 7), nothing applied;
 *   - `W`: one more line comes at once: `R` (no part), or the header of a
 *     `P` frame (a part: what changed locally, which goes whatever this side
 *     reports), applied while the listing still runs (what it writes may show
 *     in the report; the local side sends nothing twice). Then the listing is
 *     awaited and sent on stderr as one framed marker (`report:<length>` and
 *     that many bytes), and frames are read from stdin until `S`, the last.
 *     A frame is a header line `P|S <removals> <tar> <codec>`, exactly that
 *     many bytes of each (head -c reads no further, so the rest of stdin stays
 *     the command's) and the line `.` (a stream cut short leaves head -c short
 *     and no such line after it), received whole and then applied: the
 *     removals as in the sync session, the tar (zstd or gzip) unpacked by GNU
 *     tar (which strips leading slashes and refuses `..` members) into the
 *     physical work root.
 *     `A` instead of a frame ends the session as above (whatever a `P` wrote
 *     is then part of what the rsync path mirrors again).
 * `read` takes one line byte by byte, and no line means no command: a local
 * side that dies before its word ends the session with nothing run. Exit 0
 * only when all of it worked; the command starts after that.
 */
const IN_SESSION_SCRIPT = `${REPORT_START}nonce=$5
err="$sdir/$key.$new.err"; rep="$sdir/$key.$new.rep"; rm="$sdir/$key.$new.rm"; tarf="$sdir/$key.$new.tar"
wpid=
if [ -n "$ref" ]; then
  printf "Mincr\\000$z" >"$rep" || exit 5
  find . -name .git -prune -o -cnewer "$ref" \\( -type d -exec sh -c "$kids" sh {} + -o -newer "$ref" -exec printf 'f%s\\000' {} + -o -exec printf 'g%s\\000' {} + \\) >>"$rep" 2>"$err" &
  wpid=$!
else
  printf "Mfull\\000$z" >"$rep" || exit 5
  : >"$err"
fi
stopwalk() { if [ -n "$wpid" ]; then kill "$wpid" 2>/dev/null; wait "$wpid" 2>/dev/null; fi; rm -f -- "$err" "$rep"; }
# One frame, its header line in $1: received whole, then applied. 6: not a frame; 8: not applied.
frame() {
  set -- $1
  [ $# -eq 4 ] || return 6
  case $2$3 in *[!0-9]*) return 6;; esac
  case $4 in gz) zo=-z;; zst) zo="-I zstd";; *) return 6;; esac
  ok=1
  # Whole, or not at all: head -c stops short only at end of file, and then no end line follows.
  if [ "$2" -gt 0 ]; then head -c "$2" >"$rm" || ok=0; fi
  if [ $ok = 1 ] && [ "$3" -gt 0 ]; then head -c "$3" >"$tarf" || ok=0; fi
  if [ $ok = 1 ]; then IFS= read -r e && [ "$e" = . ] || { rm -f -- "$rm" "$tarf"; return 6; }; fi
  if [ $ok = 1 ] && [ "$2" -gt 0 ]; then xargs -0 sh -c ${shQuote(DELETE_SCRIPT)} sh "$phys" <"$rm" >/dev/null || ok=0; fi
  if [ $ok = 1 ] && [ "$3" -gt 0 ]; then tar -x $zo -p --no-same-owner -f "$tarf" -C "$phys" || ok=0; fi
  [ "$2$3" = 00 ] || rm -f -- "$rm" "$tarf"
  [ $ok = 1 ] || { printf 'crabbox-sync: applying the change set failed\\n' >&2; return 8; }
}
IFS= read -r verdict || { stopwalk; exit 6; }
case $verdict in
  N) stopwalk; rm -f -- "$sdir/$key.$new"; exit 0;;
  W) ;;
  *) stopwalk; exit 7;;
esac
# The part (what changed here) comes now when there is one, and is written while the walk goes on.
IFS= read -r hdr || { stopwalk; exit 6; }
case $hdr in
  R) ;;
  "P "*) frame "$hdr" || { st=$?; stopwalk; exit $st; };;
  *) stopwalk; exit 7;;
esac
st=0
if [ -n "$wpid" ]; then wait "$wpid"; st=$?; fi
if [ $st -ne 0 ] && grep -v 'No such file or directory' "$err" | grep -q .; then
  cat "$err" >&2; rm -f -- "$err" "$rep"; printf 'crabbox-sync: listing the work root failed\\n' >&2; exit 5
fi
n=$(wc -c <"$rep") || exit 5
printf '\\037crabbox-cs:%s:report:%s\\n' "$nonce" $n >&2
cat "$rep" >&2; rm -f -- "$rep" "$err"
while :; do
  IFS= read -r hdr || exit 6
  case $hdr in "P "*|"S "*) ;; *) exit 7;; esac
  frame "$hdr" || exit $?
  case $hdr in S*) break;; esac
done
`;

/** The in-session sync as a shell line that runs before the command (exits the session when it fails). */
export function inSessionSyncCommand(workRoot: string, key: string, oldStamp: string, newStamp: string, nonce: string): string {
  for (const s of [key, oldStamp, newStamp, nonce]) if (!/^[A-Za-z0-9_-]+$/.test(s)) throw new Error(`bad stamp name ${s}`);
  return `LC_ALL=C sh -c ${shQuote(IN_SESSION_SCRIPT)} crabbox-sync ${quoteWorkRoot(workRoot)} ${key} ${oldStamp} ${newStamp} ${nonce}`;
}

/** What the remote side reported (paths relative to the work root, as latin1 byte strings; "" is the root). */
export interface RemoteReport {
  /** "full": every path is listed; "incremental": only what changed since the last good stamp. */
  mode: "full" | "incremental";
  /** Changed (or, when full, all) directories. */
  dirs: string[];
  /** Changed (or all) non-directories. */
  files: string[];
  /**
   * Incremental only: non-directories whose status changed but whose mtime is not newer than
   * the stamp: what the last sync's rsync wrote (rsync keeps mtimes), or a remote
   * chmod/rename/mtime-preserving copy.
   */
  touched: string[];
  /** Incremental only: the entries of each changed directory, keyed by that directory. */
  children: Map<string, Set<string>>;
  /** The codespace has `zstd` (a change set's tar may travel zstd-compressed: insession.ts Codec). */
  zstd?: boolean;
}

export interface Removal {
  /** "x": remove a non-directory; "d": remove a directory if empty, or the non-directory found there. */
  op: "x" | "d";
  /** Relative path as a latin1 byte string. */
  path: string;
}

/** The stamp files of one lease and work root share this prefix. */
export function stampKey(leaseId: string, workRoot: string): string {
  return `${leaseId}-${new Bun.CryptoHasher("sha256").update(workRoot).digest("hex").slice(0, 12)}`;
}

export function remoteSyncCommand(workRoot: string, key: string, oldStamp: string | null, newStamp: string): string {
  for (const s of [key, oldStamp ?? "", newStamp]) if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error(`bad stamp name ${s}`);
  return `LC_ALL=C exec sh -c ${shQuote(MAIN_SCRIPT)} crabbox-sync ${quoteWorkRoot(workRoot)} ${key} ${shQuote(oldStamp ?? "")} ${newStamp}`;
}

/** Strip find's "./" (the root itself is "."). */
function rel(p: string): string {
  if (p === ".") return "";
  return p.startsWith("./") ? p.slice(2) : p;
}

/** Parse the records before "E" (latin1 strings keep every byte). */
export function parseReport(records: string[]): RemoteReport {
  const report: RemoteReport = { mode: "full", dirs: [], files: [], touched: [], children: new Map() };
  let lastDir: string | null = null;
  for (const r of records) {
    const kind = r[0];
    const body = r.slice(1);
    if (kind === "M") report.mode = body === "incr" ? "incremental" : "full";
    else if (kind === "d") {
      lastDir = rel(body);
      report.dirs.push(lastDir);
      if (report.mode === "incremental") report.children.set(lastDir, new Set());
    } else if (kind === "f") report.files.push(rel(body));
    else if (kind === "g") report.touched.push(rel(body));
    else if (kind === "z") report.zstd = true;
    else if (kind === "." && lastDir !== null) {
      // An entry of a changed directory, as find names it (KIDS_SCRIPT).
      const child = rel(r);
      const slash = child.lastIndexOf("/");
      const parent = slash < 0 ? "" : child.slice(0, slash);
      const set = report.children.get(parent) ?? report.children.set(parent, new Set()).get(parent)!;
      set.add(child);
    }
  }
  return report;
}

/** True for a relative path the remote script would accept (no absolute path, no ., .. or empty part, nothing in .git). */
export function safeRelativePath(p: string): boolean {
  if (p === "" || p.startsWith("/")) return false;
  return p.split("/").every((c) => c !== "" && c !== "." && c !== ".." && c !== ".git");
}

export function encodeRemovals(removals: Removal[]): Uint8Array {
  return Buffer.from(removals.map((r) => `${r.op}${r.path}\0`).join(""), "latin1");
}

export interface RemoteSession {
  /** What changed remotely (resolves once the remote side has listed). */
  report: Promise<RemoteReport>;
  /** Send the removals and wait for the session to end. */
  finish(removals: Removal[]): Promise<{ removed: number }>;
  /** End the session without removing anything (e.g. when planning failed). */
  abort(): void;
}

function sessionError(code: number | null, stderr: string, what: string, leaseId: string, workRoot?: string): CrabboxError {
  const lines = stderr.trim().split("\n").filter(Boolean);
  // The script's exit 3: the work root cannot be made or entered (a one-shot run has no probe that would have said so).
  if (code === 3 && workRoot !== undefined) {
    return new CrabboxError({
      code: "work_root_unwritable",
      message: `the work root ${workRoot} cannot be created or entered in the codespace`,
      why: lines.slice(-5).join("\n") || undefined,
      hint: "Choose a writable directory with --github-codespaces-work-root (e.g. ~/crabbox or /workspaces/<repo>)",
      exit: Exit.sshUnusable,
      details: { workRoot },
    });
  }
  return new CrabboxError({
    code: "sync_remote_failed",
    message: `${what} in the codespace failed (exit ${code})`,
    why: lines.slice(-5).join("\n") || undefined,
    hint: `fix the path named above in the codespace (crabbox-cs ssh --id ${leaseId}), then rerun: the next sync checks the whole work root again`,
    exit: code === 255 ? Exit.sshConnect : Exit.unexpected,
  });
}

/** Start the session: the report streams back while the caller waits for it. */
export function startRemoteSync(
  runtime: Runtime,
  input: { configPath: string; alias: string; workRoot: string; key: string; oldStamp: string | null; newStamp: string; leaseId: string },
): RemoteSession {
  const logPath = proxyLogPathFor(input.configPath);
  const mark = logMark(logPath);
  const fail = async (code: number | null, what: string) => {
    const stderr = await stderrText;
    if (code === 255) return classifySshFailure(stderr, readLogSince(logPath, mark), "could not connect to the codespace over ssh to sync");
    return sessionError(code, stderr, what, input.leaseId, input.workRoot);
  };
  const command = remoteSyncCommand(input.workRoot, input.key, input.oldStamp, input.newStamp);
  const child = runtime.spawn(sshArgs({ configPath: input.configPath, alias: input.alias, tty: false, command }), {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stderrText = child.stderr ? new Response(child.stderr).text() : Promise.resolve("");
  const reader = child.stdout!.getReader();
  let buf = Buffer.alloc(0);
  let ended = false;
  const readMore = async (): Promise<boolean> => {
    if (ended) return false;
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      return false;
    }
    buf = buf.length ? Buffer.concat([buf, value]) : Buffer.from(value);
    return true;
  };
  const report = (async () => {
    const records: string[] = [];
    let start = 0;
    for (;;) {
      let nul: number;
      while ((nul = buf.indexOf(0, start)) >= 0) {
        const rec = buf.toString("latin1", start, nul);
        start = nul + 1;
        if (rec === "E") {
          buf = buf.subarray(start);
          return parseReport(records);
        }
        records.push(rec);
      }
      buf = buf.subarray(start);
      start = 0;
      if (!(await readMore())) {
        const exit = await child.exited;
        throw await fail(exit.code, "listing the work root");
      }
    }
  })();
  report.catch(() => {});
  return {
    report,
    abort() {
      try {
        child.stdin?.end();
        child.kill("SIGTERM");
      } catch {}
    },
    async finish(removals) {
      child.stdin!.write(encodeRemovals(removals));
      child.stdin!.end();
      while (await readMore());
      const exit = await child.exited;
      const out = buf.toString("latin1");
      let removed = 0;
      for (const m of out.matchAll(/D(\d+)\n/g)) removed += Number(m[1]);
      if (exit.code !== 0) throw await fail(exit.code, "removing paths");
      return { removed };
    },
  };
}
