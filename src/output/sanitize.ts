/**
 * Strings from GitHub (states, names, display names) and from gh or ssh end up
 * on the user's terminal. Control characters in them are shown escaped, never
 * interpreted: no terminal escape sequence of theirs reaches the screen.
 * Invisible formatting characters are escaped the same way: bidirectional
 * controls (which can make "main" display as something else, "Trojan Source")
 * and zero-width characters (which make two different names look equal).
 */

// C0 controls except tab and newline, DEL, and C1 controls (incl. the 8-bit CSI);
// bidi controls: LRM/RLM, ALM, LRE..RLO (U+202A-U+202E), LRI..PDI (U+2066-U+2069);
// zero-width: ZWSP, ZWNJ, ZWJ (U+200B-U+200D), word joiner (U+2060), BOM/ZWNBSP (U+FEFF).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/g;

function escape(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** Escape control characters; keep newlines and tabs (for our own multi-line messages). */
export function stripControls(text: string): string {
  return text.replace(CONTROL, escape);
}

/** For a value printed inside one line: newlines and tabs are escaped too. */
export function oneLine(text: string): string {
  return stripControls(text).replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
}
