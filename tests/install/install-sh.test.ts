/**
 * install.sh against a loopback release server (Bun.serve on 127.0.0.1, random port) serving the
 * built binary and SHA256SUMS in the layout `bun build.ts --all` writes: a good release, a tampered
 * binary, a SHA256SUMS without our line, and a missing binary. Run with /bin/sh (dash on Debian).
 *
 * install.sh uses curl (else wget) and sha256sum (else shasum). The real tools are used when the
 * machine has them; a machine without curl and wget (a slim image) gets small stand-ins, written
 * here, so that the checksum and install logic is still tested everywhere.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { TARGETS, hostTarget } from "../../npm/packages.ts";
import { BIN, ROOT, requireBinary } from "../e2e/harness.ts";

const SCRIPT = join(ROOT, "install.sh");
let tmp: string;
let server: ReturnType<typeof Bun.serve>;
let base: string;
let asset: string;
let binary: Buffer;
const requests: string[] = [];
let standins: string;

/** Minimal stand-ins, used only for a tool the machine lacks: `curl -fsSL [--retry N] -o F URL`, `wget -q -O F URL`, `shasum -a 256 F`. */
const STANDIN: Record<string, string> = {
  curl: `const a = process.argv.slice(2); let out, url;
for (let i = 0; i < a.length; i++) { if (a[i] === "-o") out = a[++i]; else if (a[i] === "--retry") i++; else if (!a[i].startsWith("-")) url = a[i]; }
require("http").get(url, (r) => { if (r.statusCode >= 400) { r.resume(); process.exit(22); } r.pipe(require("fs").createWriteStream(out)).on("finish", () => process.exit(0)); }).on("error", () => process.exit(7));`,
  wget: `const a = process.argv.slice(2); let out, url;
for (let i = 0; i < a.length; i++) { if (a[i] === "-O") out = a[++i]; else if (!a[i].startsWith("-")) url = a[i]; }
require("http").get(url, (r) => { if (r.statusCode >= 400) { r.resume(); process.exit(8); } r.pipe(require("fs").createWriteStream(out)).on("finish", () => process.exit(0)); }).on("error", () => process.exit(4));`,
  shasum: `const f = process.argv.at(-1);
console.log(require("crypto").createHash("sha256").update(require("fs").readFileSync(f)).digest("hex") + "  " + f);`,
};

/** The real tool, or a stand-in (in its own directory) when this machine has none. */
function tool(name: string): string {
  const real = Bun.which(name);
  if (real) return real;
  const dir = join(standins, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), `#!${process.execPath}\n${STANDIN[name]}\n`, { mode: 0o755 });
  return join(dir, name);
}

/** PATH for install.sh: the ambient one, plus a curl stand-in if neither curl nor wget exists. */
function defaultPath(): string {
  const path = process.env.PATH ?? "/usr/bin:/bin";
  return Bun.which("curl") || Bun.which("wget") ? path : `${dirname(tool("curl"))}:${path}`;
}

function sums(entries: Record<string, string>): string {
  return Object.entries(entries).map(([f, h]) => `${h}  ${f}\n`).join("");
}

