/** crabbox-cs cp, both ways, with hostile names, secrets held back, -L, against the emulator. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { CopyResult } from "../../src/output/schemas.ts";
import { closeWithLease, createHarness, warmKeptLease, type Harness } from "./harness.ts";

let h: Harness;
let lease: any;
/** The lease's work root on this machine's disk. */
const remote = (...parts: string[]) => join(h.emu.control.codespaceDir(lease.codespace.name), ".crabbox", "hello-world", ...parts);

/** Names a shell or rsync would misread if they ever reached one unquoted. */
const HOSTILE = ["with space.txt", "new\nline.txt", "-rf dash.txt", "..dots", "semi;$(touch INJECTED)`x`.txt", "*glob?[a].txt", "quote'\"back\\slash"];

beforeAll(async () => {
  h = await createHarness();
  lease = await warmKeptLease(h);
  mkdirSync(remote(), { recursive: true });
});
afterAll(async () => {
  await closeWithLease(h, lease);
});

describe("cp up", () => {
  test("a directory of hostile names arrives byte for byte under the work root; nothing is shell-interpreted", async () => {
    const src = join(h.tmp, "up", "-hostile dir");
    mkdirSync(join(src, "sub dir"), { recursive: true });
    for (const n of HOSTILE) writeFileSync(join(src, "sub dir", n), `content of ${n}`);
    const r = await h.run(["cp", "--id", lease.slug, "--json", "./-hostile dir", ":dest/"], { cwd: join(h.tmp, "up") });
    if (r.code !== 0) throw new Error(r.stderr);
    expect(r.json()).toMatchObject({ leaseId: lease.leaseId, direction: "up", held: [] });
    expect(v.safeParse(CopyResult, r.json()).success).toBe(true);
    const got = readdirSync(remote("dest", "-hostile dir", "sub dir")).sort();
    expect(got).toEqual([...HOSTILE].sort());
    for (const n of HOSTILE) expect(readFileSync(remote("dest", "-hostile dir", "sub dir", n), "utf8")).toBe(`content of ${n}`);
    expect(existsSync(join(h.tmp, "up", "INJECTED"))).toBe(false);
    expect(existsSync(remote("INJECTED"))).toBe(false);
  });

  test("a single file under a new name, with SANDBOX:PATH naming the lease; `..` resolves as a path", async () => {
    const f = join(h.tmp, "new\nline -x.txt");
    writeFileSync(f, "one file");
    const r = await h.run(["cp", f, `${lease.slug}:-renamed file.txt`]);
    expect(r.code).toBe(0);
    expect(readFileSync(remote("-renamed file.txt"), "utf8")).toBe("one file");
    const up = await h.run(["cp", "--id", lease.slug, f, ":../sibling of root.txt"]);
    expect(up.code).toBe(0);
    expect(readFileSync(join(remote(), "..", "sibling of root.txt"), "utf8")).toBe("one file");
  });

  test("secrets stay home: held back inside a directory, refused as the source itself", async () => {
    const src = join(h.tmp, "with-secrets");
    mkdirSync(join(src, ".ssh"), { recursive: true });
    mkdirSync(join(src, "app"), { recursive: true });
    writeFileSync(join(src, ".ssh", "id_ed25519"), "PRIVATE");
    writeFileSync(join(src, "app", ".env.local"), "TOKEN=x");
    writeFileSync(join(src, ".npmrc"), "//registry.npmjs.org/:_authToken=abc\n");
    writeFileSync(join(src, "app", "main.ts"), "ok");
    const r = await h.run(["cp", "--id", lease.slug, "--json", src, ":secrets-test"]);
    expect(r.code).toBe(0);
    expect(r.json().held.sort()).toEqual([".npmrc", ".ssh/", "app/.env.local"]);
    expect(r.stderr).toContain("not sent (secrets are never copied");
    expect(readFileSync(remote("secrets-test", "app", "main.ts"), "utf8")).toBe("ok");
    expect(existsSync(remote("secrets-test", ".ssh"))).toBe(false);
    expect(existsSync(remote("secrets-test", "app", ".env.local"))).toBe(false);
    expect(existsSync(remote("secrets-test", ".npmrc"))).toBe(false);
    const refused = await h.run(["cp", "--id", lease.slug, join(src, "app", ".env.local"), ":x.env"]);
    expect(refused.code).toBe(5);
    expect(existsSync(remote("x.env"))).toBe(false);
  });

  test("-L copies what a local symlink points to; without it the link itself is copied", async () => {
    const dir = join(h.tmp, "links");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(h.tmp, "target.txt"), "pointed to");
    symlinkSync(join(h.tmp, "target.txt"), join(dir, "link.txt"));
    expect((await h.run(["cp", "--id", lease.slug, dir, ":links-plain"])).code).toBe(0);
    expect(lstatSync(remote("links-plain", "link.txt")).isSymbolicLink()).toBe(true);
    expect((await h.run(["cp", "--id", lease.slug, "-L", dir, ":links-followed"])).code).toBe(0);
    expect(lstatSync(remote("links-followed", "link.txt")).isSymbolicLink()).toBe(false);
    expect(readFileSync(remote("links-followed", "link.txt"), "utf8")).toBe("pointed to");
  });
});

describe("cp down", () => {
  test("hostile names come back exactly: a directory into an existing directory, a file under a new name", async () => {
    mkdirSync(remote("down src", "-inner"), { recursive: true });
    for (const n of HOSTILE) writeFileSync(remote("down src", "-inner", n), `remote ${n}`);
    const into = join(h.tmp, "down");
    mkdirSync(into, { recursive: true });
    const r = await h.run(["cp", "--id", lease.slug, ":down src", "./down"], { cwd: h.tmp });
    expect(r.code).toBe(0);
    expect(readdirSync(join(into, "down src", "-inner")).sort()).toEqual([...HOSTILE].sort());
    for (const n of HOSTILE) expect(readFileSync(join(into, "down src", "-inner", n), "utf8")).toBe(`remote ${n}`);

    const one = await h.run(["cp", `${lease.slug}:down src/-inner/*glob?[a].txt`, "./-got it.txt"], { cwd: h.tmp });
    expect(one.code).toBe(0);
    expect(readFileSync(join(h.tmp, "-got it.txt"), "utf8")).toBe("remote *glob?[a].txt");
    // The wildcard was not expanded: a name that only matches the pattern is not copied instead.
    writeFileSync(remote("down src", "-inner", "Xglob1a.txt"), "decoy");
    const exact = await h.run(["cp", `${lease.slug}:down src/-inner/*glob?[a].txt`, "./exact.txt"], { cwd: h.tmp });
    expect(exact.code).toBe(0);
    expect(readFileSync(join(h.tmp, "exact.txt"), "utf8")).toBe("remote *glob?[a].txt");
    expect(existsSync(join(h.tmp, "INJECTED"))).toBe(false);
  });

  test("a missing remote path is exit 4; two remote sides or none is exit 2", async () => {
    const missing = await h.run(["cp", "--id", lease.slug, ":no such thing", join(h.tmp, "nothing")]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain("no such file or directory on lease");
    expect(existsSync(join(h.tmp, "nothing"))).toBe(false);
    expect((await h.run(["cp", "--id", lease.slug, ":a", ":b"])).code).toBe(2);
    expect((await h.run(["cp", "--id", lease.slug, "a", "b"])).code).toBe(2);
  });
});
