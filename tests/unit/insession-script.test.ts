/**
 * The in-session sync script (remote.ts inSessionSyncCommand) run by a local `sh`, fed its stdin
 * by hand: the frames' protocol byte for byte, without ssh. What it must show: a part before the
 * report, or `R`, then the last frame; a frame is applied only when it came whole (its end line
 * right after its bytes); the rest of stdin is left for the command. (That the part is written
 * while the codespace still lists: tests/e2e/insession.test.ts.)
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { changeFrame, type Packed } from "../../src/sync/insession.ts";
import { inSessionSyncCommand } from "../../src/sync/remote.ts";

const base = mkdtempSync(join(tmpdir(), "crabbox-insession-script-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

let n = 0;
/** A fresh work root and HOME; the last sync's stamp exists, so the listing is the incremental one. */
function setup(): { home: string; root: string; src: string } {
  const dir = join(base, `case-${++n}`);
  const home = join(dir, "home");
  const root = join(dir, "root");
  const src = join(dir, "src");
  mkdirSync(join(home, ".cache", "crabbox-cs", "sync"), { recursive: true });
  writeFileSync(join(home, ".cache", "crabbox-cs", "sync", "key.old"), "");
  mkdirSync(root, { recursive: true });
  mkdirSync(join(src, "d"), { recursive: true });
  writeFileSync(join(src, "d", "sent.txt"), "sent\n");
  return { home, root, src };
}

/** A gzipped tar of d/sent.txt, as buildTar makes it (files only; the directory as a record). */
function packed(src: string): Packed {
  const tar = Bun.spawnSync(["sh", "-c", `tar -c -f - -C '${src}' ./d/sent.txt | gzip -1`]);
  expect(tar.exitCode).toBe(0);
  return { dirs: new Uint8Array(Buffer.from("m755 d\0", "latin1")), tar: new Uint8Array(tar.stdout), codec: "gz" };
}

const empty: Packed = { dirs: new Uint8Array(0), tar: new Uint8Array(0), codec: "gz" };

/** The script, then `cat` standing in for the command (it prints what is left of stdin). */
function run(c: { home: string; root: string }, stdin: Uint8Array): { code: number; stdout: string; stderr: string } {
  const line = `${inSessionSyncCommand(c.root, "key", "old", "new", "nonce")} && cat`;
  const p = Bun.spawnSync(["sh", "-c", line], { stdin, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: c.home } });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

const bytes = (...parts: (string | Uint8Array)[]) => new Uint8Array(Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p)))));

describe("the in-session script's frames", () => {
  test("a part, then the report, then the last frame: applied, and the rest of stdin is the command's", () => {
    const c = setup();
    const r = run(c, bytes("W\n", changeFrame(new Uint8Array(0), packed(c.src), "P"), changeFrame(new Uint8Array(0), empty), "left for the command\n"));
    expect(r.code).toBe(0);
    expect(readFileSync(join(c.root, "d", "sent.txt"), "utf8")).toBe("sent\n");
    expect(r.stderr).toContain("crabbox-cs:nonce:report:");
    expect(r.stdout).toBe("left for the command\n");
  });

  test("no part (R): the report, then the last frame", () => {
    const c = setup();
    const r = run(c, bytes("W\nR\n", changeFrame(new Uint8Array(0), packed(c.src)), "rest\n"));
    expect(r.code).toBe(0);
    expect(readFileSync(join(c.root, "d", "sent.txt"), "utf8")).toBe("sent\n");
    expect(r.stdout).toBe("rest\n");
  });

  test("a frame cut short is not applied (exit 6): nothing of it is written, the command never starts", () => {
    const c = setup();
    const frame = changeFrame(new Uint8Array(0), packed(c.src), "P");
    for (const cut of [frame.length - 1, frame.length - 2, frame.length - 10]) {
      const r = run(c, bytes("W\n", frame.subarray(0, cut)));
      expect(r.code).toBe(6);
      expect(existsSync(join(c.root, "d"))).toBe(false);
      expect(r.stdout).toBe("");
    }
  });

  test("a frame whose end line is not right after its bytes is not applied (exit 6)", () => {
    const c = setup();
    const frame = changeFrame(new Uint8Array(0), packed(c.src), "P");
    const r = run(c, bytes("W\n", frame.subarray(0, frame.length - 2), "x\n", "rest\n"));
    expect(r.code).toBe(6);
    expect(existsSync(join(c.root, "d"))).toBe(false);
    expect(r.stdout).toBe("");
  });
});
