// Reads git objects (blobs) straight from a repository's pack files and loose objects with
// node's native zlib. isomorphic-git inflates each object through a JavaScript inflater that
// allocates a 64 KiB window per object, looks for a loose file (a failing open) before every
// packed read, and keeps every object it read in its pack cache: for the 2,000 specs of a
// large config repo that was most of `plan`'s time and its peak memory. This reader keeps one
// index per pack (its .idx file, searched in place) and a few delta bases, nothing else.
// An object it cannot find (a repository with alternates, a pack index v1) returns null and the
// caller falls back to isomorphic-git.
import fs from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { GitError } from '../../common/errors.js';

type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';
const TYPES: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const OFS_DELTA = 6;
const REF_DELTA = 7;

export interface GitObject {
  type: ObjectType;
  data: Buffer;
}

interface Pack {
  idx: Buffer;
  count: number;
  fd: number;
  size: number;
  /** The whole pack, when it is small (most config repos'): each object is then a slice, not two reads. */
  bytes: Buffer | null;
}

/** Packs up to this size are read whole when opened: a plan of 2,000 specs made ~4,400 reads of a 170 kB pack. */
const READ_WHOLE = 8 * 1024 * 1024;

/** How many inflated delta bases are kept: a chain of deltas reads its bases once each. */
const BASE_CACHE = 64;

const readers = new Map<string, ObjectReader>();

/**
 * The reader of `gitdir`, shared by every use in this process, with its packs brought up to
 * date: packs a fetch added are opened, packs a gc removed are closed.
 */
export function objectReader(gitdir: string): ObjectReader {
  let reader = readers.get(gitdir);
  readers.delete(gitdir);
  // A process reads one config repo, or a few (tests, a plan of a clone): the least recently opened go.
  if (!reader && readers.size >= MAX_READERS) {
    const [oldest, old] = readers.entries().next().value!;
    old.close();
    readers.delete(oldest);
  }
  readers.set(gitdir, (reader ??= new ObjectReader(gitdir)));
  reader.refresh();
  return reader;
}

const MAX_READERS = 4;

export class ObjectReader {
  private packs = new Map<string, Pack>();
  private bases = new Map<string, GitObject>();

  constructor(private readonly gitdir: string) {}

  /** The object `oid`, or null when it is in neither a v2 pack nor a loose file. */
  read(oid: string): GitObject | null {
    for (const pack of this.packs.values()) {
      const offset = findOffset(pack, oid);
      if (offset !== null) return this.readPacked(pack, offset, oid, false);
    }
    return this.readLoose(oid);
  }

  /** Closes every pack file; a later refresh opens them again. */
  close(): void {
    for (const pack of this.packs.values()) fs.closeSync(pack.fd);
    this.packs.clear();
    this.bases.clear();
  }

