/**
 * The run markers (see `exactlyOnce` in quote.ts) ride in the command's own
 * output stream: `\x1fcrabbox-cs:<nonce>:<kind>[:<n>]\n` (`\r\n` under a
 * pty). This filter removes exactly those bytes and forwards everything else
 * as it arrives, byte for byte. Only a run of bytes that could still become
 * a marker (it starts with the 0x1f lead byte) is held back, and only until
 * it is complete or proves not to be one.
 */
import { writeSync } from "node:fs";
import { MARKER_LEAD, markerPrefix } from "./quote.ts";

export type MarkerKind = "started" | "again" | "exit" | "report";

/** Longest tail after the prefix: `started:` + a pid/status + `\r\n`. */
const MAX_TAIL = 32;
const TAIL_RE = /^(started|again|exit|report)(?::(\d{1,10}))?\r?\n/;

export class MarkerFilter {
  private readonly prefix: Buffer;
  private pending: Buffer | null = null;
  /** A `report:<n>` marker is followed by n bytes of payload (the in-session sync's report): collected here, never written. */
  private payload: { left: number; parts: Buffer[] } | null = null;

  constructor(
    nonce: string,
    private readonly write: (bytes: Uint8Array) => void,
    private readonly onMarker: (kind: MarkerKind, value: number | null) => void,
    private readonly onPayload?: (bytes: Buffer) => void,
  ) {
    this.prefix = Buffer.from(markerPrefix(nonce), "latin1");
  }

  push(chunk: Uint8Array): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.pending = null;
    if (this.payload) {
      const take = Math.min(this.payload.left, buf.length);
      this.payload.parts.push(Buffer.from(buf.subarray(0, take)));
      this.payload.left -= take;
      buf = buf.subarray(take);
      if (this.payload.left > 0) return;
      const done = Buffer.concat(this.payload.parts);
      this.payload = null;
      this.onPayload?.(done);
    }
    let start = 0;
    let pos = 0;
    for (;;) {
      const i = buf.indexOf(MARKER_LEAD, pos);
      if (i < 0) break;
      const m = this.match(buf.subarray(i));
      if (m === "no") {
        pos = i + 1;
        continue;
      }
      if (i > start) this.write(buf.subarray(start, i));
      if (m === "partial") {
        this.pending = Buffer.from(buf.subarray(i));
        return;
      }
      this.onMarker(m.kind, m.value);
      start = pos = i + m.length;
      if (m.kind === "report" && this.onPayload) {
        this.payload = { left: m.value ?? 0, parts: [] };
        const rest = buf.subarray(start);
        this.push(rest);
        return;
      }
    }
    if (start < buf.length) this.write(buf.subarray(start));
  }

  /** End of stream: bytes held back were not a marker after all. */
  end(): void {
    if (this.pending) this.write(this.pending);
    this.pending = null;
  }

  private match(b: Buffer): "no" | "partial" | { kind: MarkerKind; value: number | null; length: number } {
    const n = Math.min(b.length, this.prefix.length);
    if (b.compare(this.prefix, 0, n, 0, n) !== 0) return "no";
    if (b.length <= this.prefix.length) return "partial";
    const tail = b.subarray(this.prefix.length, this.prefix.length + MAX_TAIL).toString("latin1");
    const m = TAIL_RE.exec(tail);
    if (m) return { kind: m[1] as MarkerKind, value: m[2] === undefined ? null : Number(m[2]), length: this.prefix.length + m[0].length };
    // Not complete yet: could it still become one?
    if (tail.length < MAX_TAIL && !tail.includes("\n") && /^[a-z]*(?::\d*)?\r?$/.test(tail)) return "partial";
    return "no";
  }
}

/** Write all bytes to a file descriptor now (blocking; retries a non-blocking descriptor's EAGAIN). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) {
    try {
      off += writeSync(fd, bytes, off, bytes.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EAGAIN") {
        Bun.sleepSync(1);
        continue;
      }
      // The reader (a closed pipe, a terminal that hung up) is gone: nothing to deliver to.
      if (code === "EPIPE" || code === "EIO" || code === "EBADF") return;
      throw e;
    }
  }
}

/** Feed a stream through the filter until it ends. */
export async function pumpThrough(stream: ReadableStream<Uint8Array>, filter: MarkerFilter): Promise<void> {
  try {
    for await (const chunk of stream) filter.push(chunk);
  } finally {
    filter.end();
  }
}
