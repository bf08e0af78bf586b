/**
 * The local claim store: <crabboxHome>/claims/<leaseId>.json, one file per
 * lease, validated on read, written atomically, mutated under a per-lease lock
 * (<leaseId>.lock). Directories are 0700, files 0600.
 *
 * `write` and `remove` do not lock: call them inside `withLease` (or `create`,
 * which locks itself) so that every mutation is serialised per lease.
 */
import { lstatSync, readdirSync, type Stats } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { CrabboxError, Exit } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import { type Claim, ClaimSchema, LEASE_ID_RE } from "./claim.ts";
import { assertStateHomeUsable, ensurePrivateDir, lexists, readFileNoFollow, registerPrivateRoot, symlinkRefused, writeFileAtomic } from "../fsutil.ts";
import type { LockOptions } from "./lock.ts";
import { fsp } from "../util/fsp.ts";
import { randomBase32 } from "../util/random.ts";
import { writeStderr } from "../output/write.ts";

export interface CorruptClaim {
  path: string;
  error: string;
}

export interface ClaimStore {
  /** crabboxHome ($CRABBOX_HOME or ~/.crabbox). */
  readonly root: string;
  /** <root>/claims */
  readonly claimsDir: string;
  /** Every readable claim (sorted by createdAt, then leaseId) and every file that is not one. */
  list(): Promise<{ claims: Claim[]; corrupt: CorruptClaim[] }>;
  /**
   * The slug and codespace name of every claim, from the names index
   * (claims/names.index): a claim is read only when its file changed since
   * the index saw it (inode, size and mtime differ). The claims that had to be
   * read come with it.
   */
  names(): Promise<{ entries: ClaimName[]; corrupt: number }>;
  /** The claim, null when absent; throws claim_corrupt (exit 1) for an unreadable file. */
  read(leaseId: string): Promise<Claim | null>;
  /** Validate, stamp updatedAt, write atomically. Returns what was written. Call under withLease. */
  write(claim: Claim): Promise<Claim>;
  /** Delete the claim file (absent is fine). Call under withLease. */
  remove(leaseId: string): Promise<void>;
  /** Lock the lease, re-read its claim, run fn(claim). Absent claim → lease_not_found (exit 4). */
  withLease<T>(leaseId: string, fn: (claim: Claim) => Promise<T> | T): Promise<T>;
  /** Write a new claim under its lock; refuses (claim_exists, exit 1) when one exists. */
  create(claim: Claim): Promise<Claim>;
  /** Path of a lease's claim file (validates the id). */
  claimPath(leaseId: string): string;
  /** Path of a lease's lock file (validates the id). */
  lockPath(leaseId: string): string;
}

export interface ClaimName {
  leaseId: string;
  slug: string;
  codespace: string | null;
  /** Present when the claim was read to learn its names. */
  claim?: Claim;
}

export interface ClaimStoreOptions {
  /** Passed to withLock (timeoutMs, staleMs). */
  lock?: Pick<LockOptions, "timeoutMs" | "staleMs">;
  /** Where warnings go (a claim file found readable by others and tightened). Default: stderr. */
  warn?: (message: string) => void;
  /**
   * false: a claim file readable by others is read as it is, neither tightened nor warned about, so
   * that the command's own reading does both (a look ahead of the command: lifecycle/head-start.ts).
   */
  tighten?: boolean;
}

/** Only "<leaseId>.json" names are claims; temp files, locks and anything else are ignored. */
const CLAIM_FILE_RE = /^cbx_[a-z2-7]{12}\.json$/;
const LIST_CONCURRENCY = 64;
/** claims/names.index: leaseId → [ino, size, mtimeMs, slug, codespace name | null]. A hint, always checked against the claim file's stat. */
const NAMES_INDEX = "names.index";
type NameEntry = [number, number, number, string, string | null];
/** Directories under CRABBOX_HOME besides claims/ (see src/ssh/config.ts, src/ssh/fingerprint.ts). */
const STATE_SUBDIRS = ["ssh", "ssh/cm", "sync"];
const SYMLINK_PROBLEM = "is a symbolic link; refusing to follow it";

