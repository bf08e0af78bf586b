import { afterEach, describe, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import type { Claim } from "../../src/leases/claim.ts";
import { resolveLease } from "../../src/leases/resolve.ts";
import { createClaimStore } from "../../src/leases/store.ts";
import { makeClaim, tempHome } from "./fixtures/leases-claim.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const t = tempHome();
  dirs.push(t.dir);
  return createClaimStore(t.runtime);
}

function codespace(name: string): NonNullable<Claim["codespace"]> {
  return { id: 7, name, environmentId: "env-1", ownerLogin: "octocat", ownerId: 1, repositoryId: 9, repository: "octo/repo" };
}

async function caught(p: Promise<unknown>): Promise<CrabboxError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CrabboxError);
    return e as CrabboxError;
  }
  throw new Error("expected a CrabboxError");
}

describe("resolveLease", () => {
  test("by lease id, slug and claimed codespace name", async () => {
    const store = setup();
    const a = makeClaim({ slug: "amber-crab", codespace: codespace("octo-repo-abc123") });
    const b = makeClaim({ slug: "brave-otter" });
    await store.write(a);
    await store.write(b);
    expect((await resolveLease(store, a.leaseId)).leaseId).toBe(a.leaseId);
    expect((await resolveLease(store, b.leaseId)).leaseId).toBe(b.leaseId);
    expect((await resolveLease(store, "amber-crab")).leaseId).toBe(a.leaseId);
    expect((await resolveLease(store, "brave-otter")).leaseId).toBe(b.leaseId);
    expect((await resolveLease(store, "octo-repo-abc123")).leaseId).toBe(a.leaseId);
  });

  test("not found: exit 4 with the ref and the list hint", async () => {
    const store = setup();
    await store.write(makeClaim({ slug: "amber-crab" }));
    for (const ref of ["calm-heron", "cbx_zzzzzzzzzzzz", "some-codespace-name"]) {
      const e = await caught(resolveLease(store, ref));
      expect(e.exit).toBe(4);
      expect(e.message).toBe(`no lease matches "${ref}"`);
      expect(e.hint).toBe("crabbox-cs list");
    }
  });

  test("corrupt claims are skipped and mentioned", async () => {
    const store = setup();
    const ok = makeClaim({ slug: "amber-crab" });
    await store.write(ok);
    writeFileSync(join(store.claimsDir, "cbx_aaaaaaaaaaaa.json"), "not json");
    expect((await resolveLease(store, "amber-crab")).leaseId).toBe(ok.leaseId);
    const e = await caught(resolveLease(store, "nope-nope"));
    expect(e.exit).toBe(4);
    expect(e.why).toContain("1 unreadable");
    // Asking for the corrupt one by id says it is corrupt, not missing.
    const e2 = await caught(resolveLease(store, "cbx_aaaaaaaaaaaa"));
    expect(e2.code).toBe("claim_corrupt");
  });

  test("ambiguity: a live claim beats a released one; two live ones are exit 2 listing both", async () => {
    const store = setup();
    const old = makeClaim({ slug: "amber-crab", state: "released" });
    const live = makeClaim({ slug: "amber-crab", state: "ready" });
    await store.write(old);
    await store.write(live);
    expect((await resolveLease(store, "amber-crab")).leaseId).toBe(live.leaseId);

    const live2 = makeClaim({ slug: "amber-crab", state: "pending" });
    await store.write(live2);
    const e = await caught(resolveLease(store, "amber-crab"));
    expect(e.exit).toBe(2);
    expect(e.code).toBe("lease_ambiguous");
    expect(e.message).toContain(live.leaseId);
    expect(e.message).toContain(live2.leaseId);
    expect(e.message).not.toContain(old.leaseId);
    expect(e.details?.candidates).toEqual(expect.arrayContaining([live.leaseId, live2.leaseId]));

    // Two released claims with one slug, nothing live: still ambiguous.
    const store2 = setup();
    await store2.write(makeClaim({ slug: "calm-heron", state: "released" }));
    await store2.write(makeClaim({ slug: "calm-heron", state: "released" }));
    expect((await caught(resolveLease(store2, "calm-heron"))).exit).toBe(2);
  });

  test("a slug in one claim and a codespace name in another are ambiguous", async () => {
    const store = setup();
    await store.write(makeClaim({ slug: "amber-crab" }));
    await store.write(makeClaim({ slug: "brave-otter", codespace: codespace("amber-crab") }));
    expect((await caught(resolveLease(store, "amber-crab"))).exit).toBe(2);
  });

  test("refs with /, .., NUL or control chars are rejected with exit 2", async () => {
    const store = setup();
    await store.write(makeClaim({ slug: "amber-crab" }));
    for (const ref of ["../x", "/etc/passwd", "a/b", "..", "amber..crab", "amber-crab\0", "amber\ncrab", "amber\x1bcrab", "x\x7f", "", "  ", "a\\b"]) {
      const e = await caught(resolveLease(store, ref));
      expect(e.exit).toBe(2);
      expect(e.code).toBe("invalid_lease_ref");
    }
  });
});

describe("resolveLease: the names index", () => {
  test("a claim rewritten since the index saw it is read again: a new codespace name resolves, the old one does not", async () => {
    const store = setup();
    const a = makeClaim({ slug: "amber-crab" });
    await store.write(makeClaim({ slug: "brave-otter" }));
    await store.write(a);
    expect((await resolveLease(store, "amber-crab")).leaseId).toBe(a.leaseId); // builds the index
    await store.write({ ...a, codespace: codespace("octo-repo-new111") });
    expect((await resolveLease(store, "octo-repo-new111")).leaseId).toBe(a.leaseId);
    await store.write({ ...a, codespace: codespace("octo-repo-new222") });
    expect((await caught(resolveLease(store, "octo-repo-new111"))).code).toBe("lease_not_found");
    // A damaged index is only a hint: resolution still works.
    writeFileSync(join(store.claimsDir, "names.index"), "{not json");
    expect((await resolveLease(store, "octo-repo-new222")).leaseId).toBe(a.leaseId);
    // An index that lies about names (same stat) cannot make a claim match a name it does not hold.
    const idx = { v: 1, entries: {} as Record<string, unknown> };
    await store.names();
    const real = JSON.parse(require("node:fs").readFileSync(join(store.claimsDir, "names.index"), "utf8"));
    for (const [id, e] of Object.entries(real.entries as Record<string, unknown[]>)) idx.entries[id] = [e[0], e[1], e[2], "liar", null];
    writeFileSync(join(store.claimsDir, "names.index"), JSON.stringify(idx));
    expect((await caught(resolveLease(store, "liar"))).code).toBe("lease_not_found");
  });
});
