// Stable 32-bit string hashing for placement: FNV-1a over UTF-16 code units, finished with
// murmur3's fmix32. FNV-1a alone barely separates names that differ only in their last
// character (web-1, web-2); the finisher spreads them so rendezvous ranking is balanced.
// Pure and platform-independent: the same names give the same placement everywhere.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnv1a(text: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/** murmur3's fmix32: scrambles a 32-bit value so every input bit affects every output bit. */
export function finishHash(state: number): number {
  let h = state;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** An unsigned 32-bit hash of `text`, the same on every platform and in every run. */
export function stableHash(text: string): number {
  return finishHash(fnv1a(text));
}
