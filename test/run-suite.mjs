#!/usr/bin/env node
// `npm test`: the whole suite, split into shards that run side by side, each in its own network
// namespace. The end-to-end files deploy the same example apps on the same deterministic ports
// (placement gives them from settings.portRange), so two of them could not share one loopback;
// in separate namespaces each shard has its own 127.0.0.1 and nothing else to share but the
// disk (temp dirs are per test, the Nix store takes its own locks, the build cache renames whole
// entries into place). Files go to shards by their recorded durations (test/file-durations.json),
// longest first onto the least loaded shard.
//
// Beside the shards, tsc type-checks the sources and the tests (tsconfig.test.json).
//
// With arguments (`npm test -- test/x.test.ts`, `-t name`, …) it is plain `vitest run` with them,
// one process, without the type-check. SKYREC_TEST_SHARDS=1 does the same for the whole suite; so does a machine where
// unshare cannot make a network namespace (not root, or a container without the capability).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import readline from 'node:readline';
import buildDistOnce from './build-dist.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const durationsFile = join(root, 'test', 'file-durations.json');
const args = process.argv.slice(2);

function runVitestHere(extra) {
  const r = spawnSync(process.execPath, [vitest, 'run', ...extra], { cwd: root, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

function* testFiles(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* testFiles(p);
    else if (e.name.endsWith('.test.ts')) yield relative(root, p);
  }
}

function netnsWorks() {
  const r = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' });
  return r.status === 0;
}

/** Longest file first onto the shard with the least recorded time (LPT). */
function splitFiles(files, count) {
  const recorded = existsSync(durationsFile) ? JSON.parse(readFileSync(durationsFile, 'utf8')) : {};
  const known = Object.values(recorded);
  const fallback = known.length ? known.sort((a, b) => a - b)[Math.floor(known.length / 2)] : 1;
  const weighted = files.map((f) => ({ f, s: recorded[f] ?? fallback })).sort((a, b) => b.s - a.s || a.f.localeCompare(b.f));
  const shards = Array.from({ length: count }, () => ({ files: [], s: 0 }));
  for (const w of weighted) {
    const least = shards.reduce((a, b) => (b.s < a.s ? b : a));
    least.files.push(w.f);
    least.s += w.s;
  }
  return shards;
}

/** Runs argv with each line of its output behind `[tag] `; resolves to its exit and duration. */
function runTagged(tag, argv, env = process.env) {
  const child = spawn(argv[0], argv.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const [stream, out] of [[child.stdout, process.stdout], [child.stderr, process.stderr]]) {
    readline.createInterface({ input: stream }).on('line', (line) => out.write(`[${tag}] ${line}\n`));
  }
  const started = performance.now();
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code: code ?? 1, signal, seconds: (performance.now() - started) / 1000 }));
  });
}

