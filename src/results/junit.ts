/**
 * JUnit XML → a test verdict. Pure: text in, counts and failed cases out; no
 * file or network access. Parsing is fast-xml-parser's (no hand-rolled XML):
 * the text is validated first, so malformed input is a warning, never a
 * crash, and custom DOCTYPE entities are held to tiny limits (the five XML
 * entities and character references still decode). A file over the size cap
 * is not parsed at all (the caller reads at most `maxBytes + 1` bytes).
 *
 * Accepted shapes: `<testsuites>` (counts summed from its suites, nested
 * suites included) or a lone `<testsuite>`. Counts are taken from the
 * test cases when there are any, else from the suite's attributes.
 */
import type { XMLParser } from "fast-xml-parser";

/** Largest file parsed (bytes). Larger files are a warning. */
export const MAX_JUNIT_BYTES = 16 * 1024 * 1024;

export interface FailedCase {
  suite: string;
  name: string;
  /** "failure" (an assertion) or "error" (the test could not run). */
  kind: "failure" | "error";
  /** The first line of the failure's message (or of its text), "" when there is none. */
  message: string;
  /** The shard the case failed in (1-based), set when results are merged across shards. */
  shard?: number;
}

export interface TestTotals {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  /** Seconds, as the files say. */
  time: number;
}

export interface JUnitReport extends TestTotals {
  failed: FailedCase[];
}

export type ParseOutcome = { ok: true; report: JUnitReport } | { ok: false; warning: string };

const ARRAYS = new Set(["testsuite", "testcase", "failure", "error", "skipped"]);

/** fast-xml-parser, loaded on first use: its modules cost start-up time to every `run` otherwise. */
let xml: { parser: XMLParser; validate: typeof import("fast-xml-parser").XMLValidator.validate } | undefined;
function xmlParser(): NonNullable<typeof xml> {
  if (xml) return xml;
  const fxp = require("fast-xml-parser") as typeof import("fast-xml-parser");
  xml = { validate: fxp.XMLValidator.validate, parser: new fxp.XMLParser(OPTIONS) };
  return xml;
}

const OPTIONS: ConstructorParameters<typeof XMLParser>[0] = {
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  textNodeName: "#text",
  cdataPropName: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  isArray: (name) => ARRAYS.has(name),
  maxNestedTags: 64,
  // Predefined entities and character references decode; DOCTYPE entities are held to tiny limits
  // (no billion laughs: at most one, short, expanded a few times).
  processEntities: { enabled: true, maxEntityCount: 1, maxEntitySize: 64, maxExpansionDepth: 2, maxTotalExpansions: 16, maxExpandedLength: 4096 },
  htmlEntities: false,
};

type Node = Record<string, unknown>;

function num(x: unknown): number {
  const n = typeof x === "string" ? Number(x.replace(/,/g, "")) : typeof x === "number" ? x : NaN;
  return Number.isFinite(n) && n >= 0 ? n : 0;
}

function str(x: unknown): string {
  return typeof x === "string" ? x : typeof x === "number" ? String(x) : "";
}

function list(x: unknown): Node[] {
  if (Array.isArray(x)) return x.map((e) => (e && typeof e === "object" ? (e as Node) : { "#text": str(e) }));
  if (x && typeof x === "object") return [x as Node];
  if (typeof x === "string") return [{ "#text": x }];
  return [];
}

/** The first non-empty line, trimmed, at most 300 characters. */
export function firstLine(s: string): string {
  const line = s.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== "") ?? "";
  return line.length > 300 ? `${line.slice(0, 299)}…` : line;
}

function messageOf(n: Node): string {
  return firstLine(str(n["@message"])) || firstLine(str(n["#text"])) || firstLine(str(n["@type"]));
}

function zero(): JUnitReport {
  return { tests: 0, failures: 0, errors: 0, skipped: 0, time: 0, failed: [] };
}

