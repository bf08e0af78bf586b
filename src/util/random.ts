/** Random identifiers from the OS CSPRNG. */

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/** `n` characters of [a-z2-7] from the OS CSPRNG (256 is a multiple of 32: no modulo bias). */
export function randomBase32(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  let out = "";
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}
