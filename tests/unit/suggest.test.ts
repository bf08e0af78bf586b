/** "Did you mean": Damerau–Levenshtein ≤ 2 or a prefix (src/util/suggest.ts). */
import { describe, expect, test } from "bun:test";
import { damerauLevenshtein, suggest } from "../../src/util/suggest.ts";

const COMMANDS = ["warmup", "run", "ssh", "list", "status", "stop", "cleanup", "doctor", "completion"];

describe("damerauLevenshtein", () => {
  test.each([
    ["", "", 0],
    ["abc", "abc", 0],
    ["abc", "", 3],
    ["sttop", "stop", 1],
    ["lst", "list", 1],
    ["wramup", "warmup", 1], // one adjacent swap, not two substitutions
    ["ca", "abc", 3], // optimal string alignment: no edit of a swapped pair
    ["kitten", "sitting", 3],
  ])("%p vs %p = %p", (a, b, d) => {
    expect(damerauLevenshtein(a as string, b as string)).toBe(d as number);
    expect(damerauLevenshtein(b as string, a as string)).toBe(d as number);
  });
});

describe("suggest", () => {
  test("the issue's examples", () => {
    expect(suggest("sttop", COMMANDS)).toBe("stop");
    expect(suggest("lst", COMMANDS)).toBe("list");
    expect(suggest("wramup", COMMANDS)).toBe("warmup");
  });
  test("a prefix", () => {
    expect(suggest("comp", COMMANDS)).toBe("completion");
    expect(suggest("doc", COMMANDS)).toBe("doctor");
    expect(suggest("dry", ["json", "dry-run"])).toBe("dry-run");
  });
  test("nothing close: nothing", () => {
    expect(suggest("frobnicate", COMMANDS)).toBeUndefined();
    expect(suggest("x", COMMANDS)).toBeUndefined();
    expect(suggest("", COMMANDS)).toBeUndefined();
    expect(suggest("zz", COMMANDS)).toBeUndefined();
  });
  test("the nearest wins; case does not matter", () => {
    expect(suggest("STAUS", COMMANDS)).toBe("status");
    expect(suggest("jsno", ["json", "quiet"])).toBe("json");
  });
});