function addSuite(suite: Node, into: JUnitReport, depth: number): void {
  const name = str(suite["@name"]);
  const cases = list(suite.testcase);
  const nested = list(suite.testsuite);
  if (cases.length > 0) {
    for (const c of cases) {
      into.tests++;
      const failures = list(c.failure);
      const errors = list(c.error);
      const skipped = list(c.skipped);
      if (failures.length > 0) {
        into.failures++;
        into.failed.push({ suite: name || str(c["@classname"]), name: str(c["@name"]), kind: "failure", message: messageOf(failures[0]!) });
      } else if (errors.length > 0) {
        into.errors++;
        into.failed.push({ suite: name || str(c["@classname"]), name: str(c["@name"]), kind: "error", message: messageOf(errors[0]!) });
      } else if (skipped.length > 0) into.skipped++;
    }
  } else if (nested.length === 0) {
    into.tests += num(suite["@tests"]);
    into.failures += num(suite["@failures"]);
    into.errors += num(suite["@errors"]);
    into.skipped += num(suite["@skipped"] ?? suite["@disabled"]);
  }
  if (depth < 32) for (const s of nested) addSuite(s, into, depth + 1);
}

/** Sum of the outermost times (a nested suite's time is part of its parent's). */
function outerTime(suites: Node[], depth = 0): number {
  let t = 0;
  for (const s of suites) t += s["@time"] !== undefined || depth > 16 ? num(s["@time"]) : outerTime(list(s.testsuite), depth + 1);
  return t;
}

/** Parse one JUnit XML document. `name` is used in warnings only. */
export function parseJUnit(text: string, name: string, maxBytes = MAX_JUNIT_BYTES): ParseOutcome {
  if (Buffer.byteLength(text) > maxBytes) {
    return { ok: false, warning: `${name}: larger than ${Math.round(maxBytes / 1024 / 1024)} MiB; not parsed` };
  }
  const { parser, validate } = xmlParser();
  const valid = validate(text);
  if (valid !== true) {
    const e = valid.err;
    return { ok: false, warning: `${name}: not well-formed XML (line ${e.line}: ${firstLine(e.msg)})` };
  }
  let doc: Node;
  try {
    doc = parser.parse(text) as Node;
  } catch (e) {
    return { ok: false, warning: `${name}: not readable as JUnit XML (${firstLine((e as Error).message)})` };
  }
  const report = zero();
  let suites: Node[];
  let time: number;
  if (doc.testsuites !== undefined) {
    const root = list(doc.testsuites)[0] ?? {};
    suites = list(root.testsuite);
    time = root["@time"] !== undefined ? num(root["@time"]) : outerTime(suites);
  } else if (doc.testsuite !== undefined) {
    suites = list(doc.testsuite);
    time = outerTime(suites);
  } else {
    return { ok: false, warning: `${name}: no <testsuites> or <testsuite> element; not a JUnit report` };
  }
  for (const s of suites) addSuite(s, report, 0);
  report.time = time;
  return { ok: true, report };
}

/** Add reports together; `shard` tags each failed case with the shard it came from. */
export function mergeReports(parts: { report: JUnitReport; shard?: number }[]): JUnitReport {
  const out = zero();
  for (const { report, shard } of parts) {
    out.tests += report.tests;
    out.failures += report.failures;
    out.errors += report.errors;
    out.skipped += report.skipped;
    out.time += report.time;
    for (const f of report.failed) out.failed.push(shard === undefined ? { ...f } : { ...f, shard });
  }
  out.time = Math.round(out.time * 1000) / 1000;
  return out;
}

/** The human summary: one totals line, then one line per failed case. */
export function summaryLines(report: JUnitReport, opts: { files: number; shards?: number } = { files: 1 }): string[] {
  const secs = report.time.toFixed(report.time < 10 ? 2 : 1);
  const lines = [
    `tests: ${report.tests}, failures: ${report.failures}, errors: ${report.errors}, skipped: ${report.skipped}, time: ${secs}s (${opts.files} JUnit file${opts.files === 1 ? "" : "s"})`,
  ];
  for (const f of report.failed) {
    const where = f.shard !== undefined && opts.shards !== undefined ? `[${f.shard}/${opts.shards}] ` : "";
    lines.push(`  ${f.kind === "error" ? "ERROR" : "FAIL"} ${where}${f.suite ? `${f.suite} › ` : ""}${f.name}${f.message ? `: ${f.message}` : ""}`);
  }
  return lines;
}
