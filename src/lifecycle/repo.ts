/** Which repository a lease is for: config/flag/env, else the current directory's GitHub remote. */
import { CrabboxError, Exit } from "../errors.ts";
import { ghHostFor } from "../github/api-url.ts";
import { parseRepo, repoFromRemote } from "../github/repo-name.ts";
import type { Runtime } from "../runtime.ts";

/**
 * `apiUrl`: the configured API; its web host (a GitHub Enterprise Server
 * host) counts as a GitHub remote host too.
 */
export async function resolveRepo(runtime: Runtime, configured: string, apiUrl?: string): Promise<string> {
  if (configured) {
    const { owner, name } = parseRepo(configured);
    return `${owner}/${name}`;
  }
  const remotes = await runtime.exec(["git", "remote", "-v"]);
  if (remotes.code === 0) {
    const lines = remotes.stdout.split("\n").filter((l) => l.endsWith("(fetch)"));
    // Prefer origin, then upstream, then the first GitHub remote.
    const ordered = [
      ...lines.filter((l) => l.startsWith("origin\t")),
      ...lines.filter((l) => l.startsWith("upstream\t")),
      ...lines,
    ];
    const extra = apiUrl ? [ghHostFor(apiUrl)] : [];
    for (const line of ordered) {
      const url = line.split(/\s+/)[1];
      if (!url) continue;
      const repo = repoFromRemote(url, extra);
      if (repo) return `${repo.owner}/${repo.name}`;
    }
  }
  throw new CrabboxError({
    code: "repo_unknown",
    message: "no GitHub remote; pass `--github-codespaces-repo`",
    why: "no --github-codespaces-repo, CRABBOX_GITHUB_CODESPACES_REPO or config repo, and no git remote of this directory is a GitHub URL (https://, ssh:// or git@ on github.com, *.ghe.com or the configured API's host; a local path does not count)",
    hint: "crabbox-cs warmup --github-codespaces-repo OWNER/NAME",
    exit: Exit.usage,
  });
}

/** The default remote work root for a repository. See docs/configuration.md. */
export function defaultWorkRoot(repo: string): string {
  const name = repo.split("/")[1] ?? "work";
  return `/workspaces/.crabbox/${name}`;
}
