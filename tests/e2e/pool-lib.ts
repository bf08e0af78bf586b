/** Shared by the ready-pool e2e suites (tests/e2e/pool*.test.ts). */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Harness } from "./harness.ts";

export function claims(h: Harness): any[] {
  const dir = join(h.home, "claims");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /^cbx_[a-z2-7]{12}\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")));
}

export function liveState(h: Harness, name: string): string | null {
  return (h.emu.control.codespaces() as any[]).find((c) => c.name === name)?.state ?? null;
}

/** Poll until `pred` holds (never a fixed sleep); false after `ms`. */
export async function waitFor(pred: () => boolean, ms = 60_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await Bun.sleep(25);
  }
  return pred();
}

/** `prewarm --json` (throws with its stderr unless it exits as expected). */
export async function prewarm(h: Harness, args: string[] = [], expectCode = 0): Promise<any> {
  const r = await h.run(["prewarm", "--json", ...args], { timeoutMs: 120_000 });
  if (r.code !== expectCode) throw new Error(`prewarm exited ${r.code}, not ${expectCode}:\n${r.stderr}`);
  return r.json();
}

/** A directory the remote commands (same machine) and the test share: start files and a "go" file. */
export function gate(): { dir: string; started(): number; cmd(name: string): string; open(): void } {
  const dir = mkdtempSync(join(tmpdir(), "crabbox-pool-gate-"));
  mkdirSync(dir, { recursive: true });
  return {
    dir,
    started: () => readdirSync(dir).filter((f) => f.startsWith("started-")).length,
    // Say "started", then wait for "go".
    cmd: (name) => `touch ${dir}/started-${name}; while [ ! -f ${dir}/go ]; do sleep 0.05; done`,
    open: () => Bun.write(join(dir, "go"), "") as unknown as void,
  };
}
