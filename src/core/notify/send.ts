// Posting one notification: a request with its own timeout, retried with exponential backoff on
// network errors, timeouts, 429 and 5xx (not on other answers), all within the run's deadline.
// Never throws: the outcome says whether it was delivered, and why not, in one redacted line.
import { messageOf } from '../errors.js';
import { sleep } from '../retry.js';
import { redact } from '../secrets.js';
import type { Deadline } from './deadline.js';

export const REQUEST_TIMEOUT_MS = 10_000;
const FIRST_WAIT_MS = 1000;
const MAX_WAIT_MS = 16_000;
const MAX_ATTEMPTS = 6;

export interface PostRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

export interface PostOutcome {
  ok: boolean;
  attempts: number;
  /** Why it was not delivered (redacted, one line). */
  reason?: string;
}

interface Attempt {
  ok: boolean;
  /** Worth another try. */
  transient: boolean;
  reason?: string;
  /** Retry-After of a 429/503, in milliseconds. */
  retryAfterMs?: number;
}

export async function postWithRetries(req: PostRequest, deadline: Deadline, requestTimeoutMs = REQUEST_TIMEOUT_MS): Promise<PostOutcome> {
  let last: Attempt = { ok: false, transient: true, reason: `no time left within ${deadline.describe()}` };
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (deadline.signal.aborted) return { ok: false, attempts: attempt - 1, reason: last.reason };
    last = await postOnce(req, deadline, requestTimeoutMs);
    if (last.ok) return { ok: true, attempts: attempt };
    if (!last.transient || attempt === MAX_ATTEMPTS) return { ok: false, attempts: attempt, reason: last.reason };
    const waitMs = last.retryAfterMs ?? Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** (attempt - 1));
    if (waitMs >= deadline.remainingMs()) return { ok: false, attempts: attempt, reason: `${last.reason}; no time for another try within ${deadline.describe()}` };
    try {
      await sleep(waitMs, deadline.signal);
    } catch {
      return { ok: false, attempts: attempt, reason: last.reason };
    }
  }
  return { ok: false, attempts: MAX_ATTEMPTS, reason: last.reason };
}

async function postOnce(req: PostRequest, deadline: Deadline, requestTimeoutMs: number): Promise<Attempt> {
  // The request's own timeout, unless the deadline comes first (then it is the deadline that ends it).
  const timeoutMs = Math.max(1, requestTimeoutMs);
  const signal = timeoutMs < deadline.remainingMs() ? AbortSignal.any([deadline.signal, AbortSignal.timeout(timeoutMs)]) : deadline.signal;
  let res: Response;
  try {
    res = await fetch(req.url, { method: 'POST', headers: req.headers, body: req.body, signal, redirect: 'manual' });
  } catch (err) {
    if (deadline.signal.aborted) return { ok: false, transient: false, reason: `no answer within the time bound (${deadline.describe()})` };
    if (signal.aborted) return { ok: false, transient: true, reason: `no answer within ${Math.round(timeoutMs / 1000)}s` };
    const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
    return { ok: false, transient: true, reason: `request failed: ${line(messageOf(cause))}` };
  }
  const excerpt = await answerExcerpt(res);
  const answered = `answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${excerpt ? ` (${excerpt})` : ''}`;
  if (res.status >= 200 && res.status < 300) return { ok: true, transient: false };
  if (res.status >= 300 && res.status < 400) {
    return { ok: false, transient: false, reason: `${answered}: a redirect${redirectTarget(res, req.url)}, which is not followed; give the URL it points to` };
  }
  if (res.status === 429 || res.status >= 500) {
    const retryAfterMs = retryAfter(res.headers.get('retry-after'));
    return { ok: false, transient: true, reason: answered, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  return { ok: false, transient: false, reason: answered };
}

/** The first 200 characters of the answer's body, on one line (Slack says `invalid_token`, `no_service`...). */
async function answerExcerpt(res: Response): Promise<string> {
  try {
    if (res.status >= 200 && res.status < 300) {
      await res.body?.cancel();
      return '';
    }
    const text = await res.text(); // ends with the request's signal
    const one = line(text);
    return one.length > 200 ? `${one.slice(0, 200)}...` : one;
  } catch {
    return '';
  }
}

/** " to https://host" of a redirect's Location (never its path: it may hold a token). */
function redirectTarget(res: Response, base: string): string {
  const location = res.headers.get('location');
  if (!location) return '';
  try {
    const url = new URL(location, base);
    return ` to ${url.protocol}//${url.host}`;
  } catch {
    return '';
  }
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function line(text: string): string {
  return redact(text.replace(/\s+/g, ' ').trim());
}
