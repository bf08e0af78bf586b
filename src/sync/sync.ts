/**
 * Sync the local tree to the codespace so that the work root mirrors the
 * checkout (docs/sync.md):
 *
 * - the work root ends up holding exactly the local view (tracked files plus
 *   untracked ones that are not ignored, minus secrets): same paths, bytes,
 *   exec bits and symlink targets;
 * - remote-only paths that the checkout's ignore rules match (node_modules,
 *   build caches) stay; other remote-only paths go.
 *
 * One run, when something changed locally (otherwise nothing at all starts):
 *   1. one ssh session (remote.ts): reports what changed remotely since the
 *      last successful sync, then removes what the plan says must go;
 *   2. at the same time, one rsync (rsync.ts) of the locally changed paths
 *      (present entries only);
 *   3. a second rsync only when the report asks for more (files changed or
 *      removed remotely, a local directory that became a file).
 * A sync that fails leaves `pending` in the cache: the next one mirrors
 * everything (full listing, every file through rsync's quick check).
 *
 * With `inSession` (run), a small change set is not sent here: the result
 * carries a `SessionSync` for the command's own session (insession.ts), which
 * does steps 1-3 with a tar before the command starts; its state is saved
 * only once the start marker proves the set applied.
 */
import { existsSync, lstatSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CrabboxError, Exit } from "../errors.ts";
import type { ExecResult, Runtime } from "../runtime.ts";
import { proxyLogPathFor } from "../ssh/config.ts";
import { classifySshFailure, logMark, readLogSince, remoteRsyncMissingError } from "../ssh/diagnose.ts";
import { tail } from "../util/text.ts";
import { WALK_EXCLUDES, fileOrLinkSize, listFiles } from "./files.ts";
import { computeFingerprintAsync, loadSyncCache, markSyncPending, pendingPath, saveSyncCache } from "./fingerprint.ts";
import { changedSince, eachTrackedFile, gitState, type GitState } from "./gitstate.ts";
import { onceRunPasses } from "../util/jit.ts";
import { forgetState, loadState, saveState, type SyncState } from "./state.ts";
import { snapshotIndex, viewSizeFromIndex, type IndexSnapshot } from "./index-sizes.ts";
import { ignoredPaths } from "./ignore.ts";
import { fromBytes, pathSet, planSync, toBytes, viewDirs, type Candidate, type PathSet } from "./plan.ts";
import { checkMaster } from "../ssh/exec.ts";
import { checkLocalRsync, parseRsyncStats, rsyncArgs, rsyncNotFound } from "./rsync.ts";
import { ABORT_FRAME, IN_SESSION_MAX_BYTES, IN_SESSION_MAX_FILES, buildTar, changeFrame, parentDirs, reportRecords, type Codec, type Packed } from "./insession.ts";
import { encodeRemovals, inSessionSyncCommand, parseReport, startRemoteSync, stampKey, type RemoteSession, type Removal } from "./remote.ts";
import { contentMayBeSecret, secretByContent, secretByName, secretRules, withoutSecrets, type SecretRules } from "./secrets.ts";

export { checkLocalRsync, parseRsyncStats, parseRsyncVersion, rsyncArgs, rsyncRemotePath, rsyncShellQuote, MIN_RSYNC } from "./rsync.ts";

export interface SyncInput {
  leaseId: string;
  configPath: string;
  alias: string;
  localRoot: string;
  workRoot: string;
  /** The fingerprint of the last successful sync to this lease (from the claim), if any. */
  lastFingerprint: string | null;
  /** Whether localRoot is a git work tree, when the caller already knows. */
  isGit?: boolean;
  /** Called once a transfer is known to be needed, before it starts (e.g. to make sure the connection is up). */
  beforeTransfer?: () => Promise<void>;
  /** A `git status` of localRoot started earlier (gitstate.ts runStatus), used when it is recent. */
  status?: { at: number; result: Promise<ExecResult> };
  /**
   * The caller can send a small change set in the command's own session
   * (insession.ts): then such a sync returns `session` instead of running.
   */
  inSession?: boolean;
  /**
   * The command's session already opened with this state's stamp and this
   * new stamp (openEarlySession): a small change set goes there, and any other
   * change is not sent here (`deferred`: the caller syncs again once that
   * session has ended).
   */
  early?: { state: SyncState; newStamp: string };
}

/** A status started longer ago than this is not used (the tree may have changed since). */
const STATUS_FRESH_MS = 1_500;

export interface SyncResult {
  skipped: boolean;
  fingerprint: string;
  /** Files in the local view. */
  files: number;
  /** Their total size. */
  bytes: number;
  /** Files rsync actually transferred (absent when skipped). */
  transferred?: number;
  /** Paths removed remotely (deleted locally, or remote-only and not ignored). */
  deleted?: number;
  /** Bytes rsync sent over the wire (absent when skipped, 0 when rsync had nothing to do). */
  sentBytes?: number;
  /** Local files never sent because they look like secrets (docs/sync.md). */
  held: string[];
  /** Local names that are not valid UTF-8 (not synced). */
  unreadable: number;
  /** "full" when every path was checked (first sync, after a failure). */
  mode?: "full" | "incremental";
  /** ssh sessions (rsync's included) this sync opened. */
  sessions: number;
  ms: number;
  /** Set when the change set goes in the command's own session: nothing was sent yet. */
  session?: SessionSync;
  /** With `early`: something changed that does not go in that session; nothing was sent (sync again without `early`). */
  deferred?: boolean;
}

