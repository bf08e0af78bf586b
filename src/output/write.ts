/**
 * Text to stdout or stderr, written at once with write(2). No node stream: building `process.stdout`
 * or `process.stderr` costs milliseconds in a process that has not touched it yet, more than most
 * runs spend printing. And in order with what a child that shares the descriptor writes. One that
 * would block (set non-blocking by whoever gave it to us, and full) takes the rest, and everything
 * after it, through the node stream, which waits for it; a closed one (EPIPE: `| head` has quit) or
 * a broken one takes nothing.
 */
import { writeSync } from "node:fs";

/** The descriptors that would have blocked: from then on their node stream keeps the order. */
const streamed = new Set<1 | 2>();

function stream(fd: 1 | 2): NodeJS.WriteStream {
  return fd === 1 ? process.stdout : process.stderr;
}

function writeAll(fd: 1 | 2, text: string): void {
  if (streamed.has(fd)) {
    stream(fd).write(text);
    return;
  }
  const bytes = Buffer.from(text);
  let off = 0;
  try {
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EAGAIN" || code === "EWOULDBLOCK") {
      streamed.add(fd);
      stream(fd).write(bytes.subarray(off));
    }
    // Anything else (EPIPE, EBADF, EIO): nobody reads it any more, and there is nowhere to say so.
  }
}

export function writeStdout(text: string): void {
  writeAll(1, text);
}

export function writeStderr(text: string): void {
  writeAll(2, text);
}
