/**
 * The per-lease OpenSSH config: parse the one Host block `gh codespace ssh
 * --config` prints, keep gh's connection options, add ours (batch mode,
 * keepalives, connection reuse), and write it privately. The file's contents
 * are never printed or logged.
 */
import { chmodSync, lstatSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { CrabboxError, Exit } from "../errors.ts";
import type { Runtime } from "../runtime.ts";
import { ensurePrivateDir, writePrivateFileAtomic } from "../fsutil.ts";
import { shQuote } from "./quote.ts";

export interface HostBlock {
  alias: string;
  /** gh's options in order, keys as gh spelled them, values verbatim. */
  options: [string, string][];
}

function configError(message: string, why?: string): CrabboxError {
  return new CrabboxError({
    code: "ssh_config_invalid",
    message,
    why,
    hint: "Check `gh codespace ssh --config -c <name>` by hand; upgrade gh if its output looks different.",
    exit: Exit.sshUnusable,
  });
}

const LINE_RE = /^([A-Za-z][A-Za-z0-9]*)(?:\s*=\s*|\s+)(.*)$/;

/** Options gh prints (or might) that are safe to keep. Anything else is dropped; see DANGEROUS. */
const ALLOWED = new Set([
  "user", "hostname", "port", "proxycommand", "identityfile", "identitiesonly", "certificatefile",
  "userknownhostsfile", "globalknownhostsfile", "stricthostkeychecking", "hostkeyalias", "checkhostip",
  "loglevel", "controlmaster", "controlpath", "controlpersist", "batchmode", "serveraliveinterval",
  "serveralivecountmax", "connecttimeout", "pubkeyauthentication", "passwordauthentication",
  "kbdinteractiveauthentication", "preferredauthentications", "addkeystoagent", "compression", "tcpkeepalive",
]);
/**
 * Options that would run local commands, forward our credentials or
 * environment, or pull in other files: their presence means the output is not
 * what gh prints, so the whole config is refused.
 */
const DANGEROUS = new Set([
  "localcommand", "permitlocalcommand", "remotecommand", "proxyjump", "proxyusefdpass", "knownhostscommand",
  "include", "match", "forwardagent", "forwardx11", "forwardx11trusted", "sendenv", "setenv", "localforward",
  "remoteforward", "dynamicforward", "tunnel", "tunneldevice", "pkcs11provider", "securitykeyprovider",
  "identityagent", "canonicalizehostname", "escapechar",
]);
/** Options that may legitimately appear more than once. */
const REPEATABLE = new Set(["identityfile", "certificatefile"]);

/**
 * Parse gh's output. Exactly one `Host` block with exactly one plain alias is
 * accepted; options that could run commands or forward secrets, and repeated
 * options (a sign of smuggled lines), are refused. With `codespace`, the
 * ProxyCommand must name that codespace.
 */
export function parseHostBlock(text: string, opts: { codespace?: string } = {}): HostBlock {
  const block = parseBlocks(text);
  const seen = new Set<string>();
  const kept: [string, string][] = [];
  for (const [key, value] of block.options) {
    const lower = key.toLowerCase();
    if (DANGEROUS.has(lower)) throw configError(`gh printed an ssh option crabbox-cs refuses to use: ${key}`, "it could run commands or forward credentials; this is not what gh prints");
    if (seen.has(lower) && !REPEATABLE.has(lower)) throw configError(`gh printed the ssh option ${key} twice`, "refusing an ambiguous config (a value from the API may carry extra lines)");
    seen.add(lower);
    if (ALLOWED.has(lower)) kept.push([key, value]);
  }
  const proxy = kept.find(([k]) => k.toLowerCase() === "proxycommand")?.[1];
  if (opts.codespace && proxy !== undefined && !proxy.split(/\s+/).includes(opts.codespace)) {
    throw configError("gh printed a ProxyCommand for another codespace", `expected it to name ${opts.codespace}`);
  }
  return { alias: block.alias, options: kept };
}

function parseBlocks(text: string): HostBlock {
  const blocks: HostBlock[] = [];
  let current: HostBlock | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = LINE_RE.exec(line);
    if (!m) throw configError("gh printed an ssh config line we cannot read", `line: ${JSON.stringify(line.slice(0, 80))}`);
    const key = m[1]!;
    const value = (m[2] ?? "").trim();
    const lower = key.toLowerCase();
    if (lower === "match") throw configError("gh printed a Match block; expected one Host block");
    if (lower === "host") {
      const patterns = value.split(/\s+/).filter(Boolean);
      if (patterns.length !== 1) {
        throw configError("gh printed a Host line with several or no aliases", `Host ${value}`);
      }
      const alias = patterns[0]!;
      if (/[*?!"'\\]/.test(alias) || alias.startsWith("-")) {
        throw configError("gh printed a Host alias we cannot use", `alias ${JSON.stringify(alias)} contains a wildcard or quote`);
      }
      current = { alias, options: [] };
      blocks.push(current);
      continue;
    }
    if (!current) continue; // options before any Host line would be global: not ours to keep
    if (value === "") throw configError("gh printed an ssh option without a value", `option ${key}`);
    current.options.push([key, value]);
  }
  if (blocks.length === 0) throw configError("gh printed no Host blocks");
  if (blocks.length > 1) {
    throw configError("gh printed several Host blocks", `aliases: ${blocks.map((b) => b.alias).join(", ")}`);
  }
  return blocks[0]!;
}

/** Options we always set ourselves; gh's values for these are dropped. */
const OURS = new Set([
  "controlmaster",
  "controlpath",
  "controlpersist",
  "batchmode",
  "serveraliveinterval",
  "serveralivecountmax",
  "connecttimeout",
  "loglevel",
]);

/** Characters that make an alias awkward for rsync's `host:path` or ssh's `user@host`. */
const UNSAFE_ALIAS_CHAR = /[^A-Za-z0-9._+-]/;

/** Quote a value for an ssh_config line (OpenSSH splits arguments like a shell). */
export function sshConfigQuote(value: string): string {
  if (/^[^\s"'\\#]+$/.test(value)) return value;
  return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

/** Escape `%` for ssh_config values that undergo token expansion. */
function escapePercent(s: string): string {
  return s.replaceAll("%", "%%");
}

/** Where the ProxyCommand's stderr goes (ssh sends it to /dev/null under ControlPersist). */
export function proxyLogPathFor(configPath: string): string {
  return `${configPath.replace(/\.config$/, "")}.proxy.log`;
}

/** Unix socket paths are limited to 104 bytes (macOS) / 108 (Linux), NUL included. */
export const SOCKET_PATH_MAX = 103;
/** `%C` is 40 hex characters; while binding, ssh appends `.` + 16 random characters. */
export const CONTROL_NAME_LEN = 40 + 17;

export function controlPathFits(controlDir: string): boolean {
  return Buffer.byteLength(controlDir) + 1 + CONTROL_NAME_LEN <= SOCKET_PATH_MAX;
}

export interface RenderInput {
  alias: string;
  options: [string, string][];
  /** Directory for the ControlMaster socket (already short enough). */
  controlDir: string;
  /** Where the ProxyCommand's stderr is appended; omitted: left as gh wrote it. */
  proxyLogPath?: string;
  /** Interactive sessions may prompt: no BatchMode. */
  interactive?: boolean;
  controlPersist?: string;
}

/** Render our config file. Returns the text and the alias to pass to ssh and rsync. */
export function renderLeaseConfig(input: RenderInput): { text: string; alias: string } {
  let alias = input.alias;
  const extra: [string, string][] = [];
  if (UNSAFE_ALIAS_CHAR.test(alias)) {
    // e.g. a branch with "/" in `cs.<name>.<branch>`: rsync would read "a/b:path" as a local path.
    alias = alias.replace(new RegExp(UNSAFE_ALIAS_CHAR.source, "g"), "-");
    if (!input.options.some(([k]) => k.toLowerCase() === "hostname")) extra.push(["HostName", input.alias]);
  }
  const lines = [
    "# Written by crabbox-cs from `gh codespace ssh --config`. Private: do not share.",
    `Host ${alias}`,
  ];
  for (const [key, value] of [...input.options, ...extra]) {
    if (OURS.has(key.toLowerCase())) continue;
    if (key.toLowerCase() === "proxycommand" && input.proxyLogPath && value.toLowerCase() !== "none") {
      lines.push(`\t${key} ${value} 2>>${escapePercent(shQuote(input.proxyLogPath))}`);
      continue;
    }
    lines.push(`\t${key} ${value}`);
  }
  if (!input.interactive) lines.push("\tBatchMode yes");
  lines.push(
    "\tLogLevel ERROR",
    "\tServerAliveInterval 15",
    "\tServerAliveCountMax 4",
    "\tConnectTimeout 30",
    "\tControlMaster auto",
    `\tControlPath ${sshConfigQuote(`${escapePercent(input.controlDir)}/%C`)}`,
    `\tControlPersist ${input.controlPersist ?? "10m"}`,
  );
  return { text: `${lines.join("\n")}\n`, alias };
}

/**
 * The ControlMaster socket directory: `<crabboxHome>/ssh/cm`, or when that is
 * too long for a Unix socket path, `/tmp/crabbox-cm-<uid>-<hash>` (0700, ours).
 */
export async function resolveControlDir(crabboxHome: string): Promise<string> {
  const preferred = join(crabboxHome, "ssh", "cm");
  if (controlPathFits(preferred)) {
    await ensurePrivateDir(preferred);
    return preferred;
  }
  const hash = new Bun.CryptoHasher("sha256").update(preferred).digest("hex").slice(0, 12);
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  const base = tmpdir().length + 30 < 60 ? tmpdir() : "/tmp";
  const dir = join(base, `crabbox-cm-${uid}-${hash}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  }
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.isSymbolicLink() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new CrabboxError({
      code: "ssh_control_dir_unsafe",
      message: `the SSH control socket directory ${dir} is not a private directory owned by you`,
      hint: `Remove ${dir}, or set CRABBOX_HOME to a shorter path`,
      exit: Exit.unexpected,
    });
  }
  return dir;
}

export interface LeaseConfigFile {
  path: string;
  alias: string;
}

/** `<crabboxHome>/ssh/<leaseId>.config`. */
export function leaseConfigPath(runtime: Runtime, leaseId: string): string {
  return join(runtime.crabboxHome, "ssh", `${leaseId}.config`);
}

/** Parse gh's output and write the lease's private config file (0600, atomically). */
export async function writeLeaseConfig(runtime: Runtime, leaseId: string, ghOutput: string, codespace?: string): Promise<LeaseConfigFile> {
  if (!/^[A-Za-z0-9_-]+$/.test(leaseId)) {
    throw new CrabboxError({ code: "usage", message: `invalid lease id ${JSON.stringify(leaseId)}`, exit: Exit.usage });
  }
  const block = parseHostBlock(ghOutput, { codespace });
  const sshDir = join(runtime.crabboxHome, "ssh");
  await ensurePrivateDir(sshDir);
  const controlDir = await resolveControlDir(runtime.crabboxHome);
  const path = leaseConfigPath(runtime, leaseId);
  const proxyLogPath = proxyLogPathFor(path);
  writeFileSync(proxyLogPath, "", { mode: 0o600 });
  chmodSync(proxyLogPath, 0o600);
  const { text, alias } = renderLeaseConfig({ ...block, controlDir, proxyLogPath });
  await writePrivateFileAtomic(path, text);
  return { path, alias };
}
