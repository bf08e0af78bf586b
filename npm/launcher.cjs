#!/usr/bin/env node
// crabbox-cs npm launcher: find the binary of the platform package npm installed
// (@crabbox-cs/<os>-<cpu>, an optionalDependency) and run it with the same argv and stdio;
// exit with its exit code, or die of the same signal.
//
// Signals: Ctrl-C (SIGINT), SIGQUIT and a terminal hangup (SIGHUP) reach the whole foreground
// process group, so the binary gets them itself; the launcher only outlives them, because a second
// SIGINT tells crabbox-cs to leave at once. SIGTERM is usually sent to one pid (kill, a process
// manager), so the launcher passes it on.
"use strict";
const { spawn } = require("node:child_process");
const os = require("node:os");
const path = require("node:path");

const TARGETS = ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"];
const target = `${process.platform}-${process.arch}`;
const pkg = `@crabbox-cs/${target}`;

function fail(message, why, fix) {
  process.stderr.write(`error: ${message}\n  why: ${why}\n  fix: ${fix}\n`);
  process.exit(1);
}

function binaryPath() {
  if (!TARGETS.includes(target)) {
    fail(
      `crabbox-cs has no binary for ${target}`,
      `prebuilt binaries exist for ${TARGETS.join(", ")}`,
      "build from source: git clone the repository, then npm ci && npm run build",
    );
  }
  try {
    return require.resolve(`${pkg}/bin/crabbox-cs`);
  } catch {
    return fail(
      `the crabbox-cs binary for ${target} is not installed`,
      `npm did not install the optional dependency ${pkg} (--omit=optional, --no-optional, or a copied node_modules)`,
      "reinstall without omitting optional dependencies: npm install -g crabbox-cs",
    );
  }
}

const bin = binaryPath();
let child;
const ignore = () => {};
const forward = (sig) => {
  try {
    child.kill(sig);
  } catch {}
};
// Before the spawn, so that no signal can arrive between the two.
for (const sig of ["SIGINT", "SIGQUIT", "SIGHUP"]) process.on(sig, ignore);
process.on("SIGTERM", forward);
child = spawn(bin, process.argv.slice(2), { stdio: "inherit" });
child.on("error", (e) => fail(`could not start ${path.basename(e.path || "crabbox-cs")}`, String(e.message), `check that ${pkg} is installed intact`));
child.on("exit", (code, signal) => {
  if (signal) {
    for (const sig of ["SIGINT", "SIGQUIT", "SIGHUP"]) process.off(sig, ignore);
    process.off("SIGTERM", forward);
    process.exitCode = 128 + (os.constants.signals[signal] || 0); // if the signal does not end us
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code === null ? 1 : code);
});
