/**
 * The git listing of a sync (src/sync/sync.ts listChanges, gitstate.ts
 * eachTrackedFile) and the plan's view lookups (plan.ts): the listing is read
 * as git writes it, in git's bytes, and nothing holds a second copy of the
 * view; the view it makes is the same as before (each path once, unreadable
 * names counted, secrets held back), whatever order UTF-16 and bytes disagree on.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, lstatSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRuntime, type Child } from "../../src/runtime.ts";
import { writeLeaseConfig } from "../../src/ssh/config.ts";
import { probe } from "../../src/ssh/readiness.ts";
import { eachTrackedFile, gitState } from "../../src/sync/gitstate.ts";
import { secretRules } from "../../src/sync/secrets.ts";
import { pathSet, planSync, toBytes, type Plan, type PlanInput } from "../../src/sync/plan.ts";
import { safeRelativePath, type RemoteReport } from "../../src/sync/remote.ts";
import { syncTree } from "../../src/sync/sync.ts";
import { startHarness, type Harness } from "./helpers/sshd.ts";

describe("eachTrackedFile", () => {
  test("hands over each path while git is still writing, as git's bytes, across chunk boundaries", async () => {
    let push!: (chunk: Uint8Array) => void;
    let close!: () => void;
    const stdout = new ReadableStream<Uint8Array>({
      start(c) {
        push = (chunk) => c.enqueue(chunk);
        close = () => c.close();
      },
    });
    let exit!: (code: number) => void;
    const exited = new Promise<{ code: number; signal: null }>((r) => (exit = (code) => r({ code, signal: null })));
    const argvs: string[][] = [];
    const runtime = createRuntime({
      spawn: (argv) => {
        argvs.push(argv);
        return { pid: 1, exited, kill: () => {}, stdout, stderr: new Response("").body!, stdin: null } as Child;
      },
    });
    const got: string[] = [];
    let first!: () => void;
    const firstSeen = new Promise<void>((r) => (first = r));
    const done = eachTrackedFile(runtime, "/repo", (p) => {
      got.push(p);
      first();
    });
    push(new TextEncoder().encode("a.txt\0sub/b"));
    // A listing read whole would only start after git closed its output: this waits forever then.
    await firstSeen;
    expect(got).toEqual(["a.txt"]);
    push(new Uint8Array([0xc3]));
    push(new Uint8Array([0xa9, 0, 0x62, 0xff, 0]));
    close();
    exit(0);
    expect(await done).toBe(true);
    // "sub/bé" as its UTF-8 bytes, and a name that is not UTF-8 at all, each as a latin1 byte string.
    expect(got).toEqual(["a.txt", "sub/b\u00c3\u00a9", "b\u00ff"]);
    expect(argvs).toEqual([["git", "ls-files", "-c", "-z"]]);
  });

  test("a failing git is false", async () => {
    const runtime = createRuntime({
      spawn: () => ({ pid: 1, exited: Promise.resolve({ code: 128, signal: null }), kill: () => {}, stdout: new Response("").body!, stderr: new Response("fatal: not a git repository").body!, stdin: null }) as Child,
    });
    expect(await eachTrackedFile(runtime, "/nowhere", () => {})).toBe(false);
  });
});

describe("hashing dirty files", () => {
  test("a file larger than the whole-file limit (read in chunks) hashes to the SHA-256 of its bytes, as a small one does", async () => {
    const dir = mkdtempSync("/tmp/cbx-hash-");
    try {
      Bun.spawnSync(["git", "init", "-q", dir]);
      const contents: Record<string, Buffer> = { small: randomBytes(1000), edge: randomBytes(1024 * 1024), over: randomBytes(1024 * 1024 + 1), big: randomBytes(3 * 1024 * 1024 + 12345) };
      // One at a time: a file that is the newest change is read and hashed (an older one is signed by its stat).
      for (const [name, bytes] of Object.entries(contents)) {
        writeFileSync(join(dir, name), bytes);
        const gs = await gitState(createRuntime(), dir, { salt: "s", rules: secretRules(dir, join(dir, "..", "home")), stats: {} });
        const mode = statSync(join(dir, name)).mode.toString(8);
        expect({ name, sig: gs!.dirty.get(name) }).toEqual({ name, sig: `${mode}:w${createHash("sha256").update(bytes).digest("hex")}` });
        rmSync(join(dir, name));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("pathSet", () => {
  test("a sorted view is searched in place (no copy of it); any other view still answers exactly", () => {
    const view = ["a", "a/b", "a/c", "b.txt", "\u00c3\u00a9", "\u00ee\u0080\u0080", "\u00f0\u009f\u0098\u0080"];
    const sorted = pathSet(view);
    expect(sorted instanceof Set).toBe(false);
    for (const p of view) expect(sorted.has(p)).toBe(true);
    for (const p of ["", "a/", "a/bb", "b", "c", "\u00ff"]) expect(sorted.has(p)).toBe(false);
    const shuffled = pathSet([...view].reverse());
    for (const p of view) expect(shuffled.has(p)).toBe(true);
    expect(shuffled.has("c")).toBe(false);
    const dup = pathSet(["a", "a", "b"]);
    expect(dup.has("a") && dup.has("b") && !dup.has("c")).toBe(true);
  });
});

/** planSync as it was before it used the view's order (a map of every path's parents, a walk of the whole view). */
function wholeViewPlan(input: PlanInput): Plan {
  const parentOf = (p: string) => (p.lastIndexOf("/") < 0 ? "" : p.slice(0, p.lastIndexOf("/")));
  const viewSet = new Set(input.view);
  const dirSet = new Set<string>([""]);
  for (const f of input.view) for (let dir = parentOf(f); dir !== "" && !dirSet.has(dir); dir = parentOf(dir)) dirSet.add(dir);
  const kids = new Map<string, string[]>();
  if (input.report.mode !== "full") for (const d of input.report.dirs) if (dirSet.has(d)) kids.set(d, []);
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
  for (const f of input.report.files.concat(input.report.touched.filter((f) => !input.written.has(f)))) {
    if (viewSet.has(f)) send.add(f);
    else if (dirSet.has(f)) for (const x of under(f)) send.add(x);
    else candidate(f, false);
  }
  for (const d of input.report.dirs) {
    if (viewSet.has(d)) send.add(d);
    else if (dirSet.has(d)) {
      if (full) continue;
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

describe("planSync over a sorted view", () => {
  // A seeded generator: the same cases every run.
  let seed = 20261203;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const names = ["a", "b", "a.b", "a-b", "ab", "\u00c3\u00a9", "z"];
  const randomPath = () => Array.from({ length: 1 + rnd(3) }, () => names[rnd(names.length)]!).join("/");

  test("the same plan as the whole-view walk, over the view sorted (runs of it) or not (a walk)", () => {
    for (let round = 0; round < 200; round++) {
      const files = new Set<string>();
      for (let i = 0; i < 30; i++) files.add(randomPath());
      // A path and a path under it cannot both be files.
      const view = [...files].filter((f) => ![...files].some((g) => g.startsWith(`${f}/`))).sort();
      const dirs = new Set<string>([""]);
      for (const f of view) for (let i = f.indexOf("/"); i > 0; i = f.indexOf("/", i + 1)) dirs.add(f.slice(0, i));
      const pick = <T>(xs: T[], n: number) => Array.from({ length: n }, () => xs[rnd(xs.length)]!).filter((x) => x !== undefined);
      const reportDirs = [...new Set(pick([...dirs, randomPath()], 3))];
      const children = new Map<string, Set<string>>(reportDirs.map((d) => [d, new Set(pick(view, 4).map((f) => f.split("/").slice(0, d === "" ? 1 : d.split("/").length + 1).join("/")))]));
      // Remote files where local files, local directories or nothing are; local paths gone (or a directory's now).
      const report = { mode: "incremental", files: pick([...view, ...dirs, randomPath()], 3), touched: pick(view, 2), dirs: reportDirs, children } as unknown as RemoteReport;
      const input = { changed: pick(view, 2), gone: [randomPath(), ...pick([...dirs], 1).map((d) => `${d}/gone`)], report, written: new Set<string>() };
      const expected = wholeViewPlan({ ...input, view });
      const asMap = (p: Plan) => new Map(p.candidates.map((c) => [c.path, c.dir]));
      for (const v of [view, [...view].reverse()]) {
        const plan = planSync({ ...input, view: v });
        expect(plan.send).toEqual(expected.send);
        expect(asMap(plan)).toEqual(asMap(expected));
      }
    }
  });
});

describe("the view a git sync lists", () => {
  let h: Harness;
  let local: string;
  let remote: string;
  let cfg: { path: string; alias: string };
  const LEASE = "cbx_listing000001";
  const env = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@e", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@e" };
  const git = (...args: string[]) => {
    const p = Bun.spawnSync(["git", "-C", local, ...args], { env });
    return { code: p.exitCode, out: p.stdout.toString() + p.stderr.toString() };
  };
  const ok = (...args: string[]) => {
    const r = git(...args);
    if (r.code !== 0) throw new Error(r.out);
  };
  // Every file under dir, as latin1 byte strings.
  const walk = (dir: Buffer, prefix = ""): string[] =>
    readdirSync(dir, { encoding: "buffer" }).flatMap((b) => {
      const abs = Buffer.concat([dir, Buffer.from("/"), b]);
      const rel = prefix + b.toString("latin1");
      return lstatSync(abs).isDirectory() ? walk(abs, `${rel}/`) : [rel];
    });

  beforeAll(async () => {
    h = await startHarness();
    h.runtime.crabboxHome = join(h.dir, "home");
    cfg = await writeLeaseConfig(h.runtime, LEASE, h.ghOutput);
    local = join(h.dir, "local");
    remote = join(h.remoteDir, "work");
    mkdirSync(join(local, "sub"), { recursive: true });
    // U+E000 sorts after an astral character's surrogates in UTF-16, before its bytes in UTF-8.
    for (const f of ["a.txt", "c.txt", "sub/x.txt", "\u{1F600}.txt", "\uE000.txt", ".env"]) writeFileSync(join(local, f), `${f}\n`);
    writeFileSync(Buffer.from(`${local}/bad\xff.txt`, "latin1"), "not utf-8\n");
    ok("init", "-q", "-b", "main");
    ok("add", "-A");
    ok("commit", "-qm", "init");
    // An unmerged path: the index holds it three times.
    ok("checkout", "-qb", "other");
    writeFileSync(join(local, "c.txt"), "theirs\n");
    ok("commit", "-qam", "theirs");
    ok("checkout", "-q", "main");
    writeFileSync(join(local, "c.txt"), "ours\n");
    ok("commit", "-qam", "ours");
    expect(git("merge", "-q", "other").code).not.toBe(0);
    expect(git("ls-files", "-c").out.split("\n").filter((l) => l === "c.txt").length).toBe(3);
    // Untracked: between tracked names, not ASCII, and a secret.
    writeFileSync(join(local, "b-new.txt"), "b\n");
    writeFileSync(join(local, "sub", "\u00fc.txt"), "u\n");
    writeFileSync(join(local, ".env.local"), "TOKEN=x\n");
    const r = await probe(h.runtime, { configPath: cfg.path, alias: cfg.alias, workRoot: remote });
    expect(r.workRootWritable).toBe(true);
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  test("each path once, unreadable names counted, secrets held back; then one change is all that is sent", async () => {
    const r = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: null });
    const expected = ["a.txt", "b-new.txt", "c.txt", "sub/x.txt", "sub/\u00fc.txt", "\u{1F600}.txt", "\uE000.txt"];
    expect({ files: r.files, unreadable: r.unreadable, held: r.held }).toEqual({ files: expected.length, unreadable: 1, held: [".env", ".env.local"] });
    expect(walk(Buffer.from(remote)).sort()).toEqual(expected.map(toBytes).sort());
    expect(readFileSync(join(remote, "c.txt"), "utf8")).toContain("ours");

    writeFileSync(join(local, "\uE000.txt"), "changed\n");
    const again = await syncTree(h.runtime, { leaseId: LEASE, configPath: cfg.path, alias: cfg.alias, localRoot: local, workRoot: remote, lastFingerprint: r.fingerprint });
    expect({ mode: again.mode, files: again.files, transferred: again.transferred, unreadable: again.unreadable }).toEqual({ mode: "incremental", files: expected.length, transferred: 1, unreadable: 1 });
    expect(readFileSync(join(remote, "\uE000.txt"), "utf8")).toBe("changed\n");
    expect(walk(Buffer.from(remote)).sort()).toEqual(expected.map(toBytes).sort());
  });
});