/**
 * The local check's word, the first line the command's session reads
 * (remote.ts IN_SESSION_SCRIPT): N nothing to send (the command starts), W
 * send the remote report (a change set follows), A the rsync path (the
 * session ends before the command starts).
 */
export type Verdict = "N" | "W" | "A";

/** What the command's session needs to carry a change set (ssh/exec.ts RunRemoteInput.preamble). */
export interface SessionSync {
  /** The remote shell line that runs before the nonce is claimed. */
  command(nonce: string): string;
  /** The first line on the session's stdin, once the local check has decided. */
  verdict(): Promise<Verdict>;
  /** After the verdict W: a first part of the change set to write before the report is in (null: none). */
  first(): Promise<Uint8Array | null>;
  /** The first part, or the word that there is none, is on the session's stdin (the listing may start). */
  partWritten(): void;
  /** The remote report arrived: the frame to write on the session's stdin (after the first part). */
  exchange(report: Buffer): Promise<Uint8Array>;
  /** A start (or again) marker arrived: the change set was applied; record the sync. */
  started(): void;
  /** The recorded sync, once `started` was called and the state saved; null when it never was. */
  result(): Promise<SyncResult | null>;
  /** Paths changed locally since the last sync (as git reports them; known before the view is listed). */
  changed: number;
}

export async function syncTree(runtime: Runtime, input: SyncInput): Promise<SyncResult> {
  const started = runtime.now();
  const rules = secretRules(input.localRoot, runtime.crabboxHome);
  const salt = stateSalt(input);
  if (input.isGit !== false) {
    const usable = input.early ? input.early.state : usableState(runtime, input);
    const early = input.status && runtime.now() - input.status.at <= STATUS_FRESH_MS ? input.status.result : undefined;
    // With the command's session open, a change is likely to go in it: the index is read and parsed
    // now, while git status runs, so that listing the view after it does not wait for that.
    const snapshot = input.early && early ? snapshotIndex(input.localRoot, runtime.env) : null;
    const gs = await gitState(runtime, input.localRoot, { salt, rules, stats: usable?.stats ?? {}, status: early });
    if (gs) return syncFromGit(runtime, input, started, gs, usable, salt, snapshot);
  }
  // Not while the command's session waits (its stamp is not this sync's): once it has ended.
  if (input.early) return { skipped: false, deferred: true, fingerprint: "", files: 0, bytes: 0, sessions: 0, ms: runtime.now() - started, held: [], unreadable: 0 };
  return syncFromFingerprint(runtime, input, started, rules);
}

/**
 * The check git does (gitstate.ts): one `git status` decides whether anything
 * changed; when something did, the paths that changed since the last sync come
 * from git too (its dirty records, and `git diff` when HEAD moved), and the
 * view from `git ls-files`. No per-file state is kept.
 */