async function runShard(index, files, reportDir) {
  const report = join(reportDir, `shard-${index + 1}.json`);
  const argv = [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...files];
  // `ip link set lo up` first: a new network namespace starts with its loopback down.
  const done = await runTagged(String(index + 1), ['unshare', '-n', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', process.execPath, ...argv], { ...process.env, SKYREC_TEST_SHARD: String(index + 1) });
  let counts = null;
  try {
    counts = JSON.parse(readFileSync(report, 'utf8'));
  } catch {
    // No report: vitest did not get as far as writing one; the exit code says it failed.
  }
  return { index, ...done, counts };
}

/** The per-file durations of a finished run, for the next split (`--save-durations`). */
function saveDurations(results) {
  const durations = {};
  for (const r of results) {
    for (const file of r.counts?.testResults ?? []) {
      durations[relative(root, file.name)] = Math.round((file.endTime - file.startTime) / 100) / 10;
    }
  }
  const sorted = Object.fromEntries(Object.entries(durations).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(durationsFile, JSON.stringify(sorted, null, 2) + '\n');
  process.stdout.write(`wrote ${relative(root, durationsFile)} (${Object.keys(sorted).length} files)\n`);
}

const save = args[0] === '--save-durations';
if (args.length > 0 && !save) runVitestHere(args);

const wanted = Number(process.env.SKYREC_TEST_SHARDS ?? 2);
if (!Number.isInteger(wanted) || wanted < 1) {
  process.stderr.write(`SKYREC_TEST_SHARDS=${process.env.SKYREC_TEST_SHARDS}: expected a whole number of shards, 1 or more\n`);
  process.exit(2);
}
// Incremental: what the last type-check found unchanged is not checked again (here 14 -> 6.5
// CPU-s when a source changed since); its record lives in .skyrec/, out of git, so a fresh
// clone checks everything.
const tscArgv = [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.test.json', '--incremental', '--tsBuildInfoFile', join(root, '.skyrec', 'tsc-test.tsbuildinfo')];
/** The whole suite in one vitest process, after the type-check. */
function runWholeHere() {
  const typed = spawnSync(process.execPath, tscArgv, { cwd: root, stdio: 'inherit' });
  if (typed.status !== 0) process.exit(typed.status ?? 1);
  runVitestHere([]);
}
if (wanted === 1) runWholeHere();
if (!netnsWorks()) {
  process.stderr.write('test/run-suite: unshare cannot make a network namespace here (it needs root); running the suite in one process\n');
  runWholeHere();
}

// dist/ is built once here, before any shard starts: each shard's globalSetup then finds it fresh.
buildDistOnce();

const shards = splitFiles([...testFiles(join(root, 'test'))].sort(), wanted).filter((s) => s.files.length > 0);
process.stdout.write(`test/run-suite: ${shards.length} shards side by side, each in its own network namespace (SKYREC_TEST_SHARDS=1 for one process)\n`);
for (const [i, s] of shards.entries()) process.stdout.write(`[${i + 1}] ${s.files.length} files, about ${Math.round(s.s)} s recorded\n`);
const reportDir = mkdtempSync(join(tmpdir(), 'skyrec-suite-'));
const started = performance.now();
// The type-check of sources and tests runs beside the shards, not before them, at the lowest
// priority (nice 19): the shards keep the machine ~87% busy (measured from /proc/stat over a whole
// run), and tsc taking its share at once (15-50 CPU-s in the first minute) slowed the end-to-end
// files' rollouts, whose health deadlines and zero-failure checks run on the same two cores.
const typecheck = runTagged('tsc', ['nice', '-n', '19', process.execPath, ...tscArgv]);
const results = await Promise.all(shards.map((s, i) => runShard(i, s.files, reportDir)));
const typed = await typecheck;
const total = { tests: 0, passed: 0, failed: 0, skipped: 0, files: 0 };
for (const r of results) {
  total.tests += r.counts?.numTotalTests ?? 0;
  total.passed += r.counts?.numPassedTests ?? 0;
  total.failed += r.counts?.numFailedTests ?? 0;
  total.skipped += (r.counts?.numPendingTests ?? 0) + (r.counts?.numTodoTests ?? 0);
  total.files += r.counts?.testResults?.length ?? 0;
}
if (save) saveDurations(results);
rmSync(reportDir, { recursive: true, force: true });
const failed = results.filter((r) => r.code !== 0).length + (typed.code !== 0 ? 1 : 0);
process.stdout.write('\n');
for (const r of results) process.stdout.write(`[${r.index + 1}] ${r.code === 0 ? 'passed' : `FAILED (exit ${r.signal ?? r.code})`} in ${r.seconds.toFixed(0)} s\n`);
process.stdout.write(`[tsc] ${typed.code === 0 ? 'types check' : `FAILED (exit ${typed.signal ?? typed.code})`} in ${typed.seconds.toFixed(0)} s\n`);
process.stdout.write(
  `test/run-suite: ${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''} of ${total.tests} tests in ${total.files} files; ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s\n`,
);
process.exit(failed > 0 ? 1 : 0);
