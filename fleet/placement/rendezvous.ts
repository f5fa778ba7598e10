// Rendezvous (highest-random-weight) ranking of candidate nodes for one key such as
// `blog/web`, heavier first. A node's weight depends only on the key and the node's name, not
// on which other nodes exist, so adding or removing a node only inserts or removes it in every
// ranking and never reorders the others: placement moves only what must move.
//
// The weight is mix(hash(key) xor hash(node)) rather than hash(`${key}/${node}`): node hashes
// are computed once per placement, so ranking is O(nodes) with no string work (2,000 apps on
// 200 nodes rank in a few ms instead of tens). The murmur3 finisher keeps it as balanced as
// hashing the joined string (checked by chi-square over 200k keys).
import { finishHash, stableHash } from './hash.js';

/** Candidates are encoded below the weight in one float64 key: weight * 2^20 + tie-breaker. */
const SLOT = 2 ** 20;
/** Most lookups need the first rank or two; past this many a full sort is cheaper. */
const SELECT_LIMIT = 8;

/** One ranking at a time, re-aimed with `rank()`: the buffer is reused to spare the GC. */
export class Rendezvous {
  private readonly nodeHashes: Uint32Array;
  private readonly buffer: Float64Array;
  /** keys[0..ready) are the top keys in rank order; the rest are unordered. */
  private keys: Float64Array;
  private ready = 0;
  private candidates: readonly number[] = [];

  /** @param names every node name, by node id */
  constructor(names: readonly string[]) {
    if (names.length >= SLOT) throw new RangeError(`at most ${SLOT - 1} nodes`);
    this.nodeHashes = Uint32Array.from(names, stableHash);
    this.buffer = new Float64Array(names.length);
    this.keys = this.buffer.subarray(0, 0);
  }

  /**
   * Ranks `candidates` for `key` (e.g. `blog/web`, `blog/anchor`); earlier rankings are gone.
   * @param candidates node ids sorted by node name (equal weights rank by name)
   */
  rank(key: string, candidates: readonly number[]): this {
    const keyHash = stableHash(key);
    const keys = this.buffer.subarray(0, candidates.length);
    for (let pos = 0; pos < candidates.length; pos++) {
      const weight = finishHash((keyHash ^ this.nodeHashes[candidates[pos]]) >>> 0);
      keys[pos] = weight * SLOT + (SLOT - 1 - pos);
    }
    this.keys = keys;
    this.candidates = candidates;
    this.ready = 0;
    return this;
  }

  /** The node id at `rank` (0 = heaviest) of the current ranking; `rank` must be below its size. */
  at(rank: number): number {
    if (rank >= this.ready) this.orderThrough(rank);
    return this.candidates[SLOT - 1 - (this.keys[rank] % SLOT)];
  }

  private orderThrough(rank: number): void {
    const keys = this.keys;
    if (rank >= SELECT_LIMIT) {
      keys.subarray(this.ready).sort().reverse();
      this.ready = keys.length;
      return;
    }
    // Selection of the next heaviest keys, one by one.
    while (this.ready <= rank) {
      let best = this.ready;
      for (let i = best + 1; i < keys.length; i++) if (keys[i] > keys[best]) best = i;
      const top = keys[best];
      keys[best] = keys[this.ready];
      keys[this.ready++] = top;
    }
  }
}
