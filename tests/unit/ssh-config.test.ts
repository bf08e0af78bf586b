import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { CrabboxError } from "../../src/errors.ts";
import { createRuntime } from "../../src/runtime.ts";
import {
  controlPathFits,
  parseHostBlock,
  proxyLogPathFor,
  renderLeaseConfig,
  resolveControlDir,
  writeLeaseConfig,
} from "../../src/ssh/config.ts";

// The shape documented in gh-facts.md (tabs, a mix of "Key value" and "Key=value").
const GH_SAMPLE = [
  "Host cs.fuzzy-crab-q7x9.main",
  "\tUser vscode",
  "\tProxyCommand /usr/bin/gh cs ssh -c fuzzy-crab-q7x9 --stdio -- -i ~/.ssh/codespaces.auto",
  "\tUserKnownHostsFile=/dev/null",
  "\tStrictHostKeyChecking no",
  "\tLogLevel quiet",
  "\tControlMaster auto",
  "\tIdentityFile ~/.ssh/codespaces.auto",
  "",
].join("\n");

function thrown(fn: () => unknown): CrabboxError {
  try {
    fn();
  } catch (e) {
    return e as CrabboxError;
  }
  throw new Error("did not throw");
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync("/tmp/cbx-cfg-");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("parseHostBlock", () => {
  test("gh's sample", () => {
    const b = parseHostBlock(GH_SAMPLE);
    expect(b.alias).toBe("cs.fuzzy-crab-q7x9.main");
    expect(b.options).toEqual([
      ["User", "vscode"],
      ["ProxyCommand", "/usr/bin/gh cs ssh -c fuzzy-crab-q7x9 --stdio -- -i ~/.ssh/codespaces.auto"],
      ["UserKnownHostsFile", "/dev/null"],
      ["StrictHostKeyChecking", "no"],
      ["LogLevel", "quiet"],
      ["ControlMaster", "auto"],
      ["IdentityFile", "~/.ssh/codespaces.auto"],
    ]);
  });
  test("Key=value, Key = value, spaces, comments, blank lines, CRLF", () => {
    const b = parseHostBlock("# from gh\r\n\r\nHost=cs.a.b\r\n  User = codespace\r\n\tPort=22\r\n   # note\r\n  IdentityFile   /k\r\n");
    expect(b.alias).toBe("cs.a.b");
    expect(b.options).toEqual([
      ["User", "codespace"],
      ["Port", "22"],
      ["IdentityFile", "/k"],
    ]);
  });
  test("zero or several Host blocks are refused with exit 7", () => {
    const none = thrown(() => parseHostBlock("User vscode\n"));
    expect(none.exit).toBe(7);
    expect(none.message).toMatch(/no Host blocks/);
    expect(thrown(() => parseHostBlock("")).message).toMatch(/no Host blocks/);
    const two = thrown(() => parseHostBlock(`${GH_SAMPLE}Host cs.other.main\n\tUser vscode\n`));
    expect(two.exit).toBe(7);
    expect(two.message).toMatch(/several Host blocks/);
  });
  test("wildcards, several patterns and odd lines are refused", () => {
    expect(thrown(() => parseHostBlock("Host cs.*\n")).exit).toBe(7);
    expect(thrown(() => parseHostBlock("Host a b\n")).message).toMatch(/several or no aliases/);
    expect(thrown(() => parseHostBlock("Host !a\n")).exit).toBe(7);
    expect(thrown(() => parseHostBlock("Host a\n\tUser\n")).exit).toBe(7);
    expect(thrown(() => parseHostBlock("Match all\n")).exit).toBe(7);
  });
});

describe("renderLeaseConfig", () => {
  test("keeps gh's connection options, drops its ControlMaster/LogLevel, adds ours", () => {
    const b = parseHostBlock(GH_SAMPLE);
    const { text, alias } = renderLeaseConfig({ ...b, controlDir: "/home/u/.crabbox/ssh/cm", proxyLogPath: "/home/u/.crabbox/ssh/x.proxy.log" });
    expect(alias).toBe(b.alias);
    const lines = text.split("\n").map((l) => l.trim());
    expect(lines).toContain("Host cs.fuzzy-crab-q7x9.main");
    expect(lines).toContain("User vscode");
    expect(lines).toContain("IdentityFile ~/.ssh/codespaces.auto");
    expect(lines).toContain("UserKnownHostsFile /dev/null");
    expect(lines).toContain("StrictHostKeyChecking no");
    expect(lines).toContain("ProxyCommand /usr/bin/gh cs ssh -c fuzzy-crab-q7x9 --stdio -- -i ~/.ssh/codespaces.auto 2>>/home/u/.crabbox/ssh/x.proxy.log");
    for (const l of ["BatchMode yes", "ServerAliveInterval 15", "ServerAliveCountMax 4", "ConnectTimeout 30", "ControlMaster auto", "ControlPath /home/u/.crabbox/ssh/cm/%C", "ControlPersist 10m", "LogLevel ERROR"]) {
      expect(lines).toContain(l);
    }
    expect(lines.filter((l) => /^ControlMaster /i.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /^LogLevel /i.test(l))).toEqual(["LogLevel ERROR"]);
    expect(renderLeaseConfig({ ...b, controlDir: "/c", interactive: true }).text).not.toContain("BatchMode");
  });
  test("an alias rsync would misread is sanitised, the original kept as HostName", () => {
    const { text, alias } = renderLeaseConfig({ alias: "cs.name.feature/x", options: [["User", "vscode"]], controlDir: "/c" });
    expect(alias).toBe("cs.name.feature-x");
    expect(text).toContain("Host cs.name.feature-x\n");
    expect(text).toContain("HostName cs.name.feature/x");
  });
  test("real ssh reads the rendered file as intended (ssh -G)", () => {
    const dir = join(tmp, "dir with space%");
    const b = parseHostBlock(GH_SAMPLE);
    const { text } = renderLeaseConfig({ ...b, controlDir: dir, proxyLogPath: join(dir, "p.log") });
    const path = join(tmp, "g.config");
    require("node:fs").writeFileSync(path, text);
    const p = Bun.spawnSync(["ssh", "-G", "-F", path, b.alias]);
    expect(p.exitCode).toBe(0);
    const out = p.stdout.toString();
    expect(out).toContain("user vscode\n");
    expect(out).toContain("batchmode yes\n");
    expect(out).toContain("controlpersist 600\n");
    expect(out).toMatch(/controlpath .*dir with space%\/[0-9a-f]{40}\n/);
    expect(out).toContain("serveraliveinterval 15\n");
  });
});

describe("writeLeaseConfig", () => {
  test("writes <home>/ssh/<leaseId>.config 0600 in a 0700 dir, control dir 0700", async () => {
    const home = join(tmp, "h1");
    const rt = createRuntime({ crabboxHome: home, env: { ...process.env } });
    const r = await writeLeaseConfig(rt, "cbx_abcdefghijkl", GH_SAMPLE);
    expect(r.path).toBe(join(home, "ssh", "cbx_abcdefghijkl.config"));
    expect(r.alias).toBe("cs.fuzzy-crab-q7x9.main");
    expect(statSync(r.path).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, "ssh")).mode & 0o777).toBe(0o700);
    expect(statSync(join(home, "ssh", "cm")).mode & 0o777).toBe(0o700);
    expect(statSync(proxyLogPathFor(r.path)).mode & 0o777).toBe(0o600);
    const text = readFileSync(r.path, "utf8");
    expect(text).toContain(`ControlPath ${join(home, "ssh", "cm")}/%C`);
    // rewritten atomically: no temp files left behind
    await writeLeaseConfig(rt, "cbx_abcdefghijkl", GH_SAMPLE);
    expect(require("node:fs").readdirSync(join(home, "ssh")).filter((f: string) => f.endsWith(".tmp"))).toEqual([]);
  });
  test("a crabbox home too long for a socket path falls back to a private dir in /tmp", async () => {
    const home = join(tmp, "x".repeat(70));
    expect(controlPathFits(join(home, "ssh", "cm"))).toBe(false);
    const rt = createRuntime({ crabboxHome: home, env: { ...process.env } });
    const r = await writeLeaseConfig(rt, "cbx_abcdefghijkl", GH_SAMPLE);
    const cp = /ControlPath (\S+)\/%C/.exec(readFileSync(r.path, "utf8"))![1]!;
    expect(cp.startsWith(home)).toBe(false);
    expect(controlPathFits(cp)).toBe(true);
    expect(statSync(cp).mode & 0o777).toBe(0o700);
    expect(await resolveControlDir(home)).toBe(cp); // stable
    rmSync(cp, { recursive: true, force: true });
  });
  test("bad gh output becomes exit 7, nothing written", async () => {
    const home = join(tmp, "h2");
    const rt = createRuntime({ crabboxHome: home, env: { ...process.env } });
    const err = await writeLeaseConfig(rt, "cbx_abcdefghijkl", "oops\n").then(() => null, (e: CrabboxError) => e);
    expect(err?.exit).toBe(7);
    expect(existsSync(join(home, "ssh", "cbx_abcdefghijkl.config"))).toBe(false);
  });
});
