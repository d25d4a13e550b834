/** Serializes calls to fn; a call made while one runs schedules exactly one more run after it, so
 *  a burst of wake-ups costs at most two runs and none is missed. */
export function coalesced(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return async function run(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await fn();
      } while (again);
    })().finally(() => (running = undefined));
    return running;
  };
}

/**
 * Group commit for concurrent callers: each call's item goes out in one flush(items) with the
 * others waiting, and its promise settles when that flush has (or has failed). One flush runs at a
 * time; items arriving meanwhile form the next batch, so a lone call goes at once and batches grow
 * only under load.
 */
export function batched<T>(flush: (items: T[]) => Promise<void>, maxItems = 500): (item: T) => Promise<void> {
  const queue: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let running = false;
  const pump = async () => {
    if (running) return;
    running = true;
    while (queue.length) {
      const batch = queue.splice(0, maxItems);
      try {
        await flush(batch.map((b) => b.item));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    running = false;
  };
  return (item) =>
    new Promise<void>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      void pump();
    });
}
