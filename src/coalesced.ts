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
 * others waiting, and its promise settles when that flush has (or has failed), with the flush's
 * result at the item's index, if it returns results. One flush runs at a time; items arriving
 * meanwhile form the next batch, so a lone call goes at once and batches grow only under load.
 */
export function batched<T, R = void>(flush: (items: T[]) => Promise<R[] | void>, maxItems = 500): (item: T) => Promise<R | undefined> {
  const queue: { item: T; resolve: (r: R | undefined) => void; reject: (err: unknown) => void }[] = [];
  let running = false;
  const pump = async () => {
    if (running) return;
    running = true;
    while (queue.length) {
      const batch = queue.splice(0, maxItems);
      try {
        const results = await flush(batch.map((b) => b.item));
        batch.forEach((b, i) => b.resolve(results ? results[i] : undefined));
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    running = false;
  };
  return (item) =>
    new Promise<R | undefined>((resolve, reject) => {
      queue.push({ item, resolve, reject });
      void pump();
    });
}
