// The rollout's drain rules, on plain data: what the ingress is told to keep out, step by step.
import { describe, expect, it } from 'vitest';
import { DrainSet } from '../../reconciler/apply/drain.js';
import type { DrainRoute, Upstream } from '../../fleet/node/driver.js';

const up = (node: string, port: number): Upstream => ({ node, address: `10.0.0.${node.length}`, port });
const A = up('web-1', 20001);
const B = up('web-1', 20002);
const C = up('web-2', 20003);
const S = up('web-2', 21000);

function setup(routes: DrainRoute[], maxWaitMs = 5000) {
  const applied: string[][] = [];
  const set = new DrainSet(() => routes, async (drained) => void applied.push(drained.map((u) => `${u.node}:${u.port}`).sort()), 0, maxWaitMs);
  return { set, applied };
}

describe('DrainSet', () => {
  it('drains an instance while others serve its route, and puts it back', async () => {
    const { set, applied } = setup([{ domain: 'shop.example.com', upstreams: [A, B, C] }]);
    expect(await set.take(A)).toBe(true);
    await set.release(A);
    expect(applied).toEqual([['web-1:20001'], []]);
  });

  it('puts a healthy instance back and drains the next in one change (one ingress reload)', async () => {
    const { set, applied } = setup([{ domain: 'shop.example.com', upstreams: [A, B, C] }]);
    expect(await set.take(A)).toBe(true);
    expect(await set.take(B, A)).toBe(true);
    await set.release(B);
    expect(applied).toEqual([['web-1:20001'], ['web-1:20002'], []]);
  });

  it('puts the instance back even when the next cannot be drained', async () => {
    const { set, applied } = setup([{ domain: 'shop.example.com', upstreams: [A, B] }, { domain: 'solo.example.com', upstreams: [S] }]);
    expect(await set.take(A)).toBe(true);
    expect(await set.take(S, A)).toBe(false);
    expect(applied).toEqual([['web-1:20001'], []]);
  });

  it('never drains the only instance serving a domain: it restarts in place', async () => {
    const { set, applied } = setup([{ domain: 'solo.example.com', upstreams: [S] }]);
    expect(await set.take(S)).toBe(false);
    expect(applied).toEqual([]);
  });

  it('a second instance of a two-instance app waits until the first is back: the route is never empty', async () => {
    const { set, applied } = setup([{ domain: 'shop.example.com', upstreams: [A, C] }]);
    expect(await set.take(A)).toBe(true);
    let second: boolean | undefined;
    const waiting = set.take(C).then((r) => (second = r));
    await new Promise((r) => setTimeout(r, 20));
    expect(second).toBeUndefined();
    await set.release(A);
    await waiting;
    expect(second).toBe(true);
    await set.release(C);
    expect(applied).toEqual([['web-1:20001'], [], ['web-2:20003'], []]);
  });

  it('does not wait forever for an instance that is never put back: it restarts in place', async () => {
    const { set } = setup([{ domain: 'shop.example.com', upstreams: [A, C] }], 30);
    expect(await set.take(A)).toBe(true);
    expect(await set.take(C)).toBe(false);
  });

  it('leaves alone an instance no route proxies to', async () => {
    const { set, applied } = setup([{ domain: 'shop.example.com', upstreams: [A, B] }]);
    expect(await set.take(C)).toBe(false);
    expect(applied).toEqual([]);
  });

  it('a wait for the ingress starts with the drain, is told once the ingress has taken the instance out, and is waited for', async () => {
    const events: string[] = [];
    const routes = [{ domain: 'shop.example.com', upstreams: [A, B] }];
    const set = new DrainSet(() => routes, async (drained) => void events.push(`ingress keeps out ${drained.map((u) => u.port).join(',') || 'nothing'}`), async (u, taken) => {
      events.push(`watch ${u.port} starts`);
      await taken;
      events.push(`watch ${u.port}: taken out`);
    });
    expect(await set.take(A)).toBe(true);
    expect(events).toEqual(['watch 20001 starts', 'ingress keeps out 20001', 'watch 20001: taken out']);
  });

  it('when the ingress cannot take the instance out, the wait is told so and the drain fails', async () => {
    let told: unknown = null;
    const set = new DrainSet(() => [{ domain: 'shop.example.com', upstreams: [A, B] }], async () => Promise.reject(new Error('admin API refused')), (_u, taken) => taken.catch((err) => void (told = err)));
    await expect(set.take(A)).rejects.toThrow('admin API refused');
    expect((told as Error).message).toBe('admin API refused');
  });
});
