/**
 * Build the single-file binary with `bun build --compile`.
 *   bun build.ts               -> dist/crabbox-cs for this machine
 *   bun build.ts --all         -> also dist/crabbox-cs-{linux,darwin}-{x64,arm64} + SHA256SUMS (the
 *                                 release files install.sh downloads; install.sh is copied next to
 *                                 them) and the npm packages under
 *                                 dist/npm/ (crabbox-cs + one per platform; see npm/packages.ts)
 *   bun build.ts --all --pack  -> also `npm pack` them into dist/npm/*.tgz (`npm run pack`)
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, statSync } from "node:fs";
import { TARGETS, npmPack, writeNpmPackages, type Target } from "./npm/packages.ts";
import pkg from "./package.json" with { type: "json" };

function commit(): string {
  const r = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { stderr: "ignore" });
  if (r.exitCode !== 0) return "unknown";
  const dirty = Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=no"], { stderr: "ignore" });
  return `${r.stdout.toString().trim()}${dirty.stdout.toString().trim() ? "-dirty" : ""}`;
}

/** JIT tier-up thresholds ×100 during start-up (src/util/jit.ts sets 1 again after START_UP_MS). */
const JIT_POLICY = 100;

/**
 * How the binary's code is compiled (also what the bench's floor programs are compiled with, so
 * that a floor is built as well as we are: tests/bench/floor.ts).
 */
export const COMPILE_FLAGS = [
  "--compile", "--minify", "--bytecode", "--sourcemap=none",
  // Start-up (docs/performance.md): ES modules split into chunks, so that a command loads only
  // its own code (--version: the entry chunk alone), and a JIT that waits out the run-once
  // start-up code (src/util/jit.ts sets the normal policy back once start-up is over).
  "--format=esm", "--splitting", `--compile-jit-policy=${JIT_POLICY}`,
  // A cloned repository must never run code in, or set the environment of, our process: the
  // standalone binary would otherwise read bunfig.toml (its `preload` runs code) and .env from
  // the working directory. tsconfig.json and package.json autoloading are off by default.
  "--no-compile-autoload-bunfig", "--no-compile-autoload-dotenv",
  "--no-compile-autoload-tsconfig", "--no-compile-autoload-package-json",
];

function compile(outfile: string, target?: string): void {
  const args = [
    process.execPath, "build", ...COMPILE_FLAGS,
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

function main(): void {
  mkdirSync("dist", { recursive: true });
  compile("dist/crabbox-cs");
  if (!process.argv.includes("--all")) return;
  const sums: string[] = [];
  const binaries: Partial<Record<Target, string>> = {};
  for (const t of TARGETS) {
    const out = `dist/crabbox-cs-${t}`;
    compile(out, t);
    binaries[t] = out;
    sums.push(`${createHash("sha256").update(readFileSync(out)).digest("hex")}  crabbox-cs-${t}`);
  }
  writeFileSync("dist/SHA256SUMS", `${sums.join("\n")}\n`);
  console.error("wrote dist/SHA256SUMS");
  copyFileSync("install.sh", "dist/install.sh");
  const dirs = writeNpmPackages("dist/npm", binaries);
  console.error(`wrote npm packages: ${dirs.join(", ")}`);
  if (process.argv.includes("--pack")) {
    for (const tgz of npmPack(dirs, "dist/npm")) console.error(`packed ${tgz}`);
  }
}

if (import.meta.main) main();
