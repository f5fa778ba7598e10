// Changes to one thing (a node, an ingress's Caddy) made one after another, in the order they
// were asked for; changes to different things run side by side.

/**
 * A queue per key: each call waits for the calls made before it with the same key, whether they
 * succeeded or failed, then runs `fn`.
 */
export function keyedQueue(): <T>(key: string, fn: () => Promise<T>) => Promise<T> {
  const queues = new Map<string, Promise<unknown>>();
  return <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const next = (queues.get(key) ?? Promise.resolve()).then(fn, fn);
    const settled = next.catch(() => undefined);
    queues.set(key, settled);
    // The last call of a key leaves no entry behind once it is done.
    void settled.then(() => queues.get(key) === settled && queues.delete(key));
    return next;
  };
}
