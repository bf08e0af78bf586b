/**
 * Strings from GitHub (states, names, display names) and from gh or ssh end up
 * on the user's terminal. Control characters in them are shown escaped, never
 * interpreted: no terminal escape sequence of theirs reaches the screen.
 */

// C0 controls except tab and newline, DEL, and C1 controls (incl. the 8-bit CSI).
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

function escape(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/** Escape control characters; keep newlines and tabs (for our own multi-line messages). */
export function stripControls(text: string): string {
  return text.replace(CONTROL, escape);
}

/** For a value printed inside one line: newlines and tabs are escaped too. */
export function oneLine(text: string): string {
  return stripControls(text).replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
}
