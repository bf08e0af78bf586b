/**
 * The man page crabbox-cs.1 is generated from the command definitions (scripts/gen-man.ts) and the
 * checked-in copy is current: a change to a command's meta or args without `npm run man` fails here.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { COMMANDS } from "../../src/commands/index.ts";
import { MAN_PATH, renderManPage } from "../../scripts/gen-man.ts";

test("crabbox-cs.1 is current (regenerate with: npm run man)", async () => {
  const fresh = await renderManPage();
  expect(readFileSync(MAN_PATH, "utf8")).toBe(fresh);
});

test("the man page documents every command and every flag its --help has", async () => {
  const page = await renderManPage();
  let checked = 0;
  for (const [name, load] of Object.entries(COMMANDS)) {
    expect(page).toContain(`.SS "${name}"`);
    const cmd = await load();
    const flags = Object.entries(cmd.args)
      .filter(([, d]) => (d as { type?: string }).type !== "positional")
      .map(([n]) => n);
    checked += flags.length;
    for (const f of flags) expect({ command: name, flag: f, present: page.includes(`\\fB\\-\\-${f.replace(/-/g, "\\-")}\\fR`) }).toEqual({ command: name, flag: f, present: true });
  }
  expect(checked).toBeGreaterThan(50);
});
