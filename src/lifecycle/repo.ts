/** Which repository a lease is for: config/flag/env, else the current directory's GitHub remote. */
import { CrabboxError, Exit } from "../errors.ts";
import { parseRepo } from "../github/repo-name.ts";
import type { Runtime } from "../runtime.ts";

export async function resolveRepo(runtime: Runtime, configured: string): Promise<string> {
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
    for (const line of ordered) {
      const url = line.split(/\s+/)[1];
      if (!url) continue;
      try {
        const { owner, name } = parseRepo(url);
        return `${owner}/${name}`;
      } catch {
        // not a GitHub remote
      }
    }
  }
  throw new CrabboxError({
    code: "repo_unknown",
    message: "no repository to create the codespace in",
    why: "no --github-codespaces-repo, CRABBOX_GITHUB_CODESPACES_REPO or user-config repo, and the current directory has no GitHub remote",
    hint: "crabbox-cs warmup --github-codespaces-repo OWNER/NAME",
    exit: Exit.usage,
  });
}

/** The default remote work root for a repository. See docs/configuration.md. */
export function defaultWorkRoot(repo: string): string {
  const name = repo.split("/")[1] ?? "work";
  return `/workspaces/.crabbox/${name}`;
}
