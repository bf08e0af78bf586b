/**
 * The checks that run before anything is created, shared by `warmup` (which
 * stops at the first failure) and `doctor` (which reports each one).
 */
import { CrabboxError, Exit } from "../errors.ts";
import type { CodespacesApi } from "../github/api.ts";
import type { Machine, Repository } from "../github/schemas.ts";

/** The smallest machine offered (fewest cpus, then memory, then storage). */
export function smallestMachine(machines: Machine[]): Machine | undefined {
  return [...machines].sort(
    (a, b) => a.cpus - b.cpus || a.memory_in_bytes - b.memory_in_bytes || a.storage_in_bytes - b.storage_in_bytes,
  )[0];
}

/** The requested machine if offered, else (none requested) the smallest offered; `picked` says which. */
export function chooseMachine(repo: string, ref: string, machines: Machine[], requested: string): { machine: Machine; picked: boolean } {
  if (requested) {
    const m = machines.find((x) => x.name === requested);
    if (m) return { machine: m, picked: false };
    throw new CrabboxError({
      code: "machine_not_offered",
      message: `machine type ${requested} is not offered for ${repo}${ref ? `@${ref}` : ""}`,
      why: machines.length ? `offered: ${machines.map((x) => x.name).join(", ")}` : "GitHub offers no machine type for it",
      hint: machines.length ? `--github-codespaces-machine ${smallestMachine(machines)!.name}` : "check the repository's Codespaces policy",
      exit: Exit.usage,
    });
  }
  const smallest = smallestMachine(machines);
  if (!smallest) {
    throw new CrabboxError({
      code: "no_machines",
      message: `GitHub offers no machine type for ${repo}`,
      why: "Codespaces may be disabled for this repository, or an organization policy restricts machine types",
      hint: "check the repository's Codespaces settings, or pass --github-codespaces-machine",
      exit: Exit.refused,
    });
  }
  return { machine: smallest, picked: true };
}

/** The devcontainer's permissions must have been accepted once in the browser. */
export async function assertPermissionsAccepted(api: Pick<CodespacesApi, "checkPermissions">, repository: Repository, ref: string, devcontainerPath: string): Promise<void> {
  const perm = await api.checkPermissions(repository.full_name, { ref, devcontainerPath });
  if (perm.accepted) return;
  throw new CrabboxError({
    code: "permissions_not_accepted",
    message: `the devcontainer ${devcontainerPath} of ${repository.full_name}@${ref} asks for permissions you have not accepted`,
    why: "GitHub requires a one-time approval in the browser before creating such a codespace",
    hint: `open https://github.com/codespaces/new?repo=${repository.id}&ref=${encodeURIComponent(ref)} , accept the permissions, then re-run`,
    exit: Exit.auth,
  });
}
