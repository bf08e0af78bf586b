import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import { createClaimStore } from "../../src/leases/store.ts";
import { makeClaim, tempHome } from "./fixtures/leases-claim.ts";

const dirs: string[] = [];
function setup() {
  const t = tempHome();
  dirs.push(t.dir);
  return { ...t, store: createClaimStore(t.runtime) };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const mode = (p: string) => statSync(p).mode & 0o777;

async function caught(p: Promise<unknown> | (() => unknown)): Promise<CrabboxError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(CrabboxError);
    return e as CrabboxError;
  }
  throw new Error("expected a CrabboxError");
}

describe("claim store", () => {
  test("paths, write/read round trip, permissions 0700/0600", async () => {
    const { store, home } = setup();
    expect(store.root).toBe(home);
    expect(store.claimsDir).toBe(join(home, "claims"));
    expect(await store.list()).toEqual({ claims: [], corrupt: [] }); // no directory yet

    const c = makeClaim({ updatedAt: "2000-01-01T00:00:00.000Z" });
    const written = await store.write(c);
    expect(written.updatedAt).not.toBe("2000-01-01T00:00:00.000Z");
    expect(Date.parse(written.updatedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await store.read(c.leaseId)).toEqual(written);

    expect(mode(home)).toBe(0o700);
    expect(mode(store.claimsDir)).toBe(0o700);
    expect(mode(join(store.claimsDir, `${c.leaseId}.json`))).toBe(0o600);
    expect(readdirSync(store.claimsDir)).toEqual([`${c.leaseId}.json`]);
  });

  test("tightens a pre-existing 0755 home and claims dir", async () => {
    const { store, home } = setup();
    mkdirSync(join(home, "claims"), { recursive: true });
    chmodSync(home, 0o755);
    chmodSync(join(home, "claims"), 0o775);
    await store.write(makeClaim());
    expect(mode(home)).toBe(0o700);
    expect(mode(join(home, "claims"))).toBe(0o700);
  });

  test("read of an absent claim is null; remove is idempotent", async () => {
    const { store } = setup();
    const c = makeClaim();
    expect(await store.read(c.leaseId)).toBeNull();
    await store.write(c);
    await store.remove(c.leaseId);
    expect(await store.read(c.leaseId)).toBeNull();
    await store.remove(c.leaseId);
  });

  test("write validates with the schema and writes nothing when invalid", async () => {
    const { store } = setup();
    const c = makeClaim();
    const e = await caught(store.write({ ...c, state: "bogus" } as never));
    expect(e.code).toBe("claim_invalid");
    expect(e.exit).toBe(1);
    expect(await store.read(c.leaseId)).toBeNull();
    const e2 = await caught(store.write({ ...c, leaseId: "../../etc/passwd" }));
    expect(e2.exit).toBe(2);
  });

  test("corrupt files are reported, never fatal to the others", async () => {
    const { store } = setup();
    const good = [makeClaim(), makeClaim(), makeClaim()];
    for (const c of good) await store.write(c);
    const d = store.claimsDir;
    const badJson = join(d, "cbx_aaaaaaaaaaaa.json");
    const badVersion = join(d, "cbx_bbbbbbbbbbbb.json");
    const badSchema = join(d, "cbx_cccccccccccc.json");
    const misnamed = join(d, "cbx_dddddddddddd.json");
    writeFileSync(badJson, '{"version": 1, "leaseId": ');
    writeFileSync(badVersion, JSON.stringify({ ...makeClaim({ leaseId: "cbx_bbbbbbbbbbbb" }), version: 2 }));
    writeFileSync(badSchema, JSON.stringify({ ...makeClaim({ leaseId: "cbx_cccccccccccc" }), keep: "yes" }));
    writeFileSync(misnamed, JSON.stringify(makeClaim({ leaseId: "cbx_eeeeeeeeeeee" })));
    // Noise that is not a claim: ignored entirely.
    writeFileSync(join(d, `.${good[0]!.leaseId}.json.abcdefghij.tmp`), "{half");
    writeFileSync(join(d, `${good[1]!.leaseId}.lock`), "{}");
    writeFileSync(join(d, "README"), "hi");
    writeFileSync(join(d, "cbx_x.json"), "{}");

    const { claims, corrupt } = await store.list();
    expect(claims.map((c) => c.leaseId).sort()).toEqual(good.map((c) => c.leaseId).sort());
    const byPath = new Map(corrupt.map((c) => [c.path, c.error]));
    expect([...byPath.keys()].sort()).toEqual([badJson, badVersion, badSchema, misnamed].sort());
    expect(byPath.get(badJson)).toContain("not valid JSON");
    expect(byPath.get(badVersion)).toContain("version 2");
    expect(byPath.get(badSchema)).toContain("keep");
    expect(byPath.get(misnamed)).toContain("cbx_eeeeeeeeeeee");

    const e = await caught(store.read("cbx_aaaaaaaaaaaa"));
    expect(e.code).toBe("claim_corrupt");
    expect(e.exit).toBe(1);
    expect(e.details?.path).toBe(badJson);
    expect(e.hint).toContain(badJson);
  });

  test("lease ids are validated before they touch a path", async () => {
    const { store, dir } = setup();
    for (const bad of ["../x", "/etc/passwd", "cbx_aaaaaaaaaaaa/../../x", "cbx_AAAAAAAAAAAA", "cbx_aaaaaaaaaaa1", "", "cbx_aaaaaaaaaaaa\0"]) {
      for (const op of [
        () => store.read(bad),
        () => store.remove(bad),
        () => store.withLease(bad, () => 1),
        () => store.claimPath(bad),
        () => store.create(makeClaim({ leaseId: bad })),
      ]) {
        const e = await caught(op);
        expect(e.exit).toBe(2);
        expect(e.code).toBe("invalid_lease_id");
      }
    }
    expect(readdirSync(dir)).toEqual([]); // nothing created anywhere
  });

  test("create writes only when absent", async () => {
    const { store } = setup();
    const c = makeClaim({ failure: "first" });
    await store.create(c);
    const e = await caught(store.create({ ...c, failure: "second" }));
    expect(e.code).toBe("claim_exists");
    expect((await store.read(c.leaseId))?.failure).toBe("first");
  });

  test("withLease re-reads inside the lock, releases it, and 404s absent leases", async () => {
    const { store } = setup();
    const c = makeClaim();
    await store.write(c);
    // Change the file behind the store's back: withLease must see the new version.
    const path = store.claimPath(c.leaseId);
    const onDisk = JSON.parse(readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify({ ...onDisk, failure: "changed" }));
    const seen = await store.withLease(c.leaseId, async (claim) => {
      expect(statSync(store.lockPath(c.leaseId)).isFile()).toBe(true);
      return claim.failure;
    });
    expect(seen).toBe("changed");
    expect(() => statSync(store.lockPath(c.leaseId))).toThrow(); // released

    await expect(store.withLease(c.leaseId, () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(() => statSync(store.lockPath(c.leaseId))).toThrow(); // released on throw too

    const e = await caught(store.withLease("cbx_zzzzzzzzzzzz", () => 1));
    expect(e.exit).toBe(4);
    expect(e.code).toBe("lease_not_found");
  });

  test("in-process concurrent withLease calls serialise; nested calls throw", async () => {
    const { store } = setup();
    const c = makeClaim({ failure: "0" });
    await store.write(c);
    await Promise.all(
      Array.from({ length: 25 }, () =>
        store.withLease(c.leaseId, async (cl) => {
          await new Promise((r) => setTimeout(r, 1));
          await store.write({ ...cl, failure: String(Number(cl.failure) + 1) });
        }),
      ),
    );
    expect((await store.read(c.leaseId))?.failure).toBe("25");
    const e = await caught(store.withLease(c.leaseId, () => store.withLease(c.leaseId, () => 1)));
    expect(e.code).toBe("lock_reentrant");
  });

  test("list() reads 500 claims quickly", async () => {
    const { store } = setup();
    const claims = Array.from({ length: 500 }, (_, i) =>
      makeClaim({ createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, i)).toISOString() }),
    );
    await Promise.all(claims.map((c) => store.write(c)));
    const t0 = performance.now();
    const { claims: got, corrupt } = await store.list();
    const ms = performance.now() - t0;
    expect(corrupt).toEqual([]);
    expect(got.length).toBe(500);
    expect(got.map((c) => c.leaseId)).toEqual(claims.map((c) => c.leaseId)); // sorted by createdAt
    expect(ms).toBeLessThan(1500);
  });
});
