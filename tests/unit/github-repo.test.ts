import { describe, expect, test } from "bun:test";
import { parseRepo } from "../../src/github/operations.ts";

describe("parseRepo", () => {
  const good: Array<[string, string, string]> = [
    ["octocat/Hello-World", "octocat", "Hello-World"],
    ["  o/r  ", "o", "r"],
    ["o-1/r.js_x", "o-1", "r.js_x"],
    ["https://github.com/o/r", "o", "r"],
    ["https://github.com/o/r.git", "o", "r"],
    ["https://github.com/o/r/", "o", "r"],
    ["git@github.com:o/r.git", "o", "r"],
    ["git@github.com:o/r", "o", "r"],
    ["ssh://git@github.com/o/r", "o", "r"],
    ["ssh://git@github.com/o/r.git", "o", "r"],
    ["https://acme.ghe.com/team/app.git", "team", "app"],
  ];
  for (const [input, owner, name] of good) {
    test(`accepts ${JSON.stringify(input)}`, () => {
      expect(parseRepo(input)).toEqual({ owner, name });
    });
  }

  const bad = [
    "",
    "o",
    "o/r/x",
    "/r",
    "o/",
    "-o/r",
    "o-/r",
    "o--x/r",
    "o/..",
    "o/r with space",
    "o/r;rm",
    "https://gitlab.com/o/r",
    "git@gitlab.com:o/r.git",
    "https://github.com/o",
    "https://github.com/o/r/tree/main",
    "https://github.com/o/r?x=1",
    "ftp://github.com/o/r",
    `${"a".repeat(40)}/r`,
  ];
  for (const input of bad) {
    test(`rejects ${JSON.stringify(input)} with exit 2`, () => {
      let err: any;
      try {
        parseRepo(input);
      } catch (e) {
        err = e;
      }
      expect(err?.exit).toBe(2);
      expect(err?.code).toBe("usage_repo");
      expect(err?.hint).toContain("owner/name");
    });
  }
});
