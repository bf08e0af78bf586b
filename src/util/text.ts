/** Small text helpers for messages. */
import { redact } from "../redact.ts";

/** The last few non-empty lines of a tool's output, redacted, for `why`. */
export function tail(text: string, lines = 6, maxChars = 800): string {
  const kept = text
    .split(/\r?\n/)
    .map((l) => l.trimEnd())
    .filter((l) => l !== "")
    .slice(-lines)
    .join("\n");
  const cut = kept.length > maxChars ? `…${kept.slice(-maxChars)}` : kept;
  return redact(cut);
}
