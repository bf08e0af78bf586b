/** The local programs a lease needs, checked before anything is created. */
import { accessSync, constants } from "node:fs";
import { CrabboxError, Exit } from "../errors.ts";
import type { Runtime } from "../runtime.ts";

function runnable(runtime: Runtime, program: string): boolean {
  const path = runtime.which(program);
  if (!path) return false;
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Which of these programs cannot be run here. */
export function missingTools(runtime: Runtime, programs: string[]): string[] {
  return programs.filter((p) => !runnable(runtime, p));
}

/** How to install missing programs on Debian/Ubuntu. */
export function installHint(missing: string[]): string {
  return `install them, e.g. sudo apt-get install -y ${missing.map((m) => (m === "ssh" ? "openssh-client" : m)).join(" ")}`;
}

/** gh, ssh and rsync must be runnable here, or a codespace would be created for nothing. */
export function assertLocalTools(runtime: Runtime, ghPath: string): void {
  const missing = missingTools(runtime, [ghPath, "ssh", "rsync"]);
  if (missing.length === 0) return;
  const gh = missing.includes(ghPath);
  throw new CrabboxError({
    code: gh ? "gh_not_found" : "tools_missing",
    message: `not runnable here: ${missing.join(", ")}`,
    why: "crabbox-cs needs gh (for the SSH config), ssh and rsync on this machine; nothing was created",
    hint: gh
      ? "install the GitHub CLI (https://cli.github.com) or point --github-codespaces-gh at it"
      : installHint(missing),
    exit: Exit.usage,
  });
}
