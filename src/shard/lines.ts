/**
 * Line-buffered, prefixed output for shard: each shard's stdout and stderr
 * go through their own buffer, and only whole lines are written (one
 * synchronous write each), so lines of different shards never interleave
 * mid-line. A line longer than the cap is written in pieces, each prefixed.
 */
export const MAX_LINE = 64 * 1024;

export class LinePrefixer {
  private pending: Buffer = Buffer.alloc(0);
  private readonly prefix: Buffer;

  constructor(
    prefix: string,
    private readonly write: (bytes: Uint8Array) => void,
  ) {
    this.prefix = Buffer.from(prefix);
  }

  push(chunk: Uint8Array): void {
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    let nl: number;
    const out: Buffer[] = [];
    while ((nl = buf.indexOf(0x0a)) >= 0) {
      out.push(this.prefix, buf.subarray(0, nl + 1));
      buf = buf.subarray(nl + 1);
    }
    while (buf.length > MAX_LINE) {
      out.push(this.prefix, buf.subarray(0, MAX_LINE), Buffer.from("\n"));
      buf = buf.subarray(MAX_LINE);
    }
    this.pending = Buffer.from(buf);
    if (out.length) this.write(Buffer.concat(out));
  }

  /** The end of the stream: a last line without a newline gets one. */
  end(): void {
    if (this.pending.length) this.write(Buffer.concat([this.prefix, this.pending, Buffer.from("\n")]));
    this.pending = Buffer.alloc(0);
  }
}
