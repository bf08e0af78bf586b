/**
 * Lease ids, slugs, recovery nonces and the display name we give a codespace.
 *
 * - lease id: "cbx_" + 12 lowercase base32 chars [a-z2-7] (60 random bits)
 * - slug:     two friendly words, "amber-crab"; unique among the slugs passed in
 * - nonce:    8 lowercase base32 chars, the recovery key in the display name
 * - display name on GitHub: "crabbox <slug> <nonce>"
 */
import { randomBase32 } from "../util/random.ts";
import { LEASE_ID_RE } from "./claim.ts";

export function newLeaseId(): string {
  return `cbx_${randomBase32(12)}`;
}

export function isLeaseId(s: string): boolean {
  return LEASE_ID_RE.test(s);
}

export function newNonce(): string {
  return randomBase32(8);
}

export const ADJECTIVES: readonly string[] = (
  "amber azure brave breezy brisk calm cheery clever coral cosmic crisp dapper eager fancy fluffy " +
  "frosty gentle giddy golden happy hazel humble jolly keen kind lively lucky mellow merry mighty " +
  "misty nimble noble olive plucky polite proud quick quiet rapid rosy ruby rustic sandy shiny " +
  "silver sleek snappy snowy solar spry steady sunny swift teal tidy tiny trusty upbeat vivid warm " +
  "witty zany zesty"
).split(" ");

export const NOUNS: readonly string[] = (
  "crab otter heron puffin walrus seal squid clam oyster shrimp lobster urchin starfish dolphin " +
  "whale orca narwhal manatee pelican gull tern plover kelp reef shell pearl lagoon tide wave " +
  "harbor anchor beacon buoy barnacle minnow marlin salmon trout tuna herring mackerel cod eel ray " +
  "skate turtle penguin albatross cormorant sandpiper gecko newt frog beaver badger fox hare lynx " +
  "moose panda koala wombat llama bison"
).split(" ");

function pick(list: readonly string[]): string {
  const [r] = crypto.getRandomValues(new Uint32Array(1));
  return list[(r ?? 0) % list.length]!;
}

/**
 * A slug not in `taken`: random adjective-noun pairs first; when the space is
 * crowded, a random pair with the smallest free numeric suffix ("amber-crab-2").
 */
export function newSlug(taken: ReadonlySet<string> = new Set()): string {
  for (let i = 0; i < 64; i++) {
    const slug = `${pick(ADJECTIVES)}-${pick(NOUNS)}`;
    if (!taken.has(slug)) return slug;
  }
  const base = `${pick(ADJECTIVES)}-${pick(NOUNS)}`;
  for (let n = 2; ; n++) {
    const slug = `${base}-${n}`;
    if (!taken.has(slug)) return slug;
  }
}

export const SLUG_RE = /^[a-z]+-[a-z]+(?:-[1-9][0-9]*)?$/;
const NONCE_RE = /^[a-z2-7]{8}$/;
const DISPLAY_NAME_RE = /^crabbox ([a-z]+-[a-z]+(?:-[1-9][0-9]*)?) ([a-z2-7]{8})$/;

export function displayNameFor(slug: string, nonce: string): string {
  if (!SLUG_RE.test(slug)) throw new Error(`invalid slug ${JSON.stringify(slug)}`);
  if (!NONCE_RE.test(nonce)) throw new Error(`invalid nonce ${JSON.stringify(nonce)}`);
  return `crabbox ${slug} ${nonce}`;
}

/** Strict inverse of displayNameFor: anything else (extra spaces, case, suffixes) is null. */
export function parseDisplayName(s: string): { slug: string; nonce: string } | null {
  const m = DISPLAY_NAME_RE.exec(s);
  if (!m) return null;
  return { slug: m[1]!, nonce: m[2]! };
}
