// A full garbage collection between the stages of a long compile (validate a revision, then
// render and compare its nodes). V8 lets its old generation fill with what a stage left behind
// (promoted parse trees, a whole fleet's validation) before it collects, and keeps the heap it
// grew: a plan of 2,000 apps reached ~200 MB RSS with 20 MB alive. Collecting at the boundary,
// where little is alive, keeps the heap near what is alive (plan, 2,000 apps: 164-170 → 160 MB),
// for a full collection of ~20 MB each.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null | undefined;
let owned = false;

/**
 * Says that this process runs skyrec's compile and little else: the process entries call it
 * (bin/skyrec.js, the reconciler's head worker), library calls do not. A program that calls
 * skyrec's functions in a process of its own (a test runner, an editor's server) keeps its heap
 * V8's to manage: a forced full collection there walks everything that program holds, not ~20 MB
 * (measured: the test files that plan and render in-process, 32.5 → 10.8 CPU-s without them).
 */
export function ownProcessMemory(): void {
  owned = true;
}

export function releaseMemory(): void {
  if (!owned) return;
  if (gc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    } catch {
      gc = null; // a runtime without it: memory is then V8's to manage, as before
    }
  }
  gc?.();
}

/**
 * Below this much heap growth since the last collection it forced, a releaser skips its collection:
 * a full collection walks everything alive, and in the reconciler's head worker that is the compile
 * cache too. A plan there for one changed app grew the heap 7-9 MB per stage and spent 80-110 ms of a
 * ~1.3 s cycle in its two forced collections; a cold plan of 2,000 apps grows 13-27 MB per stage.
 */
const MIN_GROWTH_BYTES = 8 * 1024 * 1024;

/**
 * releaseMemory for one compile: collects only when the heap has grown by MIN_GROWTH_BYTES since
 * this releaser was made or last collected, so a compile served from the cache pays none.
 */
export function memoryReleaser(): () => void {
  const used = () => getHeapStatistics().used_heap_size;
  let mark = used();
  return () => {
    if (!owned || used() - mark < MIN_GROWTH_BYTES) return;
    releaseMemory();
    mark = used();
  };
}

/**
 * For the rest of this process, V8 grows its old generation by 50% of what is alive after each
 * full collection instead of up to 4×: `plan` and `render` are short and allocate mostly garbage
 * (parse trees, validation), which otherwise piles up to several times what is alive before the
 * first collection. Measured on the bench's 2,000-app plan: peak RSS 178 → 162 MB, CPU time the
 * same within noise. A command that compiles calls it first; the reconciler's loop does not.
 */
export function limitHeapGrowth(): void {
  if (!owned) return;
  try {
    setFlagsFromString('--heap-growing-percent=50');
  } catch {
    // not V8's flag in this runtime: memory is V8's to manage, as before
  }
}
