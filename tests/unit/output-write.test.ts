/**
 * src/output/write.ts: what we print goes out with write(2), whole and in order, into a pipe that
 * fills up (blocking, or not), and a reader that has gone away (EPIPE) is not a failure of ours.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const WRITE = join(import.meta.dir, "..", "..", "src", "output", "write.ts");
const BUN = process.execPath;

/** 4 MiB of numbered lines: the expression the child evaluates, and its value here. */
const MAKE_BIG = `Array.from({ length: 64 * 1024 }, (_, i) => String(i).padStart(63, "0") + "\\n").join("")`;
const BIG: string = eval(MAKE_BIG);

/** Run `code` in a child with both writers imported; read its output only after it has filled the pipe. */
async function child(code: string): Promise<{ out: string; err: string; code: number }> {
  const p = Bun.spawn([BUN, "-e", `import { writeStderr, writeStdout } from ${JSON.stringify(WRITE)};\n${code}`], { stdout: "pipe", stderr: "pipe" });
  await Bun.sleep(200); // the pipe is full long before this
  const [out, err, exit] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code: exit };
}

describe("writeStdout / writeStderr", () => {
  test("4 MiB through a pipe read slowly arrive whole and in order, with the lines around them", async () => {
    const r = await child(`writeStdout("first\\n"); writeStdout(${MAKE_BIG}); writeStdout("last\\n"); writeStderr("done\\n");`);
    expect(r.code).toBe(0);
    expect(r.err).toBe("done\n");
    expect(r.out.length).toBe(BIG.length + "first\nlast\n".length);
    expect(r.out === `first\n${BIG}last\n`).toBe(true);
  }, 20_000);

  test("a descriptor that would block (Bun sets it non-blocking once process.stdout is built) still gets it all, in order", async () => {
    const r = await child(`void process.stdout.isTTY; writeStdout("first\\n"); writeStdout(${MAKE_BIG}); writeStdout("middle\\n"); writeStdout(${MAKE_BIG}); writeStdout("last\\n"); writeStderr("done\\n");`);
    expect(r.code).toBe(0);
    expect(r.err).toBe("done\n");
    expect(r.out.length).toBe(2 * BIG.length + "first\nmiddle\nlast\n".length);
    expect(r.out === `first\n${BIG}middle\n${BIG}last\n`).toBe(true);
  }, 20_000);

  test("a reader that has quit (EPIPE) ends nothing: the next line still runs", async () => {
    const p = Bun.spawn(["sh", "-c", `${JSON.stringify(BUN)} -e "$0" | head -c 1 >/dev/null`, `import { writeStdout, writeStderr } from ${JSON.stringify(WRITE)};
await Bun.sleep(100);
for (let i = 0; i < 200; i++) writeStdout("x".repeat(65536));
writeStderr("still here\\n");`], { stdout: "pipe", stderr: "pipe" });
    const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(err).toBe("still here\n");
    expect(code).toBe(0);
  }, 20_000);
});
