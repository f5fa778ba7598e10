// `skyrec detect` output: a small aligned block for people, a stable object for scripts.
import type { Detection } from './detect.js';

const pad = (label: string) => label.padEnd(11);

export function formatDetectionText(d: Detection): string {
  const lines: [string, string][] = [
    ['path', d.path],
    ['stack', `${d.stack} (${d.evidence.join(', ')})`],
  ];
  if (d.runtime) {
    const r = d.runtime;
    lines.push(['runtime', r.version !== null ? `${r.name} ${r.version} (${r.source}${r.hint ? `; ${r.hint}` : ''})` : `${r.name}, no version declared: ${r.hint}`]);
  }
  lines.push(['start', d.start.command !== null ? `${d.start.command} (${d.start.source})` : d.start.hint ?? 'none']);
  const lock = d.lock;
  const lockText = {
    found: `${lock.file}${lock.detail ? ` (${lock.detail})` : ''}`,
    unsupported: `${lock.file}, unsupported: ${lock.detail}`,
    missing: `missing: ${lock.detail}`,
    'not-needed': `none needed: ${lock.detail}`,
  };
  lines.push(['lock', lockText[lock.status]]);
  if (d.procfile) lines.push(['Procfile', d.procfile.length > 0 ? d.procfile.map((e) => e.name).join(', ') : 'no process types']);
  d.alsoFound.forEach((o, i) => lines.push([i === 0 ? 'also found' : '', `${o.stack} (${o.evidence.join(', ')})`]));
  return lines.map(([label, value]) => `${pad(label)}${value}`.trimEnd()).join('\n') + '\n';
}

/** The JSON form (fields documented in the README): the detection as it is, Procfile lines without line numbers. */
export function detectionJson(d: Detection): unknown {
  return {
    path: d.path,
    stack: d.stack,
    evidence: d.evidence,
    runtime: d.runtime && { name: d.runtime.name, version: d.runtime.version, source: d.runtime.source, hint: d.runtime.hint ?? null },
    start: d.start,
    lock: d.lock,
    procfile: d.procfile && d.procfile.map((e) => ({ name: e.name, command: e.command })),
    alsoFound: d.alsoFound,
  };
}
