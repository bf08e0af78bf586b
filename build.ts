/**
 * Build the single-file binary with `bun build --compile`.
 *   bun build.ts          -> dist/crabbox-cs for this machine
 *   bun build.ts --all    -> also dist/crabbox-cs-{linux,darwin}-{x64,arm64} + SHA256SUMS
 */
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import pkg from "./package.json" with { type: "json" };

const TARGETS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"] as const;

function commit(): string {
  const r = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { stderr: "ignore" });
  if (r.exitCode !== 0) return "unknown";
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { stderr: "ignore" });
  return `${r.stdout.toString().trim()}${dirty.stdout.toString().trim() ? "-dirty" : ""}`;
}

function compile(outfile: string, target?: string): void {
  const args = [
    process.execPath, "build", "--compile", "--minify", "--bytecode", "--sourcemap=none",
    `--define=__CRABBOX_VERSION__=${JSON.stringify(pkg.version)}`,
    `--define=__CRABBOX_COMMIT__=${JSON.stringify(commit())}`,
    ...(target ? [`--target=bun-${target}`] : []),
    "src/cli.ts", "--outfile", outfile,
  ];
  const r = Bun.spawnSync(args, { stdout: "inherit", stderr: "inherit" });
  if (r.exitCode !== 0) throw new Error(`bun build failed for ${target ?? "host"} (exit ${r.exitCode})`);
  const mb = (statSync(outfile).size / 1024 / 1024).toFixed(1);
  console.error(`built ${outfile} (${mb} MiB)`);
}

mkdirSync("dist", { recursive: true });
compile("dist/crabbox-cs");
if (process.argv.includes("--all")) {
  const sums: string[] = [];
  for (const t of TARGETS) {
    const out = `dist/crabbox-cs-${t}`;
    compile(out, t);
    sums.push(`${createHash("sha256").update(readFileSync(out)).digest("hex")}  crabbox-cs-${t}`);
  }
  writeFileSync("dist/SHA256SUMS", `${sums.join("\n")}\n`);
  console.error("wrote dist/SHA256SUMS");
}
