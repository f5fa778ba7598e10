// How big the benches are. BENCH_QUICK=1 (CI, once after the tests): a small repo and one run of
// each figure, so a bench that no longer runs fails CI in seconds; the figures mean little then.
export const QUICK = process.env.BENCH_QUICK === '1';

/** The synthetic repo: apps, nodes, and how many apps the "many changed" head changes. */
export const SIZE = QUICK ? { apps: 100, nodes: 10, changed: 10 } : { apps: 2000, nodes: 200, changed: 200 };

/** e.g. "2,000 apps / 200 nodes" */
export const SIZE_LABEL = `${SIZE.apps.toLocaleString('en')} apps / ${SIZE.nodes} nodes`;

/** Runs per measured command; the median is reported. */
export const RUNS = QUICK ? 1 : Number(process.env.BENCH_RUNS ?? 5);
