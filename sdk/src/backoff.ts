// Retries wait with full jitter, so many agents cut off by one restart do not all come back in the
// same millisecond.
import { abortError } from './errors.js';

export interface Backoff {
  /** Milliseconds before the next try (grows each call). */
  next(): number;
  reset(): void;
}

export function backoff(firstMs = 250, maxMs = 10_000): Backoff {
  let attempt = 0;
  return {
    next() {
      const ceiling = Math.min(maxMs, firstMs * 2 ** attempt++);
      return ceiling / 2 + Math.random() * (ceiling / 2);
    },
    reset() {
      attempt = 0;
    },
  };
}

/** Waits `ms`, or rejects with an AbortError as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
