// The messages placement gives when a process does not fit. They carry the numbers a user
// needs to decide what to change: what was asked, what is free, where.

const UNITS = ['', 'K', 'M', 'G', 'T'] as const;
const NAMES_SHOWN = 5;

/** Bytes in the spec's size syntax (powers of 1024): 268435456 → '256M', 1610612736 → '1.5G'. */
export function formatBytes(bytes: number): string {
  let unit = 0;
  let value = bytes;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, '');
  return `${shown}${UNITS[unit]}`;
}

/** 'role=web: web-1, web-2' — the placement labels and the nodes they select. */
export function describeNodes(labels: Record<string, string>, names: readonly string[]): string {
  const selector = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');
  const shown = names.slice(0, NAMES_SHOWN).join(', ');
  const more = names.length > NAMES_SHOWN ? ` and ${names.length - NAMES_SHOWN} more` : '';
  return `${selector === '' ? 'any labels' : selector}: ${shown}${more}`;
}

export interface Shortfall {
  app: string;
  process: string;
  requested: number;
  unplaced: number;
  labels: Record<string, string>;
  /** Eligible node names, sorted. */
  nodes: readonly string[];
}

export function memoryShortfallMessage(
  s: Shortfall,
  perInstance: string,
  freeTotal: number,
  freeLargest: number,
): string {
  return (
    `${s.unplaced} of ${s.requested} instances of ${s.app}/${s.process} are not placed: ` +
    `each needs ${perInstance} (resources.memory) but the eligible nodes (${describeNodes(s.labels, s.nodes)}) ` +
    `have ${formatBytes(freeTotal)} free in total, at most ${formatBytes(freeLargest)} on one node; ` +
    `lower instances or resources.memory, or add capacity`
  );
}

export function portShortfallMessage(s: Shortfall, range: { from: number; to: number }, full: readonly string[]): string {
  const size = Math.max(0, range.to - range.from + 1);
  return (
    `${s.unplaced} of ${s.requested} instances of ${s.app}/${s.process} are not placed: ` +
    `every port of settings.portRange ${range.from}-${range.to} (${size} per node) is taken on the eligible nodes ` +
    `with memory to spare (${describeNodes(s.labels, full)}); widen settings.portRange, or add nodes`
  );
}
