/**
 * The one redaction layer. Every secret we learn (tokens) is registered here,
 * and every string that leaves the process (stdout, stderr, JSON, errors,
 * debug logs) passes through `redact`. Token-shaped strings are masked even
 * when we never registered them.
 */

const MASK = "[REDACTED]";
const secrets = new Set<string>();

/** GitHub token formats (classic, fine-grained, OAuth, app, refresh) and bearer headers. */
const TOKEN_PATTERNS: RegExp[] = [
  /\bgh[pousr]_[A-Za-z0-9]{20,}\b/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}\b/g,
  /\b(Bearer|token)\s+[A-Za-z0-9_\-.=]{16,}/gi,
];

export function addSecret(value: string | undefined | null): void {
  if (!value) return;
  const v = value.trim();
  // Very short values would mask ordinary words; tokens are long.
  if (v.length >= 8) secrets.add(v);
}

export function clearSecrets(): void {
  secrets.clear();
}

/** True when the string looks like a GitHub token (used to reject tokens in config). */
export function looksLikeToken(value: string): boolean {
  return /^(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})$/.test(value.trim());
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  for (const re of TOKEN_PATTERNS) {
    out = out.replace(re, (m, word?: string) =>
      typeof word === "string" && /^(bearer|token)$/i.test(word) ? `${word} ${MASK}` : MASK,
    );
  }
  return out;
}

/** Deeply redact every string inside a JSON-able value. */
export function redactValue<T>(value: T): T {
  if (typeof value === "string") return redact(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactValue(v)) as T;
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactValue(v);
    return out as T;
  }
  return value;
}
