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
 * others waiting, and its promise settles when that flush has, with the flush's result at the
 * item's index, if it returns results. A flush that fails is retried item by item, so each caller
 * gets its own outcome. flush must therefore be all-or-nothing (one statement, or one transaction).
 * One flush runs at a time; items arriving meanwhile form the next batch, so a lone call goes at
 * once and batches grow only under load.
 */
export function batched<T, R = void>(
  flush: (items: T[]) => Promise<R[] | void>,
  maxItems = 500,
  /** Whether a failed batch is worth retrying item by item (not when the database is away). */
  retryAlone: (err: unknown) => boolean = () => true,
): (item: T) => Promise<R | undefined> {
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
        if (batch.length === 1 || !retryAlone(err)) for (const b of batch) b.reject(err);
        // One bad item must not fail its neighbours: each goes again alone, and only its own
        // failure reaches its caller. (A flush is one statement, so the failed one wrote nothing.)
        else for (const b of batch) await flush([b.item]).then((r) => b.resolve(r ? r[0] : undefined), b.reject);
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
