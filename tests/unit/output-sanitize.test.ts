import { describe, expect, test } from "bun:test";
import { oneLine, stripControls } from "../../src/output/sanitize.ts";

describe("names from the API are shown escaped, never interpreted", () => {
  test("C0/C1 controls are escaped as \\xNN; newlines and tabs kept by stripControls", () => {
    expect(stripControls("a\u001b[2Jb\u009bc\n\td")).toBe("a\\x1b[2Jb\\x9bc\n\td");
    expect(oneLine("a\nb\tc")).toBe("a\\nb\\tc");
  });

  test("bidi controls and zero-width characters are escaped as \\uNNNN", () => {
    const bidi = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"];
    const zeroWidth = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"];
    for (const c of [...bidi, ...zeroWidth]) {
      const shown = stripControls(`main${c}x`);
      expect(shown).toBe(`main\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}x`);
      expect(oneLine(`a${c}`)).not.toContain(c);
    }
  });

  test("ordinary non-ASCII text is left alone", () => {
    expect(stripControls("crabbox ünï-crab 日本語 émoji 🦀")).toBe("crabbox ünï-crab 日本語 émoji 🦀");
  });
});