async function syncFromGit(runtime: Runtime, input: SyncInput, started: number, gs: GitState, state: SyncState | null, salt: string, snapshot: IndexSnapshot | null = null): Promise<SyncResult> {
  const pending = existsSync(pendingPath(runtime, input.leaseId));
  const statsChanged = () => JSON.stringify(gs.stats) !== JSON.stringify(state?.stats ?? {});
  if (state && !pending && input.lastFingerprint === gs.key && state.key === gs.key) {
    if (statsChanged()) await saveState(runtime, input.leaseId, { ...state, stats: gs.stats });
    return { skipped: true, fingerprint: gs.key, files: state.files, bytes: state.bytes, sessions: 0, ms: runtime.now() - started, held: gs.held, unreadable: 0 };
  }
  const since = state && !pending ? await changedSince(runtime, input.localRoot, { head: state.head, dirty: new Map(state.dirty) }, gs) : null;
  const last = since ? state : null;
  const newStamp = input.early?.newStamp ?? randomStamp();
  const report = reportStarter(runtime, input, last?.stamp ?? null, newStamp);
  // The local rsync's version check, and the master check, run beside git's listing. When the
  // master is up, the remote report starts at once: it runs while the view is listed.
  // A small change set may go in the command's own session: then no report, rsync or master check here.
  const inSession = Boolean(input.inSession && since && last?.stamp && since.size <= IN_SESSION_MAX_FILES);
  let rsyncChecked: Promise<unknown> = Promise.resolve();
  let up = false;
  const prepare = async () => {
    rsyncChecked = checkLocalRsync(runtime);
    rsyncChecked.catch(() => {});
    up = await checkMaster(runtime, input.configPath, input.alias).catch(() => false);
    if (up) report.start();
  };
  const listing = () => listChanges(runtime, input, gs, since, snapshot);
  const part = inSession ? firstPart(input.localRoot, since!, secretRules(input.localRoot, runtime.crabboxHome), gs) : null;
  if (part) {
    // The part is packed at once and goes out as soon as it is, before the view is listed: the
    // codespace writes it while it walks.
    const packing = part.length > 0 ? packSet(runtime, input.localRoot, part, codecFor(last!.zstd)) : null;
    packing?.catch(() => {});
    // Marked pending before anything is applied remotely (the frame waits for it), not before the session starts.
    const pendingMarked = markSyncPending(runtime, input.leaseId);
    pendingMarked.catch(() => {});
    const session = sessionSync(runtime, input, { started, gs, state: last!, salt, newStamp, listing, pendingMarked, since: since!, part: { paths: part, packing } });
    return { skipped: false, fingerprint: gs.key, files: 0, bytes: 0, sessions: 0, ms: runtime.now() - started, held: gs.held, unreadable: 0, session };
  }
  // The command's session is open and waits: the rsync way starts once it has ended (its stamp is not this one's).
  if (input.early) return { skipped: false, deferred: true, fingerprint: gs.key, files: 0, bytes: 0, sessions: 0, ms: runtime.now() - started, held: gs.held, unreadable: 0 };
  await prepare();
  let candidates: string[];
  let held: string[];
  let unreadable: number;
  let changed: string[];
  let gone: string[];
  let typeChange: boolean;
  try {
    ({ candidates, held, unreadable, changed, gone, typeChange } = await listing());
    await rsyncChecked;
    if (!up) await input.beforeTransfer?.();
  } catch (e) {
    report.abort();
    throw e;
  }
  let view: string[] = [];
  let totalBytes = 0;
  const sizeView = (): string[] => {
    const sized = filesAndSize(input.localRoot, candidates);
    view = sized.files;
    totalBytes = sized.bytes;
    if (!since) changed = view;
    return view;
  };
  if (!since) sizeView(); // a full sync sends the whole view: it is needed first
  // It wrote the whole view of its day: every path now in the view or gone since.
  const lastWritten = (viewBytes: PathSet, goneBytes: string[]) => {
    if (!last?.wroteAll) return new Set(last?.written ?? []);
    const g = new Set(goneBytes);
    return { has: (p: string) => viewBytes.has(p) || g.has(p) };
  };

  await markSyncPending(runtime, input.leaseId);
  const done = await mirror(runtime, input, { view: () => (since ? sizeView() : view), changed, gone, typeChange, lastWritten, source: "git", report });
  await saveState(runtime, input.leaseId, {
    v: 3,
    root: input.localRoot,
    salt,
    key: gs.key,
    head: gs.head,
    dirty: [...gs.dirty],
    stats: gs.stats,
    stamp: newStamp,
    zstd: done.zstd,
    ...(done.wroteAll ? { wroteAll: true } : { written: done.written }),
    files: view.length,
    bytes: totalBytes,
  });
  rmSync(pendingPath(runtime, input.leaseId), { force: true });
  return {
    skipped: false,
    fingerprint: gs.key,
    files: view.length,
    bytes: totalBytes,
    transferred: done.transferred,
    deleted: done.removed,
    sentBytes: done.sentBytes,
    mode: last?.stamp ? "incremental" : "full",
    sessions: done.sessions,
    ms: runtime.now() - started,
    held,
    unreadable,
  };
}

interface Listing {
  /** The view's candidates (JS strings; files and links are picked when sized). */
  candidates: string[];
  held: string[];
  unreadable: number;
  /** Present paths that changed since the last sync, and paths gone since. */
  changed: string[];
  gone: string[];
  /** A local directory became a file (removals must go first). */
  typeChange: boolean;
  /** The view's file count and size, when the listing read git's index itself (summed in the same pass). */
  size?: { files: number; bytes: number };
}

/**
 * The view (the index's paths, no walk, and the untracked files status found) and what changed in it,
 * in one pass over git's listing: nothing else here grows with the tree (no set of every path, no sort).
 */
