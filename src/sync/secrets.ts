/**
 * Paths a sync never sends, in a git work tree or not (docs/sync.md lists them):
 *
 * - directories named `.ssh`, `.gnupg`, `.aws`, and `.config/gh`, at any depth;
 * - files named `.netrc`, `.git-credentials`, or starting with `.env`, at any depth;
 * - `.npmrc` files that hold an auth line (`_authToken`, `_auth`, `_password`);
 * - CRABBOX_HOME, when it is inside the synced tree.
 *
 * Such paths are also never removed remotely: a `.env` made in the codespace stays.
 */
import { readFileSync } from "node:fs";
import { relative, isAbsolute } from "node:path";

const SECRET_DIRS = new Set([".ssh", ".gnupg", ".aws"]);
const SECRET_FILES = new Set([".netrc", ".git-credentials"]);
const NPM_AUTH = /(^|[\s:])(_authToken|_auth|_password)\s*=/m;

export interface SecretRules {
  /** CRABBOX_HOME relative to the local root, when inside it ("" never). */
  crabboxHome: string | null;
}

export function secretRules(localRoot: string, crabboxHome: string): SecretRules {
  const r = relative(localRoot, crabboxHome);
  const inside = r !== "" && !r.startsWith("..") && !isAbsolute(r);
  return { crabboxHome: inside ? r.split("\\").join("/") : null };
}

/** Cheap pre-check: a path without any of these substrings is no secret by name. */
const MAYBE_SECRET = /\.(ssh|gnupg|aws|config\/gh|netrc|git-credentials|env)/;

/** Whether a path is a secret by its name alone (no file is read). */
export function secretByName(path: string, rules: SecretRules): boolean {
  if (rules.crabboxHome !== null && (path === rules.crabboxHome || path.startsWith(`${rules.crabboxHome}/`))) return true;
  if (!MAYBE_SECRET.test(path)) return false;
  const parts = path.split("/");
  const base = parts[parts.length - 1]!;
  if (SECRET_FILES.has(base) || base.startsWith(".env")) return true;
  for (let i = 0; i < parts.length - 1; i++) {
    if (SECRET_DIRS.has(parts[i]!)) return true;
    if (parts[i] === ".config" && parts[i + 1] === "gh" && i + 1 < parts.length - 1) return true;
  }
  return false;
}

/** Whether `secretByContent` could say yes, by the name alone (only then is a file read): an `.npmrc`. */
export function contentMayBeSecret(path: string): boolean {
  return path.endsWith(".npmrc") && (path === ".npmrc" || path.endsWith("/.npmrc"));
}

/** An `.npmrc` with an auth line. */
export function secretByContent(path: string, abs: string): boolean {
  if (!contentMayBeSecret(path)) return false;
  try {
    return NPM_AUTH.test(readFileSync(abs, "utf8"));
  } catch {
    return false;
  }
}

/** Split a file list into what may be sent and the secrets held back. */
export function withoutSecrets(localRoot: string, files: string[], rules: SecretRules): { files: string[]; held: string[] } {
  const base = localRoot.endsWith("/") ? localRoot : `${localRoot}/`;
  const keep: string[] = [];
  const held: string[] = [];
  for (const f of files) {
    if (secretByName(f, rules) || secretByContent(f, base + f)) held.push(f);
    else keep.push(f);
  }
  return { files: keep, held };
}
