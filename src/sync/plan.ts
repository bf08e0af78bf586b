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
  /** `new Set(view)`, when the caller has it already. */
  viewSet?: Set<string>;
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

export function planSync(input: PlanInput): Plan {
  const viewSet = input.viewSet ?? new Set(input.view);
  const dirSet = new Set<string>([""]);
  for (const f of input.view) {
    for (let dir = parentOf(f); dir !== "" && !dirSet.has(dir); dir = parentOf(dir)) dirSet.add(dir);
  }
  // The children of the local directories the report says changed (only those: no map of the whole tree).
  const kids = new Map<string, string[]>();
  if (input.report.mode !== "full") {
    for (const d of input.report.dirs) if (dirSet.has(d)) kids.set(d, []);
  }
  if (kids.size > 0) {
    const seen = new Set<string>();
    for (const f of input.view) {
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
  const under = (dir: string): string[] => input.view.filter((f) => f.startsWith(`${dir}/`));

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