async function listChanges(runtime: Runtime, input: SyncInput, gs: GitState, since: Set<string> | null, snapshot: IndexSnapshot | null): Promise<Listing> {
  onceRunPasses();
  const root = input.localRoot;
  const base = root.endsWith("/") ? root : `${root}/`;
  const rules = secretRules(root, runtime.crabboxHome);
  const absent = new Set<string>();
  for (const [p, sig] of gs.dirty) if (sig === "-") absent.add(p);
  // The paths whose presence the change set needs (a changed path, or a parent of one: a type change).
  const asked = new Set<string>();
  for (const p of since ?? []) for (let i = p.length; i > 0; i = p.lastIndexOf("/", i - 1)) asked.add(p.slice(0, i));
  const inView = new Set<string>();
  const candidates: string[] = [];
  let held = new Set(gs.held);
  const unreadable = new Set<string>();
  let last: string | null = null;
  // Each path once (git's bytes): an unmerged path comes once per stage, an untracked copy of a path
  // may be tracked too. The JS name when the path is in the view, else null.
  const take = (bytes: string): string | null => {
    if (bytes === last) return null;
    last = bytes;
    const name = fromBytes(bytes);
    if (name.includes("\uFFFD")) unreadable.add(name);
    else if (absent.has(name)) return null;
    else if (secretByName(name, rules) || (contentMayBeSecret(name) && secretByContent(name, base + name))) held.add(name);
    else {
      candidates.push(name);
      if (asked.has(name)) inView.add(name);
      return name;
    }
    return null;
  };
  // The untracked paths merge into the index's order (bytewise, as JS compares byte strings).
  const untracked = gs.untracked.map(toBytes).sort();
  let u = 0;
  // The index itself when this code can read it, with the view's size summed in the same pass (no
  // second walk); else `git ls-files -c` (the same entries in the same order), and an lstat per path
  // for the size.
  const reset = () => {
    candidates.length = 0;
    held = new Set(gs.held);
    unreadable.clear();
    inView.clear();
    last = null;
    u = 0;
  };
  // The walk below is synchronous: what the caller starts beside the listing (the session's
  // verdict, the tar) goes out first.
  await new Promise<void>((resolve) => setImmediate(resolve));
  const size =
    viewSizeFromIndex({
      root,
      env: runtime.env,
      visit: (e) => {
        while (u < untracked.length && untracked[u]! <= e.path) take(untracked[u++]!);
        const name = take(e.path);
        return name !== null && !gs.dirty.has(name) ? name : null;
      },
      reset,
      reported: () => {
        while (u < untracked.length) take(untracked[u++]!); // the untracked paths after the index's last entry
        return reportedPaths(gs, held);
      },
      // A reported file's size as the local check's lstat found it (gitstate.ts): one lstat per dirty file, not two.
      known: (name) => gs.stats[name]?.[0],
      snapshot,
    }) ?? undefined;
  if (!size) {
    reset();
    const listed = await eachTrackedFile(runtime, root, (p) => {
      while (u < untracked.length && untracked[u]! <= p) take(untracked[u++]!);
      take(p);
    });
    if (!listed) throw new CrabboxError({ code: "git_ls_files_failed", message: `git ls-files failed in ${root}`, hint: "Fix the repository (try `git status` there), or run from a directory outside git", exit: Exit.unexpected });
  }
  while (u < untracked.length) take(untracked[u++]!);
  const heldList = [...held].sort();
  if (!since) return { candidates, held: heldList, unreadable: unreadable.size, changed: [], gone: [], typeChange: false, size };
  // What changed: only those paths are looked at here (the full view is sized while rsync runs).
  const present = (p: string) => inView.has(p) && isFileOrLink(root, p);
  const changed = [...since].filter(present).sort();
  const sent = new Set(changed);
  const gone = [...since].filter((p) => !sent.has(p)).sort();
  // A local directory that became a file: removals must go before rsync.
  const typeChange = gone.some((g) => {
    for (let i = g.lastIndexOf("/"); i > 0; i = g.lastIndexOf("/", i - 1)) if (present(g.slice(0, i))) return true;
    return false;
  });
  return { candidates, held: heldList, unreadable: unreadable.size, changed, gone, typeChange, size };
}

/** The paths git status reported that are in the view (sized by the check's lstat, or lstat). */
function reportedPaths(gs: GitState, held: ReadonlySet<string>): string[] {
  const reported: string[] = [];
  for (const [p, sig] of gs.dirty) if (sig !== "-" && !held.has(p) && !p.includes("\uFFFD")) reported.push(p);
  return reported;
}

/**
 * Before the view is listed, in one lstat per changed path: null unless the paths that changed
 * hold at most IN_SESSION_MAX_BYTES and none sits under a parent that is now a file or a link (a
 * type change: that goes the rsync way); else the change set's first part: the changed files and
 * links here that are no secrets and that git status reported present (a tracked or an untracked
 * file it listed, so in the view whatever the listing says), as byte strings, sorted. A path that
 * changed only between two HEADs may be ignored here: it waits for the listing.
 */
function firstPart(root: string, since: Set<string>, rules: SecretRules, gs: GitState): string[] | null {
  const base = root.endsWith("/") ? root : `${root}/`;
  let bytes = 0;
  const part: string[] = [];
  for (const p of since) {
    let st;
    try {
      st = lstatSync(base + p);
    } catch {} // gone, or a parent is no directory any more (checked below)
    if (st) {
      if (!st.isFile() && !st.isSymbolicLink()) continue;
      bytes += st.size;
      if (bytes > IN_SESSION_MAX_BYTES) return null;
      const sig = gs.dirty.get(p);
      if (sig !== undefined && sig !== "-" && !p.includes("\uFFFD") && !secretByName(p, rules) && !secretByContent(p, base + p)) part.push(toBytes(p));
      continue;
    }
    for (let i = p.lastIndexOf("/"); i > 0; i = p.lastIndexOf("/", i - 1)) if (isFileOrLink(root, p.slice(0, i))) return null;
  }
  return part.sort();
}

/**
 * The change set in the command's session (insession.ts): the same plan as
 * `mirror` makes, from the report the session sends before the command, and
 * the same state saved, only once the start marker proves it was applied.
 */