  /** Opens the packs that appeared since the last call and closes those that are gone. */
  refresh(): void {
    const dir = join(this.gitdir, 'objects', 'pack');
    const names = new Set(fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => n.endsWith('.idx')) : []);
    for (const [name, pack] of this.packs) {
      if (names.has(name)) continue;
      fs.closeSync(pack.fd);
      this.packs.delete(name);
      this.bases.clear();
    }
    for (const name of names) {
      if (this.packs.has(name)) continue;
      const pack = openPack(join(dir, name));
      if (pack) this.packs.set(name, pack);
    }
  }

  private readPacked(pack: Pack, offset: number, oid: string, asBase: boolean): GitObject {
    const key = `${pack.fd}:${offset}`;
    const cached = this.bases.get(key);
    if (cached) return cached;
    // The header is at most 10 bytes of size, then for an offset delta at most 10 more.
    const head = readAt(pack, offset, 32);
    let pos = 0;
    let byte = head[pos++];
    const kind = (byte >> 4) & 7;
    let size = byte & 15;
    for (let shift = 4; byte & 0x80; shift += 7) {
      byte = head[pos++];
      size += (byte & 0x7f) * 2 ** shift;
    }
    let base: GitObject | null = null;
    if (kind === OFS_DELTA) {
      byte = head[pos++];
      let back = byte & 0x7f;
      while (byte & 0x80) {
        byte = head[pos++];
        back = (back + 1) * 128 + (byte & 0x7f);
      }
      base = this.readPacked(pack, offset - back, oid, true);
    } else if (kind === REF_DELTA) {
      const baseOid = head.subarray(pos, pos + 20).toString('hex');
      pos += 20;
      base = this.read(baseOid);
      if (!base) throw new GitError(`object ${oid}: its delta base ${baseOid} is missing`);
    } else if (!TYPES[kind]) {
      throw new GitError(`object ${oid}: unknown pack entry type ${kind}`);
    }
    const data = inflateAt(pack, offset + pos, size, oid);
    const object = base ? { type: base.type, data: applyDelta(data, base.data, oid) } : { type: TYPES[kind], data };
    if (asBase) this.remember(key, object);
    return object;
  }

  /** Objects that other objects are deltas of are read again soon (a chain shares its bases): keep the last few. */
  private remember(key: string, object: GitObject): void {
    if (this.bases.size >= BASE_CACHE) this.bases.delete(this.bases.keys().next().value!);
    this.bases.set(key, object);
  }

  private readLoose(oid: string): GitObject | null {
    let raw: Buffer;
    try {
      raw = inflateSync(fs.readFileSync(join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2))));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new GitError(`object ${oid} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    const nul = raw.indexOf(0);
    const type = raw.subarray(0, nul).toString('latin1').split(' ')[0] as ObjectType;
    return { type, data: raw.subarray(nul + 1) };
  }
}

function openPack(idxPath: string): Pack | null {
  const idx = fs.readFileSync(idxPath);
  // Version 2 only (git's default since 1.5.2); a v1 index is left to isomorphic-git.
  if (idx.length < 8 + 256 * 4 || idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) return null;
  let fd: number;
  try {
    fd = fs.openSync(idxPath.replace(/\.idx$/, '.pack'), 'r');
  } catch {
    return null; // an index written before its pack, or a pack removed since
  }
  const size = fs.fstatSync(fd).size;
  let bytes: Buffer | null = null;
  if (size <= READ_WHOLE) {
    bytes = Buffer.allocUnsafe(size);
    let read = 0;
    for (let n = 1; read < size && n > 0; read += n) n = fs.readSync(fd, bytes, read, size - read, read);
    bytes = bytes.subarray(0, read);
  }
  return { idx, count: idx.readUInt32BE(8 + 255 * 4), fd, size: bytes ? bytes.length : size, bytes };
}

function readAt(pack: Pack, offset: number, length: number): Buffer {
  if (pack.bytes) return pack.bytes.subarray(offset, offset + length);
  const buf = Buffer.allocUnsafe(Math.min(length, pack.size - offset));
  const n = fs.readSync(pack.fd, buf, 0, buf.length, offset);
  return buf.subarray(0, n);
}

/**
 * Inflates the zlib stream at `offset` into `size` bytes. Its compressed length is not stored:
 * read a little more than it can take (deflate grows incompressible data by a few bytes per
 * 16 KiB), and read again, larger, in the rare case that was not enough.
 */
function inflateAt(pack: Pack, offset: number, size: number, oid: string): Buffer {
  for (let want = size + (size >> 6) + 64; ; want *= 4) {
    const input = readAt(pack, offset, want);
    try {
      // One output chunk of the known size: the default 16 KiB chunk per object is most of the garbage.
      const out = inflateSync(input, { maxOutputLength: Math.max(size, 1), chunkSize: Math.max(size + 64, 64) });
      if (out.length !== size) throw new GitError(`object ${oid}: the pack says ${size} bytes, it inflates to ${out.length}`);
      return out;
    } catch (err) {
      if (err instanceof GitError) throw err;
      const truncated = (err as NodeJS.ErrnoException).code === 'Z_BUF_ERROR' && input.length === want && offset + want < pack.size;
      if (!truncated) throw new GitError(`object ${oid} cannot be inflated: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** The offset of `oid` in the pack, by binary search of the sorted ids in its .idx, or null. */
function findOffset(pack: Pack, oid: string): number | null {
  const { idx, count } = pack;
  const want = Buffer.from(oid, 'hex');
  if (want.length !== 20) return null;
  const first = want[0];
  let lo = first === 0 ? 0 : idx.readUInt32BE(8 + (first - 1) * 4);
  let hi = idx.readUInt32BE(8 + first * 4);
  const ids = 8 + 256 * 4;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const cmp = idx.compare(want, 0, 20, ids + mid * 20, ids + mid * 20 + 20);
    if (cmp === 0) {
      const offsets = ids + count * 24;
      const small = idx.readUInt32BE(offsets + mid * 4);
      if (!(small & 0x80000000)) return small;
      // Packs over 2 GiB: the offset is in the table of 8-byte offsets.
      return Number(idx.readBigUInt64BE(offsets + count * 4 + (small & 0x7fffffff) * 8));
    }
    if (cmp > 0) hi = mid;
    else lo = mid + 1;
  }
  return null;
}

/** Git's delta format: the base and target sizes, then copy (from base) and insert instructions. */
function applyDelta(delta: Buffer, base: Buffer, oid: string): Buffer {
  let pos = 0;
  const varint = () => {
    let n = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = delta[pos++];
      n += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return n;
  };
  const baseSize = varint();
  if (baseSize !== base.length) throw new GitError(`object ${oid}: its delta expects a base of ${baseSize} bytes, the base has ${base.length}`);
  const out = Buffer.allocUnsafe(varint());
  let at = 0;
  while (pos < delta.length) {
    const op = delta[pos++];
    if (op & 0x80) {
      let from = 0;
      let length = 0;
      for (let i = 0; i < 4; i++) if (op & (1 << i)) from += delta[pos++] * 2 ** (8 * i);
      for (let i = 0; i < 3; i++) if (op & (1 << (4 + i))) length += delta[pos++] * 2 ** (8 * i);
      if (length === 0) length = 0x10000;
      at += base.copy(out, at, from, from + length);
    } else if (op > 0) {
      at += delta.copy(out, at, pos, pos + op);
      pos += op;
    } else {
      throw new GitError(`object ${oid}: its delta holds a reserved instruction`);
    }
  }
  if (at !== out.length) throw new GitError(`object ${oid}: its delta builds ${at} of ${out.length} bytes`);
  return out;
}
