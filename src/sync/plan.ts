/**
 * What one sync does, decided locally and without side effects, from
 *
 * - the local view (the checkout's files: what the work root must hold),
 * - what changed locally since the last successful sync to this lease,
 * - what the remote side reported (see remote.ts).
 *
 * Result: the paths to send with rsync (present entries only: no design here
 * relies on rsync's mode-0 "missing" entries), and the remote-only paths that
 * may have to go. Whether they go is decided by the ignore rules (ignore.ts):
 * an ignored remote-only path is a cache and stays.
 *
 * All paths are latin1 byte strings ("" is the work root).
 */
import type { RemoteReport } from "./remote.ts";
import { safeRelativePath } from "./remote.ts";

/** A JS (UTF-16) path as the byte string of its UTF-8 encoding. */
export function toBytes(p: string): string {
  // biome-ignore lint: ASCII fast path
  return /^[\x00-\x7f]*$/.test(p) ? p : Buffer.from(p, "utf8").toString("latin1");
}

/** A latin1 byte string (as git's raw output reads) as the JS string of its UTF-8 decoding (U+FFFD where invalid). */
export function fromBytes(p: string): string {
  // biome-ignore lint: ASCII fast path
  return /^[\x00-\x7f]*$/.test(p) ? p : Buffer.from(p, "latin1").toString("utf8");
}

export interface PlanInput {
  /** The local view, as byte strings. */
  view: string[];
  /** Paths of the view that changed since the last successful sync (all of them when there was none). */
  changed: string[];
  /** Paths the last successful sync left remotely that are no longer in the view. */
  gone: string[];
  report: RemoteReport;
  /** What the last successful sync's rsync wrote: a "touched" report of one of these is that write. */
  written: { has(path: string): boolean };
  /** `pathSet(view)`, when the caller has it already. */
  viewSet?: PathSet;
  /** `viewDirs(view)`, when the caller has it already. */
  dirSet?: ReadonlySet<string>;
}

/** Membership in a list of paths. */
export interface PathSet {
  has(path: string): boolean;
}

/**
 * Membership in `view` without a copy of it: a binary search when `view` is
 * sorted as JS compares strings (a git listing as byte strings is: git sorts
 * bytewise), else a Set.
 */
export function pathSet(view: readonly string[]): PathSet {
  if (!isSorted(view)) return new Set(view);
  return {
    has(path: string): boolean {
      let lo = 0;
      let hi = view.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const v = view[mid]!;
        if (v === path) return true;
        if (v < path) lo = mid + 1;
        else hi = mid;
      }
      return false;
    },
  };
}

export interface Candidate {
  path: string;
  dir: boolean;
}

export interface Plan {
  /** Send these (rsync --files-from; rsync's quick check skips what is already equal). */
  send: string[];
  /** Remote-only paths: removed unless ignored (or protected). */
  candidates: Candidate[];
}

function parentOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i < 0 ? "" : p.slice(0, i);
}

/** Whether `view` is sorted as JS compares strings, without duplicates. */
function isSorted(view: readonly string[]): boolean {
  for (let i = 1; i < view.length; i++) if (!(view[i - 1]! < view[i]!)) return false;
  return true;
}

/** The first index of sorted `view` whose entry is not below `key`. */
function lowerBound(view: readonly string[], key: string): number {
  let lo = 0;
  let hi = view.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (view[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The directories that hold the view's paths ("" included). */
export function viewDirs(view: readonly string[]): Set<string> {
  const dirSet = new Set<string>([""]);
  let lastDir = "";
  for (const f of view) {
    // A sorted view lists a directory's files together: only the first of them adds anything.
    const end = f.lastIndexOf("/");
    if (end < 0 || (end === lastDir.length && f.startsWith(lastDir))) continue;
    lastDir = f.slice(0, end);
    for (let dir = lastDir; dir !== "" && !dirSet.has(dir); dir = parentOf(dir)) dirSet.add(dir);
  }
  return dirSet;
}

export function planSync(input: PlanInput): Plan {
  const { view } = input;
  const sorted = isSorted(view);
  const viewSet = input.viewSet ?? pathSet(view);
  const dirSet = input.dirSet ?? viewDirs(view);
  // The view's paths that start with `prefix`: in a sorted view, one run of it.
  const starting = (prefix: string): string[] => {
    if (!sorted) return view.filter((f) => f.startsWith(prefix));
    const out: string[] = [];
    for (let i = lowerBound(view, prefix); i < view.length && view[i]!.startsWith(prefix); i++) out.push(view[i]!);
    return out;
  };
  const under = (dir: string): string[] => starting(`${dir}/`);
  // The children of the local directories the report says changed (only those: no map of the whole tree).
  const kids = new Map<string, string[]>();
  if (input.report.mode !== "full") {
    for (const d of input.report.dirs) if (dirSet.has(d)) kids.set(d, []);
  }
  if (kids.size > 0 && sorted) {
    for (const [d, list] of kids) {
      const from = d === "" ? 0 : d.length + 1;
      const seen = new Set<string>();
      for (const f of starting(d === "" ? "" : `${d}/`)) {
        const slash = f.indexOf("/", from);
        const child = slash < 0 ? f : f.slice(0, slash);
        if (!seen.has(child)) {
          seen.add(child);
          list.push(child);
        }
      }
    }
  } else if (kids.size > 0) {
    const seen = new Set<string>();
    for (const f of view) {
      let child = f;
      for (let dir = parentOf(f); ; dir = parentOf(dir)) {
        const list = kids.get(dir);
        if (list && !seen.has(child)) {
          seen.add(child);
          list.push(child);
        }
        if (dir === "") break;
        child = dir;
      }
    }
  }

  const full = input.report.mode === "full";
  const send = new Set<string>(full ? input.view : input.changed);
  const candidates = new Map<string, boolean>();
  const candidate = (p: string, dir: boolean) => {
    if (!safeRelativePath(p) || viewSet.has(p) || dirSet.has(p)) return;
    if (!candidates.has(p) || dir) candidates.set(p, dir);
  };

  for (const g of input.gone) {
    candidate(g, false);
    for (let d = parentOf(g); d !== "" && !dirSet.has(d); d = parentOf(d)) candidate(d, true);
  }
  const files = input.report.files.concat(input.report.touched.filter((f) => !input.written.has(f)));
  for (const f of files) {
    if (viewSet.has(f)) send.add(f);
    else if (dirSet.has(f)) for (const x of under(f)) send.add(x); // a remote file where a local directory is
    else candidate(f, false);
  }
  for (const d of input.report.dirs) {
    if (viewSet.has(d)) send.add(d); // a remote directory where a local file is: rsync --force replaces it
    else if (dirSet.has(d)) {
      if (full) continue;
      // A changed local directory: anything of ours missing in it (deleted remotely) goes again.
      const present = input.report.children.get(d) ?? new Set<string>();
      for (const c of kids.get(d) ?? []) {
        if (present.has(c)) continue;
        if (viewSet.has(c)) send.add(c);
        else for (const x of under(c)) send.add(x);
      }
    } else candidate(d, true);
  }
  return { send: [...send].sort(), candidates: [...candidates].map(([path, dir]) => ({ path, dir })) };
}
