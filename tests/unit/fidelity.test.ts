/**
 * Fidelity: what the emulator serves must satisfy the same valibot schemas our
 * client uses for GitHub (which follow ../shared/api.md field for field), and
 * GitHub's documented example payloads must satisfy them too.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import {
  Codespace,
  CodespaceList,
  CODESPACE_STATES,
  DevcontainerList,
  MachineList,
  PermissionsCheck,
  RepoDefaults,
  Repository,
  SimpleUser,
} from "../../src/github/schemas.ts";
import { startEmulator, type Emulator } from "../emulator/index.ts";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ handshakeDelayMs: 0, delays: { provisionMs: 0 } });
});
afterAll(async () => {
  await emu?.stop();
});

async function get(path: string, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(`${emu.url}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${emu.token}`, Accept: "application/vnd.github+json", ...(init.headers ?? {}) },
  });
  expect(res.status).toBeLessThan(300);
  return res.json();
}

function parses(schema: v.GenericSchema, value: unknown): void {
  const r = v.safeParse(schema, value);
  if (!r.success) throw new Error(`schema mismatch: ${JSON.stringify(v.flatten(r.issues))}`);
}

describe("the emulator's payloads satisfy our schemas", () => {
  test("user, repository, defaults, permissions, machines, devcontainers", async () => {
    parses(SimpleUser, await get("/user"));
    parses(Repository, await get("/repos/octo-org/hello-world"));
    parses(RepoDefaults, await get("/repos/octo-org/hello-world/codespaces/new?ref=main"));
    parses(PermissionsCheck, await get("/repos/octo-org/hello-world/codespaces/permissions_check?ref=main&devcontainer_path=.devcontainer/devcontainer.json"));
    parses(MachineList, await get("/repos/octo-org/hello-world/codespaces/machines"));
    parses(DevcontainerList, await get("/repos/octo-org/hello-world/codespaces/devcontainers"));
  });

  test("codespace objects through create, get, list, stop, start", async () => {
    const created = await get("/repos/octo-org/hello-world/codespaces", {
      method: "POST",
      body: JSON.stringify({ ref: "main", machine: "basicLinux32gb", display_name: "crabbox fidelity-test abcdefgh" }),
      headers: { "Content-Type": "application/json" },
    });
    parses(Codespace, created);
    const name = (created as { name: string }).name;
    parses(Codespace, await get(`/user/codespaces/${name}`));
    parses(CodespaceList, await get("/user/codespaces?per_page=100"));
    parses(CodespaceList, await get("/repos/octo-org/hello-world/codespaces"));
    parses(MachineList, await get(`/user/codespaces/${name}/machines`));
    parses(Codespace, await get(`/user/codespaces/${name}/stop`, { method: "POST" }));
    await Bun.sleep(150);
    parses(Codespace, await get(`/user/codespaces/${name}/start`, { method: "POST" }));
  });

  test("every state the emulator can report is one GitHub documents", async () => {
    for (const cs of emu.control.codespaces()) expect(CODESPACE_STATES as readonly string[]).toContain(cs.state as string);
  });
});

describe("GitHub's documented examples satisfy our schemas", () => {
  const fixture = (name: string) => JSON.parse(readFileSync(join(import.meta.dir, "../../fixtures/api", name), "utf8"));
  test.each([
    ["github-example-codespace.json", Codespace],
    ["github-example-codespaces-list.json", CodespaceList],
    ["github-example-machines-list.json", MachineList],
    ["github-example-repo-defaults.json", RepoDefaults],
    ["github-example-devcontainers.json", DevcontainerList],
    ["github-example-permissions-check.json", PermissionsCheck],
  ] as const)("%s", (file, schema) => {
    parses(schema as v.GenericSchema, fixture(file));
  });

  test("a required field missing from a codespace is rejected, naming it", () => {
    const cs = fixture("github-example-codespace.json");
    delete cs.environment_id;
    const r = v.safeParse(Codespace, cs);
    expect(r.success).toBe(false);
    expect(JSON.stringify(v.flatten(r.issues!))).toContain("environment_id");
  });
});
