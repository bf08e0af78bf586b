import { afterEach, describe, expect, test } from "bun:test";
import * as fsp from "node:fs/promises";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import { ensurePrivateDir, writeFileAtomic } from "../../src/fsutil.ts";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "cbx-fsutil-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string) => statSync(p).mode & 0o777;

async function caught(p: Promise<unknown>): Promise<CrabboxError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CrabboxError);
    return e as CrabboxError;
  }
  throw new Error("expected a CrabboxError");
}

describe("ensurePrivateDir", () => {
  test("creates nested directories with 0700", async () => {
    const d = join(tmp(), "a", "b");
    await ensurePrivateDir(d);
    expect(statSync(d).isDirectory()).toBe(true);
    expect(mode(d)).toBe(0o700);
  });

  test("tightens a pre-existing 0755 home", async () => {
    const d = join(tmp(), "home");
    mkdirSync(d);
    chmodSync(d, 0o755);
    expect(mode(d)).toBe(0o755);
    await ensurePrivateDir(d);
    expect(mode(d)).toBe(0o700);
  });

  test("refuses a directory owned by another user (exit 5)", async () => {
    if (process.getuid?.() !== 0) return; // needs root to chown
    const d = join(tmp(), "foreign");
    mkdirSync(d, { mode: 0o700 });
    chownSync(d, 65534, 65534);
    const e = await caught(ensurePrivateDir(d));
    expect(e.exit).toBe(5);
    expect(e.code).toBe("state_dir_not_owned");
    expect(e.message).toContain(d);
    expect(e.message).toContain("65534");
  });

  test("a file in the way is a usage error naming the path", async () => {
    const base = tmp();
    writeFileSync(join(base, "file"), "x");
    const e = await caught(ensurePrivateDir(join(base, "file", "sub")));
    expect(e.exit).toBe(2);
    expect(e.message).toContain(join(base, "file", "sub"));
    const e2 = await caught(ensurePrivateDir(join(base, "file")));
    expect(e2.exit).toBe(2);
  });
});

describe("writeFileAtomic", () => {
  test("writes with 0600 and replaces content", async () => {
    const d = tmp();
    const p = join(d, "c.json");
    await writeFileAtomic(p, "one");
    expect(readFileSync(p, "utf8")).toBe("one");
    expect(mode(p)).toBe(0o600);
    chmodSync(p, 0o644);
    await writeFileAtomic(p, new TextEncoder().encode("two"));
    expect(readFileSync(p, "utf8")).toBe("two");
    expect(mode(p)).toBe(0o600);
    expect(readdirSync(d)).toEqual(["c.json"]);
  });

  test("ENOSPC while writing the temp file: old file intact, temp removed, exit 1", async () => {
    const d = tmp();
    const p = join(d, "c.json");
    writeFileSync(p, "old content");
    let tempPath = "";
    const e = await caught(
      writeFileAtomic(p, "new content that will not fit", 0o600, {
        io: {
          open: (async (path: string, flags: string, m: number) => {
            tempPath = path;
            const fh = await fsp.open(path, flags, m);
            const real = fh.writeFile.bind(fh);
            fh.writeFile = (async () => {
              await real("new cont"); // a torn partial write...
              throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
            }) as typeof fh.writeFile;
            return fh;
          }) as unknown as typeof fsp.open,
        },
      }),
    );
    expect(e.exit).toBe(1);
    expect(e.code).toBe("write_failed");
    expect(e.message).toContain(p);
    expect(e.why).toContain("ENOSPC");
    expect(tempPath).not.toBe("");
    expect(tempPath.startsWith(d)).toBe(true);
    expect(readFileSync(p, "utf8")).toBe("old content");
    expect(readdirSync(d)).toEqual(["c.json"]);
  });

  test("real failure root cannot bypass: rename over a directory fails, temp removed", async () => {
    const d = tmp();
    const p = join(d, "c.json");
    mkdirSync(p); // a directory in the way of the final rename
    writeFileSync(join(p, "keep"), "k");
    const e = await caught(writeFileAtomic(p, "data"));
    expect(e.exit).toBe(1);
    expect(e.message).toContain(p);
    expect(readFileSync(join(p, "keep"), "utf8")).toBe("k");
    expect(readdirSync(d)).toEqual(["c.json"]);
  });

  test("a path component that is a file: exit 1 naming the path", async () => {
    const d = tmp();
    writeFileSync(join(d, "f"), "x");
    const p = join(d, "f", "c.json");
    const e = await caught(writeFileAtomic(p, "data"));
    expect(e.exit).toBe(1);
    expect(e.message).toContain(p);
    expect(e.why).toContain("ENOTDIR");
    expect(readFileSync(join(d, "f"), "utf8")).toBe("x");
  });
});