function sessionSync(
  runtime: Runtime,
  input: SyncInput,
  c: {
    started: number;
    gs: GitState;
    state: SyncState;
    salt: string;
    newStamp: string;
    /** Lists the view (its walk holds the thread): started once the part is on the session's stdin. */
    listing: () => Promise<Listing>;
    pendingMarked: Promise<void>;
    since: Set<string>;
    /** The first part (firstPart: byte strings, sorted), and its packing, started before the listing. */
    part: { paths: string[]; packing: Promise<Packed | null> | null };
  },
): SessionSync {
  let view: string[] = [];
  let viewSet: PathSet = new Set<string>();
  let dirSet: ReadonlySet<string> = new Set<string>();
  let listing: Listing | null = null;
  let changed: string[] = [];
  let gone: string[] = [];
  // Whether what changed here fits in the session (a type change goes the rsync way).
  let fits = false;
  // The plan needs the view's paths only. Git's listing is the view here: paths git reports gone
  // are out of it, a type change goes the rsync way, trees with submodules or nested
  // repositories never come this way.
  // The listing's walk holds the thread: it starts once the part (or word that there is none) is on
  // the session's stdin, so that the part is not held up by it.
  let startListing!: () => void;
  const ready = new Promise<void>((resolve) => (startListing = resolve)).then(c.listing).then((l) => {
    listing = l;
    view = l.candidates.map(toBytes);
    viewSet = pathSet(view);
    dirSet = viewDirs(view);
    changed = l.changed.map(toBytes);
    gone = l.gone.map(toBytes);
    fits = !l.typeChange && changed.length <= IN_SESSION_MAX_FILES && filesAndSize(input.localRoot, l.changed).bytes <= IN_SESSION_MAX_BYTES;
  });
  ready.catch(() => {});
  // The view's size (the summary's figures) is summed once the frames are out: nothing waits for it but the record.
  let sizing: Promise<{ files: number; bytes: number }> | null = null;
  const sized = () => (sizing ??= ready.then(() => viewSize(input.localRoot, listing!)));
  // The part goes as the codespace's last report allowed (it comes before this one's), the rest as this one says.
  const pack = (paths: string[], codec: Codec) => packSet(runtime, input.localRoot, paths, codec);
  const { paths: partPaths, packing } = c.part;
  // What changed here and git status reported present (in the view whatever the listing says) goes
  // whatever the codespace reports: a `P` frame, as soon as it is packed, before the listing is in;
  // the codespace writes it while it walks. The rest (removals, what the report adds) is the `S` frame.
  let part: { send: Set<string>; bytes: number } | null = null;
  let framed = false;
  const first = (async (): Promise<Uint8Array | null> => {
    const packed = await packing;
    if (!packed || packed.tar.length === 0) return null;
    await c.pendingMarked;
    framed = true;
    part = { send: new Set(partPaths), bytes: packed.tar.length };
    return changeFrame(new Uint8Array(0), packed, "P");
  })();
  first.catch(() => {});
  let sent: { written: string[]; bytes: number; removals: number; zstd: boolean } | null = null;
  let saving: Promise<SyncResult> | null = null;
  const abort = async () => {
    sent = null;
    // Nothing is applied after "A" but a part already sent: the last sync's record stands (pending when a set went).
    await c.pendingMarked.catch(() => {});
    if (!framed) rmSync(pendingPath(runtime, input.leaseId), { force: true });
    return ABORT_FRAME;
  };
  return {
    changed: c.since.size,
    command: (nonce) => inSessionSyncCommand(input.workRoot, stampKey(input.leaseId, input.workRoot), c.state.stamp, c.newStamp, nonce),
    verdict: async () => "W",
    first: () => first.catch(() => null),
    partWritten: () => startListing(),
    async exchange(bytes) {
      startListing();
      await ready;
      await first.catch(() => null);
      if (!fits) return abort();
      const report = parseReport(reportRecords(bytes));
      if (report.mode === "full") return abort();
      const last = c.state;
      const g = new Set(gone);
      const written = last.wroteAll ? { has: (p: string) => viewSet.has(p) || g.has(p) } : new Set(last.written ?? []);
      const plan = planSync({ view, viewSet, dirSet, changed, gone, report, written });
      if (plan.send.length > IN_SESSION_MAX_FILES) return abort();
      // The rest: what the report adds to the part already sent.
      const p = part as typeof part;
      const removals = await decideRemovals(runtime, input.localRoot, "git", plan.candidates);
      const packed = await pack(p ? plan.send.filter((f) => !p.send.has(f)) : plan.send, codecFor(report.zstd));
      if (!packed) return abort();
      await c.pendingMarked;
      framed = true;
      sent = { written: plan.send, bytes: (p?.bytes ?? 0) + packed.tar.length, removals: removals.length, zstd: Boolean(report.zstd) };
      setImmediate(() => void sized().catch(() => {}));
      return changeFrame(encodeRemovals(removals), packed);
    },
    started() {
      if (!sent || saving) return;
      const s = sent;
      const wroteAll = s.written.length >= view.length;
      saving = (async () => {
        const { files, bytes: totalBytes } = await sized();
        await saveState(runtime, input.leaseId, {
          v: 3,
          root: input.localRoot,
          salt: c.salt,
          key: c.gs.key,
          head: c.gs.head,
          dirty: [...c.gs.dirty],
          stats: c.gs.stats,
          stamp: c.newStamp,
          zstd: s.zstd,
          ...(wroteAll ? { wroteAll: true } : { written: s.written }),
          files,
          bytes: totalBytes,
        });
        rmSync(pendingPath(runtime, input.leaseId), { force: true });
        return {
          skipped: false,
          fingerprint: c.gs.key,
          files,
          bytes: totalBytes,
          transferred: s.written.length,
          deleted: s.removals,
          sentBytes: s.bytes,
          mode: "incremental" as const,
          sessions: 0,
          ms: runtime.now() - c.started,
          held: listing?.held ?? [],
          unreadable: listing?.unreadable ?? 0,
        };
      })();
    },
    result: () => saving ?? Promise.resolve(null),
  };
}

