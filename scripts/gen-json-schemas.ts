/**
 * Generate docs/schemas/<name>.schema.json (JSON Schema draft-07) from the
 * valibot schemas of our --json output (src/output/schemas.ts).
 *   bun scripts/gen-json-schemas.ts          write the files
 *   bun scripts/gen-json-schemas.ts --check  exit 1 if a committed file is stale
 */
import { toJsonSchema } from "@valibot/to-json-schema";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { OUTPUT_SCHEMAS } from "../src/output/schemas.ts";

export const SCHEMA_DIR = resolve(import.meta.dir, "../docs/schemas");

/** name → file contents, deterministic. */
export function renderSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, schema] of Object.entries(OUTPUT_SCHEMAS)) {
    const json = { title: `crabbox-cs ${name}`, ...toJsonSchema(schema, { errorMode: "ignore" }) };
    out[`${name}.schema.json`] = `${JSON.stringify(json, null, 2)}\n`;
  }
  return out;
}

if (import.meta.main) {
  const check = process.argv.includes("--check");
  mkdirSync(SCHEMA_DIR, { recursive: true });
  let stale = 0;
  for (const [file, text] of Object.entries(renderSchemas())) {
    const path = join(SCHEMA_DIR, file);
    const current = existsSync(path) ? readFileSync(path, "utf8") : "";
    if (current === text) continue;
    if (check) {
      console.error(`stale: docs/schemas/${file} (run: bun scripts/gen-json-schemas.ts)`);
      stale++;
    } else {
      writeFileSync(path, text);
      console.error(`wrote docs/schemas/${file}`);
    }
  }
  process.exit(stale ? 1 : 0);
}
