/**
 * The npm distribution, shaped like esbuild's and biome's:
 * - `crabbox-cs`: a small main package whose `bin` is a Node launcher (npm/launcher.cjs) and whose
 *   optionalDependencies are the platform packages, all at the same version;
 * - `@crabbox-cs/<os>-<cpu>`: one package per platform holding `bin/crabbox-cs`, with `os`/`cpu`
 *   fields so npm installs only the one that fits.
 * build.ts writes them under dist/npm/ from the compiled binaries; nothing is published from here.
 */
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };

export const TARGETS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"] as const;
export type Target = (typeof TARGETS)[number];

export const SCOPE = "@crabbox-cs";
const ROOT = join(import.meta.dir, "..");

/** The target this machine runs, or undefined when we ship no binary for it. */
export function hostTarget(): Target | undefined {
  const t = `${process.platform}-${process.arch}`;
  return (TARGETS as readonly string[]).includes(t) ? (t as Target) : undefined;
}

export function platformPackageName(t: Target): string {
  return `${SCOPE}/${t}`;
}

/** Fields copied from the root package.json into every published package, when set. */
function common(): Record<string, unknown> {
  const p = pkg as Record<string, unknown>;
  const out: Record<string, unknown> = { version: pkg.version, license: pkg.license };
  for (const k of ["homepage", "repository", "bugs", "author"]) if (p[k] !== undefined) out[k] = p[k];
  return out;
}

export function platformManifest(t: Target): Record<string, unknown> {
  const [os, cpu] = t.split("-") as [string, string];
  return {
    name: platformPackageName(t),
    ...common(),
    description: `The ${t} binary of crabbox-cs (installed by the crabbox-cs package).`,
    os: [os],
    cpu: [cpu],
    files: ["bin/crabbox-cs"],
    preferUnplugged: true,
  };
}

export function mainManifest(): Record<string, unknown> {
  return {
    name: pkg.name,
    ...common(),
    description: pkg.description,
    bin: { "crabbox-cs": "bin/crabbox-cs.cjs" },
    man: ["./crabbox-cs.1"],
    files: ["bin/crabbox-cs.cjs", "crabbox-cs.1"],
    engines: { node: ">=18" },
    optionalDependencies: Object.fromEntries(TARGETS.map((t) => [platformPackageName(t), pkg.version])),
  };
}

function writeJson(path: string, data: unknown): void {
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}

/** Copy README and LICENSE in, so the registry page and the tarball carry them. */
function copyDocs(dir: string): void {
  copyFileSync(join(ROOT, "README.md"), join(dir, "README.md"));
  copyFileSync(join(ROOT, "LICENSE"), join(dir, "LICENSE"));
}

/**
 * Write the main package and one platform package per given binary into outDir:
 * outDir/crabbox-cs/ and outDir/<target>/. Returns the package directories, main first.
 */
export function writeNpmPackages(outDir: string, binaries: Partial<Record<Target, string>>): string[] {
  const dirs: string[] = [];
  const main = join(outDir, "crabbox-cs");
  rmSync(main, { recursive: true, force: true });
  mkdirSync(join(main, "bin"), { recursive: true });
  writeJson(join(main, "package.json"), mainManifest());
  copyFileSync(join(ROOT, "npm/launcher.cjs"), join(main, "bin/crabbox-cs.cjs"));
  chmodSync(join(main, "bin/crabbox-cs.cjs"), 0o755);
  copyFileSync(join(ROOT, "crabbox-cs.1"), join(main, "crabbox-cs.1"));
  copyDocs(main);
  dirs.push(main);
  for (const t of TARGETS) {
    const bin = binaries[t];
    if (!bin) continue;
    const dir = join(outDir, t);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, "bin"), { recursive: true });
    writeJson(join(dir, "package.json"), platformManifest(t));
    copyFileSync(bin, join(dir, "bin/crabbox-cs"));
    chmodSync(join(dir, "bin/crabbox-cs"), 0o755);
    copyDocs(dir);
    dirs.push(dir);
  }
  return dirs;
}

/** `npm pack` each directory into dest; returns the tarball paths in the same order. */
export function npmPack(dirs: string[], destDir: string): string[] {
  const dest = resolve(destDir);
  mkdirSync(dest, { recursive: true });
  return dirs.map((dir) => {
    const r = Bun.spawnSync(["npm", "pack", "--json", "--pack-destination", dest], { cwd: dir, stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`npm pack ${dir} failed: ${r.stderr.toString()}`);
    const [info] = JSON.parse(r.stdout.toString()) as [{ filename: string }];
    return join(dest, info.filename);
  });
}
