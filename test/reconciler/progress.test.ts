// Rollout progress as a user sees it: a live block on a terminal, plain lines otherwise.
import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createProgress } from '../../common/progress.js';

function capture(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(new Writable({ write: (c, _e, done) => (chunks.push(String(c)), done()) }), { isTTY });
  return { stream, text: () => chunks.join('') };
}

describe('createProgress', () => {
  it('prints one plain line per change when not on a terminal', () => {
    const out = capture(false);
    const p = createProgress(out.stream, ['web-1', 'web-2']);
    p.update('web-1', 'switching', 'from generation 3');
    p.update('web-1', 'healthy', 'generation 4');
    p.done();
    expect(out.text()).toBe('web-1: switching: from generation 3\nweb-1: healthy: generation 4\n');
  });

  it('redraws one line per node in place on a terminal', () => {
    const out = capture(true);
    const p = createProgress(out.stream, ['web-1', 'worker-1']);
    p.update('worker-1', 'rolled back', 'generation 2');
    const frames = out.text().split('\x1b[2A');
    expect(frames).toHaveLength(2);
    expect(frames[0]).toBe('\x1b[2Kweb-1     waiting\n\x1b[2Kworker-1  waiting\n');
    expect(frames[1]).toBe('\x1b[2Kweb-1     waiting\n\x1b[2Kworker-1  rolled back: generation 2\n');
  });
});
