import { describe, expect, test } from "bun:test";
import { MarkerFilter, type MarkerKind } from "../../src/ssh/markers.ts";
import { exactlyOnce, markerPrefix, remoteCommand } from "../../src/ssh/quote.ts";

const NONCE = "abcdefgh23456722";
const M = markerPrefix(NONCE);

/** Feed `input` split at every position set in `cuts`; return what was forwarded and the markers seen. */
function feed(input: Uint8Array, cuts: number[]): { out: Uint8Array; markers: [MarkerKind, number | null][] } {
  const parts: Uint8Array[] = [];
  const markers: [MarkerKind, number | null][] = [];
  const f = new MarkerFilter(NONCE, (b) => parts.push(Uint8Array.from(b)), (k, v) => markers.push([k, v]));
  let at = 0;
  for (const c of [...cuts, input.length]) {
    f.push(input.subarray(at, c));
    at = c;
  }
  f.end();
  return { out: Buffer.concat(parts), markers };
}

const enc = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));

describe("MarkerFilter", () => {
  const stream = `noise from .bashrc\n${M}started:4242\nline one\n\x1fnot a marker\npartial${M}exit:3\n`;
  const expected = "noise from .bashrc\nline one\n\x1fnot a marker\npartial";

  test("removes exactly the markers, at every split point", () => {
    const input = enc(stream);
    for (let i = 0; i <= input.length; i++) {
      for (const j of [i, Math.min(input.length, i + 1), Math.min(input.length, i + 7)]) {
        const r = feed(input, i === j ? [i] : [i, j]);
        expect(Buffer.from(r.out).toString("latin1")).toBe(expected);
        expect(r.markers).toEqual([
          ["started", 4242],
          ["exit", 3],
        ]);
      }
    }
  });

  test("pty line endings, the `again` marker, binary bytes pass through untouched", () => {
    const bin = new Uint8Array([0, 1, 0x1f, 0xff, 0x1f, 0x0a, 0xc3, 0xa9]);
    const input = Buffer.concat([enc(`${M}again\r\n`), bin, enc(`${M}exit:130\r\n`)]);
    const r = feed(input, [3]);
    expect([...r.out]).toEqual([...bin]);
    expect(r.markers).toEqual([
      ["again", null],
      ["exit", 130],
    ]);
  });

  test("another nonce's marker, and a marker cut short by the end of the stream, are output", () => {
    const other = `${markerPrefix("zzzzzzzz22222222")}started:1\n`;
    const cut = `${M}started:12`;
    const r = feed(enc(other + cut), [5]);
    expect(Buffer.from(r.out).toString("latin1")).toBe(other + cut);
    expect(r.markers).toEqual([]);
  });
});

describe("exactlyOnce", () => {
  test("the wrapper runs the command once per nonce, and says so", async () => {
    const home = `/tmp/crabbox-once-unit-${process.pid}`;
    const cmd = remoteCommand({ workRoot: "/", argv: ["sh", "-c", "echo ran; exit 7"], nonce: NONCE });
    expect(cmd).toBe(exactlyOnce(NONCE, "cd -- / && sh -c 'echo ran; exit 7'"));
    const run = () => Bun.spawnSync(["sh", "-c", cmd], { env: { HOME: home, PATH: process.env.PATH } });
    try {
      const first = run();
      expect(first.exitCode).toBe(7);
      expect(first.stdout.toString()).toBe("ran\n");
      expect(first.stderr.toString()).toMatch(new RegExp(`^${M}started:\\d+\\n${M}exit:7\\n$`));
      const second = run();
      expect(second.exitCode).toBe(254);
      expect(second.stdout.toString()).toBe("");
      expect(second.stderr.toString()).toBe(`${M}again\n`);
    } finally {
      Bun.spawnSync(["rm", "-rf", home]);
    }
  });
});
