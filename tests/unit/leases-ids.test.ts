import { describe, expect, test } from "bun:test";
import { LEASE_ID_RE } from "../../src/leases/claim.ts";
import {
  ADJECTIVES,
  NOUNS,
  SLUG_RE,
  displayNameFor,
  newLeaseId,
  newNonce,
  newSlug,
  parseDisplayName,
} from "../../src/leases/ids.ts";

describe("lease ids", () => {
  test("format: cbx_ + 12 lowercase base32 chars", () => {
    for (let i = 0; i < 200; i++) {
      const id = newLeaseId();
      expect(id).toMatch(/^cbx_[a-z2-7]{12}$/);
      expect(LEASE_ID_RE.test(id)).toBe(true);
    }
  });

  test("unique over 10k draws and every base32 char is used", () => {
    const ids = new Set<string>();
    const chars = new Set<string>();
    for (let i = 0; i < 10_000; i++) {
      const id = newLeaseId();
      ids.add(id);
      for (const ch of id.slice(4)) chars.add(ch);
    }
    expect(ids.size).toBe(10_000);
    expect([...chars].sort().join("")).toBe("234567abcdefghijklmnopqrstuvwxyz");
  });

  test("nonce: 8 chars [a-z2-7], unique", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const n = newNonce();
      expect(n).toMatch(/^[a-z2-7]{8}$/);
      seen.add(n);
    }
    expect(seen.size).toBe(1000);
  });
});

describe("slugs", () => {
  test("word lists: 64 x 64 distinct lowercase words", () => {
    expect(ADJECTIVES.length).toBe(64);
    expect(NOUNS.length).toBe(64);
    expect(new Set(ADJECTIVES).size).toBe(64);
    expect(new Set(NOUNS).size).toBe(64);
    for (const w of [...ADJECTIVES, ...NOUNS]) expect(w).toMatch(/^[a-z]+$/);
  });

  test("adjective-noun shape", () => {
    for (let i = 0; i < 100; i++) {
      const s = newSlug();
      const [a, n, extra] = s.split("-");
      expect(extra).toBeUndefined();
      expect(ADJECTIVES).toContain(a!);
      expect(NOUNS).toContain(n!);
      expect(SLUG_RE.test(s)).toBe(true);
    }
  });

  test("unique against taken, even when most of the space is taken", () => {
    const taken = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const s = newSlug(taken);
      expect(taken.has(s)).toBe(false);
      taken.add(s);
    }
    expect(taken.size).toBe(3000);
  });

  test("falls back to a numeric suffix when every pair is taken", () => {
    const taken = new Set<string>();
    for (const a of ADJECTIVES) for (const n of NOUNS) taken.add(`${a}-${n}`);
    const s = newSlug(taken);
    expect(s).toMatch(/^[a-z]+-[a-z]+-2$/);
    taken.add(s);
    for (let i = 0; i < 50; i++) {
      const t = newSlug(taken);
      expect(taken.has(t)).toBe(false);
      expect(SLUG_RE.test(t)).toBe(true);
      taken.add(t);
    }
  });
});

describe("display name", () => {
  test("round trip", () => {
    for (let i = 0; i < 100; i++) {
      const slug = newSlug();
      const nonce = newNonce();
      const name = displayNameFor(slug, nonce);
      expect(name).toBe(`crabbox ${slug} ${nonce}`);
      expect(name.length).toBeLessThanOrEqual(48); // GitHub's display_name limit
      expect(parseDisplayName(name)).toEqual({ slug, nonce });
    }
    expect(parseDisplayName("crabbox amber-crab-3 abcdefgh")).toEqual({ slug: "amber-crab-3", nonce: "abcdefgh" });
  });

  test("strict parsing", () => {
    for (const bad of [
      "",
      "crabbox amber-crab",
      "crabbox amber-crab abcdefg", // short nonce
      "crabbox amber-crab abcdefghi", // long nonce
      "crabbox amber-crab abcdefg1", // 1 is not base32
      "Crabbox amber-crab abcdefgh",
      "crabbox  amber-crab abcdefgh",
      "crabbox amber-crab abcdefgh ",
      " crabbox amber-crab abcdefgh",
      "crabbox amber_crab abcdefgh",
      "crabbox AMBER-crab abcdefgh",
      "crabbox amber-crab-0 abcdefgh",
      "crabbox amber abcdefgh",
      "crabbox amber-crab abcdefgh\n",
      "my crabbox amber-crab abcdefgh",
    ]) {
      expect(parseDisplayName(bad)).toBeNull();
    }
  });

  test("displayNameFor refuses malformed parts", () => {
    expect(() => displayNameFor("amber crab", "abcdefgh")).toThrow();
    expect(() => displayNameFor("amber-crab", "ABCDEFGH")).toThrow();
  });
});
