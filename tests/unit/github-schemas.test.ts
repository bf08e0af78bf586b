import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import {
  ApiErrorBody,
  CODESPACE_STATES,
  Codespace,
  CodespaceList,
  DevcontainerList,
  MachineList,
  PermissionsCheck,
  RepoDefaults,
  Repository,
  SimpleUser,
  isKnownState,
} from "../../src/github/schemas.ts";
import { stateClass } from "../../src/github/states.ts";
import { fixture } from "./github-mock.ts";

describe("GitHub's documented example payloads parse", () => {
  test("codespace", () => {
    const cs = v.parse(Codespace, fixture("github-example-codespace.json"));
    expect(cs.name).toBe("monalisa-octocat-hello-world-g4wpq6h95q");
    expect(cs.state).toBe("Available");
    expect(cs.environment_id).toBe("26a7c758-7299-4a73-b978-5a92a7ae98a0");
    expect(cs.repository.full_name).toBe("octocat/Hello-World");
    expect(cs.machine?.cpus).toBe(4);
    expect(cs.git_status.has_uncommitted_changes).toBe(false);
    expect(cs.retention_expires_at).toBeNull();
    expect(cs.owner).toEqual({ login: "octocat", id: 1, type: "User" }); // extra fields stripped
  });
  test("codespaces list (entries without pulls_url, as in GitHub's example)", () => {
    const list = v.parse(CodespaceList, fixture("github-example-codespaces-list.json"));
    expect(list.total_count).toBe(2);
    expect(list.codespaces.map((c) => c.id)).toEqual([1, 2]);
  });
  test("machines, defaults, devcontainers, permissions check", () => {
    expect(v.parse(MachineList, fixture("github-example-machines-list.json")).machines).toHaveLength(2);
    const d = v.parse(RepoDefaults, fixture("github-example-repo-defaults.json"));
    expect(d.defaults).toEqual({ location: "EastUs", devcontainer_path: ".devcontainer/devcontainer.json" });
    expect(v.parse(DevcontainerList, fixture("github-example-devcontainers.json")).devcontainers[2]).toEqual({
      path: ".devcontainer.json",
      display_name: "Default project configuration",
    });
    expect(v.parse(PermissionsCheck, fixture("github-example-permissions-check.json")).accepted).toBe(true);
  });
});

describe("required fields and nullability", () => {
  const base = () => fixture("github-example-codespace.json");
  for (const field of ["id", "name", "environment_id", "owner", "billable_owner", "repository", "machine", "prebuild", "created_at", "updated_at", "last_used_at", "state", "url", "git_status", "location", "idle_timeout_minutes", "web_url", "machines_url", "start_url", "stop_url", "recent_folders"]) {
    test(`codespace.${field} is required`, () => {
      const body = base();
      delete body[field];
      const r = v.safeParse(Codespace, body);
      expect(r.success).toBe(false);
      if (!r.success) expect(v.getDotPath(r.issues[0])).toBe(field);
    });
  }
  for (const field of ["environment_id", "machine", "prebuild", "idle_timeout_minutes", "display_name", "devcontainer_path", "pulls_url"]) {
    test(`codespace.${field} may be null`, () => {
      expect(v.safeParse(Codespace, { ...base(), [field]: null }).success).toBe(true);
    });
  }
  test("defaults.devcontainer_path may be null but not missing", () => {
    const d = fixture("github-example-repo-defaults.json");
    expect(v.safeParse(RepoDefaults, { ...d, defaults: { location: "EastUs", devcontainer_path: null } }).success).toBe(true);
    expect(v.safeParse(RepoDefaults, { ...d, defaults: { location: "EastUs" } }).success).toBe(false);
  });
  test("user, repository, error body", () => {
    expect(v.safeParse(SimpleUser, { login: "a" }).success).toBe(false);
    expect(v.parse(Repository, { id: 1, name: "r", full_name: "o/r", private: false, default_branch: "main", owner: { login: "o", id: 2 }, extra: 1 })).not.toHaveProperty("extra");
    expect(v.safeParse(Repository, { id: 1, name: "r", full_name: "o/r", private: false, owner: { login: "o", id: 2 } }).success).toBe(false);
    expect(v.parse(ApiErrorBody, { message: "Validation Failed", errors: [{ field: "machine", code: "invalid" }, "x"], status: "422" }).errors).toHaveLength(2);
  });
});

describe("states", () => {
  test("17 documented states, all known", () => {
    expect(CODESPACE_STATES).toHaveLength(17);
    expect(new Set(CODESPACE_STATES).size).toBe(17);
    for (const s of CODESPACE_STATES) expect(isKnownState(s)).toBe(true);
  });
  test("an unknown state parses, is not known, and is neither ready nor gone", () => {
    const cs = v.parse(Codespace, { ...fixture("github-example-codespace.json"), state: "Teleporting" });
    expect(cs.state).toBe("Teleporting");
    expect(isKnownState(cs.state)).toBe(false);
    expect(stateClass(cs.state)).toBe("unknown");
    expect(stateClass("Unknown")).toBe("unknown");
  });
});
