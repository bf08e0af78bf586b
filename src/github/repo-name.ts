/**
 * The one rule for a repository's name: `owner/name` or a GitHub remote URL.
 * Used when config is loaded (config/load.ts), when the git remote is read and
 * when an API path is built (operations.ts).
 */
import { CrabboxError, Exit } from "../errors.ts";

export interface RepoRef {
  owner: string;
  name: string;
}

const OWNER_RE = /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/;
const NAME_RE = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * `owner/name`, or a GitHub remote URL: `https://github.com/o/r(.git)`,
 * `git@github.com:o/r.git`, `ssh://git@github.com/o/r`. Hosts: github.com and
 * `*.ghe.com`. Bad syntax → exit 2.
 */
export function parseRepo(input: string, extraHosts: readonly string[] = []): RepoRef {
  const s = input.trim();
  const bad = (why: string) =>
    new CrabboxError({
      code: "usage_repo",
      exit: Exit.usage,
      message: `invalid repository ${JSON.stringify(s)}`,
      why,
      hint: "Use owner/name (e.g. octocat/Hello-World) or a GitHub remote URL.",
    });
  let path: string;
  const scp = /^[\w.-]+@([\w.-]+):(.+)$/.exec(s);
  if (scp && !s.includes("://")) {
    checkHost(scp[1] ?? "", bad, extraHosts);
    path = scp[2] ?? "";
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw bad("it is not a valid URL");
    }
    if (!["https:", "http:", "ssh:", "git+ssh:"].includes(u.protocol)) throw bad(`unsupported URL scheme ${u.protocol}`);
    checkHost(u.host, bad, extraHosts);
    if (u.search || u.hash) throw bad("a repository URL has no query or fragment");
    path = decodeURIComponent(u.pathname);
  } else {
    path = s;
  }
  path = path.replace(/^\/+/, "").replace(/\/+$/, "").replace(/\.git$/, "");
  const parts = path.split("/");
  if (parts.length !== 2) throw bad("expected exactly owner/name");
  const [owner = "", name = ""] = parts;
  if (!OWNER_RE.test(owner)) throw bad(`${JSON.stringify(owner)} is not a valid GitHub owner`);
  if (!NAME_RE.test(name) || name === "." || name === "..") throw bad(`${JSON.stringify(name)} is not a valid repository name`);
  return { owner, name };
}

function checkHost(hostPort: string, bad: (why: string) => CrabboxError, extraHosts: readonly string[] = []): void {
  const host = hostPort.replace(/:\d+$/, "");
  const h = host.toLowerCase();
  if (h === "github.com" || h === "www.github.com" || h === "ssh.github.com" || h.endsWith(".ghe.com")) return;
  if (extraHosts.some((x) => x.toLowerCase() === h || x.toLowerCase() === hostPort.toLowerCase())) return;
  throw bad(`${host} is not a GitHub host`);
}


/**
 * The repository a git remote names, or null when the remote is not a GitHub
 * one: only URLs (https, http, ssh, git+ssh) and scp-like `user@host:path`
 * on github.com, `*.ghe.com` or one of `extraHosts` (the configured GitHub
 * Enterprise host) count. A local path (`/work/x`, `../x`, `file://...`) is
 * never a repository name.
 */
export function repoFromRemote(url: string, extraHosts: readonly string[] = []): RepoRef | null {
  const s = url.trim();
  const scp = /^[\w.-]+@[\w.-]+:/.test(s) && !s.includes("://");
  const isUrl = /^(https?|ssh|git\+ssh):\/\//i.test(s);
  if (!scp && !isUrl) return null;
  try {
    return parseRepo(s, extraHosts);
  } catch {
    return null;
  }
}