/** A tar of these paths (byte strings) under root, compressed with `codec`, and the directories it needs; empty for none; null when tar fails or it is too big. */
async function packSet(runtime: Runtime, root: string, paths: string[], codec: Codec): Promise<Packed | null> {
  if (paths.length === 0) return { dirs: new Uint8Array(0), tar: new Uint8Array(0), codec };
  const dirs = parentDirs(root, paths);
  if (!dirs) return null;
  const tar = await buildTar(runtime, root, paths, join(runtime.crabboxHome, "sync"), codec);
  return tar && tar.length <= IN_SESSION_MAX_BYTES + 1024 * (paths.length + 20) ? { dirs, tar, codec } : null;
}

/** zstd when the codespace said it has it, else gzip (insession.ts Codec). */
function codecFor(zstd: boolean | undefined): Codec {
  return zstd ? "zst" : "gz";
}

/** A sync state belongs to one local root, and to one lease alias and work root (its salt). */
function stateSalt(input: { alias: string; workRoot: string }): string {
  return `${input.alias}\0${input.workRoot}`;
}

/** The last sync's state for this lease, when it was made from this root to this alias and work root. */
function usableState(runtime: Runtime, input: { leaseId: string; alias: string; localRoot: string; workRoot: string }): SyncState | null {
  const state = loadState(runtime, input.leaseId);
  return state && state.root === input.localRoot && state.salt === stateSalt(input) ? state : null;
}

function randomStamp(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
}

/** A command session opened before the local check: its preamble, and how the check settles it. */
export interface EarlySession {
  /** The preamble for the command's session (it waits for `decide`). */
  session: SessionSync;
  /** For syncTree (SyncInput.early). */
  early: { state: SyncState; newStamp: string };
  /** The check's outcome: N (skipped), W with the change set's own SessionSync, or A. Only the first call counts. */
  decide(verdict: Verdict, inner?: SessionSync): void;
}

/**
 * Open the command's session before the local check (run): possible when the
 * last sync to this lease left a usable state (a remote stamp to list
 * against, no failed sync pending). Its remote side lists what changed there
 * while git looks here; the command starts only after the check's word. Null
 * when there is no such state: the check comes first, as without this.
 */
export function openEarlySession(runtime: Runtime, input: { leaseId: string; alias: string; localRoot: string; workRoot: string }): EarlySession | null {
  const state = usableState(runtime, input);
  if (!state?.stamp) return null;
  if (existsSync(pendingPath(runtime, input.leaseId))) return null;
  const newStamp = randomStamp();
  let inner: SessionSync | undefined;
  let settle!: (v: Verdict) => void;
  const decided = new Promise<Verdict>((resolve) => (settle = resolve));
  let done = false;
  const session: SessionSync = {
    changed: 0,
    command: (nonce) => inSessionSyncCommand(input.workRoot, stampKey(input.leaseId, input.workRoot), state.stamp, newStamp, nonce),
    verdict: () => decided,
    async first() {
      await decided;
      return inner ? inner.first() : null;
    },
    partWritten: () => inner?.partWritten(),
    async exchange(report) {
      await decided;
      return inner ? inner.exchange(report) : ABORT_FRAME;
    },
    started: () => inner?.started(),
    result: () => inner?.result() ?? Promise.resolve(null),
  };
  return {
    session,
    early: { state, newStamp },
    decide(verdict, withSet) {
      if (done) return;
      done = true;
      inner = verdict === "W" ? withSet : undefined;
      settle(verdict === "W" && !withSet ? "A" : verdict);
    },
  };
}

function isFileOrLink(root: string, rel: string): boolean {
  return fileOrLinkSize(root.endsWith("/") ? root + rel : `${root}/${rel}`) !== null;
}

/** Regular files and symlinks only (a gitlink or a tracked path that became a directory is not sent), and their total size. */
function filesAndSize(root: string, paths: string[]): { files: string[]; bytes: number } {
  const base = root.endsWith("/") ? root : `${root}/`;
  const files: string[] = [];
  let bytes = 0;
  for (const f of paths) {
    const size = fileOrLinkSize(base + f);
    if (size === null) continue;
    bytes += size;
    files.push(f);
  }
  return { files, bytes };
}

/**
 * The view's file count and total size: as the listing summed it from git's
 * index (index-sizes.ts), else (the index could not be read here) one lstat
 * per path of the view.
 */
export async function viewSize(root: string, listing: Pick<Listing, "candidates" | "size">): Promise<{ files: number; bytes: number }> {
  return listing.size ?? sizeAsync(root, listing.candidates);
}

/** filesAndSize's count and total, in slices that let the event loop run between them (an exchange, the command's output). */
async function sizeAsync(root: string, paths: string[]): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (let i = 0; i < paths.length; i += 512) {
    if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    const s = filesAndSize(root, paths.slice(i, i + 512));
    files += s.files.length;
    bytes += s.bytes;
  }
  return { files, bytes };
}

/** The remote report session (remote.ts), started at most once. */
interface ReportStarter {
  start(): RemoteSession;
  started(): boolean;
  abort(): void;
}

function reportStarter(runtime: Runtime, input: SyncInput, oldStamp: string | null, newStamp: string): ReportStarter {
  let session: RemoteSession | undefined;
  return {
    start: () =>
      (session ??= startRemoteSync(runtime, {
        configPath: input.configPath,
        alias: input.alias,
        workRoot: input.workRoot,
        key: stampKey(input.leaseId, input.workRoot),
        oldStamp,
        newStamp,
        leaseId: input.leaseId,
      })),
    started: () => session !== undefined,
    abort: () => session?.abort(),
  };
}

