// The parse cache on disk: parsed spec values by git blob id, so that a file skyrec has seen
// before (in any revision, any repo) is not parsed again. It holds only what the specs say
// (secret values never are in specs). A missing or unreadable cache is simply rebuilt.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type { ParseCache } from '../../schema/load-yaml.js';

/** Bump when what is cached changes shape (the yaml library's output, the alias limit). */
const FORMAT = 'skyrec-parse-cache-2';
/** Entries kept: the newest win; enough for several revisions of a large fleet. */
const MAX_ENTRIES = 50_000;

/**
 * The compile cache of `render` and `plan`: beside their parse cache in the user's cache folder,
 * not in a reconciler's state directory, whose cache keeps only what its own cycles use. Here,
 * not in compile-cache.ts, so that a render answered from its --out record loads none of the stores.
 */
export const commandCompileCacheDir = (env: NodeJS.ProcessEnv): string => join(cacheDir(env), 'compile');

export function cacheDir(env: NodeJS.ProcessEnv): string {
  return env.SKYREC_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'skyrec');
}

export interface StoredCache {
  cache: ParseCache;
  /** Writes the cache back if it gained entries. */
  save(): void;
}

type Entry = ParseCache extends Map<string, infer E> ? E : never;

/**
 * A parse cache that remembers which entries were used (read or added) since it was opened, and
 * reads its file only when first used: a run whose revisions are all validated already (the
 * compile cache's checked memo) never needs it.
 */
class UsedEntries extends Map<string, Entry> {
  used = new Map<string, Entry>();
  loadedSize = 0;
  private load: (() => ParseCache) | null = null;
  static lazy(load: () => ParseCache): UsedEntries {
    const entries = new UsedEntries();
    entries.load = load;
    return entries;
  }
  private fill(): void {
    if (!this.load) return;
    const load = this.load;
    this.load = null;
    for (const [id, entry] of load()) super.set(id, entry);
    this.loadedSize = super.size;
  }
  override get size(): number {
    this.fill();
    return super.size;
  }
  override has(id: string): boolean {
    this.fill();
    return super.has(id);
  }
  override get(id: string): Entry | undefined {
    this.fill();
    const hit = super.get(id);
    if (hit !== undefined) this.used.set(id, hit);
    return hit;
  }
  override set(id: string, entry: Entry): this {
    this.fill();
    this.used?.set(id, entry); // undefined while the constructor runs
    return super.set(id, entry);
  }
}

function readEntries(file: string): ParseCache {
  try {
    const stored = deserialize(readFileSync(file)) as { format: string; entries: ParseCache };
    if (stored.format === FORMAT) return stored.entries;
  } catch {
    // absent or unreadable: start empty
  }
  return new Map();
}

/**
 * @param opts.keepUsed keep only the entries this process used, once it used any (the
 *   reconciler, whose cycles each read one revision: its file stays the size of one fleet); the
 *   file is then read only when an entry is first asked for
 */
export function openParseCache(dir: string, opts: { keepUsed?: boolean } = {}): StoredCache {
  const file = join(dir, 'parsed-specs.v8');
  const cache: ParseCache = opts.keepUsed ? UsedEntries.lazy(() => readEntries(file)) : readEntries(file);
  const loadedSize = cache instanceof UsedEntries ? 0 : cache.size;
  return {
    cache,
    save() {
      const used = cache instanceof UsedEntries ? cache.used : null;
      if (used ? used.size === 0 || (used.size === (cache as UsedEntries).loadedSize && cache.size === used.size) : cache.size === loadedSize) return;
      const entries = used ? [...used] : [...cache].slice(-MAX_ENTRIES);
      try {
        mkdirSync(dir, { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, serialize({ format: FORMAT, entries: new Map(entries) }));
        renameSync(tmp, file);
      } catch {
        // a read-only home must not break a command: the next run parses again
      }
    },
  };
}
