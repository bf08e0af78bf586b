/**
 * Error messages speak with one voice: a lowercase fragment ("could not …",
 * "the codespace …"), capitalised only where the first word is a name
 * (GitHub, OpenSSH, SSH, HTTP, PATH …), and never ending with a full stop.
 * Checked over every `message:` and `usageError(` site in src/.
 */
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

const SRC = join(import.meta.dir, "..", "..", "src");
const NAMES = /^(GitHub|OpenSSH|SSH|HTTP|PATH|CRABBOX_\w+|GH_\w+|API)\b/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** The literal text at the start of each error message in a file (up to its first interpolation). */
function messages(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bmessage:\s*|\busageError\(\s*)(["`])((?:\\.|(?!\1)[^\\$]|\$(?!\{))*)/g)) out.push(m[2]!);
  return out;
}

test("every error message is a lowercase fragment without a full stop", () => {
  const offenders: string[] = [];
  let seen = 0;
  for (const file of sources(SRC)) {
    for (const msg of messages(readFileSync(file, "utf8"))) {
      seen++;
      const where = `${relative(SRC, file)}: ${JSON.stringify(msg.slice(0, 50))}`;
      if (/^[A-Z]/.test(msg) && !NAMES.test(msg)) offenders.push(`capitalised: ${where}`);
      if (/\.\s*$/.test(msg) && !/\.\.\.$/.test(msg)) offenders.push(`full stop: ${where}`);
    }
  }
  expect(offenders).toEqual([]);
  expect(seen).toBeGreaterThan(80);
});

test("the check finds a capitalised message and a full stop (it is not vacuous)", () => {
  const sample = 'throw new CrabboxError({ code: "x", message: "The thing broke.", exit: 1 }); usageError(`Bad ${x}`)';
  expect(messages(sample)).toEqual(["The thing broke.", "Bad "]);
});