beforeAll(() => {
  requireBinary();
  const host = hostTarget();
  if (!host) throw new Error(`no release binary for ${process.platform}-${process.arch}`);
  asset = `crabbox-cs-${host}`;
  tmp = mkdtempSync(join(tmpdir(), "crabbox-install-sh-"));
  standins = join(tmp, "standins");
  binary = readFileSync(BIN);
  const good = createHash("sha256").update(binary).digest("hex");
  const others = Object.fromEntries(TARGETS.filter((t) => t !== host).map((t) => [`crabbox-cs-${t}`, "0".repeat(64)]));
  const tampered = Buffer.from(binary);
  tampered[tampered.length >> 1]! ^= 0xff;
  const releases: Record<string, Record<string, Blob | string>> = {
    good: { [asset]: Bun.file(BIN), SHA256SUMS: sums({ ...others, [asset]: good }) },
    tampered: { [asset]: new Blob([tampered]), SHA256SUMS: sums({ ...others, [asset]: good }) },
    nosum: { [asset]: Bun.file(BIN), SHA256SUMS: sums(others) },
    nobinary: { SHA256SUMS: sums({ ...others, [asset]: good }) },
  };
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const [, release, file] = new URL(req.url).pathname.split("/");
      requests.push(`${release}/${file}`);
      const body = releases[release ?? ""]?.[file ?? ""];
      return body === undefined ? new Response("not found", { status: 404 }) : new Response(body);
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => {
  server?.stop(true);
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

let n = 0;
/** Run install.sh for one release; returns where it would install and what happened. */
async function install(release: string, opts: { prefix?: boolean; path?: string; env?: Record<string, string> } = {}) {
  const dir = join(tmp, `case${++n}`);
  const home = join(dir, "home");
  const tmpd = join(dir, "tmp");
  mkdirSync(home, { recursive: true });
  mkdirSync(tmpd, { recursive: true });
  const prefix = opts.prefix === false ? join(home, ".local") : join(dir, "prefix");
  const env: Record<string, string> = {
    PATH: opts.path ?? defaultPath(),
    HOME: home,
    TMPDIR: tmpd,
    CRABBOX_RELEASE_URL: `${base}/${release}/`,
    ...(opts.prefix === false ? {} : { PREFIX: prefix }),
    ...opts.env,
  };
  // Not spawnSync: the release server runs on this thread.
  const p = Bun.spawn(["/bin/sh", SCRIPT], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr, bindir: join(prefix, "bin"), tmpd };
}

describe("install.sh", () => {
  test("installs the verified binary into $PREFIX/bin, and says how to put it on PATH", async () => {
    requests.length = 0;
    const r = await install("good");
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(requests).toEqual(["good/SHA256SUMS", `good/${asset}`]);
    const installed = join(r.bindir, "crabbox-cs");
    expect(readFileSync(installed).equals(binary)).toBe(true);
    expect(statSync(installed).mode & 0o777).toBe(0o755);
    expect(readdirSync(r.bindir)).toEqual(["crabbox-cs"]);
    expect(r.stderr).toContain(`installed crabbox-cs ${pkg.version} (`);
    expect(r.stderr).toContain(`${r.bindir} is not on your PATH`);
    expect(r.stderr).toContain(`export PATH="${r.bindir}:$PATH"`);
    expect(readdirSync(r.tmpd)).toEqual([]);
    const v = Bun.spawnSync([installed, "--version"]); // no server needed
    expect(v.exitCode).toBe(0);
    expect(v.stdout.toString()).toStartWith(`crabbox-cs ${pkg.version} (`);
  });

  test("without PREFIX it installs into ~/.local/bin; no PATH advice when that is on PATH", async () => {
    const home = join(tmp, `case${n + 1}`, "home");
    const r = await install("good", { prefix: false, path: `${join(home, ".local/bin")}:${defaultPath()}` });
    expect(r.code).toBe(0);
    expect(r.bindir).toBe(join(home, ".local/bin"));
    expect(readFileSync(join(r.bindir, "crabbox-cs")).equals(binary)).toBe(true);
    expect(r.stderr).not.toContain("not on your PATH");
  });

  test("a tampered binary is refused: exit 1, nothing installed, an existing crabbox-cs untouched", async () => {
    const fresh = await install("tampered");
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toContain(`error: checksum mismatch for ${asset}: nothing installed`);
    expect(existsSync(fresh.bindir)).toBe(false);
    expect(readdirSync(fresh.tmpd)).toEqual([]);

    const dir = join(tmp, `case${n + 1}`);
    mkdirSync(join(dir, "prefix/bin"), { recursive: true });
    writeFileSync(join(dir, "prefix/bin/crabbox-cs"), "old\n", { mode: 0o755 });
    const over = await install("tampered");
    expect(over.code).toBe(1);
    expect(readFileSync(join(over.bindir, "crabbox-cs"), "utf8")).toBe("old\n");
    expect(readdirSync(over.bindir)).toEqual(["crabbox-cs"]);
  });

  test("a SHA256SUMS without a line for the binary is refused, nothing installed", async () => {
    const r = await install("nosum");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: SHA256SUMS has no line for ${asset}`);
    expect(existsSync(r.bindir)).toBe(false);
  });

  test("a binary missing from the release is a clear error", async () => {
    const r = await install("nobinary");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error: could not download ${base}/nobinary/${asset}`);
    expect(existsSync(r.bindir)).toBe(false);
  });

  test("works with wget and shasum when curl and sha256sum are missing", async () => {
    const tools = ["sh", "uname", "mktemp", "rm", "awk", "mkdir", "cp", "chmod", "mv", "tr"];
    const bin = join(tmp, "minimal-bin");
    mkdirSync(bin, { recursive: true });
    for (const t of tools) {
      const where = Bun.which(t);
      if (!where) throw new Error(`${t} is needed for this test`);
      symlinkSync(where, join(bin, t));
    }
    symlinkSync(tool("wget"), join(bin, "wget"));
    symlinkSync(tool("shasum"), join(bin, "shasum"));
    const perl = Bun.which("perl"); // the real shasum is a perl script
    if (perl) symlinkSync(perl, join(bin, "perl"));
    expect(["curl", "sha256sum"].filter((t) => existsSync(join(bin, t)))).toEqual([]);
    const ok = await install("good", { path: bin });
    expect({ code: ok.code, stderr: ok.stderr }).toMatchObject({ code: 0 });
    expect(readFileSync(join(ok.bindir, "crabbox-cs")).equals(binary)).toBe(true);
    const bad = await install("tampered", { path: bin });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("checksum mismatch");
    expect(existsSync(bad.bindir)).toBe(false);
  });
});
