/**
 * Issue #14 item 8: with a token and a GitHub that never answers, a terminal
 * shows progress long before the first attempt times out, and the final
 * error says how long it tried. The binary runs under a pseudo-terminal
 * (`script`), against a TCP server that accepts connections and never answers.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN, requireBinary } from "./harness.ts";

let server: Bun.TCPSocketListener<undefined>;
let tmp: string;
beforeAll(() => {
  requireBinary();
  tmp = mkdtempSync(join(tmpdir(), "crabbox-slow-api-"));
  // Accepts, reads, never answers.
  server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
});
afterAll(() => {
  server.stop(true);
  rmSync(tmp, { recursive: true, force: true });
});

const TOKEN = "ghp_slowApiToken0123456789abcdefghijklmn";

/** Start `crabbox-cs args` on a pseudo-terminal; the output (both streams) arrives through `read()`. */
function onTerminal(args: string[], env: Record<string, string>) {
  const pidFile = join(tmp, `pid-${Math.random().toString(36).slice(2)}`);
  const cmd = `echo $$ > ${pidFile}; exec ${[BIN, ...args].map((a) => `'${a}'`).join(" ")}`;
  const proc = Bun.spawn(["script", "-qfec", cmd, "/dev/null"], {
    env: {
      PATH: process.env.PATH!,
      HOME: tmp,
      CRABBOX_HOME: join(tmp, "home"),
      NO_COLOR: "1",
      TERM: "xterm",
      GH_TOKEN: TOKEN,
      CRABBOX_GITHUB_CODESPACES_API_URL: `http://127.0.0.1:${server.port}`,
      CRABBOX_GITHUB_CODESPACES_REPO: "octo-org/hello-world",
      ...env,
    },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  return {
    proc,
    /** Read until `re` matches the output so far (or the program ends). */
    async until(re: RegExp): Promise<string> {
      while (!re.test(out)) {
        const { value, done } = await reader.read();
        if (done) break;
        out += decoder.decode(value);
      }
      return out;
    },
    kill() {
      try {
        process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGKILL");
      } catch {}
      proc.kill("SIGKILL");
    },
  };
}

test.each([["doctor"], ["warmup"], ["run"]])("%s: progress on a terminal during the first attempt, long before it times out", async (cmd) => {
  const t = onTerminal(cmd === "run" ? ["run", "--no-sync", "--", "true"] : [cmd], { CRABBOX_API_TIMEOUT: "30s" });
  try {
    // The spinner appears while attempt 1 (of a 30 s per-attempt timeout) is still waiting.
    const out = await t.until(/waiting for GitHub: GET \/user \(attempt 1 of 5\)/);
    expect(out).toMatch(/waiting for GitHub: GET \/user \(attempt 1 of 5\) \(\d/);
    expect(out).not.toContain("did not answer");
    expect(out).not.toContain(TOKEN);
  } finally {
    t.kill();
  }
});

test("the final error says how long it tried and how often", async () => {
  const t = onTerminal(["warmup"], { CRABBOX_API_TIMEOUT: "100ms" });
  try {
    const out = await t.until(/error: .*\n(.*\n)*.*fix: .*\n/);
    expect(out).toMatch(/GitHub did not answer GET \/user: retry 1 of 4 in 1s/);
    expect(out).toMatch(/error: GitHub did not answer GET \/user \(waited \d+(\.\d)?s in total, 5 attempts\)/);
    expect(await t.proc.exited).toBe(8);
    expect(out).not.toContain(TOKEN);
  } finally {
    t.kill();
  }
});
