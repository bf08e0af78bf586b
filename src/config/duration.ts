/**
 * Go-style durations ("30m", "1h30m", "90s", "500ms", "1.5h"), the syntax the
 * seed uses for idleTimeout and retentionPeriod. Units: ns, us (µs), ms, s, m, h.
 * There is no day unit (write 24h). Negative durations are refused: nothing
 * we configure can be negative.
 */
import { CrabboxError, Exit } from "../errors.ts";

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

/** One `<number><unit>` component; numbers may have a fraction ("1.5h", ".5s"). */
const COMPONENT = /(\d+(?:\.\d*)?|\.\d+)([a-zµμ]+)/y;

export class DurationError extends CrabboxError {
  constructor(input: string, why: string, hint = "write a Go duration such as 30m, 1h30m, 90s or 168h") {
    super({
      code: "bad_duration",
      message: `invalid duration ${JSON.stringify(input)}`,
      why,
      hint,
      exit: Exit.usage,
    });
  }
}

/**
 * The one error for a bad duration, whatever it came from (`subject`: "--ttl",
 * "CRABBOX_API_TIMEOUT", "githubCodespaces.idleTimeout (from <file>)"): the
 * same message, why, hint and code (`bad_duration`, exit 2).
 */
export function durationErrorFor(e: DurationError, subject: string): CrabboxError {
  return new CrabboxError({ code: "bad_duration", message: `${e.message} for ${subject}`, why: e.why, hint: e.hint, exit: Exit.usage });
}

/** Parse a Go-style duration into milliseconds. Throws DurationError (exit 2). */
export function parseDuration(input: string): number {
  if (typeof input !== "string") throw new DurationError(String(input), "a duration must be a string such as 30m");
  const s = input.trim();
  if (s === "") throw new DurationError(input, "the duration is empty");
  if (s.startsWith("-")) throw new DurationError(input, "negative durations are not allowed");
  const body = s.startsWith("+") ? s.slice(1) : s;
  // Go accepts a bare "0" with no unit.
  if (body === "0") return 0;
  if (/^\d+(\.\d*)?$/.test(body)) {
    throw new DurationError(input, "the duration has no unit", `add a unit: ${body}m (minutes), ${body}h (hours) or ${body}s (seconds)`);
  }
  let total = 0;
  let pos = 0;
  COMPONENT.lastIndex = 0;
  while (pos < body.length) {
    COMPONENT.lastIndex = pos;
    const m = COMPONENT.exec(body);
    if (!m || m.index !== pos) {
      throw new DurationError(input, `unexpected text ${JSON.stringify(body.slice(pos))}`);
    }
    const [, num, unit] = m as unknown as [string, string, string];
    const factor = UNIT_MS[unit];
    if (factor === undefined) {
      if (unit === "d" || unit === "w") {
        const n = Number(num);
        const hours = unit === "d" ? n * 24 : n * 24 * 7;
        throw new DurationError(input, `"${unit}" is not a duration unit (only ns, us, ms, s, m, h)`, `write ${hours}h instead`);
      }
      throw new DurationError(input, `unknown unit "${unit}" (use ns, us, ms, s, m or h)`);
    }
    total += Number(num) * factor;
    pos = COMPONENT.lastIndex;
  }
  if (!Number.isFinite(total)) throw new DurationError(input, "the duration is too large");
  return total;
}

/**
 * Format milliseconds compactly in the same syntax: 90 min -> "1h30m",
 * 168 h -> "168h", 500 -> "500ms", 0 -> "0s". parseDuration(formatDuration(x)) === x
 * for whole milliseconds.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`cannot format duration ${ms}`);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return "0s";
  if (ms < 1_000) return `${trimNumber(ms)}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const restMs = ms - hours * 3_600_000 - minutes * 60_000;
  let out = "";
  if (hours) out += `${hours}h`;
  if (minutes) out += `${minutes}m`;
  if (restMs) out += `${trimNumber(restMs / 1_000)}s`;
  return out;
}

function trimNumber(n: number): string {
  // Avoid float noise such as 1.5000000000000002.
  return String(Number(n.toFixed(6)));
}

/** Duration string -> whole minutes; refuses values that are not whole minutes. */
export function durationToMinutes(input: string, what: string): number {
  const ms = parseDuration(input);
  const minutes = ms / 60_000;
  if (!Number.isInteger(minutes)) {
    const down = Math.floor(minutes);
    const up = Math.ceil(minutes);
    throw new DurationError(
      input,
      `${what} must be a whole number of minutes (GitHub takes minutes)`,
      `use ${formatDuration(down * 60_000)} or ${formatDuration(up * 60_000)}`,
    );
  }
  return minutes;
}
