// Retries with exponential backoff for transient failures of remote destinations.
import { AbortedError, UsageError, VerificationError } from './errors.js';
import type { RetryPolicy } from './settings/destinations.js';

export interface RetryOptions {
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** What is being tried, for the retry log line. */
  what: string;
  /** Whether a failure is worth another try (default: everything but usage, verification and abort errors). */
  isTransient?: (err: unknown) => boolean;
  onRetry?: (info: { what: string; attempt: number; of: number; waitMs: number; error: unknown }) => void;
}

export async function withRetry<T>(work: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const transient = opts.isTransient ?? defaultTransient;
  const tries = opts.policy.attempts + 1;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await work(attempt);
    } catch (err) {
      if (opts.signal?.aborted) throw new AbortedError();
      if (attempt >= tries || !transient(err)) throw err;
      const waitMs = opts.policy.delayMs * 2 ** (attempt - 1);
      opts.onRetry?.({ what: opts.what, attempt, of: tries, waitMs, error: err });
      await sleep(waitMs, opts.signal);
    }
  }
}

function defaultTransient(err: unknown): boolean {
  return !(err instanceof UsageError || err instanceof VerificationError || err instanceof AbortedError);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
