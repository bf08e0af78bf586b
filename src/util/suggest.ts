/**
 * "Did you mean" for commands and flags: the closest candidate by
 * Damerau–Levenshtein distance (optimal string alignment: insert, delete,
 * substitute, swap two adjacent letters) of at most 2, or a candidate the
 * input is a prefix of. Pure; no dependency.
 */

/** Optimal-string-alignment distance between `a` and `b`. */
export function damerauLevenshtein(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The maximum distance a suggestion may have. */
export const MAX_DISTANCE = 2;

/**
 * The best candidate for a mistyped `input`: a candidate it is a prefix of
 * (at least 2 characters typed), else the nearest one within MAX_DISTANCE
 * (ties: the earlier candidate). Undefined when nothing is close.
 */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  const word = input.toLowerCase();
  if (word === "") return undefined;
  if (word.length >= 2) {
    const prefixed = candidates.find((c) => c.toLowerCase().startsWith(word));
    if (prefixed) return prefixed;
  }
  let best: { c: string; d: number } | undefined;
  for (const c of candidates) {
    const d = damerauLevenshtein(word, c.toLowerCase());
    // A two-letter word two edits away from anything matches everything: demand closeness for short words.
    if (d > MAX_DISTANCE || d >= Math.max(word.length, 2)) continue;
    if (!best || d < best.d) best = { c, d };
  }
  return best?.c;
}
