/**
 * src/output/write.ts: what we print goes out with write(2), whole and in order, into a pipe that
 * fills up (blocking, or not), and a reader that has gone away (EPIPE) is not a failure of ours.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const WRITE = join(import.meta.dir, "..", "..", "src", "output", "write.ts");
const BUN = process.execPath;

function child(code: string): ReturnType<typeof Bun.spawn> {
  return Bun.spawn([BUN, "-e", `import { writeStderr, writeStdout } from ${JSON.stringify(WRITE)};\n${code}`], { stdout: "pipe", stderr: "pipe" });
}

describe("writeStdout / writeStderr", () => {
  test("4 MiB through a pipe read slowly arrive whole and in order, with the lines around them", async () => {
    const make = `Array.from({ length: 64 * 1024 }, (_, i) => String(i).padStart(63, "0") + "\\n").join("")`;
    const big: string = eval(make);
    const p = child(`writeStdout("first\\n"); writeStdout(${make}); writeStdout("last\\n"); writeStderr("done\\n");`);
    await Bun.sleep(200); // the pipe is full long before this
    const [out, err, code] = await Promise.all([new Response(p.stdout as ReadableStream).text(), new Response(p.stderr as ReadableStream).text(), p.exited]);
    expect(code).toBe(0);
    expect(err).toBe("done\n");
    expect(out.length).toBe(big.length + "first\nlast\n".length);
    expect(out === `first\n${big}last\n`).toBe(true);
  }, 20_000);

  test("a descriptor that would block (Bun sets it non-blocking once process.stdout is built) still gets it all, in order", async () => {
    const make = `Array.from({ length: 64 * 1024 }, (_, i) => String(i).padStart(63, "0") + "\\n").join("")`;
    const big: string = eval(make);
    const p = child(`void process.stdout.isTTY; writeStdout("first\\n"); writeStdout(${make}); writeStdout("middle\\n"); writeStdout(${make}); writeStdout("last\\n"); writeStderr("done\\n");`);
    await Bun.sleep(200);
    const [out, err, code] = await Promise.all([new Response(p.stdout as ReadableStream).text(), new Response(p.stderr as ReadableStream).text(), p.exited]);
    expect(code).toBe(0);
    expect(err).toBe("done\n");
    expect(out.length).toBe(2 * big.length + "first\nmiddle\nlast\n".length);
    expect(out === `first\n${big}middle\n${big}last\n`).toBe(true);
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