export function assertLeaseId(leaseId: string): void {
  if (typeof leaseId !== "string" || !LEASE_ID_RE.test(leaseId)) {
    throw new CrabboxError({
      code: "invalid_lease_id",
      message: `invalid lease id ${JSON.stringify(String(leaseId)).slice(0, 80)}`,
      why: 'a lease id is "cbx_" followed by 12 characters a-z and 2-7',
      hint: "crabbox-cs list",
      exit: Exit.usage,
    });
  }
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? e);
}

/** Parse a claim file's text; a string describing the problem when it is not a valid claim. */
export function parseClaim(text: string, expectedLeaseId?: string): Claim | string {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    return `not valid JSON (${(e as Error).message})`;
  }
  if (data && typeof data === "object" && "version" in data && (data as { version: unknown }).version !== 1) {
    return `unsupported claim version ${JSON.stringify((data as { version: unknown }).version)} (this crabbox-cs reads version 1)`;
  }
  const r = v.safeParse(ClaimSchema, data);
  if (!r.success) return `does not match the claim schema: ${v.summarize(r.issues).replace(/\n/g, "; ")}`;
  if (expectedLeaseId !== undefined && r.output.leaseId !== expectedLeaseId) {
    return `holds lease ${r.output.leaseId}, but the file is named for ${expectedLeaseId}`;
  }
  return r.output;
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function createClaimStore(runtime: Runtime, opts: ClaimStoreOptions = {}): ClaimStore {
  const root = runtime.crabboxHome;
  const claimsDir = join(root, "claims");
  // Every directory we make below CRABBOX_HOME (claims, ssh, sync) is checked level by level.
  registerPrivateRoot(root);
  const warn = opts.warn ?? ((m: string) => void writeStderr(`warning: ${m}\n`));
  let dirsReady: Promise<void> | undefined;

  /**
   * CRABBOX_HOME's other directories (ssh configs, control sockets, sync
   * caches), when they exist, are checked here too: a link among them is
   * refused before any command reads or writes through it.
   */
  const checkStateDirs = async (): Promise<void> => {
    for (const sub of STATE_SUBDIRS) {
      const dir = join(root, sub);
      if (lexists(dir)) await ensurePrivateDir(dir, { root });
    }
  };

  /** Check (and tighten) what exists of CRABBOX_HOME without creating anything; once per store. */
  let homeChecked: Promise<void> | undefined;
  const checkHome = (): Promise<void> => {
    homeChecked ??= (async () => {
      assertStateHomeUsable(root, Boolean(runtime.env.CRABBOX_HOME));
      if (!lexists(root)) return;
      await ensurePrivateDir(root);
      if (lexists(claimsDir)) await ensurePrivateDir(claimsDir, { root });
      await checkStateDirs();
    })().catch((e) => {
      homeChecked = undefined;
      throw e;
    });
    return homeChecked;
  };

  const ensureDirs = (): Promise<void> => {
    dirsReady ??= (async () => {
      assertStateHomeUsable(root, Boolean(runtime.env.CRABBOX_HOME));
      await ensurePrivateDir(claimsDir, { root });
      await checkStateDirs();
    })().catch((e) => {
      dirsReady = undefined;
      throw e;
    });
    return dirsReady;
  };

  const claimPath = (leaseId: string): string => {
    assertLeaseId(leaseId);
    return join(claimsDir, `${leaseId}.json`);
  };
  const lockPath = (leaseId: string): string => {
    assertLeaseId(leaseId);
    return join(claimsDir, `${leaseId}.lock`);
  };

  /**
   * The claim at `path`, null when absent, or a string describing why it is
   * unusable. Never follows a link; a claim readable by others is tightened to 0600.
   */
  const load = async (path: string, leaseId: string): Promise<Claim | string | null> => {
    let r: Awaited<ReturnType<typeof readFileNoFollow>>;
    try {
      r = await readFileNoFollow(path, { tighten: opts.tighten !== false });
    } catch (e) {
      return `cannot read: ${describe(e)}`;
    }
    if (r.kind === "missing") return null;
    if (r.kind === "symlink") return SYMLINK_PROBLEM;
    if (r.kind === "not-file") return `is ${r.what}, not a claim file`;
    if (r.tightenedFrom !== undefined) {
      warn(`claim file ${path} was readable by others (mode ${r.tightenedFrom.toString(8).padStart(4, "0")}); tightened it to 0600`);
    }
    return parseClaim(r.text, leaseId);
  };

  const read = async (leaseId: string): Promise<Claim | null> => {
    const path = claimPath(leaseId);
    await checkHome();
    const r = await load(path, leaseId);
    if (r === SYMLINK_PROBLEM) throw symlinkRefused(path, "file");
    if (typeof r === "string") {
      throw new CrabboxError({
        code: "claim_corrupt",
        message: `the claim file for ${leaseId} is unusable`,
        why: r,
        hint: `inspect it, or move it aside so other commands ignore it: mv '${path}' '${path}.bad'`,
        exit: Exit.unexpected,
        details: { path, leaseId },
      });
    }
    return r;
  };

  const write = async (claim: Claim): Promise<Claim> => {
    const path = claimPath(claim?.leaseId);
    const stamped = { ...claim, updatedAt: new Date(runtime.now()).toISOString() };
    const r = v.safeParse(ClaimSchema, stamped);
    if (!r.success) {
      throw new CrabboxError({
        code: "claim_invalid",
        message: `refusing to write an invalid claim for ${claim.leaseId}`,
        why: v.summarize(r.issues).replace(/\n/g, "; "),
        exit: Exit.unexpected,
        details: { path },
      });
    }
    await ensureDirs();
    await writeFileAtomic(path, `${JSON.stringify(r.output, null, 2)}\n`, 0o600);
    return r.output;
  };

  const remove = async (leaseId: string): Promise<void> => {
    const path = claimPath(leaseId);
    try {
      await fsp().rm(path, { force: true });
    } catch (e) {
      throw new CrabboxError({
        code: "remove_failed",
        message: `could not remove ${path}`,
        why: describe(e),
        exit: Exit.unexpected,
        details: { path },
        cause: e,
      });
    }
  };

  const locked = async <T>(leaseId: string, fn: () => Promise<T>): Promise<T> => {
    const lp = lockPath(leaseId);
    await ensureDirs();
    // Loaded when a lease is locked (node:async_hooks with it): reading a claim does not need it.
    const { withLock } = await import("./lock.ts");
    return withLock(lp, fn, { ...opts.lock, label: `lease ${leaseId}` });
  };

  return {
    root,
    claimsDir,
    claimPath,
    lockPath,
    read,
    write,
    remove,

    async list() {
      let names: string[];
      // Existing state directories are checked (ours?) and tightened even on reads.
      await checkHome();
      try {
        names = await fsp().readdir(claimsDir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return { claims: [], corrupt: [] };
        throw new CrabboxError({
          code: "claims_unreadable",
          message: `cannot read ${claimsDir}`,
          why: describe(e),
          hint: `check the owner and permissions of ${claimsDir}`,
          exit: Exit.unexpected,
          details: { path: claimsDir },
          cause: e,
        });
      }
      const files = names.filter((n) => CLAIM_FILE_RE.test(n)).sort();
      const results = await mapLimit(files, LIST_CONCURRENCY, async (name) => {
        const path = join(claimsDir, name);
        return { path, r: await load(path, name.slice(0, -".json".length)) };
      });
      const claims: Claim[] = [];
      const corrupt: CorruptClaim[] = [];
      for (const { path, r } of results) {
        if (r === null) continue; // removed while we listed
        if (typeof r === "string") corrupt.push({ path, error: r });
        else claims.push(r);
      }
      claims.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.leaseId.localeCompare(b.leaseId));
      return { claims, corrupt };
    },

    async names() {
      await checkHome();
      let names: string[];
      try {
        // Synchronous metadata calls (a readdir and one lstat per claim): cheaper than a thread-pool hop each.
        names = readdirSync(claimsDir).filter((n) => CLAIM_FILE_RE.test(n)).sort();
      } catch {
        return { entries: [], corrupt: 0 }; // list() reports an unreadable directory
      }
      const indexPath = join(claimsDir, NAMES_INDEX);
      let index: Record<string, NameEntry> = {};
      try {
        const r = await readFileNoFollow(indexPath);
        if (r.kind === "file") {
          const data = JSON.parse(r.text) as { v?: number; entries?: Record<string, NameEntry> };
          if (data.v === 1 && data.entries && typeof data.entries === "object") index = data.entries;
        }
      } catch {}
      const next: Record<string, NameEntry> = {};
      let changed = false;
      let corrupt = 0;
      const entries = await mapLimit(names, LIST_CONCURRENCY, async (name): Promise<ClaimName | null> => {
        const leaseId = name.slice(0, -".json".length);
        const path = join(claimsDir, name);
        let st;
        try {
          st = lstatSync(path);
        } catch {
          return null; // removed while we listed
        }
        const old = index[leaseId];
        if (st.isFile() && Array.isArray(old) && old.length === 5 && old[0] === st.ino && old[1] === st.size && old[2] === st.mtimeMs && typeof old[3] === "string") {
          next[leaseId] = old;
          return { leaseId, slug: old[3], codespace: typeof old[4] === "string" ? old[4] : null };
        }
        changed = true;
        const r = await load(path, leaseId);
        if (r === null) return null;
        if (typeof r === "string") {
          corrupt++;
          return null;
        }
        const after = lstatOrNull(path);
        // Index it only if it did not change while we read it.
        if (after && after.ino === st.ino && after.size === st.size && after.mtimeMs === st.mtimeMs) {
          next[leaseId] = [st.ino, st.size, st.mtimeMs, r.slug, r.codespace?.name ?? null];
        }
        return { leaseId, slug: r.slug, codespace: r.codespace?.name ?? null, claim: r };
      });
      if (changed || Object.keys(index).length !== Object.keys(next).length) {
        // Best effort and not fsynced (a hint: a lost or stale index only means more claims are read).
        const tmp = join(claimsDir, `.${NAMES_INDEX}.${randomBase32(10)}.tmp`);
        try {
          await fsp().writeFile(tmp, `${JSON.stringify({ v: 1, entries: next })}\n`, { mode: 0o600, flag: "wx" });
          await fsp().rename(tmp, indexPath);
        } catch {
          await fsp().rm(tmp, { force: true }).catch(() => {});
        }
      }
      return { entries: entries.filter((e): e is ClaimName => e !== null), corrupt };
    },

    withLease(leaseId, fn) {
      return locked(leaseId, async () => {
        const claim = await read(leaseId);
        if (!claim) {
          throw new CrabboxError({
            code: "lease_not_found",
            message: `no claim for lease ${leaseId}`,
            why: `${claimPath(leaseId)} does not exist (released or never created)`,
            hint: "crabbox-cs list",
            exit: Exit.notFound,
            details: { leaseId },
          });
        }
        return fn(claim);
      });
    },

    create(claim) {
      return locked(claim?.leaseId, async () => {
        const path = claimPath(claim.leaseId);
        const exists = await fsp().lstat(path).then(
          () => true,
          (e: NodeJS.ErrnoException) => {
            if (e.code === "ENOENT") return false;
            throw e;
          },
        );
        if (exists) {
          throw new CrabboxError({
            code: "claim_exists",
            message: `a claim for lease ${claim.leaseId} already exists`,
            exit: Exit.unexpected,
            details: { path },
          });
        }
        return write(claim);
      });
    },
  };
}