/** The stat-and-hash check (fingerprint.ts), for trees git cannot describe alone: outside git, with submodules or nested repositories. */
async function syncFromFingerprint(runtime: Runtime, input: SyncInput, started: number, rules: ReturnType<typeof secretRules>): Promise<SyncResult> {
  const listed = await listFiles(runtime, input.localRoot, input.isGit);
  const utf8 = listed.files.filter((f) => !f.includes("\uFFFD"));
  const { files, held } = withoutSecrets(input.localRoot, utf8, rules);
  const base = { held, unreadable: listed.files.length - utf8.length };
  const cache = loadSyncCache(runtime, input.leaseId, input.localRoot);
  const recovering = cache.pending === true;
  const last = recovering ? null : cache.lastSync;

  // 1. What changed remotely, and the removals that makes necessary: one session. As soon as the
  // local check meets a changed file, the master is asked (a local socket query); when it is up,
  // the session starts then and overlaps the rest of the check. Otherwise it starts once the
  // lease is brought up. An unchanged tree starts nothing at all.
  const newStamp = randomStamp();
  const report = reportStarter(runtime, input, last?.stamp ?? null, newStamp);
  let masterChecked: Promise<boolean> | undefined;
  let done = false;
  const fp = await computeFingerprintAsync(input.localRoot, files, cache, runtime.now(), `${input.alias}\0${input.workRoot}`, cache.lastSync?.sent ?? {}, () => {
    masterChecked = checkMaster(runtime, input.configPath, input.alias).then(
      (up) => {
        if (up && !done) report.start();
        return up;
      },
      () => false,
    );
  });
  done = true;
  if (input.lastFingerprint !== null && fp.fingerprint === input.lastFingerprint && !cache.pending) {
    report.abort(); // a touched file whose content did not change
    if (fp.dirty) await saveSyncCache(runtime, input.leaseId, cache);
    await masterChecked;
    return { skipped: true, fingerprint: fp.fingerprint, files: fp.files.length, bytes: fp.totalBytes, sessions: 0, ms: runtime.now() - started, ...base };
  }
  try {
    await checkLocalRsync(runtime);
    // A master found up a moment ago is used as it is; otherwise the caller brings the lease up.
    if (!report.started() || !(await masterChecked)) await input.beforeTransfer?.();
  } catch (e) {
    report.abort();
    throw e;
  }

  // From here on, a failure leaves `pending`: the next sync mirrors everything.
  cache.pending = true;
  await markSyncPending(runtime, input.leaseId);
  forgetState(runtime, input.leaseId);

  const sent = cache.lastSync?.sent ?? {};
  const changed = last ? fp.files.filter((f) => sent[f] !== fp.signatures.get(f)) : fp.files;
  const gone = Object.keys(sent).filter((f) => !fp.signatures.has(f));
  const lastWritten = () => new Set(last?.wroteAll ? Object.keys(sent).map(toBytes) : (last?.written ?? []));
  const viewSet = new Set(fp.files);
  const typeChange = gone.some((g) => {
    for (let i = g.lastIndexOf("/"); i > 0; i = g.lastIndexOf("/", i - 1)) if (viewSet.has(g.slice(0, i))) return true;
    return false;
  });
  const r = await mirror(runtime, input, { view: () => fp.files, changed, gone, typeChange, lastWritten, source: listed.source, report });

  cache.lastSync = { fingerprint: fp.fingerprint, sent: Object.fromEntries(fp.signatures), stamp: newStamp, ...(r.wroteAll ? { wroteAll: true } : { written: r.written }) };
  cache.pending = false;
  await saveSyncCache(runtime, input.leaseId, cache);
  return {
    skipped: false,
    fingerprint: fp.fingerprint,
    files: fp.files.length,
    bytes: fp.totalBytes,
    transferred: r.transferred,
    deleted: r.removed,
    sentBytes: r.sentBytes,
    mode: last?.stamp ? "incremental" : "full",
    sessions: r.sessions,
    ms: runtime.now() - started,
    ...base,
  };
}

interface MirrorInput {
  /** The local view (JS strings): asked for once the early rsync is under way. */
  view: () => string[];
  /** A local directory became a file (then removals go before rsync). */
  typeChange: boolean;
  /** Paths of the view that changed since the last successful sync (the whole view without one). */
  changed: string[];
  /** Paths the last successful sync may have left remotely that are no longer in the view. */
  gone: string[];
  /** What the last successful sync's rsync wrote (latin1 byte strings), given the view and gone paths (as bytes). */
  lastWritten: (view: PathSet, gone: string[]) => { has(path: string): boolean };
  source: "git" | "walk";
  report: ReportStarter;
}

/**
 * Steps 1-3 (the module comment): the report session and the early rsync in
 * parallel, the removals, then a second rsync when the report asks for more.
 * The caller has marked the sync pending.
 */
