/**
 * The rsync order bug (issue 17): with `--files-from` + `--delete-missing-args`, a
 * present entry followed by a now-deleted path makes a hardened receiver reject the
 * mode-0 "missing" entry. The sync no longer sends missing entries at all: rsync
 * gets present paths only (rsyncArgs), and removals go through the remote script.
 * This runs plain rsync, local dirs, with exactly the options our sync uses, on the
 * list our plan makes for a `git mv`, and checks the mirror.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { planSync } from "../../src/sync/plan.ts";
import { rsyncArgs } from "../../src/sync/rsync.ts";

const tmp = mkdtempSync(join(tmpdir(), "cbx-rsync-order-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("a present entry followed by a deleted path: the list holds present entries only, and the mirror is exact", () => {
  const src = join(tmp, "src");
  const dst = join(tmp, "dst");
  mkdirSync(join(src, "lib"), { recursive: true });
  mkdirSync(join(dst, "lib"), { recursive: true });
  // The remote holds the old tree; locally lib/one.js was renamed to lib/uno.js (git mv) and keep changed.
  writeFileSync(join(src, "keep"), "a\n");
  writeFileSync(join(src, "lib", "uno.js"), "one\n");
  writeFileSync(join(dst, "keep"), "old\n");
  writeFileSync(join(dst, "lib", "one.js"), "one\n");

  const plan = planSync({
    view: ["keep", "lib/uno.js"],
    changed: ["keep", "lib/uno.js"],
    gone: ["lib/one.js"],
    report: { mode: "incremental", dirs: [], files: [], touched: [], children: new Map() },
    written: new Set(),
  });
  // The deleted path is never an rsync entry: it is a removal candidate.
  expect(plan.send).toEqual(["keep", "lib/uno.js"]);
  expect(plan.candidates).toEqual([{ path: "lib/one.js", dir: false }]);

  const list = join(tmp, "list");
  writeFileSync(list, `${plan.send.join("\0")}\0`);
  const argv = rsyncArgs({ listPath: list, configPath: "/unused", alias: "x", localRoot: src, workRoot: dst });
  // Our rsync, minus the remote shell: same options, local destination.
  const local = argv.filter((a, i) => a !== "-e" && argv[i - 1] !== "-e").slice(0, -1).concat(`${dst}/`);
  expect(local).not.toContain("--delete-missing-args");
  const r = Bun.spawnSync(local, { stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).not.toContain("invalid file mode");
  expect(r.exitCode).toBe(0);
  // What rsync does not remove, the remote script does (simulated: the plan's candidates).
  for (const c of plan.candidates) rmSync(join(dst, c.path));
  expect(readFileSync(join(dst, "keep"), "utf8")).toBe("a\n");
  expect(readFileSync(join(dst, "lib", "uno.js"), "utf8")).toBe("one\n");
  expect(existsSync(join(dst, "lib", "one.js"))).toBe(false);
});

test("the remote script removes exactly what it is told, inside the work root only, with any bytes in names", () => {
  const { encodeRemovals, remoteSyncCommand } = require("../../src/sync/remote.ts") as typeof import("../../src/sync/remote.ts");
  const root = join(tmp, "root");
  const outside = join(tmp, "outside");
  mkdirSync(join(root, "d"), { recursive: true });
  mkdirSync(outside, { recursive: true });
  const odd = ["-rf", "new\nline", "q'uo\"te", "back\\slash", "sp ace", "ünï"];
  for (const n of odd) writeFileSync(join(root, n), n);
  writeFileSync(Buffer.from(`${root}/bad\xff`, "latin1"), "x");
  writeFileSync(join(outside, "victim"), "v");
  Bun.spawnSync(["ln", "-s", outside, join(root, "link")]);
  writeFileSync(join(root, "d", "keep"), "k");
  const removals = [
    ...odd.map((n) => ({ op: "x" as const, path: Buffer.from(n, "utf8").toString("latin1") })),
    { op: "x" as const, path: "bad\xff" },
    { op: "x" as const, path: "link/victim" }, // through a symlinked parent: skipped
    { op: "x" as const, path: "../outside/victim" }, // refused
    { op: "x" as const, path: `${outside}/victim` }, // refused
    { op: "d" as const, path: "d" }, // not empty: stays
  ];
  const cmd = remoteSyncCommand(root, "cbx_test-abc", null, "0123");
  const r = Bun.spawnSync(["sh", "-c", cmd], { env: { ...process.env, HOME: join(tmp, "home") }, stdin: encodeRemovals(removals), stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString("latin1");
  expect(out.startsWith("Mfull\0")).toBe(true);
  expect(out).toContain("\0E\0");
  expect(out).toContain("D7\n");
  expect(r.stderr.toString()).toContain("refusing to remove ../outside/victim");
  expect(r.exitCode).not.toBe(0); // refusals are reported
  for (const n of odd) expect(existsSync(join(root, n))).toBe(false);
  expect(existsSync(Buffer.from(`${root}/bad\xff`, "latin1"))).toBe(false);
  expect(readFileSync(join(outside, "victim"), "utf8")).toBe("v");
  expect(readFileSync(join(root, "d", "keep"), "utf8")).toBe("k");
  expect(existsSync(join(root, "link"))).toBe(true);
});

test("the remote listing tolerates paths that vanish while find walks (rsync renaming its temp file), and fails on anything else", () => {
  const { remoteSyncCommand } = require("../../src/sync/remote.ts") as typeof import("../../src/sync/remote.ts");
  const root = join(tmp, "vanish");
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "a"), "a");
  const bin = join(tmp, "fakebin");
  mkdirSync(bin, { recursive: true });
  // A find that lists as the real one does, then reports an error line and fails, as find does
  // when an entry disappears between readdir and stat. Only the listing calls get the error.
  const fake = (message: string) =>
    writeFileSync(
      join(bin, "find"),
      `#!/bin/sh\ncase "$*" in *-prune\\ -cnewer*) exec /usr/bin/find "$@";; esac\n/usr/bin/find "$@"\necho "find: ${message}" >&2\nexit 1\n`,
      { mode: 0o755 },
    );
  const run = () =>
    Bun.spawnSync(["sh", "-c", remoteSyncCommand(root, "cbx_test-van", null, "0456")], {
      env: { ...process.env, HOME: join(tmp, "home"), PATH: `${bin}:${process.env.PATH}` },
      stdin: new Uint8Array(0),
      stdout: "pipe",
      stderr: "pipe",
    });
  fake("'./.a.Xy12Zq': No such file or directory");
  const vanished = run();
  expect(vanished.stderr.toString()).toBe("");
  expect(vanished.exitCode).toBe(0);
  expect(vanished.stdout.toString("latin1")).toContain("f./a\0");
  fake("'./secret': Permission denied");
  const denied = run();
  expect(denied.exitCode).toBe(5);
  expect(denied.stderr.toString()).toContain("Permission denied");
  expect(denied.stderr.toString()).toContain("listing the work root failed");
});

test("rsync's temporary file beside a path it is sending is never taken for a stray", () => {
  const { rsyncTempOf } = require("../../src/sync/sync.ts") as typeof import("../../src/sync/sync.ts");
  const sending = new Set(["touch.txt", "lib/b.js", "sp ace"]);
  expect(rsyncTempOf(".touch.txt.KhGJFr", sending)).toBe(true);
  expect(rsyncTempOf("lib/.b.js.a1B2c3", sending)).toBe(true);
  expect(rsyncTempOf(".sp ace.Zz9Zz9", sending)).toBe(true);
  expect(rsyncTempOf(".touch.txt.KhGJF", sending)).toBe(false); // not rsync's 6-character suffix
  expect(rsyncTempOf(".other.txt.KhGJFr", sending)).toBe(false); // nothing is being sent there
  expect(rsyncTempOf("lib/.touch.txt.KhGJFr", sending)).toBe(false); // another directory
  expect(rsyncTempOf("touch.txt", sending)).toBe(false);
});
