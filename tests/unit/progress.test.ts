/** The spinner line's width (src/output/progress.ts): visible columns, the name shortened, never the state or time. */
import { describe, expect, test } from "bun:test";
import { progressLine, visibleWidth } from "../../src/output/progress.ts";

const NAME = "monalisa-hello-world-8djhianlzc";
const TEXT = `waiting for ${NAME} to be Available: Provisioning`;
const COLOR_FRAME = "\u001b[36m◐\u001b[39m";

describe("visibleWidth", () => {
  test("colour codes take no columns; a multi-byte symbol takes one", () => {
    expect(visibleWidth(COLOR_FRAME)).toBe(1);
    expect(visibleWidth(`${COLOR_FRAME} ab`)).toBe(4);
    expect(visibleWidth("…")).toBe(1);
  });
});

describe("progressLine", () => {
  test("fits: unchanged", () => {
    expect(progressLine({ frame: "◐", text: TEXT, shorten: NAME, elapsed: "3.2s", columns: 120 })).toBe(`◐ ${TEXT} (3.2s)`);
  });

  test("the issue's case: 80 columns with a coloured frame keeps the state and elapsed time whole", () => {
    const line = progressLine({ frame: COLOR_FRAME, text: TEXT, shorten: NAME, elapsed: "1m05s", columns: 80 });
    expect(visibleWidth(line)).toBeLessThanOrEqual(79);
    expect(line.endsWith("to be Available: Provisioning (1m05s)")).toBe(true);
    expect(line).toContain("waiting for monalisa-");
    expect(line).toContain("…");
    expect(line.startsWith(COLOR_FRAME)).toBe(true);
  });

  test("exactly as wide as allowed when shortened; the colour codes are not counted", () => {
    for (const columns of [60, 64, 70, 79]) {
      const line = progressLine({ frame: COLOR_FRAME, text: TEXT, shorten: NAME, elapsed: "12.0s", columns });
      expect(visibleWidth(line)).toBe(columns - 1);
      expect(line).toEndWith("Available: Provisioning (12.0s)");
    }
  });

  test("very narrow: the start of the text gives way, never the state or the time", () => {
    const line = progressLine({ frame: "◐", text: TEXT, shorten: NAME, elapsed: "12.0s", columns: 40 });
    expect(visibleWidth(line)).toBeLessThanOrEqual(39);
    expect(line).toEndWith("Available: Provisioning (12.0s)");
  });
});