async function mirror(runtime: Runtime, input: SyncInput, m: MirrorInput): Promise<{ transferred: number; sentBytes: number; removed: number; sessions: number; written: string[]; wroteAll: boolean; zstd: boolean }> {
  const changed = m.changed.map(toBytes);
  const gone = m.gone.map(toBytes);
  const remote = m.report.start();
  // 2. Meanwhile, rsync sends what changed locally (present paths only) over the same master,
  // unless a local directory became a file (then rsync's --force and the removals would race).
  const early = m.typeChange ? [] : changed;
  const earlyRsync = early.length > 0 ? runRsync(runtime, input, early) : Promise.resolve({ transferred: 0, sentBytes: 0 });
  earlyRsync.catch(() => {});
  const view = m.view().map(toBytes);
  const viewSet = pathSet(view);
  let removed = 0;
  let plan;
  let zstd = false;
  try {
    const report = await remote.report;
    zstd = Boolean(report.zstd);
    const inFlight = new Set(early);
    plan = planSync({ view, viewSet, changed, gone, report, written: m.lastWritten(viewSet, gone) });
    // The report ran beside the early rsync: its temporary files are not strays.
    const removals = await decideRemovals(runtime, input.localRoot, m.source, plan.candidates.filter((c) => !rsyncTempOf(c.path, inFlight)));
    removed = (await remote.finish(removals)).removed;
  } catch (e) {
    remote.abort();
    await earlyRsync.catch(() => {});
    throw e;
  }
  const stats = await earlyRsync;
  let sessions = 1 + (early.length > 0 ? 1 : 0);
  // 3. What the remote report added (files changed or deleted remotely, a type change).
  const sentEarly = new Set(early);
  const rest = plan.send.filter((p) => !sentEarly.has(p));
  const written = early.concat(rest);
  const wroteAll = written.length >= view.length;
  if (rest.length > 0) {
    const more = await runRsync(runtime, input, rest);
    stats.transferred += more.transferred;
    stats.sentBytes += more.sentBytes;
    sessions++;
  }
  return { ...stats, removed, sessions, written, wroteAll, zstd };
}

/**
 * Whether `path` is the temporary file rsync writes beside one of `sending`
 * while it transfers it (`dir/.name.XXXXXX`, renamed to `dir/name` when done).
 */
export function rsyncTempOf(path: string, sending: ReadonlySet<string>): boolean {
  const slash = path.lastIndexOf("/");
  const m = /^\.(.+)\.[A-Za-z0-9]{6}$/.exec(path.slice(slash + 1));
  if (!m) return false;
  const target = `${path.slice(0, slash + 1)}${m[1]}`;
  return sending.has(target);
}

/** Remote-only paths go unless the checkout's ignore rules match them (caches) or they are secrets. */
async function decideRemovals(runtime: Runtime, localRoot: string, source: "git" | "walk", candidates: Candidate[]): Promise<Removal[]> {
  const open = candidates.filter((c) => {
    const name = Buffer.from(c.path, "latin1").toString("utf8");
    const baseName = name.slice(name.lastIndexOf("/") + 1);
    return !secretByName(name, { crabboxHome: null }) && baseName !== ".npmrc";
  });
  let ignored: boolean[] | null;
  if (source === "git") ignored = await ignoredPaths(runtime, localRoot, open);
  else ignored = open.map((c) => c.path.split("/").some((part) => WALK_EXCLUDES.includes(part)));
  if (ignored === null) return []; // git could not answer: keep everything rather than guess
  const go = open.filter((_, i) => !ignored![i]);
  const depth = (p: string) => p.split("/").length;
  const files = go.filter((c) => !c.dir).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const dirs = go.filter((c) => c.dir).sort((a, b) => depth(b.path) - depth(a.path));
  return [...files.map((c) => ({ op: "x" as const, path: c.path })), ...dirs.map((c) => ({ op: "d" as const, path: c.path }))];
}

async function runRsync(runtime: Runtime, input: SyncInput, send: string[]): Promise<{ transferred: number; sentBytes: number }> {
  const logPath = proxyLogPathFor(input.configPath);
  const mark = logMark(logPath);
  // The list goes on rsync's stdin (--files-from=-): rsync starts now, with no file to write first.
  const r = await runtime.exec(rsyncArgs({ listPath: "-", configPath: input.configPath, alias: input.alias, localRoot: input.localRoot, workRoot: input.workRoot, makeRoot: true }), {
    input: Buffer.from(`${send.join("\0")}\0`, "latin1"),
  });
  if (r.spawnError) throw rsyncNotFound(r.spawnError);
  // 24: some source files vanished while rsync ran; what exists was sent.
  if (r.code !== 0 && r.code !== 24) {
    const proxyOut = readLogSince(logPath, mark);
    if (/rsync: (command )?not found|rsync: No such file or directory/i.test(r.stderr)) {
      throw remoteRsyncMissingError(tail(r.stderr) || "the remote side of rsync could not be started");
    }
    if (r.code === 255 || r.code === 12 || r.code === 10 || r.code === 5 || /connection (closed|refused|timed out)|kex_exchange|Permission denied \(/i.test(r.stderr)) {
      if (r.code === 255 || /ssh|connection|kex_exchange|Permission denied/i.test(r.stderr + proxyOut)) {
        throw classifySshFailure(r.stderr, proxyOut, "rsync could not connect to the codespace over ssh");
      }
    }
    throw new CrabboxError({
      code: "sync_failed",
      message: `rsync failed (exit ${r.code})`,
      why: tail(r.stderr) || undefined,
      hint: `fix the path rsync names above (in the codespace: crabbox-cs ssh --id ${input.leaseId}), then rerun: the next sync checks the whole work root again; --verbose shows rsync's full output`,
      exit: Exit.unexpected,
    });
  }
  return parseRsyncStats(r.stdout);
}
