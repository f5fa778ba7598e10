// keyedQueue: the per-node queue both node drivers make their changes through.
import { describe, expect, it } from 'vitest';
import { keyedQueue } from '../../common/serial.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('keyedQueue', () => {
  it('runs the calls of one key one after another in the order made, a failure not stopping the next; other keys run meanwhile', async () => {
    const serial = keyedQueue();
    const events: string[] = [];
    const step = (name: string, fail = false) => async () => {
      events.push(`${name} start`);
      await tick();
      events.push(`${name} end`);
      if (fail) throw new Error(name);
      return name;
    };
    const calls = [serial('a', step('a1', true)), serial('a', step('a2')), serial('b', step('b1')), serial('a', step('a3'))];
    const results = await Promise.allSettled(calls);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a1', 'a2', 'b1', 'a3']);
    expect(results[0].status).toBe('rejected');
    const a = events.filter((e) => e.startsWith('a'));
    expect(a).toEqual(['a1 start', 'a1 end', 'a2 start', 'a2 end', 'a3 start', 'a3 end']);
    // b started before a's first call ended: keys do not wait for each other.
    expect(events.indexOf('b1 start')).toBeLessThan(events.indexOf('a1 end'));
  });
});
